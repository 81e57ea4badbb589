// The exact dynamic program over segment partitions (plan_segments, minimal_segment_peak): every
// block unchecked or in a checkpointed run of any length that backward recomputes as one, the
// cheapest such set whose peak stays within a budget, over the chain model (chain_model.cpp).
// This is the single-level schedule of Chen et al. 2016 and of rotor/Griewank's first level:
// a run keeps only its first block's input, and is recomputed whole when the gradient reaches
// its last block.
//
// State at boundary b (before block b, no run open): whether block b-1 is checkpointed, and the
// Pareto set of labels (forward prefix, backward prefix, cost), as in chain_dp.h; there the
// backward prefix follows from the forward one (chain_segments.cpp says why), so a set is a
// staircase of (forward bytes, cost). A transition is an unchecked block or a whole run [b, e].
// A bound on the cost (a set known to fit: the per-block optimum, or a fixed pattern) drops every
// label that reaches it, and ends the walk over longer runs once a run alone costs it.
// Bound: with L labels per boundary and K the longest run tried from a boundary (the walk stops
// once no label can afford a longer one in bytes or in cost), a chain of n blocks takes
// O(n K L log(K L)) time and O(n L) memory; K <= n, so O(n^2 L log) at worst. Deciding
// feasibility alone keeps one label per boundary (L = 1): O(n K).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/result.h"

namespace ckpt::seg {

// The most work one solve may do, in labels extended (about 30 ns each, so some 10 seconds):
// past it the planner says so rather than run for minutes.
inline constexpr uint64_t kMaxWork = 300000000;
// The most labels held, all boundaries together (each about 40 bytes).
inline constexpr size_t kMaxLabels = 20000000;
// The longest chain searched. The labels held grow about as blocks x the longest run tried, so
// memory and time grow faster than the blocks: 4,000 identical blocks plan in about 1.5 s and
// 135 MiB (tests/bench/bench_planner), 10,000 passed kMaxLabels after 4.8 s and 880 MiB. Longer
// chains are refused at once, before any work, and `plan` keeps its per-block optimum.
inline constexpr int kMaxBlocks = 4096;

struct Solution {
    bool feasible = false;
    std::vector<BlockRange> runs;  // when asked for and feasible
    double cost = 0.0;
    size_t labels_held = 0;  // labels kept over the chain (for the benchmark)
    size_t most_labels = 0;  // the most at one boundary
    uint64_t work = 0;       // labels extended and compared
    int longest_run = 0;     // the longest run tried
};

// With `with_cost` false only feasibility is decided (labels drop the cost; minimal_segment_peak
// bisects with it). An error only when a limit above is passed.
// `cost_bound`: only sets that cost less are looked for (infinity: any). `max_run` > 0: only
// runs of at most that many blocks (a quick first pass whose answer bounds the exact one).
// `limits`: the job's bound and stop flag (planner.h); past it or stopped, an ErrorKind::stopped
// error, and this program's work is added to the job's either way.
Result<Solution> solve(const ChainModel& m, int64_t budget, bool want_set, bool with_cost = true,
                       double cost_bound = std::numeric_limits<double>::infinity(), int max_run = 0,
                       PlanLimits* limits = nullptr);

// minimal_segment_peak, or the planner's limit error (or the job's: stopped).
Result<int64_t> minimal_peak_checked(const ChainModel& m, PlanLimits* limits = nullptr);

}  // namespace ckpt::seg
