// Memory against depth (planner.h's depth_sweep): the sublinear-memory lesson's curves. A chain's
// repeated stretch is cut or lengthened, and each length predicted with no checkpointing (memory
// grows with depth), every block checkpointed alone (one input per block: linear still) and Chen
// et al.'s sqrt(n) segments (one input per segment plus one segment recomputed: sqrt(n)). The
// predictions are dry runs of the executor, the same bytes a real step measures.
#include <algorithm>
#include <string>
#include <vector>

#include "ckpt/planner.h"

namespace ckpt {
namespace {

// A block as memory sees it: its name and its checkpoint flag do not matter.
bool same_shape(BlockSpec a, BlockSpec b) {
    a.name.clear();
    b.name.clear();
    a.checkpoint = b.checkpoint = false;
    return a == b;
}

// Recomputed FLOPs of the spec's checkpointed runs over the step's (about three forwards).
double recompute_share(const ModelSpec& spec) {
    const std::vector<double> fwd = block_forward_flops(spec), last = block_recompute_flops(spec),
                              inner = block_recompute_flops(spec, true);
    double step = 0.0, redo = 0.0;
    for (double f : fwd) step += 3.0 * f;
    for (const BlockRange& r : recompute_segments(spec))
        for (int b = r.first; b <= r.last; ++b) redo += b < r.last ? inner[size_t(b)] : last[size_t(b)];
    return step > 0 ? redo / step : 0.0;
}

}  // namespace

int64_t activation_peak(const StepReport& r) {
    auto counted = [](Category c) {
        return c == Category::input || c == Category::activation || c == Category::recomputed || c == Category::temporary;
    };
    int64_t live = 0;
    for (int c = 0; c < kCategoryCount; ++c)
        if (counted(Category(c))) live += r.baseline[size_t(c)];
    int64_t peak = live;
    // A retag is a free then an alloc at one instant, so no transient double count.
    for (const MemoryEvent& e : r.events)
        if (counted(e.tag.category)) peak = std::max(peak, live += e.bytes);
    return peak;
}

BlockRange repeated_stretch(const ModelSpec& spec) {
    BlockRange best{0, 0};
    const int n = int(spec.blocks.size());
    for (int b = 0; b < n;) {
        int e = b;
        while (e + 1 < n && same_shape(spec.blocks[size_t(e + 1)], spec.blocks[size_t(b)])) ++e;
        if (e - b > best.last - best.first) best = {b, e};
        b = e + 1;
    }
    return best;
}

Result<std::vector<DepthPoint>> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths, DeviceKind kind) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    const BlockRange stretch = repeated_stretch(spec);
    if (stretch.size() < 2) return Error{"depth: the model has no repeated block to make deeper or shallower"};
    std::vector<DepthPoint> out;
    for (int depth : depths) {
        if (depth < 1) return Error{"depth: " + std::to_string(depth) + " is not a number of blocks"};
        // The stretch at `depth` blocks; blocks before and after it as they are, no segments
        // (they would name other blocks), nothing checkpointed.
        ModelSpec s = spec;
        s.segments.clear();
        s.blocks.assign(spec.blocks.begin(), spec.blocks.begin() + stretch.first);
        for (int i = 0; i < depth; ++i) {
            s.blocks.push_back(spec.blocks[size_t(stretch.first)]);
            s.blocks.back().name = spec.blocks[size_t(stretch.first)].name + "." + std::to_string(i);
        }
        s.blocks.insert(s.blocks.end(), spec.blocks.begin() + stretch.last + 1, spec.blocks.end());
        for (BlockSpec& b : s.blocks) b.checkpoint = false;
        DepthPoint p;
        p.depth = depth;
        for (int k = 0; k < kDepthPolicies; ++k) {
            ModelSpec c = s;
            const char* text = k == 0 ? "none" : k == 1 ? "all" : "sqrt";
            Result<CheckpointSet> set = parse_checkpoint(text, c);
            if (!set) return set.error();
            apply_checkpoint(c, *set);
            Result<StepReport> r = predict(c, 2, kind);
            if (!r) return r.error();
            p.activation[size_t(k)] = activation_peak(*r);
            p.peak[size_t(k)] = r->peak_total;
            p.recompute[size_t(k)] = recompute_share(c);
        }
        out.push_back(p);
    }
    return out;
}

}  // namespace ckpt
