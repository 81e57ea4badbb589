// Long chains of repeated blocks, measured short. The chain model (chain_model.cpp) comes from
// dry runs of the executor, which cost about 15 us per block and step: on a 100,000-block chain
// the ten patterns alone take seconds. But a block whose neighbours are the same as another's
// does the same thing to memory, so a stretch where the blocks repeat with a short period p
// (p = 1: identical blocks; p = 2: a transformer's attention and MLP blocks) is measured with
// 4 periods before a representative period and 4 after it, and the periods cut out take the
// representative's effects. What grows with the stretch (parameters, gradients, optimizer
// state: the levels the step starts and ends at, and the peaks before and after the blocks) is
// affine in its length; one more dry run with one period put back measures the slope, and a
// third, with two put back, checks the whole expansion against the executor before it is used.
#pragma once

#include <optional>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/planner.h"
#include "ckpt/result.h"

namespace ckpt::chain {

// A stretch in the shortened chain: its representative period starts at `rep` and lasts
// `period` blocks; `removed` periods of the original were cut right after it.
struct Stretch {
    int rep = 0;
    int period = 1;
    int64_t removed = 0;
    int group = 0;  // stretches that repeat the same blocks share a slope
};

struct Compression {
    ModelSpec spec;                 // the shortened chain (checkpoint flags cleared)
    std::vector<Stretch> stretches;  // by position
    int groups = 0;
};

// Chains shorter than this are measured whole (every candidate a planner lists is then also
// checked against its own dry run).
inline constexpr int kCompressFrom = 4096;
// At most this many kinds of repeated period are shortened: each costs two more short dry runs.
inline constexpr int kMaxGroups = 8;
// Periods up to this many blocks are looked for.
inline constexpr int kMaxPeriod = 8;
// The checkpoint patterns the chain model measures (chain_model.cpp's pattern()).
inline constexpr int kPatterns = 10;

// The shortened chain, or nothing when no stretch is long enough to gain from it.
std::optional<Compression> compress(const ModelSpec& spec);

// `spec` with `extra[s]` more periods put back after each stretch's representative.
ModelSpec expand_spec(const Compression& c, const std::vector<int64_t>& extra);

// The whole chain model of a long chain from short dry runs, or nothing when the chain does not
// shorten or the short runs disagree with the expansion (the caller then measures it whole).
// `measure(spec, patterns)` is the dry-run measurement the caller uses for whole chains.
using Measure = Result<ChainModel> (*)(const ModelSpec& spec, DeviceKind kind, int patterns);
std::optional<Result<ChainModel>> build_compressed(const ModelSpec& spec, DeviceKind kind, Measure measure,
                                                   int compress_from = kCompressFrom);

}  // namespace ckpt::chain
