// The chain model and the planners. The executor's memory behaviour is local: a block's
// forward and backward change live bytes in a way that depends only on whether it and its
// predecessor are checkpointed (the boundary tensor between them is kept by one, the other,
// both or neither). Four dry runs (none, all and the two alternating patterns) show every block
// in all four situations (long chains of repeated blocks are measured shortened:
// chain_compress.h), and the peak of any checkpoint set follows from prefix sums:
//   forward of b peaks at   start + sum_{j<b} F_end[j] + F_peak[b]
//   backward of b peaks at  end   - sum_{j<b} B_end[j] + (B_peak[b] - B_end[b])
// (backward runs from the last block down, so its prefix is over the blocks still to come).
// The dynamic program (chain_dp.cpp) walks the chain keeping, per (block, checkpointed?), the
// Pareto set of (forward prefix, backward prefix, cost) labels: exact, and linear in the length
// of chains of identical blocks.
#include "ckpt/planner.h"

#include "ckpt/layer_traits.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "ckpt/names.h"
#include "core/allocator.h"
#include "exec/executor.h"
#include "plan/chain_compress.h"
#include "plan/chain_dp.h"

namespace ckpt {
namespace {

int idx(bool prev, bool self) { return 2 * int(prev) + int(self); }

}  // namespace

std::pair<int64_t, MemoryTag> ChainModel::peak_and_tag(const std::vector<bool>& c) const {
    // One pass in block order. The segments run before, forward 0..n, backward n..0, optimizer,
    // and the first to reach the step's peak holds the allocation that reached it first: so
    // among forward segments the lowest block wins a tie, among backward ones the highest.
    const int n = blocks();
    int64_t fwd_best = std::numeric_limits<int64_t>::min(), back_best = fwd_best;
    int fwd_at = 0, back_at = 0, fwd_i = 0, back_i = 0;
    int64_t pf = 0, pb = 0;
    bool prev = false;
    for (int b = 0; b <= n; ++b) {
        const bool self = b < n && c[size_t(b)];
        const int i = idx(prev, self);
        const SegmentEffect &f = forward[size_t(b)], &k = backward[size_t(b)];
        const int64_t at_f = start + pf + f.peak[size_t(i)];
        const int64_t at_b = end + pb + k.peak[size_t(i)] - k.end[size_t(i)];
        if (at_f > fwd_best) fwd_best = at_f, fwd_at = b, fwd_i = i;
        if (at_b >= back_best) back_best = at_b, back_at = b, back_i = i;
        pf += f.end[size_t(i)];
        pb -= k.end[size_t(i)];
        prev = self;
    }
    int64_t best = before_peak;
    MemoryTag tag = before_tag;
    if (fwd_best > best) {
        best = fwd_best;
        tag = forward_tag.empty() ? MemoryTag{} : forward_tag[size_t(fwd_at)][size_t(fwd_i)];
    }
    if (back_best > best) {
        best = back_best;
        tag = backward_tag.empty() ? MemoryTag{} : backward_tag[size_t(back_at)][size_t(back_i)];
    }
    if (optimizer_peak > best) best = optimizer_peak, tag = optimizer_tag;
    return {best, tag};
}

int64_t ChainModel::peak(const std::vector<bool>& c) const { return peak_and_tag(c).first; }

MemoryTag ChainModel::peak_tag(const std::vector<bool>& c) const { return peak_and_tag(c).second; }

double ChainModel::recompute_cost(const std::vector<bool>& c) const {
    double t = 0.0;
    for (int b = 0; b < blocks(); ++b)
        if (c[size_t(b)]) t += cost[size_t(b)];
    return t;
}

namespace {

// FLOPs of each layer's forward (the traits table), block by block; `rerun_only` counts only
// the layers a checkpointed block runs again (recomputed_layers: its policy, and the trailing
// layers it rebuilds without running).
std::vector<double> flops(const ModelSpec& spec, bool rerun_only) {
    std::vector<double> out;
    const double rows = double(spec.rows()), seq = double(spec.sequence_length());
    Features features = spec.input_shape_features();
    for (const BlockSpec& b : spec.blocks) {
        double f = 0.0;
        const std::vector<bool> reruns = recomputed_layers(b);
        // One path of the block from the features coming into it; `first` is its first layer's index.
        auto path = [&](const std::vector<LayerSpec>& layers, size_t first, Features x) {
            for (size_t i = 0; i < layers.size(); ++i) {
                const LayerTraits& t = layer_traits(layers[i].type);
                if (!rerun_only || reruns[first + i]) f += t.forward_flops(layers[i], rows, seq, x);
                x = t.out_features(layers[i], x);
            }
            return x;
        };
        const Features in = features, sum = path(b.layers, 0, in);
        features = sum;
        if (b.residual) {
            path(b.shortcut, b.layers.size(), in);
            if (!rerun_only) f += rows * double(sum.size());  // the add
            features = path(b.post, b.layers.size() + b.shortcut.size(), sum);
        }
        out.push_back(f);
    }
    return out;
}

}  // namespace

std::vector<double> block_forward_flops(const ModelSpec& spec) { return flops(spec, false); }
std::vector<double> block_recompute_flops(const ModelSpec& spec) { return flops(spec, true); }

namespace {

// The memory half of the chain model from dry runs of `spec`, pattern by pattern: 0 none, 1 all,
// 2 odd blocks, 3 even blocks (`patterns` 1 measures only the unchecked one). What a segment
// does relative to its start is the same at every step (optimizer state is created in the
// optimizer phase, after the segments), so one step per pattern gives the effects; the
// unchecked pattern runs a second step for the steady-state levels.
Result<ChainModel> measure(const ModelSpec& spec, DeviceKind kind, int patterns) {
    const int n = int(spec.blocks.size());
    ChainModel m;
    m.forward.assign(size_t(n) + 1, {});
    m.backward.assign(size_t(n) + 1, {});
    m.forward_tag.assign(size_t(n) + 1, {});
    m.backward_tag.assign(size_t(n) + 1, {});
    m.cost.assign(size_t(n), 0.0);
    m.forward_cost.assign(size_t(n), 0.0);
    for (int p = 0; p < patterns; ++p) {
        ModelSpec s = spec;
        std::vector<bool> c(static_cast<size_t>(n));
        for (int b = 0; b < n; ++b) c[size_t(b)] = p == 1 || (p == 2 && b % 2 == 1) || (p == 3 && b % 2 == 0);
        for (int b = 0; b < n; ++b) s.blocks[size_t(b)].checkpoint = c[size_t(b)];
        Allocator alloc(dry_backend(kind), 0);
        Executor exec(s, alloc);
        StepOptions opts;
        opts.record_events = false;
        StepReport r;
        for (int step = 0; step < (p == 0 ? 2 : 1); ++step) r = exec.step(opts);
        if (r.status != StepStatus::ok) return Error{r.message, error_kind(r.status)};
        if (p == 0) {
            m.start = exec.forward_segments[0].start;
            m.before_peak = exec.before_segment.peak;
            m.before_tag = exec.before_segment.peak_tag;
            m.end = exec.optimizer_segment.start;
            m.optimizer_peak = exec.optimizer_segment.peak;
            m.optimizer_tag = exec.optimizer_segment.peak_tag;
        }
        for (int b = 0; b <= n; ++b) {
            const bool prev = b > 0 && c[size_t(b - 1)];
            const bool self = b < n && c[size_t(b)];
            const size_t i = size_t(idx(prev, self));
            const Executor::Segment &f = exec.forward_segments[size_t(b)], &k = exec.backward_segments[size_t(b)];
            m.forward[size_t(b)].peak[i] = f.peak - f.start;
            m.forward[size_t(b)].end[i] = f.end - f.start;
            m.backward[size_t(b)].peak[i] = k.peak - k.start;
            m.backward[size_t(b)].end[i] = k.end - k.start;
            m.forward_tag[size_t(b)][i] = f.peak_tag;
            m.backward_tag[size_t(b)][i] = k.peak_tag;
        }
    }
    return m;
}

}  // namespace

Result<ChainModel> ChainModel::build(const ModelSpec& spec, const std::vector<double>& forward_ns, DeviceKind kind) {
    return build_chain_model(spec, forward_ns, kind, chain::kCompressFrom);
}

Result<ChainModel> build_chain_model(const ModelSpec& spec, const std::vector<double>& forward_ns, DeviceKind kind,
                                     int compress_from) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    const int n = int(spec.blocks.size());
    if (!forward_ns.empty() && int(forward_ns.size()) != n)
        return Error{"forward times: expected " + std::to_string(n) + ", got " + std::to_string(forward_ns.size())};
    // Long chains of repeated blocks are measured short (chain_compress.h); the rest whole.
    std::optional<Result<ChainModel>> shortened = chain::build_compressed(spec, kind, measure, compress_from);
    Result<ChainModel> measured = shortened ? std::move(*shortened) : measure(spec, kind, 4);
    if (!measured) return measured.error();
    ChainModel& m = *measured;
    m.measured_whole = !shortened;
    // Measured forward times scale by the share of FLOPs a policy reruns.
    const std::vector<double> fwd = block_forward_flops(spec), rerun = block_recompute_flops(spec);
    m.forward_cost = forward_ns.empty() ? fwd : forward_ns;
    m.cost = rerun;
    if (!forward_ns.empty())
        for (int b = 0; b < n; ++b) m.cost[size_t(b)] = fwd[size_t(b)] > 0 ? forward_ns[size_t(b)] * rerun[size_t(b)] / fwd[size_t(b)] : 0.0;
    return measured;
}

Result<PlannerKind> parse_planner(const std::string& t) {
    if (std::optional<PlannerKind> k = enum_from_name<PlannerKind>(t)) return *k;
    return Error{"unknown planner \"" + t + "\" (expected " + enum_choices<PlannerKind>() + ")"};
}

Plan evaluate_plan(const ChainModel& m, const std::vector<bool>& c, const std::string& name, int64_t budget,
                   MemoryTag* tag) {
    Plan p;
    p.planner = name;
    p.checkpoint = c;
    const auto [peak, at] = m.peak_and_tag(c);
    p.predicted_peak = peak;
    if (tag) *tag = at;
    p.recompute_cost = m.recompute_cost(c);
    double step = 0.0;  // forward + backward ~ 3x forward for GEMM-bound blocks
    for (double t : m.forward_cost) step += 3.0 * t;
    p.overhead_fraction = step > 0 ? p.recompute_cost / step : 0.0;
    p.fits = budget <= 0 || p.predicted_peak <= budget;
    return p;
}

Result<int64_t> minimal_peak_checked(const ChainModel& m, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    // Feasibility is monotone in the budget: bisect between a lower bound and a known peak. Each
    // probe decides feasibility only (no costs), which keeps the label sets small.
    int64_t hi = std::min(m.peak(std::vector<bool>(size_t(m.blocks()), false)),
                          m.peak(std::vector<bool>(size_t(m.blocks()), true)));
    int64_t lo = std::max(m.before_peak, m.optimizer_peak) - 1;  // infeasible or the answer - 1
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        Result<dp::Solution> s = dp::solve(m, mid, /*want_set=*/false, /*with_cost=*/false, dp::kRunThreshold, limits);
        if (!s) return s.error();
        if (s->feasible) hi = mid;
        else lo = mid;
    }
    return hi;
}

int64_t minimal_peak(const ChainModel& m, PlanLimits* limits) {
    Result<int64_t> p = minimal_peak_checked(m, limits);
    if (p) return *p;
    return std::min(m.peak(std::vector<bool>(size_t(m.blocks()), false)),
                    m.peak(std::vector<bool>(size_t(m.blocks()), true)));
}

Result<Plan> plan_optimal(const ChainModel& m, int64_t budget, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    Result<dp::Solution> s = dp::solve(m, budget, /*want_set=*/true, /*with_cost=*/true, dp::kRunThreshold, limits);
    if (!s) return s.error();
    if (!s->feasible) {
        Result<int64_t> floor = minimal_peak_checked(m, limits);
        if (!floor) return floor.error();
        return Error{"budget " + std::to_string(budget) + " bytes is below the smallest peak any checkpoint set "
                     "reaches: " + std::to_string(*floor) + " bytes", ErrorKind::out_of_memory};
    }
    return evaluate_plan(m, s->checkpoint, "dp", budget);
}

Result<Plan> make_plan(const ChainModel& m, PlannerKind kind, int64_t budget, int k) {
    const int n = m.blocks();
    switch (kind) {
    case PlannerKind::dp: return plan_optimal(m, budget);
    case PlannerKind::none: return evaluate_plan(m, std::vector<bool>(size_t(n), false), "none", budget);
    case PlannerKind::all: return evaluate_plan(m, std::vector<bool>(size_t(n), true), "all", budget);
    case PlannerKind::every_k:
    case PlannerKind::sqrt: {
        const std::string text = kind == PlannerKind::sqrt ? "sqrt" : "every:" + std::to_string(k);
        Result<std::vector<bool>> c = parse_checkpoint_set(text, n);
        if (!c) return c.error();
        return evaluate_plan(m, *c, kind == PlannerKind::sqrt ? "sqrt" : "every-" + std::to_string(k), budget);
    }
    }
    return Error{"planner: unknown"};
}

ParetoSweep pareto_sweep(const ChainModel& m, int budgets, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    const int n = m.blocks();
    ParetoSweep out;
    out.budgets = budgets;
    std::vector<ParetoPoint>& pts = out.points;
    auto add = [&](Plan p) {
        for (const ParetoPoint& q : pts)
            if (q.plan.checkpoint == p.checkpoint) return;
        pts.push_back({std::move(p), false});
    };
    add(evaluate_plan(m, std::vector<bool>(size_t(n), false), "none", 0));
    add(evaluate_plan(m, std::vector<bool>(size_t(n), true), "all", 0));
    for (int k = 2; k <= std::min(n, 8); ++k)
        if (auto c = parse_checkpoint_set("every:" + std::to_string(k), n)) add(evaluate_plan(m, *c, "every-" + std::to_string(k), 0));
    if (auto c = parse_checkpoint_set("sqrt", n)) add(evaluate_plan(m, *c, "sqrt", 0));
    // The budgets run from the smallest peak (or, past a planner limit, the lower of none's and
    // all's) to the unchecked peak; a stopped job keeps what it found.
    Result<int64_t> floor = minimal_peak_checked(m, limits);
    if (!floor && floor.error().kind == ErrorKind::stopped) {
        out.cut_short = "the sweep stopped before its first budget (" + floor.error().message + ")";
        budgets = 0;
    }
    const int64_t hi = pts[0].plan.predicted_peak;
    const int64_t lo = floor ? *floor : std::min(hi, m.peak(std::vector<bool>(size_t(n), true)));
    for (int i = 0; i < budgets; ++i) {
        const int64_t budget = budgets > 1 ? lo + (hi - lo) * i / (budgets - 1) : hi;
        Result<Plan> p = plan_optimal(m, budget, limits);
        if (!p && p.error().kind == ErrorKind::stopped) {
            out.cut_short = "the sweep stopped after " + std::to_string(i) + " of its " + std::to_string(budgets) +
                            " budgets (" + p.error().message + ")";
            break;
        }
        out.planned = i + 1;
        if (p) add(*p);  // (past a single program's limit, a budget has no plan: the others stand)
    }
    std::sort(pts.begin(), pts.end(), [](const ParetoPoint& a, const ParetoPoint& b) {
        return a.plan.predicted_peak != b.plan.predicted_peak ? a.plan.predicted_peak < b.plan.predicted_peak
                                                              : a.plan.recompute_cost < b.plan.recompute_cost;
    });
    double best = std::numeric_limits<double>::infinity();
    for (ParetoPoint& p : pts) {
        if (p.plan.recompute_cost < best) {
            p.frontier = true;
            best = p.plan.recompute_cost;
        }
    }
    return out;
}

}  // namespace ckpt
