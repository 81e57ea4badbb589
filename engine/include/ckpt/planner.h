// Planning the trade-off: which blocks to checkpoint so that a step fits a memory budget at the
// least recomputation. The chain model turns a spec into, for every block, how its forward and
// its backward move live memory for each (previous block checkpointed?, this block
// checkpointed?) pair, taken from four dry runs of the executor; with it, the peak of any
// checkpoint set is a sum over the chain, exact to the byte, and a dynamic program finds the
// cheapest set under a budget (in the spirit of rotor/Revolve, restricted to the per-block
// choice the executor offers).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/memory.h"
#include "ckpt/model_spec.h"
#include "ckpt/result.h"
#include "ckpt/session.h"

namespace ckpt {

// How one stretch of the step (a block's forward, or its backward with any recomputation)
// changes live bytes, for each (previous block checkpointed, this block checkpointed) pair,
// indexed 2 * prev + self.
struct SegmentEffect {
    std::array<int64_t, 4> peak{};  // highest live bytes in the stretch, minus its start
    std::array<int64_t, 4> end{};   // live bytes at its end, minus its start
};
using SegmentTags = std::array<MemoryTag, 4>;  // per pair: the allocation that first reaches the peak

struct ChainModel {
    int64_t start = 0;            // live bytes when block 0's forward begins (steady state)
    int64_t before_peak = 0;      // peak while the batch is created
    int64_t end = 0;              // live bytes when the last backward ends (flags do not change it)
    int64_t optimizer_peak = 0;   // peak of the optimizer phase
    MemoryTag before_tag, optimizer_tag;  // where those two peaks happen
    std::vector<SegmentEffect> forward, backward;  // n blocks + the loss as entry n
    // Where each segment peaks, apart from the bytes so that a pass over a long chain reads only
    // what it adds up (empty: not known, as in hand-made models).
    std::vector<SegmentTags> forward_tag, backward_tag;
    std::vector<double> cost;     // recomputation cost of each block if checkpointed (time or FLOPs)
    std::vector<double> forward_cost;  // its whole forward, same unit (for overhead fractions)
    // False when a long chain of repeated blocks was measured shortened and its expansion checked
    // against the executor at build time (a dry run of the whole chain would cost seconds).
    bool measured_whole = true;

    int blocks() const { return int(cost.size()); }
    // The step's peak for a checkpoint set, and the recomputation cost it pays.
    int64_t peak(const std::vector<bool>& checkpoint) const;
    // Where that peak happens: the allocation that first reaches it (as a dry run's peak_tag).
    MemoryTag peak_tag(const std::vector<bool>& checkpoint) const;
    std::pair<int64_t, MemoryTag> peak_and_tag(const std::vector<bool>& checkpoint) const;  // both in one pass
    double recompute_cost(const std::vector<bool>& checkpoint) const;

    // Built from dry runs of `spec` (second step, so optimizer state is present). Costs are the
    // blocks' forward FLOPs unless measured forward times are given.
    // `kind`: the device whose bytes to predict (scratch sizes differ between CPU and GPU).
    static Result<ChainModel> build(const ModelSpec& spec, const std::vector<double>& forward_ns = {},
                                    DeviceKind kind = DeviceKind::cpu);
};

// Forward FLOPs of each block (2*rows*in*out per linear, 4*rows*T*d for attention, a few per
// element for the rest), and of the part a checkpointed block reruns under its policy (the
// layers it does not save).
std::vector<double> block_forward_flops(const ModelSpec& spec);
std::vector<double> block_recompute_flops(const ModelSpec& spec);

// A bound on what one planning job may do, all its dynamic programs together, and a way to stop
// it from another thread. One program is bounded on its own (chain_dp.h: 60,000,000 label
// comparisons, 1-3 s), but a job runs many: the Pareto sweep one per budget and a bisection of
// up to 64 for the smallest peak, so a chain whose blocks all differ (a report's measured block
// times) once kept the sweep busy for minutes. Past max_work, or once *stop is set, the job's
// next program returns an ErrorKind::stopped error; work is what the job has done so far.
inline constexpr uint64_t kDefaultPlanWork = 120000000;  // label comparisons: about 3-6 s
struct PlanLimits {
    uint64_t max_work = kDefaultPlanWork;
    const std::atomic<bool>* stop = nullptr;
    uint64_t work = 0;
};

enum class PlannerKind { none, all, every_k, sqrt, dp };
std::string_view planner_name(PlannerKind k);
Result<PlannerKind> parse_planner(const std::string& text);  // "dp", "sqrt", "every-k", "all", "none"

struct Plan {
    std::string planner;
    std::vector<bool> checkpoint;
    int64_t predicted_peak = 0;
    double recompute_cost = 0.0;     // same unit as ChainModel::cost
    double overhead_fraction = 0.0;  // recompute cost over the unchecked step's cost
    bool fits = true;                // predicted_peak <= budget (always, for dp)

    int checkpointed() const {
        int n = 0;
        for (bool c : checkpoint) n += c ? 1 : 0;
        return n;
    }
};

// A given checkpoint set (none, all, every-k and sqrt come from parse_checkpoint_set); `tag`,
// when given, receives where its peak happens (the same pass finds both).
Plan evaluate_plan(const ChainModel& model, const std::vector<bool>& checkpoint, const std::string& name,
                   int64_t budget, MemoryTag* tag = nullptr);
// The cheapest checkpoint set whose peak stays within `budget` (exact over the chain model).
// An infeasible budget is an error naming the smallest budget that can work. Without `limits`,
// the job is bounded by a PlanLimits of its own.
Result<Plan> plan_optimal(const ChainModel& model, int64_t budget, PlanLimits* limits = nullptr);
// Smallest peak any checkpoint set reaches (the smaller of none's and all's where the planner
// passes a limit first).
int64_t minimal_peak(const ChainModel& model, PlanLimits* limits = nullptr);
// A named planner: dp, or a fixed pattern checked against the budget.
Result<Plan> make_plan(const ChainModel& model, PlannerKind kind, int64_t budget, int k = 2);

// Every planner over `budgets` budgets between the smallest feasible peak and the unchecked
// peak, deduplicated and sorted by peak; `frontier` marks the Pareto-optimal ones.
// Bounded by `limits` (or a PlanLimits of its own): a sweep cut short keeps the points found so
// far and says why in cut_short.
struct ParetoPoint {
    Plan plan;
    bool frontier = false;
};
struct ParetoSweep {
    std::vector<ParetoPoint> points;
    int budgets = 0;        // asked for
    int planned = 0;        // planned (all of them unless cut short)
    std::string cut_short;  // "" when every budget was planned; else one line: where and why it stopped
};
ParetoSweep pareto_sweep(const ChainModel& model, int budgets = 16, PlanLimits* limits = nullptr);

// ---- The plan table: what `checkpointlab plan` prints and the GUI's Plan button applies ----

// One checkpoint set a planner considers.
struct PlanCandidate {
    Plan plan;                         // plan.planner is its name: "none", "every:3", "sqrt", "all", "dp"
    std::vector<std::string> same_as;  // other names of the same set ("every:2" beside "sqrt" on 3 blocks)
    std::string checkpoint_arg;        // the --checkpoint text that selects it ("sqrt", "0,3-5")
    MemoryTag peak_tag;                // where the predicted peak happens (block, layer, phase)

    std::string label() const;  // "sqrt (= every:2)"
};

struct PlanTable {
    PlannerKind planner = PlannerKind::dp;
    int64_t budget = 0;
    int blocks = 0;
    std::vector<PlanCandidate> candidates;  // least recomputation first; equal cost: lower peak first
    int chosen = -1;                        // the first candidate that fits; -1 when none does
    int64_t minimal_peak = 0;               // set when none fits: the smallest peak any set reaches

    const PlanCandidate* chosen_candidate() const {
        return chosen >= 0 ? &candidates[size_t(chosen)] : nullptr;
    }
    // When none fits: an out_of_memory error naming the smallest budget that can work.
    Error no_fit_error() const;
};

// Planning as both front ends do it. The candidates of each planner:
//   dp       none, every:K for each count of checkpointed blocks (the smallest K giving it), sqrt,
//            all, and the dynamic program's optimum under the budget (exact over the chain model)
//   every-k  the every:K family and all
//   sqrt, all, none  their one set
// Each candidate's peak and where it happens come from the chain model; a dry run of the
// executor checks both, for every candidate on short chains (blocks x candidates <= 20,000)
// and for the chosen one on long chains, so planning stays linear in the chain. The choice is the first candidate that
// fits, i.e. the least recomputation; for dp that is the optimum. Recomputation costs are the
// measured forward times when given (one per block), else FLOPs. Bytes are those of a device
// of `kind` (as ChainModel::build).
// The exact planner's work is bounded by `limits` (or a PlanLimits of its own); stopped or past
// the bound, the table is an ErrorKind::stopped error.
Result<PlanTable> plan_table(const ModelSpec& spec, PlannerKind planner, int64_t budget,
                             const std::vector<double>& forward_ns = {}, DeviceKind kind = DeviceKind::cpu,
                             PlanLimits* limits = nullptr);

}  // namespace ckpt
