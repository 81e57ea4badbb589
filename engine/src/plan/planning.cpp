// Planning as the front ends show it (planner.h, plan_table): the candidate checkpoint sets a
// planner considers, each with its exact predicted peak, where that peak happens and what its
// recomputation costs, sorted cheapest first, and the one chosen for the budget. The CLI prints
// this table and the GUI applies its choice, so both answer the same question the same way.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/units.h"
#include "core/allocator.h"
#include "exec/executor.h"
#include "plan/chain_dp.h"

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
// blocks, the smallest K (the most evenly spread blocks), so the list stays short on long chains.
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
    if (planner == PlannerKind::dp || planner == PlannerKind::sqrt) names.push_back("sqrt");
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
    if (planner == PlannerKind::dp || minimal_peak > budget)
        return Error{"no plan fits in " + format_bytes(budget) + ": " + smallest, ErrorKind::out_of_memory};
    int64_t lowest = 0;
    for (const PlanCandidate& c : candidates)
        if (lowest == 0 || c.plan.predicted_peak < lowest) lowest = c.plan.predicted_peak;
    return Error{"no " + std::string(planner_name(planner)) + " plan fits in " + format_bytes(budget) +
                     " (its lowest peak is " + format_bytes(lowest) + "); " + smallest + ", which dp finds",
                 ErrorKind::out_of_memory};
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

    auto same_set = [&](const std::vector<bool>& flags) {
        return std::find_if(t.candidates.begin(), t.candidates.end(),
                            [&](const PlanCandidate& c) { return c.plan.checkpoint == flags; });
    };
    for (const std::string& name : named_sets(planner, t.blocks)) {
        Result<std::vector<bool>> flags = parse_checkpoint_set(name, t.blocks);
        if (!flags) return flags.error();
        // sqrt is some every:K: list each set once, under the later (better known) name.
        if (auto same = same_set(*flags); same != t.candidates.end()) {
            same->same_as.insert(same->same_as.begin(), same->plan.planner);
            same->plan.planner = same->checkpoint_arg = name;
            continue;
        }
        PlanCandidate c;
        c.plan = evaluate_plan(*model, *flags, name, budget, &c.peak_tag);
        c.checkpoint_arg = name;
        t.candidates.push_back(std::move(c));
    }
    if (planner == PlannerKind::dp) {
        // The optimum under the budget, when one exists, joins the named sets.
        Result<Plan> p = plan_optimal(*model, budget, limits);
        // No set fits (out of memory) leaves the named sets; the planner's own limit is an error.
        if (!p && p.error().kind != ErrorKind::out_of_memory) return p.error();
        if (p) {
            if (auto same = same_set(p->checkpoint); same != t.candidates.end()) {
                same->same_as.push_back("dp");
            } else {
                PlanCandidate c;
                c.plan = *p;
                c.peak_tag = model->peak_tag(p->checkpoint);
                c.checkpoint_arg = format_checkpoint_set(p->checkpoint);
                t.candidates.push_back(std::move(c));
            }
        }
    }
    std::stable_sort(t.candidates.begin(), t.candidates.end(), [](const PlanCandidate& x, const PlanCandidate& y) {
        return x.plan.recompute_cost != y.plan.recompute_cost ? x.plan.recompute_cost < y.plan.recompute_cost
                                                              : x.plan.predicted_peak < y.plan.predicted_peak;
    });
    for (size_t i = 0; i < t.candidates.size() && t.chosen < 0; ++i)
        if (t.candidates[i].plan.fits) t.chosen = int(i);
    // The chain model is checked against a dry run of the executor: every candidate on a short
    // chain, the chosen one (or the first) on a long one, where one dry run costs as much as the
    // chain model did and a check per candidate would make planning quadratic. A long chain
    // measured shortened was checked against the executor when it was built.
    const bool short_chain = int64_t(t.blocks) * int64_t(t.candidates.size()) <= kCheckAllBlocks;
    for (size_t i = 0; i < t.candidates.size() && model->measured_whole; ++i) {
        if (!short_chain && int(i) != std::max(t.chosen, 0)) continue;
        PlanCandidate& c = t.candidates[i];
        ModelSpec s = spec;
        apply_checkpoint_set(s, c.plan.checkpoint);
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
        Result<int64_t> floor = minimal_peak_checked(*model, limits);
        if (!floor) return floor.error();
        t.minimal_peak = *floor;
    }
    return t;
}

}  // namespace ckpt
