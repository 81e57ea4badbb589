// Planning as the front ends show it (planner.h, plan_table): the candidate checkpoint sets a
// planner considers, each with its exact predicted peak, where that peak happens and what its
// recomputation costs, sorted cheapest first, and the one chosen for the budget; dp's table
// holds both optima, per block and over segment partitions, and says which is cheaper. The CLI
// prints this table and the GUI applies its choice, so both answer the same question the same way.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/units.h"
#include "core/allocator.h"
#include "exec/executor.h"
#include "plan/chain_dp.h"
#include "plan/chain_segments.h"

namespace ckpt {

namespace {

// Chains up to this many blocks times candidates have every candidate checked by a dry run.
constexpr int64_t kCheckAllBlocks = 20000;

// The second dry step of `spec` (the optimizer state of the first exists), as the chain model
// predicts it; no events are recorded (the peak and where it happens are all that is checked).
Result<StepReport> dry_second_step(const ModelSpec& spec, DeviceKind kind) {
    Allocator alloc(dry_backend(kind), 0);
    Executor exec(spec, alloc);
    StepOptions opts;
    opts.record_events = false;
    StepReport r;
    for (int step = 0; step < 2; ++step) {
        r = exec.step(opts);
        if (r.status != StepStatus::ok) return Error{r.message, error_kind(r.status)};
    }
    return r;
}

// The named sets a planner lists, in the order they are added (which decides, among equal
// sets, the name shown first). The every:K family keeps, for each number of checkpointed
// units (n of them), the smallest K (the most evenly spread units), so the list stays short on
// long chains.
std::vector<std::string> named_sets(PlannerKind planner, int n) {
    std::vector<std::string> names;
    const bool family = planner == PlannerKind::dp || planner == PlannerKind::every_k;
    if (planner == PlannerKind::dp || planner == PlannerKind::none) names.push_back("none");
    if (family) {
        std::map<int, int> k_for_count;
        for (int k = 1; k <= std::max(1, n); ++k) k_for_count.emplace((n + k - 1) / k, k);
        for (const auto& [count, k] : k_for_count)
            if (k > 1) names.push_back("every:" + std::to_string(k));
    }
    if (planner == PlannerKind::dp || planner == PlannerKind::sqrt || planner == PlannerKind::segments)
        names.push_back("sqrt");
    if (family || planner == PlannerKind::all) names.push_back("all");
    return names;
}

}  // namespace

std::string PlanCandidate::label() const {
    std::string s = plan.planner;
    for (size_t i = 0; i < same_as.size(); ++i) s += (i == 0 ? " (= " : ", ") + same_as[i];
    return same_as.empty() ? s : s + ")";
}

Error PlanTable::no_fit_error() const {
    const std::string smallest = "the smallest peak any checkpoint set reaches is " + format_bytes(minimal_peak) +
                                 " (" + std::to_string(minimal_peak) + " bytes)";
    if (planner == PlannerKind::dp || planner == PlannerKind::segments || minimal_peak > budget)
        return Error{"no plan fits in " + format_bytes(budget) + ": " + smallest, ErrorKind::out_of_memory};
    int64_t lowest = 0;
    for (const PlanCandidate& c : candidates)
        if (lowest == 0 || c.plan.predicted_peak < lowest) lowest = c.plan.predicted_peak;
    return Error{"no " + std::string(planner_name(planner)) + " plan fits in " + format_bytes(budget) +
                     " (its lowest peak is " + format_bytes(lowest) + "); " + smallest + ", which dp finds",
                 ErrorKind::out_of_memory};
}

std::string PlanTable::comparison() const {
    if (!segments_note.empty()) return segments_note;
    if (per_block < 0 && segments < 0) return {};
    if (per_block < 0) return "no per-block set fits this budget; a segment plan does";
    if (segments < 0) return {};
    if (per_block == segments) return "per block (dp) and over segments the cheapest set is the same here";
    const Plan &d = candidates[size_t(per_block)].plan, &g = candidates[size_t(segments)].plan;
    if (d.recompute_cost <= g.recompute_cost)  // segment sets include the per-block ones: equal
        return "segments and per block (dp) recompute the same here";
    const double saved = d.recompute_cost > 0 ? 100.0 * (1.0 - g.recompute_cost / d.recompute_cost) : 0.0;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.0f%%", saved);
    return std::string("segments recompute ") + pct + " less than per block (dp) at this budget";
}

Result<PlanTable> plan_table(const ModelSpec& spec, PlannerKind planner, int64_t budget,
                             const std::vector<double>& forward_ns, DeviceKind kind, PlanLimits* limits) {
    PlanLimits own;
    if (!limits) limits = &own;
    if (budget <= 0) return Error{"budget: must be more than 0 bytes"};
    Result<ChainModel> model = ChainModel::build(spec, forward_ns, kind);
    if (!model) return model.error();
    PlanTable t;
    t.planner = planner;
    t.budget = budget;
    t.blocks = int(spec.blocks.size());

    auto same_set = [&](const std::vector<BlockRange>& runs) {
        return std::find_if(t.candidates.begin(), t.candidates.end(),
                            [&](const PlanCandidate& c) { return c.plan.runs == runs; });
    };
    for (const std::string& name : named_sets(planner, int(checkpoint_units(spec).size()))) {
        Result<CheckpointSet> set = parse_checkpoint(name, spec);
        if (!set) return set.error();
        const std::vector<BlockRange> runs = recompute_segments(*set);
        // A set with two names (every:1 is all): list it once, under the later (better known) name.
        if (auto same = same_set(runs); same != t.candidates.end()) {
            same->same_as.insert(same->same_as.begin(), same->plan.planner);
            same->plan.planner = same->checkpoint_arg = name;
            continue;
        }
        PlanCandidate c;
        c.plan = evaluate_plan(*model, runs, name, budget, &c.peak_tag);
        c.checkpoint_arg = name;
        c.set = *set;
        t.candidates.push_back(std::move(c));
    }
    // The optima under the budget, when they exist, join the named sets: per block for dp, over
    // segment partitions for dp and segments.
    std::vector<PlannerKind> optima;
    if (planner == PlannerKind::dp) optima.push_back(PlannerKind::dp);
    if (planner == PlannerKind::dp || planner == PlannerKind::segments) optima.push_back(PlannerKind::segments);
    for (PlannerKind k : optima) {
        Result<Plan> p = k == PlannerKind::dp ? plan_optimal(*model, budget, limits)
                                              : plan_segments(*model, budget, limits);
        // No set fits (out of memory) leaves the named sets; the planner's own limit is an error,
        // except the segment search's beside a per-block plan: the table says it stopped (unless
        // the user stopped the job).
        if (!p && p.error().kind != ErrorKind::out_of_memory) {
            const bool user_stop = limits->stop && limits->stop->load(std::memory_order_relaxed);
            if (k != PlannerKind::segments || planner != PlannerKind::dp || user_stop) return p.error();
            t.segments_note = p.error().message;
            continue;
        }
        if (!p) continue;
        if (auto same = same_set(p->runs); same != t.candidates.end()) {
            same->same_as.push_back(p->planner);
        } else {
            PlanCandidate c;
            c.plan = *p;
            c.peak_tag = model->peak_and_tag(p->runs).second;
            c.set = checkpoint_from_runs(p->runs, t.blocks, spec.segments);
            c.checkpoint_arg = format_checkpoint(c.set, spec);
            t.candidates.push_back(std::move(c));
        }
    }
    std::stable_sort(t.candidates.begin(), t.candidates.end(), [](const PlanCandidate& x, const PlanCandidate& y) {
        return x.plan.recompute_cost != y.plan.recompute_cost ? x.plan.recompute_cost < y.plan.recompute_cost
                                                              : x.plan.predicted_peak < y.plan.predicted_peak;
    });
    for (size_t i = 0; i < t.candidates.size() && t.chosen < 0; ++i)
        if (t.candidates[i].plan.fits) t.chosen = int(i);
    for (size_t i = 0; i < t.candidates.size(); ++i) {
        const PlanCandidate& c = t.candidates[i];
        auto named = [&](const char* n) {
            return c.plan.planner == n || std::find(c.same_as.begin(), c.same_as.end(), n) != c.same_as.end();
        };
        if (named("dp")) t.per_block = int(i);
        if (named("segments")) t.segments = int(i);
    }
    // The chain model is checked against a dry run of the executor: every candidate on a short
    // chain, the chosen one (or the first) on a long one, where one dry run costs as much as the
    // chain model did and a check per candidate would make planning quadratic. A long chain
    // measured shortened was checked against the executor when it was built.
    const bool short_chain = int64_t(t.blocks) * int64_t(t.candidates.size()) <= kCheckAllBlocks;
    for (size_t i = 0; i < t.candidates.size() && model->measured_whole; ++i) {
        if (!short_chain && int(i) != std::max(t.chosen, 0)) continue;
        PlanCandidate& c = t.candidates[i];
        ModelSpec s = spec;
        apply_checkpoint(s, c.set);
        Result<StepReport> r = dry_second_step(s, kind);
        if (!r) return Error{"predicting " + c.plan.planner + ": " + r.error().message, r.error().kind};
        // Not the user's doing: the engine disagrees with itself, a failure to report, not a plan.
        const MemoryTag& a = r->peak_tag;
        const MemoryTag& b = c.peak_tag;
        if (r->peak_total != c.plan.predicted_peak || a.block != b.block || a.layer != b.layer ||
            a.phase != b.phase || a.category != b.category)
            return Error{"internal error: the chain model and the dry run disagree for " + c.plan.planner,
                         ErrorKind::device};
    }
    if (t.chosen < 0) {
        // The smallest budget any set reaches: segment partitions include the per-block sets.
        Result<int64_t> floor = seg::minimal_peak_checked(*model, limits);
        if (!floor && floor.error().kind != ErrorKind::stopped) floor = minimal_peak_checked(*model, limits);
        if (!floor) return floor.error();
        t.minimal_peak = std::min(*floor, minimal_peak(*model, limits));
    }
    return t;
}

}  // namespace ckpt
