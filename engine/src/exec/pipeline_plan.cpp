// Planning a pipeline (ckpt/parallel.h's plan_pipeline): each stage's blocks planned on their own
// rank, so that the stage fits its budget with its microbatches in flight. The difficulty is that
// the microbatches in flight keep what the plan keeps: a stage holding k microbatches peaks at
// its step's peak plus k - 1 times its plan's kept bytes, and the single-step planner cannot see
// the second term. So the stage's planner is asked for the cheapest plan under a lower, inner
// budget, and the highest inner budget whose plan fits with the others in flight is found by
// bisection; each try's kept bytes come from a dry run of the stage under that plan. The chosen
// plans are then predicted together, stage by stage, as `predict` would (predict_rank), and those
// figures are the ones reported.
#include <algorithm>
#include <map>

#include "ckpt/parallel.h"
#include "ckpt/units.h"
#include "exec/rank_scope.h"

namespace ckpt {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// The least recomputation found so far whose peak with the microbatches in flight fits.
struct Best {
    PlanTable table;  // the table it came from, `chosen` set to it
    int64_t inner = 0;
    int64_t peak = 0;
    double cost = 0.0;
    bool found = false;
};

}  // namespace

Result<PipelinePlan> plan_pipeline(const ModelSpec& spec, const ParallelLayout& layout, PlannerKind planner,
                                   int64_t budget, DeviceKind kind, PlanLimits* limits) {
    if (std::string bad = check_layout(spec, layout); !bad.empty()) return Error{bad};
    PipelinePlan out;
    out.layout = layout;
    // The stages as the model's file splits them: a plan's segments never move a block.
    Result<std::vector<BlockRange>> stages = stage_split(spec, layout);
    if (!stages) return stages.error();
    out.layout.stages = *stages;
    const ParallelLayout& p = out.layout;
    out.set.checkpoint.assign(spec.blocks.size(), false);

    for (int s = 0; s < p.pp; ++s) {
        const int rank = s * p.tp * p.dp;
        Result<ModelSpec> rs = rank_spec(spec, p, rank);
        if (!rs) return rs.error();
        const int k = in_flight_microbatches(p, s);
        const DryRankScope scope(dry_rank(p));
        // A plan's kept bytes per microbatch, from a dry run of the stage under it (the fixed
        // patterns come back in every table: counted once).
        std::map<std::string, int64_t> kept_cache;  // by the set's --checkpoint text
        auto kept_of = [&](const CheckpointSet& set) -> Result<int64_t> {
            if (k == 1) return int64_t(0);
            const std::string key = format_checkpoint(set, *rs);
            if (auto it = kept_cache.find(key); it != kept_cache.end()) return it->second;
            ModelSpec planned = *rs;
            apply_checkpoint(planned, set);
            Result<StepReport> r = predict(planned, 1, kind, limits ? limits->stop : nullptr);
            if (!r) return r.error();
            int64_t kept = 0;
            for (const BlockReport& b : r->blocks) kept += b.kept_bytes;
            return kept_cache[key] = kept;
        };
        Best best;
        int64_t lowest = 0;  // the lowest peak with the microbatches in flight seen, for the error
        // Every candidate of the stage's table at `inner` (the planner's, or `kind_asked`'s), with the
        // others in flight; true when the planner's own choice there fits. `at` receives the table.
        auto consider = [&](int64_t inner, PlannerKind kind_asked, PlanTable* at = nullptr) -> Result<bool> {
            Result<PlanTable> table = plan_table(*rs, kind_asked, inner, {}, kind, limits);
            if (!table) return table.error();
            if (at) *at = *table;
            bool own = false;
            for (size_t i = 0; i < table->candidates.size(); ++i) {
                const PlanCandidate& c = table->candidates[i];
                Result<int64_t> kept = kept_of(c.set);
                if (!kept) return kept.error();
                const int64_t peak = c.plan.predicted_peak + int64_t(k - 1) * *kept;
                if (lowest == 0 || peak < lowest) lowest = peak;
                if (peak > budget) continue;
                if (int(i) == table->chosen) own = true;
                if (!best.found || c.plan.recompute_cost < best.cost) {
                    best = {*table, inner, peak, c.plan.recompute_cost, true};
                    best.table.chosen = int(i);
                }
            }
            return own;
        };

        PlanTable at_budget;
        Result<bool> own = consider(budget, planner, &at_budget);
        if (!own) return own.error();
        // The exact planners search every set, `all` among them: the set that keeps least, which
        // a step's optimum never is when the step's peak does not depend on it (an embedding's
        // backward), while the microbatches in flight do.
        if (k > 1 && (planner == PlannerKind::dp || planner == PlannerKind::segments)) {
            Result<bool> all = consider(budget, PlannerKind::all);
            if (!all) return all.error();
        }
        if (!*own) {
            // The planner's leanest plan: its lowest candidate peak, or for the exact planners the
            // lowest peak any set reaches; then the highest inner budget whose own choice fits,
            // by bisection to 1/256 of the budget.
            int64_t lo = 0;
            for (const PlanCandidate& c : at_budget.candidates)
                if (lo == 0 || c.plan.predicted_peak < lo) lo = c.plan.predicted_peak;
            if (planner == PlannerKind::dp || planner == PlannerKind::segments) {
                Result<ChainModel> chain = ChainModel::build(*rs, {}, kind);
                if (!chain) return chain.error();
                lo = std::min(lo, minimal_segment_peak(*chain, limits));
            }
            own = consider(lo, planner);
            if (!own) return own.error();
            int64_t hi = budget;
            const int64_t step = std::max<int64_t>(budget / 256, 1);
            while (*own && hi - lo > step) {
                const int64_t mid = lo + (hi - lo) / 2;
                Result<bool> fits = consider(mid, planner);
                if (!fits) return fits.error();
                (*fits ? lo : hi) = mid;
            }
        }
        if (!best.found)
            return Error{"no plan fits stage " + str(s) + " (blocks " + format_block_range(p.stages[size_t(s)]) + ") in " +
                             format_bytes(budget) +
                             (k == 1 ? std::string() : " with its " + str(k) + " microbatches at once") +
                             ": the lowest peak among the plans tried is " + format_bytes(lowest) + " (" + str(lowest) +
                             " bytes)",
                         ErrorKind::out_of_memory};
        StagePlan sp;
        sp.place = *rank_place(spec, p, rank);
        sp.inner_budget = best.inner;
        sp.in_flight_microbatches = k;
        sp.table = std::move(best.table);
        // The stage's set, in the whole model's block numbers.
        const CheckpointSet& local = sp.table.chosen_candidate()->set;
        const int first = sp.place.blocks.first;
        for (size_t b = 0; b < local.checkpoint.size(); ++b) out.set.checkpoint[size_t(first) + b] = local.checkpoint[b];
        for (const BlockRange& g : local.segments) out.set.segments.push_back({g.first + first, g.last + first});
        out.stages.push_back(std::move(sp));
    }

    // The plans together, predicted as `predict --checkpoint` would: these are the figures shown.
    ModelSpec planned = spec;
    apply_checkpoint(planned, out.set);
    out.checkpoint_arg = format_checkpoint(out.set, spec);
    for (StagePlan& sp : out.stages) {
        Result<RankPrediction> r = predict_rank(planned, p, sp.place.rank, 2, kind, limits ? limits->stop : nullptr);
        if (!r) return r.error();
        sp.peak = r->report.peak_total;
        sp.peak_tag = r->report.peak_tag;
        sp.in_flight_bytes = r->in_flight_bytes;
        if (sp.peak > out.stages[out.worst].peak) out.worst = size_t(&sp - out.stages.data());
    }
    return out;
}

PlanTable PipelinePlan::as_table(const ModelSpec& spec, PlannerKind planner, int64_t budget) const {
    PlanTable t;
    t.planner = planner;
    t.budget = budget;
    t.blocks = int(spec.blocks.size());
    PlanCandidate c;
    c.set = set;
    c.checkpoint_arg = checkpoint_arg;
    c.plan.planner = std::string(planner_name(planner)) + " per stage";
    c.plan.checkpoint = set.checkpoint;
    c.plan.runs = recompute_segments(set);
    if (!stages.empty()) {
        c.plan.predicted_peak = stages[worst].peak;
        c.peak_tag = stages[worst].peak_tag;
    }
    c.plan.fits = c.plan.predicted_peak <= budget;
    ModelSpec planned = spec;
    apply_checkpoint(planned, set);
    double recompute = 0, forward = 0;
    for (double f : recompute_flops_as_grouped(planned)) recompute += f;
    for (double f : block_forward_flops(spec)) forward += f;
    c.plan.recompute_cost = recompute;
    c.plan.overhead_fraction = forward > 0 ? recompute / (3.0 * forward) : 0.0;  // a step is about 3 forwards
    t.candidates.push_back(std::move(c));
    t.chosen = t.candidates.front().plan.fits ? 0 : -1;
    return t;
}

}  // namespace ckpt
