// The planners over a chain model (planner.h): a given set evaluated, the two exact optima under
// a budget (per block: chain_dp.h; over segment partitions: chain_segments.h), the smallest
// peaks they reach, the named planners and the Pareto sweep the GUI draws.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/names.h"
#include "ckpt/planner.h"
#include "plan/chain_dp.h"
#include "plan/chain_segments.h"

namespace ckpt {

Result<PlannerKind> parse_planner(const std::string& t) {
    if (std::optional<PlannerKind> k = enum_from_name<PlannerKind>(t)) return *k;
    return Error{"unknown planner \"" + t + "\" (expected " + enum_choices<PlannerKind>() + ")"};
}

Plan evaluate_plan(const ChainModel& m, const std::vector<BlockRange>& runs, const std::string& name, int64_t budget,
                   MemoryTag* tag) {
    Plan p;
    p.planner = name;
    p.runs = runs;
    p.checkpoint.assign(size_t(m.blocks()), false);
    for (const BlockRange& r : runs)
        for (int b = r.first; b <= r.last; ++b) p.checkpoint[size_t(b)] = true;
    const auto [peak, at] = m.peak_and_tag(runs);
    p.predicted_peak = peak;
    if (tag) *tag = at;
    p.recompute_cost = m.recompute_cost(runs);
    double step = 0.0;  // forward + backward ~ 3x forward for GEMM-bound blocks
    for (double t : m.forward_cost) step += 3.0 * t;
    p.overhead_fraction = step > 0 ? p.recompute_cost / step : 0.0;
    p.fits = budget <= 0 || p.predicted_peak <= budget;
    return p;
}

Plan evaluate_plan(const ChainModel& m, const std::vector<bool>& c, const std::string& name, int64_t budget,
                   MemoryTag* tag) {
    return evaluate_plan(m, single_runs(c), name, budget, tag);
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

int64_t minimal_segment_peak(const ChainModel& m, PlanLimits* limits) {
    // Segment sets include the per-block ones: never above the per-block floor.
    Result<int64_t> p = seg::minimal_peak_checked(m, limits);
    return p ? std::min(*p, minimal_peak(m, limits)) : minimal_peak(m, limits);
}

namespace {

Result<Plan> named(const ChainModel& m, const std::string& text, const std::string& name, int64_t budget);

Error below_floor(int64_t budget, Result<int64_t> floor) {
    if (!floor) return floor.error();
    return Error{"budget " + std::to_string(budget) + " bytes is below the smallest peak any checkpoint set "
                 "reaches: " + std::to_string(*floor) + " bytes", ErrorKind::out_of_memory};
}

}  // namespace

Result<Plan> plan_optimal(const ChainModel& m, int64_t budget, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    Result<dp::Solution> s = dp::solve(m, budget, /*want_set=*/true, /*with_cost=*/true, dp::kRunThreshold, limits);
    if (!s) return s.error();
    if (!s->feasible) return below_floor(budget, minimal_peak_checked(m, limits));
    return evaluate_plan(m, s->checkpoint, "dp", budget);
}

Result<Plan> plan_segments(const ChainModel& m, int64_t budget, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    if (m.blocks() > seg::kMaxBlocks)
        return Error{"planning: the segment planner searches chains of up to " + std::to_string(seg::kMaxBlocks) +
                     " blocks, this one has " + std::to_string(m.blocks()) +
                     ": plan per block (dp) or with a fixed planner (sqrt, every-k, all) instead"};
    // The cheapest set already known to fit bounds the search: the per-block optimum, or else a
    // run of every k blocks (k = 2, 3, ..., as checkpoint_sequential cuts a chain) or sqrt.
    std::optional<Plan> known;
    if (Result<Plan> p = plan_optimal(m, budget, limits)) known = *p;
    else if (p.error().kind != ErrorKind::out_of_memory) return p.error();
    const int n = m.blocks();
    if (!known) {
        for (int k = 2; k <= std::min(n, 64); ++k) {
            std::vector<BlockRange> runs;
            for (int b = 0; b < n; b += k) runs.push_back({b, std::min(n - 1, b + k - 1)});
            Plan p = evaluate_plan(m, runs, "segments", budget);
            if (p.fits && (!known || p.recompute_cost < known->recompute_cost)) known = p;
        }
        if (Result<Plan> p = named(m, "sqrt", "segments", budget); p && p->fits)
            if (!known || p->recompute_cost < known->recompute_cost) known = *p;
    }
    // Short runs first (the optimum's runs are mostly short): a cheaper set found there tightens
    // the bound, and the exact search then only looks for sets cheaper still.
    double bound = known ? known->recompute_cost : std::numeric_limits<double>::infinity();
    for (int max_run : {4, 16}) {
        if (max_run >= n) break;
        Result<seg::Solution> quick = seg::solve(m, budget, /*want_set=*/true, /*with_cost=*/true, bound, max_run, limits);
        if (!quick) return quick.error();
        if (quick->feasible) {
            known = evaluate_plan(m, quick->runs, "segments", budget);
            bound = known->recompute_cost;
        }
    }
    Result<seg::Solution> s = seg::solve(m, budget, /*want_set=*/true, /*with_cost=*/true, bound, /*max_run=*/0, limits);
    if (!s) return s.error();
    if (s->feasible) return evaluate_plan(m, s->runs, "segments", budget);
    // Nothing cheaper than the known set: it is the optimum.
    if (known) return evaluate_plan(m, known->runs, "segments", budget);
    return below_floor(budget, seg::minimal_peak_checked(m, limits));
}

namespace {

// A named set (parse_checkpoint's text) on the model's blocks and segments.
Result<Plan> named(const ChainModel& m, const std::string& text, const std::string& name, int64_t budget) {
    Result<CheckpointSet> set = parse_checkpoint(text, m.blocks(), m.segments, m.forward_cost);
    if (!set) return set.error();
    return evaluate_plan(m, recompute_segments(*set), name, budget);
}

}  // namespace

Result<Plan> make_plan(const ChainModel& m, PlannerKind kind, int64_t budget, int k) {
    switch (kind) {
    case PlannerKind::dp: return plan_optimal(m, budget);
    case PlannerKind::segments: return plan_segments(m, budget);
    case PlannerKind::none: return named(m, "none", "none", budget);
    case PlannerKind::all: return named(m, "all", "all", budget);
    case PlannerKind::sqrt: return named(m, "sqrt", "sqrt", budget);
    case PlannerKind::every_k: return named(m, "every:" + std::to_string(k), "every-" + std::to_string(k), budget);
    }
    return Error{"planner: unknown"};
}

ParetoSweep pareto_sweep(const ChainModel& m, int budgets, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    const int units = int(checkpoint_units(m.blocks(), m.segments).size());
    ParetoSweep out;
    out.budgets = budgets;
    std::vector<ParetoPoint>& pts = out.points;
    auto add = [&](Plan p) {
        for (const ParetoPoint& q : pts)
            if (q.plan.runs == p.runs) return;
        pts.push_back({std::move(p), false, false});
    };
    for (const char* name : {"none", "all"})
        if (auto p = named(m, name, name, 0)) add(*p);
    for (int k = 2; k <= std::min(units, 8); ++k)
        if (auto p = named(m, "every:" + std::to_string(k), "every-" + std::to_string(k), 0)) add(*p);
    if (auto p = named(m, "sqrt", "sqrt", 0)) add(*p);
    const int64_t hi = pts.empty() ? 0 : pts[0].plan.predicted_peak;
    const int64_t lowest_named = std::min(hi, m.peak(std::vector<bool>(size_t(m.blocks()), true)));
    // Both optima across budgets from each one's floor (or, past a planner limit, the lower of
    // none's and all's) up to the unchecked peak; the segment search at fewer budgets on long
    // chains, where each takes longer. A stopped job keeps what it found.
    Result<int64_t> block_floor = minimal_peak_checked(m, limits);
    Result<int64_t> seg_floor = block_floor ? seg::minimal_peak_checked(m, limits) : block_floor;
    for (const Result<int64_t>* f : {&block_floor, &seg_floor})
        if (!*f && (*f).error().kind == ErrorKind::stopped && out.cut_short.empty()) {
            out.cut_short = "the sweep stopped before its first budget (" + (*f).error().message + ")";
            budgets = 0;
        }
    const int64_t lo_block = block_floor ? *block_floor : lowest_named;
    const int64_t lo_seg = seg_floor ? std::min(*seg_floor, lo_block) : lo_block;
    const int seg_budgets = m.blocks() > 500 ? std::min(budgets, 4) : budgets;
    for (int i = 0; i < budgets; ++i) {
        const auto at = [&](int64_t lo, int count, int j) { return count > 1 ? lo + (hi - lo) * j / (count - 1) : hi; };
        Result<Plan> p = plan_optimal(m, at(lo_block, budgets, i), limits);
        if (p) add(*p);  // (past a single program's limit, a budget has no plan: the others stand)
        if (p || p.error().kind != ErrorKind::stopped) {
            if (i < seg_budgets) {
                p = plan_segments(m, at(lo_seg, seg_budgets, i), limits);
                if (p) add(*p);
            }
        }
        if (!p && p.error().kind == ErrorKind::stopped) {
            out.cut_short = "the sweep stopped after " + std::to_string(i) + " of its " + std::to_string(budgets) +
                            " budgets (" + p.error().message + ")";
            break;
        }
        out.planned = i + 1;
    }
    std::sort(pts.begin(), pts.end(), [](const ParetoPoint& a, const ParetoPoint& b) {
        return a.plan.predicted_peak != b.plan.predicted_peak ? a.plan.predicted_peak < b.plan.predicted_peak
                                                              : a.plan.recompute_cost < b.plan.recompute_cost;
    });
    double best = std::numeric_limits<double>::infinity(), best_block = best;
    for (ParetoPoint& p : pts) {
        if (p.plan.recompute_cost < best) {
            p.frontier = true;
            best = p.plan.recompute_cost;
        }
        if (!p.plan.grouped() && p.plan.recompute_cost < best_block) {
            p.block_frontier = true;
            best_block = p.plan.recompute_cost;
        }
    }
    return out;
}

}  // namespace ckpt
