// The exact dynamic program over the chain model (chain_model.cpp explains the model). Labels
// (forward prefix, backward prefix, cost) are kept per (block, checkpointed?) as Pareto sets;
// runs of labels spaced by one constant step (what a chain of identical blocks produces: each
// label is one more checkpointed block than the next) are stored as one arithmetic progression
// and pruned as a whole, so such chains plan in time and memory linear in their length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/result.h"

namespace ckpt::dp {

// The most label runs the program may hold, all blocks together (each run is 56 bytes), and
// the most single labels one (block, state) may be expanded into. Chains of identical blocks
// need a few runs per block; chains whose every block differs can need a number of labels
// quadratic in their length, and beyond these limits the planner answers with an error
// instead of eating the machine.
inline constexpr size_t kMaxRuns = 8000000;
inline constexpr size_t kMaxLabelsPerStep = 4000000;
// The most work one solve may do, in label comparisons (about 20-50 ns each): 1-3 seconds.
// Chains of two or more alternating block kinds with unrelated costs can have Pareto sets that
// grow with the square of the chain; past this the planner says so rather than run for hours.
inline constexpr uint64_t kMaxWork = 60000000;

struct Solution {
    bool feasible = false;
    std::vector<bool> checkpoint;  // when asked for and feasible
    double cost = 0.0;
    size_t runs_held = 0;  // the most runs held at once (for the benchmark)
    uint64_t work = 0;     // label comparisons done
};

// Below this many labels at one (block, state) they are pruned one by one even when they line
// up (cheaper than run arithmetic); tests set 0 to drive every run through the run pruning.
inline constexpr size_t kRunThreshold = 64;

// The cheapest checkpoint set whose peak stays within `budget`. With `with_cost` false only
// feasibility is decided (labels drop the cost, so the sets stay small: minimal_peak bisects
// with it). An error only when a limit above is passed, or those of `limits` (the job this
// program belongs to: ErrorKind::stopped), to whose work this program's is added.
Result<Solution> solve(const ChainModel& m, int64_t budget, bool want_set, bool with_cost = true,
                       size_t run_threshold = kRunThreshold, PlanLimits* limits = nullptr);

}  // namespace ckpt::dp

namespace ckpt {

// ChainModel::build with the length from which chains of repeated blocks are measured shortened
// (tests set it low to compare both ways on short chains).
Result<ChainModel> build_chain_model(const ModelSpec& spec, const std::vector<double>& forward_ns, DeviceKind kind,
                                     int compress_from);

// Adds one program's `work` to its job's (PlanLimits::work, when there is a job) when it goes out
// of scope, however the program returns: the per-block and the segment programs both use it.
struct JobWork {
    PlanLimits* limits;
    const uint64_t& work;
    ~JobWork() {
        if (limits) limits->work += work;
    }
};

// minimal_peak, or the planner's limit error (minimal_peak itself then answers the best of none
// and all).
Result<int64_t> minimal_peak_checked(const ChainModel& m, PlanLimits* limits);

}  // namespace ckpt
