// The dynamic program of plan_optimal and minimal_peak (chain_dp.h).
//
// State after deciding blocks 0..b: whether block b is checkpointed, and a label (pf, pb, cost):
// the forward prefix (live bytes added by the forward so far), the backward prefix (bytes the
// backward still has to free below block b) and the recomputation paid. The future's
// feasibility depends on a label only through pf and pb, so a label that is no better in all
// three than another of the same state can be dropped; what is left is exact.
//
// Bound. On a chain of identical blocks the labels of one state differ by how many blocks are
// checkpointed, and each checkpoint moves (pf, pb, cost) by the same step: the Pareto set is an
// arithmetic progression, which can hold up to b labels at block b (so a label-by-label program
// takes time and memory quadratic in the chain: 10,000 blocks took 20 s and 2.3 GB). Here a
// progression is one Run {first label, step, count}: extending it by a block, clipping it to the
// budget (two linear inequalities in the index), removing what another progression with the same
// step dominates (an index interval, found in O(1)) and joining progressions on one line are all
// O(1) per run. With R runs per (block, state) a chain of n blocks takes O(n R^2) time and O(n R)
// memory; identical blocks keep R <= 4 (residual blocks, whose effect depends on their own flag
// only, keep R = 1), so 100,000 blocks plan in well under a second (tests/bench/bench_planner).
// Labels that do not line up (blocks that all differ, or costs that are not whole numbers, such
// as measured times) are handled one by one as before; kMaxRuns and kMaxLabelsPerStep bound what
// such chains may take, and a job's PlanLimits (planner.h) what all its programs take together.
//
// The chosen set is rebuilt backwards without parent links: at each block, a label of the block
// before that extends exactly to the current one (pf and pb are integers, and costs in runs are
// whole numbers below 2^52, so the sums are exact).
#include "plan/chain_dp.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string>

#include "ckpt/units.h"

namespace ckpt::dp {
namespace {

using i128 = __int128;

int idx(bool prev, bool self) { return 2 * int(prev) + int(self); }

// Block b's recomputation (when checkpointed alone) and backward as one window: what the program
// steps over in the per-block contexts (the loss, entry n, has no recomputation).
WindowEffect block_backward(const ChainModel& m, int b) {
    WindowEffect k = m.backward[size_t(b)];
    if (b < m.blocks() && size_t(b) < m.recompute.size())
        for (int c : {kAlone, kAfterAlone}) {
            const WindowEffect& r = m.recompute[size_t(b)];
            k.peak[size_t(c)] = std::max(r.peak[size_t(c)], r.end[size_t(c)] + k.peak[size_t(c)]);
            k.end[size_t(c)] += r.end[size_t(c)];
        }
    return k;
}

constexpr double kExactCost = 4503599627370496.0;  // 2^52: whole numbers below it add exactly

bool whole(double c) { return std::fabs(c) < kExactCost && c == std::floor(c); }

// floor(a / b) and ceil(a / b) for b > 0.
i128 floor_div(i128 a, i128 b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
i128 ceil_div(i128 a, i128 b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

struct Label {
    int64_t pf, pb;
    double cost;
};

// Labels first + i * step for i in [0, count).
struct Run {
    int64_t pf = 0, pb = 0;
    double cost = 0.0;
    int64_t dpf = 0, dpb = 0;
    double dcost = 0.0;
    int64_t count = 1;

    Label at(int64_t i) const {
        if (i == 0) return {pf, pb, cost};
        return {pf + i * dpf, pb + i * dpb, cost + double(i) * dcost};
    }
    bool integral() const { return whole(cost) && whole(dcost) && whole(cost + double(count - 1) * dcost); }
};

using RunSet = std::vector<Run>;

// Narrows [lo, hi] to the indices i with a + i * d <= limit.
void clip(i128 a, i128 d, i128 limit, int64_t& lo, int64_t& hi) {
    if (d == 0) {
        if (a > limit) hi = lo - 1;
    } else if (d > 0) {
        hi = int64_t(std::min<i128>(hi, floor_div(limit - a, d)));
    } else {
        lo = int64_t(std::max<i128>(lo, ceil_div(a - limit, -d)));
    }
}

// ---- pruning label by label (any labels) ---------------------------------------------------

// Removes labels dominated in (pf, pb, cost): sort by pf, then keep a staircase of (pb, cost).
void prune_labels(std::vector<Label>& labels) {
    std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) {
        if (a.pf != b.pf) return a.pf < b.pf;
        if (a.pb != b.pb) return a.pb < b.pb;
        return a.cost < b.cost;
    });
    std::map<int64_t, double> stair;  // pb -> least cost among kept labels with that pb or less
    std::vector<Label> kept;
    for (const Label& l : labels) {
        auto it = stair.upper_bound(l.pb);
        if (it != stair.begin() && std::prev(it)->second <= l.cost) continue;  // dominated
        kept.push_back(l);
        auto pos = stair.insert_or_assign(l.pb, l.cost).first;
        for (auto nx = std::next(pos); nx != stair.end() && nx->second >= l.cost;) nx = stair.erase(nx);
    }
    labels.swap(kept);
}

// Joins labels (in their sorted order) into runs where they are evenly spaced and exact.
RunSet compress(const std::vector<Label>& labels) {
    RunSet runs;
    for (const Label& l : labels) {
        if (!runs.empty() && whole(l.cost)) {
            Run& r = runs.back();
            if (r.count == 1 && whole(r.cost)) {
                r.dpf = l.pf - r.pf;
                r.dpb = l.pb - r.pb;
                r.dcost = l.cost - r.cost;
                r.count = 2;
                continue;
            }
            if (r.count > 1 && r.integral()) {
                const Label next = r.at(r.count);
                if (next.pf == l.pf && next.pb == l.pb && next.cost == l.cost) {
                    ++r.count;
                    continue;
                }
            }
        }
        runs.push_back(Run{l.pf, l.pb, l.cost, 0, 0, 0.0, 1});
    }
    return runs;
}

// ---- pruning run by run (progressions with one common step) ---------------------------------

struct Step {
    int64_t pf, pb, cost;
};

int64_t as_int(double c) { return int64_t(c); }  // c is whole and below 2^52

// The indices of `a` whose label some label of `b` dominates (ties: `b_wins_ties` decides).
// Both runs have step v; returns up to two index intervals.
void dominated_by(const Run& a, const Run& b, const Step& v, bool b_wins_ties,
                  std::vector<std::pair<int64_t, int64_t>>* out) {
    // b_j <= a_i  <=>  delta + m * v <= 0 for m = j - i, per component.
    const i128 delta[3] = {i128(b.pf) - a.pf, i128(b.pb) - a.pb, i128(as_int(b.cost)) - as_int(a.cost)};
    const i128 step[3] = {v.pf, v.pb, v.cost};
    const i128 kInf = i128(1) << 100;
    i128 mlo = -kInf, mhi = kInf;
    for (int c = 0; c < 3; ++c) {
        if (step[c] > 0) mhi = std::min(mhi, floor_div(-delta[c], step[c]));
        else if (step[c] < 0) mlo = std::max(mlo, ceil_div(delta[c], -step[c]));
        else if (delta[c] > 0) return;
    }
    if (mlo > mhi) return;
    std::array<std::pair<i128, i128>, 2> ranges{{{mlo, mhi}, {1, 0}}};
    if (!b_wins_ties) {
        // The one m (if any) where b_j == a_i: keep that label of a.
        int c0 = 0;
        while (step[c0] == 0) ++c0;  // the step moves some component
        const i128 tie = -delta[c0] / step[c0];
        bool exists = true;
        for (int c = 0; c < 3; ++c) exists = exists && delta[c] + tie * step[c] == 0;
        if (exists && tie >= mlo && tie <= mhi) ranges = {{{mlo, tie - 1}, {tie + 1, mhi}}};
    }
    for (const auto& [ml, mh] : ranges) {
        if (ml > mh) continue;
        const i128 lo = std::max<i128>(0, -mh), hi = std::min<i128>(a.count - 1, i128(b.count - 1) - ml);
        if (lo <= hi) out->emplace_back(int64_t(lo), int64_t(hi));
    }
}

// Where a run sits on its line: the line's anchor (the run moved back by whole steps into a
// fixed window of the first component that moves) and its position along the line.
struct Placement {
    std::array<int64_t, 3> anchor;
    int64_t t;
};

Placement place(const Run& r, const Step& v) {
    const int64_t origin[3] = {r.pf, r.pb, as_int(r.cost)};
    const int64_t step[3] = {v.pf, v.pb, v.cost};
    int c0 = 0;
    while (step[c0] == 0) ++c0;
    const i128 t = step[c0] > 0 ? floor_div(origin[c0], step[c0]) : floor_div(-i128(origin[c0]), -i128(step[c0]));
    Placement p;
    for (int c = 0; c < 3; ++c) p.anchor[size_t(c)] = int64_t(origin[c] - t * step[c]);
    p.t = int64_t(t);
    return p;
}

RunSet prune_runs(const RunSet& runs, const Step& v) {
    RunSet kept;
    std::vector<std::pair<int64_t, int64_t>> cut;
    for (size_t a = 0; a < runs.size(); ++a) {
        cut.clear();
        for (size_t b = 0; b < runs.size(); ++b)
            if (b != a) dominated_by(runs[a], runs[b], v, b < a, &cut);
        std::sort(cut.begin(), cut.end());
        int64_t next = 0;  // first index not yet kept or cut
        auto keep = [&](int64_t lo, int64_t hi) {
            if (lo > hi) return;
            Run r = runs[a];
            const Label first = r.at(lo);
            r.pf = first.pf;
            r.pb = first.pb;
            r.cost = first.cost;
            r.count = hi - lo + 1;
            kept.push_back(r);
        };
        for (const auto& [lo, hi] : cut) {
            keep(next, lo - 1);
            next = std::max(next, hi + 1);
        }
        keep(next, runs[a].count - 1);
    }
    // Runs on one line that meet become one.
    std::vector<std::pair<Placement, size_t>> order;
    for (size_t i = 0; i < kept.size(); ++i) order.emplace_back(place(kept[i], v), i);
    std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
        return x.first.anchor != y.first.anchor ? x.first.anchor < y.first.anchor : x.first.t < y.first.t;
    });
    RunSet joined;
    Placement last{};
    for (const auto& [p, i] : order) {
        if (!joined.empty() && p.anchor == last.anchor && p.t == last.t + joined.back().count) {
            joined.back().count += kept[i].count;
            continue;
        }
        Run r = kept[i];
        r.dpf = v.pf;
        r.dpb = v.pb;
        r.dcost = double(v.cost);
        joined.push_back(r);
        last = p;
    }
    return joined;
}

// The step every multi-label run shares, if all costs are whole and the step moves some
// components up and others down (so no label of a run dominates another of it).
bool common_step(const RunSet& runs, Step* v) {
    bool found = false;
    for (const Run& r : runs) {
        if (!r.integral()) return false;
        if (r.count < 2) continue;
        const Step s{r.dpf, r.dpb, as_int(r.dcost)};
        if (!found) {
            *v = s;
            found = true;
        } else if (s.pf != v->pf || s.pb != v->pb || s.cost != v->cost) {
            return false;
        }
    }
    if (!found) return false;
    const bool up = v->pf > 0 || v->pb > 0 || v->cost > 0, down = v->pf < 0 || v->pb < 0 || v->cost < 0;
    return up && down;
}

Error too_much(const std::string& what) {
    return Error{"planning: the exact planner would need more than " + what +
                 " (the planner's limit): the blocks differ in too many ways to plan this chain exactly; "
                 "use a fixed planner (sqrt, every-k, all)"};
}

// The job's bound (planner.h, PlanLimits) after `work` more of this program's comparisons.
Error job_bound(uint64_t max_work) {
    return Error{"planning stopped at the bound of one planning job, " + format_count(int64_t(max_work)) +
                     " label comparisons: the blocks differ in too many ways to plan exactly in that time; a fixed "
                     "planner (sqrt, every-k, all) answers at once",
                 ErrorKind::stopped};
}

bool past_job_bound(const PlanLimits* limits, uint64_t work) {
    return limits && limits->work + work > limits->max_work;
}

Result<RunSet> prune(RunSet cand, size_t run_threshold, uint64_t* work, const PlanLimits* limits) {
    int64_t total = 0;
    for (const Run& r : cand) total += r.count;
    Step v{};
    if (uint64_t(total) >= run_threshold && common_step(cand, &v)) {
        *work += uint64_t(cand.size()) * cand.size();
        if (*work > kMaxWork) return too_much(std::to_string(kMaxWork) + " label comparisons");
        if (past_job_bound(limits, *work)) return job_bound(limits->max_work);
        return prune_runs(cand, v);
    }
    *work += uint64_t(total);
    if (*work > kMaxWork) return too_much(std::to_string(kMaxWork) + " label comparisons");
    if (past_job_bound(limits, *work)) return job_bound(limits->max_work);
    if (total > int64_t(kMaxLabelsPerStep)) return too_much(std::to_string(kMaxLabelsPerStep) + " labels at one block");
    std::vector<Label> labels;
    labels.reserve(size_t(total));
    for (const Run& r : cand)
        for (int64_t i = 0; i < r.count; ++i) labels.push_back(r.at(i));
    prune_labels(labels);
    return compress(labels);
}

}  // namespace

Result<Solution> solve(const ChainModel& m, int64_t budget, bool want_set, bool with_cost, size_t run_threshold,
                       PlanLimits* limits) {
    Solution out;
    const JobWork count{limits, out.work};  // this program's work joins the job's
    const int n = m.blocks();
    if (m.before_peak > budget || m.optimizer_peak > budget) return out;
    // held[b][s]: the labels after deciding blocks 0..b with block b checkpointed == s (kept for
    // every block only when the set is rebuilt).
    std::vector<std::array<RunSet, 2>> held(want_set ? size_t(n) + 1 : 1);
    std::array<RunSet, 2> prev{RunSet{Run{}}, RunSet{}};  // before block 0: the empty prefix, "unchecked"
    size_t runs_total = 0;
    for (int b = 0; b <= n; ++b) {
        if (limits && limits->stop && limits->stop->load(std::memory_order_relaxed))
            return Error{"planning stopped", ErrorKind::stopped};
        const WindowEffect &f = m.forward[size_t(b)], k = block_backward(m, b);
        std::array<RunSet, 2> cur;
        for (int self = 0; self < (b < n ? 2 : 1); ++self) {
            const double add = with_cost && self && b < n ? m.cost[size_t(b)] : 0.0;
            RunSet cand;
            for (int ps = 0; ps < 2; ++ps) {
                const size_t i = size_t(idx(ps == 1, self == 1));
                const i128 fwd_limit = i128(budget) - m.start - f.peak[i];
                const i128 bwd_limit = i128(budget) - m.end - (i128(k.peak[i]) - k.end[i]);
                for (const Run& r : prev[size_t(ps)]) {
                    int64_t lo = 0, hi = r.count - 1;
                    clip(r.pf, r.dpf, fwd_limit, lo, hi);
                    clip(r.pb, r.dpb, bwd_limit, lo, hi);
                    if (lo > hi) continue;
                    if (r.count > 1 && !whole(add)) {
                        // A cost that is not a whole number would make the run's sums inexact: its
                        // labels go on one by one, each as the rebuild will add it up again.
                        for (int64_t j = lo; j <= hi; ++j) {
                            const Label l = r.at(j);
                            cand.push_back(Run{l.pf + f.end[i], l.pb - k.end[i], l.cost + add, 0, 0, 0.0, 1});
                        }
                        continue;
                    }
                    const Label first = r.at(lo);
                    cand.push_back(Run{first.pf + f.end[i], first.pb - k.end[i], first.cost + add, r.dpf, r.dpb,
                                       r.dcost, hi - lo + 1});
                }
            }
            Result<RunSet> kept = prune(std::move(cand), run_threshold, &out.work, limits);
            if (!kept) return kept.error();
            cur[size_t(self)] = std::move(*kept);
            runs_total += cur[size_t(self)].size();
        }
        out.runs_held = std::max(out.runs_held, want_set ? runs_total : cur[0].size() + cur[1].size());
        if (want_set && runs_total > kMaxRuns) return too_much(std::to_string(kMaxRuns) + " label runs in memory");
        if (want_set) held[size_t(b)] = cur;
        prev = std::move(cur);
    }
    const RunSet& last = prev[0];
    if (last.empty()) return out;
    // The cheapest final label; among equal costs the lowest (pf, pb).
    Label best{};
    bool have = false;
    for (const Run& r : last) {
        for (int64_t i : {int64_t(0), r.count - 1}) {
            const Label l = r.at(i);
            const bool better = !have || l.cost < best.cost ||
                                (l.cost == best.cost && (l.pf < best.pf || (l.pf == best.pf && l.pb < best.pb)));
            if (better) best = l, have = true;
        }
    }
    out.feasible = true;
    out.cost = best.cost;
    if (!want_set) return out;

    // Backwards: at block b (state s, label `target`), a label of block b-1 that extends to it.
    out.checkpoint.assign(size_t(n), false);
    Label target = best;
    int state = 0;
    for (int b = n; b >= 1; --b) {
        const WindowEffect &f = m.forward[size_t(b)], k = block_backward(m, b);
        const double add = with_cost && state && b < n ? m.cost[size_t(b)] : 0.0;
        bool found = false;
        for (int ps = 0; ps < 2 && !found; ++ps) {
            const size_t i = size_t(idx(ps == 1, state == 1));
            const int64_t want_pf = target.pf - f.end[i], want_pb = target.pb + k.end[i];
            for (const Run& r : held[size_t(b - 1)][size_t(ps)]) {
                // The index j with r.at(j).pf == want_pf (or pb, or cost, whichever moves).
                int64_t j = 0;
                if (r.count > 1) {
                    const i128 d = r.dpf != 0 ? i128(r.dpf) : i128(r.dpb);
                    const i128 off = r.dpf != 0 ? i128(want_pf) - r.pf : i128(want_pb) - r.pb;
                    if (d == 0) {
                        if (r.dcost == 0) continue;
                        const double q = (target.cost - add - r.cost) / r.dcost;
                        j = int64_t(std::llround(q));
                    } else {
                        if (off % d != 0) continue;
                        j = int64_t(off / d);
                    }
                    if (j < 0 || j >= r.count) continue;
                }
                const Label p = r.at(j);
                if (p.pf != want_pf || p.pb != want_pb || p.cost + add != target.cost) continue;
                if (m.start + p.pf + f.peak[i] > budget || m.end + p.pb + k.peak[i] - k.end[i] > budget) continue;
                target = p;
                state = ps;
                found = true;
                break;
            }
        }
        if (!found) return Error{"internal error: the plan could not be rebuilt at block " + std::to_string(b),
                                 ErrorKind::device};
        out.checkpoint[size_t(b - 1)] = state == 1;
    }
    return out;
}

}  // namespace ckpt::dp
