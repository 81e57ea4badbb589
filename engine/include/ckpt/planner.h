// Planning the trade-off: which blocks to checkpoint, and how to group them into segments, so
// that a step fits a memory budget at the least recomputation. The chain model turns a spec into,
// for every block, how its forward, its recomputation and its backward move live memory in each
// context (is the block unchecked, alone, or first, inside or last of a checkpointed run, and is
// the block before it checkpointed), taken from dry runs of the executor; with it, the peak of
// any checkpoint set is a pass over the chain, exact to the byte, and dynamic programs find the
// cheapest set under a budget: per block (each checkpointed block recomputed alone), and over
// segment partitions (runs of blocks recomputed as one, Chen et al.'s and rotor's single-level
// schedules).
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

// What a block is in a checkpoint set, with whether the block before it is checkpointed: the
// context a block's windows depend on. The first four are the per-block pairs, 2 * prev + self
// (self: checkpointed alone); the others are a block in a run of two or more.
enum Context : int {
    kUnchecked = 0,       // the block before unchecked (or none), this one unchecked
    kAlone = 1,           // the block before unchecked, this one checkpointed alone
    kAfterUnchecked = 2,  // the block before checkpointed, this one unchecked
    kAfterAlone = 3,      // the block before checkpointed, this one checkpointed alone
    kFirst = 4,           // the block before unchecked, this one starts a run
    kAfterFirst = 5,      // the block before checkpointed in another run, this one starts a run
    kLast = 6,            // this one ends a run
    kInner = 7,           // this one is inside a run, neither first nor last
};
inline constexpr int kContexts = 8;
// Whether a block in context c is checkpointed; whether it keeps its own input (starts a run).
inline bool checkpointed(int c) { return c != kUnchecked && c != kAfterUnchecked; }

// How one window of the step (a block's forward, its recomputation, or its backward after any
// recomputation) changes live bytes, per context of the block.
struct WindowEffect {
    std::array<int64_t, kContexts> peak{};  // highest live bytes in the window, minus its start
    std::array<int64_t, kContexts> end{};   // live bytes at its end, minus its start
};
using WindowTags = std::array<MemoryTag, kContexts>;  // per context: the allocation that first reaches the peak

struct ChainModel {
    int64_t start = 0;            // live bytes when block 0's forward begins (steady state)
    int64_t before_peak = 0;      // peak while the batch is created
    int64_t end = 0;              // live bytes when the last backward ends (flags do not change it)
    int64_t optimizer_peak = 0;   // peak of the optimizer phase
    MemoryTag before_tag, optimizer_tag;  // where those two peaks happen
    // n blocks + the loss as entry n (forward and backward; the loss's context is that of a
    // block after block n - 1, unchecked). recompute: n blocks, zero in unchecked contexts.
    std::vector<WindowEffect> forward, recompute, backward;
    // Where each window peaks, apart from the bytes so that a pass over a long chain reads only
    // what it adds up (empty: not known, as in hand-made models).
    std::vector<WindowTags> forward_tag, recompute_tag, backward_tag;
    // Recomputation cost of each block if checkpointed (time or FLOPs): alone or last of a run
    // (the trailing layers whose output only fed the next run are not run again), and inside a
    // run (its output feeds the next block's recomputation; empty: the same as `cost`).
    std::vector<double> cost, cost_inner;
    std::vector<double> forward_cost;  // its whole forward, same unit (for overhead fractions)
    // The model's segments (ModelSpec::segments): what the named sets (every:K, all, sqrt) count
    // as units.
    std::vector<BlockRange> segments;
    // False when a long chain of repeated blocks was measured shortened and its expansion checked
    // against the executor at build time (a dry run of the whole chain would cost seconds).
    bool measured_whole = true;

    int blocks() const { return int(cost.size()); }
    double inner_cost(int b) const { return cost_inner.empty() ? cost[size_t(b)] : cost_inner[size_t(b)]; }
    // The step's peak for a checkpoint set, and where it happens (the allocation that first
    // reaches it, as a dry run's peak_tag): per block (each checkpointed block alone), or given
    // as the runs backward recomputes as one (recompute_segments, in block order).
    int64_t peak(const std::vector<bool>& checkpoint) const;
    MemoryTag peak_tag(const std::vector<bool>& checkpoint) const;
    std::pair<int64_t, MemoryTag> peak_and_tag(const std::vector<bool>& checkpoint) const;  // both in one pass
    std::pair<int64_t, MemoryTag> peak_and_tag(const std::vector<BlockRange>& runs) const;
    double recompute_cost(const std::vector<bool>& checkpoint) const;
    double recompute_cost(const std::vector<BlockRange>& runs) const;
    // Each block's context in a checkpoint set given as runs.
    std::vector<int> contexts(const std::vector<BlockRange>& runs) const;

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
// `inner`: as a block inside a checkpointed run, whose output the next block's recomputation takes.
std::vector<double> block_recompute_flops(const ModelSpec& spec, bool inner = false);
// What each block of `spec` reruns in its step as the spec checkpoints and groups it: the last
// block of a run (or a block alone) block_recompute_flops, one inside a run its `inner` figure,
// an unchecked block 0.
std::vector<double> recompute_flops_as_grouped(const ModelSpec& spec);

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

enum class PlannerKind { none, all, every_k, sqrt, dp, segments };
std::string_view planner_name(PlannerKind k);
// "dp", "segments", "sqrt", "every-k", "all", "none"
Result<PlannerKind> parse_planner(const std::string& text);

struct Plan {
    std::string planner;
    std::vector<bool> checkpoint;   // per block
    std::vector<BlockRange> runs;   // what backward recomputes as one, in block order (recompute_segments)
    int64_t predicted_peak = 0;
    double recompute_cost = 0.0;     // same unit as ChainModel::cost
    double overhead_fraction = 0.0;  // recompute cost over the unchecked step's cost
    bool fits = true;                // predicted_peak <= budget (always, for dp)

    int checkpointed() const {
        int n = 0;
        for (bool c : checkpoint) n += c ? 1 : 0;
        return n;
    }
    // Whether some run recomputes two blocks or more (a segment plan, not a per-block one).
    bool grouped() const {
        for (const BlockRange& r : runs)
            if (r.size() > 1) return true;
        return false;
    }
};

// Each checkpointed block alone: the runs of a per-block set.
std::vector<BlockRange> single_runs(const std::vector<bool>& checkpoint);

// A given checkpoint set, per block or as runs; `tag`, when given, receives where its peak
// happens (the same pass finds both).
Plan evaluate_plan(const ChainModel& model, const std::vector<bool>& checkpoint, const std::string& name,
                   int64_t budget, MemoryTag* tag = nullptr);
Plan evaluate_plan(const ChainModel& model, const std::vector<BlockRange>& runs, const std::string& name,
                   int64_t budget, MemoryTag* tag = nullptr);
// The cheapest per-block checkpoint set whose peak stays within `budget` (exact over the chain
// model). An infeasible budget is an error naming the smallest budget that can work. Without
// `limits`, the job is bounded by a PlanLimits of its own.
Result<Plan> plan_optimal(const ChainModel& model, int64_t budget, PlanLimits* limits = nullptr);
// The cheapest checkpoint set over all segment partitions (every block unchecked or in a
// checkpointed run of any length; per-block sets are among them), exact over the chain model
// (chain_segments.h states its bound). Its name is "segments". Bounded by `limits` as above.
Result<Plan> plan_segments(const ChainModel& model, int64_t budget, PlanLimits* limits = nullptr);
// Smallest peak any per-block checkpoint set reaches, and any segment partition (the smaller of
// none's and all's where the planner passes a limit first).
int64_t minimal_peak(const ChainModel& model, PlanLimits* limits = nullptr);
int64_t minimal_segment_peak(const ChainModel& model, PlanLimits* limits = nullptr);
// A named planner: dp, segments, or a fixed pattern checked against the budget (sqrt and
// every-k as parse_checkpoint makes them on a model without segments).
Result<Plan> make_plan(const ChainModel& model, PlannerKind kind, int64_t budget, int k = 2);

// Every planner over `budgets` budgets between the smallest feasible peak and the unchecked
// peak (both optima, each from its own floor), deduplicated and sorted by peak; `frontier` marks
// the Pareto-optimal ones among all sets (what segment partitions reach), `block_frontier` those
// among the per-block sets (each checkpointed block alone), so a chart can draw both curves.
// Bounded by `limits` (or a PlanLimits of its own): a sweep cut short keeps the points found so
// far and says why in cut_short.
struct ParetoPoint {
    Plan plan;
    bool frontier = false;
    bool block_frontier = false;
};
struct ParetoSweep {
    std::vector<ParetoPoint> points;
    int budgets = 0;        // asked for
    int planned = 0;        // planned (all of them unless cut short)
    std::string cut_short;  // "" when every budget was planned; else one line: where and why it stopped
};
ParetoSweep pareto_sweep(const ChainModel& model, int budgets = 16, PlanLimits* limits = nullptr);

// ---- Memory against depth: Chen et al.'s sublinear result, shown ----

// The peak over a step of what grows with depth's activations: the batch, kept and recomputed
// activations and temporaries (parameters, their gradients, optimizer state, buffers and 16-bit
// weight copies left out), from the step's memory events. It is not what these hold at the
// step's total peak: on a deep narrow chain the total peaks late in backward, where the
// parameter gradients have piled up and most activations are freed.
int64_t activation_peak(const StepReport& r);

// The model's longest stretch of one repeated block (equal but for names and flags), as
// [first, last]; a stretch of one block when none repeats.
BlockRange repeated_stretch(const ModelSpec& spec);

enum class DepthPolicy { none, per_block, sqrt };
inline constexpr int kDepthPolicies = 3;
struct DepthPoint {
    int depth = 0;  // blocks in the stretch
    std::array<int64_t, kDepthPolicies> activation{};  // activation_peak of each policy
    std::array<int64_t, kDepthPolicies> peak{};        // the whole peak
    std::array<double, kDepthPolicies> recompute{};    // recomputed FLOPs over the step's (~3 forwards)
};
// The model with its repeated stretch cut or lengthened to each depth, predicted (dry runs,
// steady state) with no block checkpointed, every block checkpointed alone, and Chen's sqrt
// segments (parse_checkpoint's "sqrt"). An error when the model has no stretch of two blocks or
// more, or a depth below one.
Result<std::vector<DepthPoint>> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths,
                                            DeviceKind kind = DeviceKind::cpu);

// ---- The plan table: what `checkpointlab plan` prints and the GUI's Plan button applies ----

// One checkpoint set a planner considers.
struct PlanCandidate {
    Plan plan;                         // plan.planner is its name: "none", "every:3", "sqrt", "all", "dp", "segments"
    std::vector<std::string> same_as;  // other names of the same set ("every:2" beside "all" on 1 block)
    std::string checkpoint_arg;        // the --checkpoint text that selects it ("sqrt", "0,3-5", "segments:0-4,5-9")
    CheckpointSet set;                 // what applying it puts on the model (apply_checkpoint)
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
    // The two optima side by side (dp's table): the per-block one ("dp") and the one over segment
    // partitions ("segments"), indices into candidates, -1 when the planner has none (no set of
    // that kind fits). They can be one candidate.
    int per_block = -1, segments = -1;
    // Set when the segment search stopped at its limit (dp's table then shows per-block plans).
    std::string segments_note;

    const PlanCandidate* chosen_candidate() const {
        return chosen >= 0 ? &candidates[size_t(chosen)] : nullptr;
    }
    // When none fits: an out_of_memory error naming the smallest budget that can work.
    Error no_fit_error() const;
    // Which of the two optima is cheaper, in one line ("" without both): "segments recompute
    // 31% less than per-block checkpointing (dp) at this budget", or that they cost the same.
    std::string comparison() const;
};

// Planning as both front ends do it. The candidates of each planner:
//   dp       none, every:K for each count of checkpointed units (the smallest K giving it), sqrt,
//            all, and the two optima under the budget (exact over the chain model): per block
//            ("dp") and over segment partitions ("segments")
//   segments sqrt and the segment optimum
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
