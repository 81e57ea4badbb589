// What parallel.cpp and the pipeline planner (pipeline_plan.cpp) share about one rank of a
// layout: the view its dry runs take (allocator.h's DryRank) and the pipeline schedule's rule for
// how many microbatches' activations a stage holds at once.
#pragma once

#include "ckpt/parallel.h"
#include "core/allocator.h"

namespace ckpt {

// The dry runs' view of one rank of the layout: ZeRO's sharding, accumulation, the sequence split.
DryRank dry_rank(const ParallelLayout& layout);
// Under 1F1B stage s holds min(pp - s, M) microbatches' kept activations when its first
// backward starts, under GPipe all M: the one computing and the others in flight.
int in_flight_microbatches(const ParallelLayout& layout, int stage);

}  // namespace ckpt
