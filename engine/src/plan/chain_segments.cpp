// The dynamic program over segment partitions (chain_segments.h).
//
// Levels, as in chain_model.cpp: a label at boundary b holds pf, the bytes the forward added
// before block b (block b's forward starts at start + pf), and pb, the bytes the backward still
// has to add after the blocks from b on are done (that moment is at end + pb; pb is minus the
// windows' ends of the blocks before b). A run [b, e] recomputes its blocks in order when the
// gradient reaches e, then runs their backward from e down to b; relative to the level after
// the run (end + pb) its windows start at
//   recompute of j:  - Z + sum_{b<=i<j} R_end(i)           (Z: all the run's window ends)
//   backward of j:   - B + sum_{j<i<=e} B_end(i)           (B: its backward windows' ends)
// so the run needs pb + max_j(...) within the budget, a constant of (b, e, whether b-1 is
// checkpointed). For a fixed last block e the walk goes down over first blocks b, growing the
// run on the left: each constant is then updated in O(1) (prepending a block to a prefix sum
// and a running maximum). It stops once the run, for any first block further left, would need
// more than the budget: the level after all of a run's recomputations, end + pb - B, is at
// least end + min pb - sum of the most its blocks' backward windows can free, a bound that is
// a prefix minimum over boundaries already done.
#include "plan/chain_segments.h"

#include "plan/chain_dp.h"
#include "ckpt/units.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <string>

namespace ckpt::seg {
namespace {

struct Label {
    int64_t pf = 0, pb = 0;
    double cost = 0.0;
    // Where it came from: the label `index` of state `prev` at boundary `from` (a run [from, e]
    // when it sits in state 1 at boundary e + 1, block e unchecked in state 0).
    int32_t from = -1, index = -1;
    int8_t prev = 0;
};

using Labels = std::vector<Label>;

// Drops dominated labels (no better in pf, pb and cost than another); the rest sorted by pf.
// At a boundary the backward level follows from the forward one: what is live when the
// backward is done with the blocks from b on is what was live when their forward began, less
// b's input unless the block before keeps it, plus the gradients of those blocks and b's input
// gradient, none of which depends on the blocks before b except through whether block b-1 is
// checkpointed (the state). So pb - pf is one number per (boundary, state), the labels are
// points (pf, cost) and pruning is a sort and a sweep; if some chain model ever breaks that,
// the full three-way pruning runs.
// Returns whether the set is tied (pb - pf the same for all).
bool prune(Labels& labels, bool with_cost) {
    std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) {
        if (a.pf != b.pf) return a.pf < b.pf;
        if (a.pb != b.pb) return a.pb < b.pb;
        return a.cost < b.cost;
    });
    const bool tied = std::all_of(labels.begin(), labels.end(), [&](const Label& l) {
        return l.pb - l.pf == labels.front().pb - labels.front().pf;
    });
    Labels kept;
    if (tied) {
        // Cost must fall as pf grows (without costs: the lowest pf alone).
        double best = std::numeric_limits<double>::infinity();
        for (const Label& l : labels) {
            if (!with_cost) {
                kept.push_back(l);
                break;
            }
            if (l.cost < best) kept.push_back(l), best = l.cost;
        }
        labels.swap(kept);
        return true;
    }
    if (!with_cost) {
        // Two dimensions: pb must fall as pf grows.
        int64_t best = std::numeric_limits<int64_t>::max();
        for (const Label& l : labels)
            if (l.pb < best) kept.push_back(l), best = l.pb;
        labels.swap(kept);
        return false;
    }
    std::map<int64_t, double> stair;  // pb -> least cost among kept labels with that pb or less
    for (const Label& l : labels) {
        auto it = stair.upper_bound(l.pb);
        if (it != stair.begin() && std::prev(it)->second <= l.cost) continue;  // dominated
        kept.push_back(l);
        auto pos = stair.insert_or_assign(l.pb, l.cost).first;
        for (auto nx = std::next(pos); nx != stair.end() && nx->second >= l.cost;) nx = stair.erase(nx);
    }
    labels.swap(kept);
    return false;
}

// The candidates of one (boundary, state) as they come in, source by source. While every source
// is tied with the same pb - pf they are kept as one staircase (pf rising, cost falling): a
// source whose points all lie behind it is skipped whole after one bisection, the others are
// merged in linear time. Otherwise the candidates are gathered as they are and pruned at the end.
class Gather {
public:
    explicit Gather(bool with_cost) : with_cost_(with_cost) {}

    // The labels from[lo, hi) moved by (f_end, -z) in bytes and `cost` in cost; `b`, `prev`:
    // where they came from.
    void add(const Labels& from, bool from_tied, size_t lo, size_t hi, int64_t f_end, int64_t z, double cost, int b,
             int prev) {
        if (lo >= hi) return;
        auto moved = [&](size_t i) {
            const Label& l = from[i];
            return Label{l.pf + f_end, l.pb - z, with_cost_ ? l.cost + cost : 0.0, int32_t(b), int32_t(i), int8_t(prev)};
        };
        const Label first = moved(lo);
        if (staircase_ && (!from_tied || (any_ && first.pb - first.pf != tie_))) {
            flush();
            staircase_ = false;  // from here on: gathered raw, pruned at the end
        }
        if (!staircase_) {
            for (size_t i = lo; i < hi; ++i) labels_.push_back(moved(i));
            return;
        }
        any_ = true;
        tie_ = first.pb - first.pf;
        // Walk the source (pf rising, cost falling) against the staircase: a point the staircase
        // dominates is skipped with every later point that costs no less than the staircase
        // there (one bisection), so a source mostly behind the staircase costs a few bisections.
        for (size_t j = lo; j < hi;) {
            const Label p = moved(j);
            auto at = std::upper_bound(labels_.begin(), labels_.end(), p.pf,
                                       [](int64_t pf, const Label& l) { return pf < l.pf; });
            if (at != labels_.begin() && std::prev(at)->cost <= p.cost) {
                const double floor = std::prev(at)->cost - (with_cost_ ? cost : 0.0);
                j = size_t(std::partition_point(from.begin() + long(j) + 1, from.begin() + long(hi),
                                                [&](const Label& l) { return with_cost_ && l.cost >= floor; }) -
                           from.begin());
                if (!with_cost_) j = hi;
                continue;
            }
            pending_.push_back(p);
            ++j;
        }
        if (pending_.size() > labels_.size() + 64) flush();
    }

    // The set for the boundary, pruned, without the labels `hopeless` rejects; returns whether
    // it is tied.
    template <typename Hopeless>
    bool finish(Labels& out, const Hopeless& hopeless) {
        flush();
        const bool is_tied = staircase_ || prune(labels_, with_cost_);
        out.clear();
        for (const Label& l : labels_)
            if (!hopeless(l)) out.push_back(l);
        return is_tied;
    }

private:
    // The pending points merged into the staircase.
    void flush() {
        if (!staircase_ || pending_.empty()) return;
        std::sort(pending_.begin(), pending_.end(), [](const Label& a, const Label& b) {
            return a.pf != b.pf ? a.pf < b.pf : a.cost < b.cost;
        });
        merged_.clear();
        merged_.reserve(labels_.size() + pending_.size());
        double best = std::numeric_limits<double>::infinity();
        auto offer = [&](const Label& l) {
            if (!(l.cost < best)) return;
            if (!merged_.empty() && merged_.back().pf == l.pf) merged_.back() = l;  // same pf, cheaper
            else merged_.push_back(l);
            best = l.cost;
        };
        size_t i = 0, j = 0;
        while (i < labels_.size() || j < pending_.size()) {
            const bool take_old = j >= pending_.size() ||
                                  (i < labels_.size() && (labels_[i].pf < pending_[j].pf ||
                                                          (labels_[i].pf == pending_[j].pf && labels_[i].cost <= pending_[j].cost)));
            offer(take_old ? labels_[i++] : pending_[j++]);
            if (!with_cost_ && !merged_.empty()) break;  // without costs the lowest pf is all
        }
        labels_.swap(merged_);
        pending_.clear();
    }

    bool with_cost_;
    bool staircase_ = true, any_ = false;
    int64_t tie_ = 0;
    Labels labels_, merged_, pending_;
};

// The constants of a run relative to its start: what its forward adds (f_end) and needs above
// pf (f_max), what its backward windows add (z) and need above the level after it (b_max).
struct RunCost {
    int64_t f_end = 0, f_max = 0, z = 0, b_max = 0;
    double cost = 0.0;
};

// Blocks b+1..e of a run (inside, the last one last), in the sums a head block combines with.
struct Tail {
    int64_t f_sum = 0, f_max = 0;  // forward: sum of ends, max over j of (prefix + peak)
    int64_t r_sum = 0, r_max = 0;  // recomputation: the same
    int64_t b_sum = 0, b_max = 0;  // backward: sum of ends, max over j of (ends after j + peak)
    double cost = 0.0;
};

Tail tail_of(const ChainModel& m, int e) {
    const WindowEffect &f = m.forward[size_t(e)], &r = m.recompute[size_t(e)], &k = m.backward[size_t(e)];
    return {f.end[kLast], f.peak[kLast], r.end[kLast], r.peak[kLast], k.end[kLast], k.peak[kLast], m.cost[size_t(e)]};
}

// Block x in front of the tail, in context c.
Tail prepend(const ChainModel& m, int x, int c, const Tail& t, double cost) {
    const WindowEffect &f = m.forward[size_t(x)], &r = m.recompute[size_t(x)], &k = m.backward[size_t(x)];
    Tail out;
    out.f_max = std::max(f.peak[size_t(c)], f.end[size_t(c)] + t.f_max);
    out.f_sum = f.end[size_t(c)] + t.f_sum;
    out.r_max = std::max(r.peak[size_t(c)], r.end[size_t(c)] + t.r_max);
    out.r_sum = r.end[size_t(c)] + t.r_sum;
    out.b_max = std::max(t.b_max, t.b_sum + k.peak[size_t(c)]);
    out.b_sum = k.end[size_t(c)] + t.b_sum;
    out.cost = cost + t.cost;
    return out;
}

RunCost run_cost(const Tail& t) {
    // Relative to the level after the run: all its windows end at -z; the recomputation starts
    // there, the backward starts after it at -b_sum.
    RunCost rc;
    rc.f_end = t.f_sum;
    rc.f_max = t.f_max;
    rc.z = t.r_sum + t.b_sum;
    rc.b_max = std::max(t.r_max - rc.z, t.b_max - t.b_sum);
    rc.cost = t.cost;
    return rc;
}

Error too_much(const std::string& what) {
    return Error{"planning: the segment planner would need more than " + what +
                 " (its limit): plan per block (dp) or with a fixed planner (sqrt, every-k, all) instead"};
}

Error job_bound(uint64_t max_work) {
    return Error{"planning stopped at the bound of one planning job, " + format_count(int64_t(max_work)) +
                     " label extensions: the blocks differ in too many ways to plan segments exactly in that time; "
                     "plan per block (dp) or with a fixed planner (sqrt, every-k, all)",
                 ErrorKind::stopped};
}

}  // namespace

Result<Solution> solve(const ChainModel& m, int64_t budget, bool want_set, bool with_cost, double cost_bound,
                       int max_run, PlanLimits* limits) {
    Solution out;
    const JobWork count{limits, out.work};  // this program's work joins the job's
    const int n = m.blocks();
    if (m.recompute.size() != size_t(n) || m.forward.size() != size_t(n) + 1 || m.backward.size() != size_t(n) + 1)
        return Error{"planning: the chain model lacks a window of some block", ErrorKind::device};
    if (m.before_peak > budget || m.optimizer_peak > budget) return out;
    const int64_t fwd_room = budget - m.start, bwd_room = budget - m.end;
    // held[b][p]: the labels at boundary b with block b-1 checkpointed == p.
    std::vector<std::array<Labels, 2>> held(size_t(n) + 1);
    std::vector<std::array<bool, 2>> tied(size_t(n) + 1, {true, true});
    held[0][0].push_back(Label{});
    // The stop bound: freed[b] = sum over blocks before b of the most a block's backward window
    // can free in a run (its largest end, negated); reach[b] = min over boundaries b' <= b of
    // (min pb at b') - freed[b']. A run [b', e] needs at least end + min pb(b') - (freed[e+1] -
    // freed[b']) within the budget.
    std::vector<int64_t> freed(size_t(n) + 1, 0);
    for (int b = 0; b < n; ++b) {
        const WindowEffect& k = m.backward[size_t(b)];
        int64_t most = std::numeric_limits<int64_t>::min();
        for (int c : {kAlone, kAfterAlone, kFirst, kAfterFirst, kLast, kInner}) most = std::max(most, k.end[size_t(c)]);
        freed[size_t(b) + 1] = freed[size_t(b)] - most;
    }
    // A lower bound on what the blocks from b on must still pay. The loss's forward needs
    // pf(n) <= final_room, and pf(n) is pf(b) plus what every block from b adds: at least
    // spare[b] (each at its least unchecked end) less what checkpointing takes off (a block's
    // saving: that end minus its end in a checkpointed context, takeable[b] at most). Every
    // checkpointed block is alone, or inside a run, or one of the first and last of a run, and
    // each of these pays at least ratio[b] per byte it saves (the least of the three rates from
    // b on): so the rest costs at least (what must be saved) x ratio[b]. A label whose cost and
    // this bound reach the cost bound is dropped; one that needs more than can be saved, too.
    const int64_t final_room =
        fwd_room - std::min(m.forward[size_t(n)].peak[kUnchecked], m.forward[size_t(n)].peak[kAfterUnchecked]);
    constexpr double kInf = std::numeric_limits<double>::infinity();
    std::vector<int64_t> spare(size_t(n) + 1, 0), takeable(size_t(n) + 1, 0);
    std::vector<double> ratio(size_t(n) + 1, kInf);
    double alone_rate = kInf, inner_rate = kInf, least_inner = kInf, least_last = kInf;
    int64_t most_first = 0, most_last = 0;
    for (int b = n - 1; b >= 0; --b) {
        const WindowEffect& f = m.forward[size_t(b)];
        const int64_t plain = std::min(f.end[kUnchecked], f.end[kAfterUnchecked]);
        auto saving = [&](std::initializer_list<int> cs) {
            int64_t most = 0;
            for (int c : cs) most = std::max(most, plain - f.end[size_t(c)]);
            return most;
        };
        const int64_t alone = saving({kAlone, kAfterAlone}), first = saving({kFirst, kAfterFirst}),
                      inner = saving({kInner}), last = saving({kLast});
        const double c_last = m.cost[size_t(b)], c_inner = m.inner_cost(b);
        if (alone > 0) alone_rate = std::min(alone_rate, c_last / double(alone));
        if (inner > 0) inner_rate = std::min(inner_rate, c_inner / double(inner));
        least_inner = std::min(least_inner, c_inner);
        least_last = std::min(least_last, c_last);
        most_first = std::max(most_first, first);
        most_last = std::max(most_last, last);
        const double pair_rate = most_first + most_last > 0 ? (least_inner + least_last) / double(most_first + most_last) : kInf;
        spare[size_t(b)] = spare[size_t(b) + 1] + plain;
        takeable[size_t(b)] = takeable[size_t(b) + 1] + std::max({alone, first, inner, last});
        ratio[size_t(b)] = std::min({alone_rate, inner_rate, pair_rate});
    }
    auto hopeless_at = [&](int b) {
        return [&, b](const Label& l) {
            const int64_t need = l.pf + spare[size_t(b)] - final_room;
            if (need <= 0) return false;
            if (need > takeable[size_t(b)]) return true;
            return with_cost && l.cost + double(need) * ratio[size_t(b)] >= cost_bound;
        };
    };
    std::vector<int64_t> reach(size_t(n) + 1, std::numeric_limits<int64_t>::max());
    auto min_pb = [&](int b) {
        int64_t lo = std::numeric_limits<int64_t>::max();
        for (const Labels& ls : held[size_t(b)])
            for (const Label& l : ls) lo = std::min(lo, l.pb);
        return lo;
    };
    auto note_reach = [&](int b) {
        const int64_t lo = min_pb(b);
        const int64_t here = lo == std::numeric_limits<int64_t>::max() ? lo : lo - freed[size_t(b)];
        reach[size_t(b)] = std::min(b > 0 ? reach[size_t(b) - 1] : here, here);
    };
    note_reach(0);
    // Extends every label of `from` that the run or block allows into `into`; a label that
    // would cost the bound or more cannot lead to a cheaper set (costs are not negative).
    // In a tied set (sorted by pf, so by pb too, and by falling cost) the labels that fit are a
    // prefix and those under the cost bound a suffix: the range between is found by bisection.
    auto extend = [&](const Labels& from, bool is_tied, int b, int prev, const RunCost& rc, Gather& into) {
        if (from.empty()) return;
        const int64_t pf_room = fwd_room - rc.f_max, pb_room = bwd_room - rc.b_max;
        if (is_tied) {
            const size_t hi = size_t(std::partition_point(from.begin(), from.end(), [&](const Label& l) {
                                         return l.pf <= pf_room && l.pb <= pb_room;
                                     }) - from.begin());
            size_t lo = 0;
            if (with_cost)
                lo = size_t(std::partition_point(from.begin(), from.begin() + long(hi), [&](const Label& l) {
                         return l.cost + rc.cost >= cost_bound;
                     }) - from.begin());
            out.work += hi - lo + 1;
            into.add(from, true, lo, hi, rc.f_end, rc.z, rc.cost, b, prev);
            return;
        }
        for (size_t i = 0; i < from.size(); ++i) {
            const Label& l = from[i];
            if (l.pf > pf_room) break;  // sorted by pf
            ++out.work;
            if (l.pb > pb_room || (with_cost && l.cost + rc.cost >= cost_bound)) continue;
            into.add(from, false, i, i + 1, rc.f_end, rc.z, rc.cost, b, prev);
        }
    };
    size_t total = 1;
    for (int e = 0; e < n; ++e) {
        if (limits && limits->stop && limits->stop->load(std::memory_order_relaxed))
            return Error{"planning stopped", ErrorKind::stopped};
        std::array<Gather, 2> next{Gather(with_cost), Gather(with_cost)};
        // Block e unchecked.
        for (int p = 0; p < 2; ++p) {
            const int c = p ? kAfterUnchecked : kUnchecked;
            const WindowEffect &f = m.forward[size_t(e)], &k = m.backward[size_t(e)];
            const RunCost rc{f.end[size_t(c)], f.peak[size_t(c)], k.end[size_t(c)], k.peak[size_t(c)] - k.end[size_t(c)], 0.0};
            extend(held[size_t(e)][size_t(p)], tied[size_t(e)][size_t(p)], e, p, rc, next[0]);
        }
        // Runs [b, e], b from e down.
        Tail tail;
        for (int b = e; b >= 0; --b) {
            if (max_run > 0 && e - b + 1 > max_run) break;
            if (b < e) {
                // A first block further left than b can only need more than the bound allows.
                if (reach[size_t(b)] != std::numeric_limits<int64_t>::max() &&
                    reach[size_t(b)] + freed[size_t(e) + 1] > bwd_room)
                    break;
                tail = b == e - 1 ? tail_of(m, e) : prepend(m, b + 1, kInner, tail, m.inner_cost(b + 1));
            }
            out.longest_run = std::max(out.longest_run, e - b + 1);
            for (int p = 0; p < (b > 0 ? 2 : 1); ++p) {
                const Labels& from = held[size_t(b)][size_t(p)];
                if (from.empty()) continue;
                Tail t;
                if (b == e) {
                    const int c = p ? kAfterAlone : kAlone;
                    const WindowEffect &f = m.forward[size_t(e)], &r = m.recompute[size_t(e)], &k = m.backward[size_t(e)];
                    t = {f.end[size_t(c)], f.peak[size_t(c)], r.end[size_t(c)], r.peak[size_t(c)],
                         k.end[size_t(c)], k.peak[size_t(c)], m.cost[size_t(e)]};
                } else {
                    t = prepend(m, b, p ? kAfterFirst : kFirst, tail, m.inner_cost(b));
                }
                extend(from, tied[size_t(b)][size_t(p)], b, p, run_cost(t), next[1]);
            }
            // Costs are not negative: a run that alone costs the bound, or more, only grows.
            if (with_cost && tail.cost + m.inner_cost(b) >= cost_bound && b < e) break;
            if (out.work > kMaxWork) return too_much(std::to_string(kMaxWork) + " label extensions");
            if (limits && limits->work + out.work > limits->max_work) return job_bound(limits->max_work);
        }
        for (int p = 0; p < 2; ++p) {
            Labels& ls = held[size_t(e) + 1][size_t(p)];
            tied[size_t(e) + 1][size_t(p)] = next[size_t(p)].finish(ls, hopeless_at(e + 1));
            out.work += ls.size();
            total += ls.size();
            out.most_labels = std::max(out.most_labels, ls.size());
        }
        if (total > kMaxLabels) return too_much(std::to_string(kMaxLabels) + " labels in memory");
        note_reach(e + 1);
    }
    out.labels_held = total;
    // The loss: its forward after block n-1, its backward first.
    bool found = false;
    Label best;
    int best_p = 0, best_i = -1;
    for (int p = 0; p < 2; ++p) {
        const int c = p ? kAfterUnchecked : kUnchecked;
        const WindowEffect &f = m.forward[size_t(n)], &k = m.backward[size_t(n)];
        const Labels& ls = held[size_t(n)][size_t(p)];
        for (size_t i = 0; i < ls.size(); ++i) {
            const Label& l = ls[i];
            if (l.pf + f.peak[size_t(c)] > fwd_room || l.pb - k.end[size_t(c)] + k.peak[size_t(c)] > bwd_room) continue;
            const bool better = !found || l.cost < best.cost ||
                                (l.cost == best.cost && (l.pf < best.pf || (l.pf == best.pf && l.pb < best.pb)));
            if (better) best = l, best_p = p, best_i = int(i), found = true;
        }
    }
    if (!found) return out;
    out.feasible = true;
    out.cost = best.cost;
    if (!want_set) return out;
    // Backwards along the parents: state 1 at boundary e + 1 is a run [from, e].
    int b = n, p = best_p, i = best_i;
    while (b > 0) {
        const Label& l = held[size_t(b)][size_t(p)][size_t(i)];
        if (p == 1) out.runs.push_back({l.from, b - 1});
        b = l.from;
        p = l.prev;
        i = l.index;
    }
    std::reverse(out.runs.begin(), out.runs.end());
    return out;
}

Result<int64_t> minimal_peak_checked(const ChainModel& m, PlanLimits* limits) {
    // Feasibility is monotone in the budget: bisect between a lower bound and the per-block floor
    // (a per-block set is a segment set), where only tight budgets are probed and runs stay short.
    Result<int64_t> block_floor = ckpt::minimal_peak_checked(m, limits);
    if (!block_floor) return block_floor.error();
    int64_t hi = *block_floor;
    int64_t lo = std::max(m.before_peak, m.optimizer_peak) - 1;  // infeasible or the answer - 1
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        Result<Solution> s = solve(m, mid, /*want_set=*/false, /*with_cost=*/false,
                                   std::numeric_limits<double>::infinity(), /*max_run=*/0, limits);
        if (!s) return s.error();
        if (s->feasible) hi = mid;
        else lo = mid;
    }
    return hi;
}

}  // namespace ckpt::seg
