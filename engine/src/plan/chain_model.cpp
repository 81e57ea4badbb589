// The chain model and the planners. The executor's memory behaviour is local: a block's
// forward, its recomputation and its backward change live bytes in a way that depends only on
// its context (planner.h's Context: unchecked, alone, or first, inside or last of a checkpointed
// run, and whether the block before it is checkpointed: the boundary tensor between them is kept
// by one, the other, both or neither, and inside a run each block's output feeds the next one's
// recomputation). Ten dry runs (checkpoint patterns below) show every block in every context
// (long chains of repeated blocks are measured shortened: chain_compress.h), and the peak of any
// checkpoint set follows from one pass over the step's windows in the order they run: the
// forward windows from the start level up, the backward ones (each run's recomputation windows
// just before its last block's backward) from the end level down. Per block (each checkpointed
// block alone) that is prefix sums:
//   forward of b peaks at   start + sum_{j<b} F_end[j] + F_peak[b]
//   backward of b peaks at  end   - sum_{j<b} B_end[j] + (B_peak[b] - B_end[b])
// with B the block's recomputation and backward together. The dynamic programs (chain_dp.cpp
// per block, chain_segments.cpp over segment partitions) walk the chain keeping Pareto sets of
// (forward prefix, backward prefix, cost) labels.
#include "ckpt/planner.h"

#include "ckpt/layer_traits.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "ckpt/names.h"
#include "core/allocator.h"
#include "exec/executor.h"
#include "plan/chain_compress.h"
#include "plan/chain_dp.h"
#include "plan/chain_segments.h"

namespace ckpt {

std::vector<BlockRange> single_runs(const std::vector<bool>& c) {
    std::vector<BlockRange> runs;
    for (int b = 0; b < int(c.size()); ++b)
        if (c[size_t(b)]) runs.push_back({b, b});
    return runs;
}

std::vector<int> ChainModel::contexts(const std::vector<BlockRange>& runs) const {
    const int n = blocks();
    std::vector<int> ctx(size_t(n), kUnchecked);
    std::vector<int> first(size_t(n), -1), last(size_t(n), -1);
    for (const BlockRange& r : runs)
        for (int b = r.first; b <= r.last; ++b) first[size_t(b)] = r.first, last[size_t(b)] = r.last;
    for (int b = 0; b < n; ++b) {
        const bool prev = b > 0 && first[size_t(b - 1)] >= 0;
        if (first[size_t(b)] < 0) ctx[size_t(b)] = prev ? kAfterUnchecked : kUnchecked;
        else if (first[size_t(b)] == last[size_t(b)]) ctx[size_t(b)] = prev ? kAfterAlone : kAlone;
        else if (first[size_t(b)] == b) ctx[size_t(b)] = prev ? kAfterFirst : kFirst;
        else ctx[size_t(b)] = last[size_t(b)] == b ? kLast : kInner;
    }
    return ctx;
}

std::pair<int64_t, MemoryTag> ChainModel::peak_and_tag(const std::vector<BlockRange>& runs) const {
    // The windows in the order they run: before, forward 0..n (n: the loss), backward n, then
    // from the last block down: a run's recomputation windows (first to last) when the backward
    // reaches its last block, and each block's backward; then the optimizer. The first window to
    // reach the step's peak holds the allocation that reached it first.
    const int n = blocks();
    const std::vector<int> ctx = contexts(runs);
    const int loss_ctx = n > 0 && checkpointed(ctx[size_t(n - 1)]) ? kAfterUnchecked : kUnchecked;
    auto context = [&](int b) { return b < n ? ctx[size_t(b)] : loss_ctx; };
    int64_t best = before_peak;
    MemoryTag tag = before_tag;
    auto offer = [&](int64_t at, const std::vector<WindowTags>& tags, int b, int c) {
        if (at > best) best = at, tag = tags.empty() ? MemoryTag{} : tags[size_t(b)][size_t(c)];
    };
    int64_t level = start;
    for (int b = 0; b <= n; ++b) {
        const WindowEffect& f = forward[size_t(b)];
        const int c = context(b);
        offer(level + f.peak[size_t(c)], forward_tag, b, c);
        level += f.end[size_t(c)];
    }
    // Backward: the loss's window, then from the last block down a run's recomputation windows
    // (first to last) when the backward reaches its last block, and each block's backward. A
    // window starts at the end level less what it and every later window add, so one pass from
    // the last window back to the first knows where each starts. Walking backwards, a tie goes to
    // the window met later (>=), which runs earlier. No list of windows: the plan table evaluates
    // hundreds of sets on chains of 100,000 blocks.
    std::vector<int> first(size_t(n), -1);
    for (const BlockRange& r : runs) first[size_t(r.last)] = r.first;
    int64_t back_best = std::numeric_limits<int64_t>::min(), after = 0;  // what the later windows add
    const std::vector<WindowTags>* back_tags = nullptr;
    int back_block = 0, back_context = 0;
    auto visit = [&](const WindowEffect& e, const std::vector<WindowTags>& tags, int b, int c) {
        after += e.end[size_t(c)];
        const int64_t at = end - after + e.peak[size_t(c)];
        if (at >= back_best) back_best = at, back_tags = &tags, back_block = b, back_context = c;
    };
    for (int b = 0; b < n; ++b) {
        visit(backward[size_t(b)], backward_tag, b, ctx[size_t(b)]);
        if (first[size_t(b)] >= 0 && !recompute.empty())  // hand-made models may leave it out
            for (int j = b; j >= first[size_t(b)]; --j) visit(recompute[size_t(j)], recompute_tag, j, ctx[size_t(j)]);
    }
    visit(backward[size_t(n)], backward_tag, n, loss_ctx);
    if (back_best > best) {
        best = back_best;
        tag = back_tags->empty() ? MemoryTag{} : (*back_tags)[size_t(back_block)][size_t(back_context)];
    }
    if (optimizer_peak > best) best = optimizer_peak, tag = optimizer_tag;
    return {best, tag};
}

std::pair<int64_t, MemoryTag> ChainModel::peak_and_tag(const std::vector<bool>& c) const {
    return peak_and_tag(single_runs(c));
}

int64_t ChainModel::peak(const std::vector<bool>& c) const { return peak_and_tag(c).first; }

MemoryTag ChainModel::peak_tag(const std::vector<bool>& c) const { return peak_and_tag(c).second; }

double ChainModel::recompute_cost(const std::vector<bool>& c) const {
    double t = 0.0;
    for (int b = 0; b < blocks(); ++b)
        if (c[size_t(b)]) t += cost[size_t(b)];
    return t;
}

double ChainModel::recompute_cost(const std::vector<BlockRange>& runs) const {
    double t = 0.0;
    for (const BlockRange& r : runs)
        for (int b = r.first; b <= r.last; ++b) t += b < r.last ? inner_cost(b) : cost[size_t(b)];
    return t;
}

namespace {

// FLOPs of each layer's forward (the traits table), block by block; `rerun_only` counts only
// the layers a checkpointed block runs again (recomputed_layers: its policy, and the trailing
// layers it rebuilds without running unless `inner`, where its output feeds the next block).
std::vector<double> flops(const ModelSpec& spec, bool rerun_only, bool inner) {
    std::vector<double> out;
    const double rows = double(spec.rows()), seq = double(spec.sequence_length());
    Features features = spec.input_shape_features();
    for (const BlockSpec& b : spec.blocks) {
        double f = 0.0;
        const std::vector<bool> reruns = recomputed_layers(b, inner);
        // One path of the block from the features coming into it; `first` is its first layer's index.
        auto path = [&](const std::vector<LayerSpec>& layers, size_t first, Features x) {
            for (size_t i = 0; i < layers.size(); ++i) {
                const LayerTraits& t = layer_traits(layers[i].type);
                if (!rerun_only || reruns[first + i]) f += t.forward_flops(layers[i], rows, seq, x);
                x = t.out_features(layers[i], x);
            }
            return x;
        };
        const Features in = features, sum = path(b.layers, 0, in);
        features = sum;
        if (b.residual) {
            path(b.shortcut, b.layers.size(), in);
            if (!rerun_only) f += rows * double(sum.size());  // the add
            features = path(b.post, b.layers.size() + b.shortcut.size(), sum);
        }
        out.push_back(f);
    }
    return out;
}

}  // namespace

std::vector<double> block_forward_flops(const ModelSpec& spec) { return flops(spec, false, false); }
std::vector<double> block_recompute_flops(const ModelSpec& spec, bool inner) { return flops(spec, true, inner); }

std::vector<double> recompute_flops_as_grouped(const ModelSpec& spec) {
    std::vector<double> out(spec.blocks.size(), 0.0);
    const std::vector<double> last = block_recompute_flops(spec), inner = block_recompute_flops(spec, true);
    for (const BlockRange& r : recompute_segments(spec))
        for (int b = r.first; b <= r.last; ++b) out[size_t(b)] = b < r.last ? inner[size_t(b)] : last[size_t(b)];
    return out;
}

namespace {

// The checkpoint pattern `p` of kPatterns on n blocks, as runs. Together they put every block
// b in every context it can have (block 0 has no checkpointed block before it, and only blocks
// before the last can start or be inside a run of two or more):
//   0 none                         unchecked
//   1 every block alone            alone (block 0), after alone
//   2, 3 odd, even blocks alone    alone, after unchecked
//   4 one run of all blocks        first (block 0), inner, last
//   5 pairs 0-1, 2-3, ...          first (block 0), after first (even blocks), last
//   6 block 0 alone, pairs 1-2, 3-4, ...   after first (odd blocks), last
//   7, 8, 9 period three: block o unchecked, then a pair, from offset o = 0, 1, 2
//                                  first (blocks o+1+3m), last
std::vector<BlockRange> pattern(int p, int n) {
    std::vector<BlockRange> runs;
    auto pairs_from = [&](int b) {
        for (; b < n; b += 2) runs.push_back({b, std::min(b + 1, n - 1)});
    };
    switch (p) {
    case 0: break;
    case 1: for (int b = 0; b < n; ++b) runs.push_back({b, b}); break;
    case 2:
    case 3:
        for (int b = p == 2 ? 1 : 0; b < n; b += 2) runs.push_back({b, b});
        break;
    case 4: if (n > 0) runs.push_back({0, n - 1}); break;
    case 5: pairs_from(0); break;
    case 6:
        if (n > 0) runs.push_back({0, 0});
        pairs_from(1);
        break;
    default:
        for (int b = p - 7 + 1; b < n; b += 3) runs.push_back({b, std::min(b + 1, n - 1)});
        break;
    }
    return runs;
}

// The memory half of the chain model from dry runs of `spec`, one per pattern above (`patterns`
// 1 measures only the unchecked one). What a window does relative to its start is the same at
// every step (optimizer state is created in the optimizer phase, after the windows), so one
// step per pattern gives the effects; the unchecked pattern runs a second step for the
// steady-state levels.
Result<ChainModel> measure(const ModelSpec& spec, DeviceKind kind, int patterns) {
    const int n = int(spec.blocks.size());
    ChainModel m;
    m.forward.assign(size_t(n) + 1, {});
    m.backward.assign(size_t(n) + 1, {});
    m.recompute.assign(size_t(n), {});
    m.forward_tag.assign(size_t(n) + 1, {});
    m.backward_tag.assign(size_t(n) + 1, {});
    m.recompute_tag.assign(size_t(n), {});
    m.cost.assign(size_t(n), 0.0);
    m.forward_cost.assign(size_t(n), 0.0);
    for (int p = 0; p < patterns; ++p) {
        const std::vector<BlockRange> runs = pattern(p, n);
        ModelSpec s = spec;
        apply_checkpoint(s, checkpoint_from_runs(runs, n, {}));
        Allocator alloc(dry_backend(kind), 0);
        Executor exec(s, alloc);
        StepOptions opts;
        opts.record_events = false;
        StepReport r;
        for (int step = 0; step < (p == 0 ? 2 : 1); ++step) r = exec.step(opts);
        if (r.status != StepStatus::ok) return Error{r.message, error_kind(r.status)};
        if (p == 0) {
            m.start = exec.forward_windows[0].start;
            m.before_peak = exec.before_window.peak;
            m.before_tag = exec.before_window.peak_tag;
            m.end = exec.optimizer_window.start;
            m.optimizer_peak = exec.optimizer_window.peak;
            m.optimizer_tag = exec.optimizer_window.peak_tag;
        }
        const std::vector<int> ctx = m.contexts(runs);
        // A window that never rises above its start (a recomputation that reruns nothing) never
        // holds the step's peak first (the window before it reached that level already): its
        // tag, the allocator's last, names some other block and is left out.
        auto take = [](WindowEffect& e, MemoryTag& tag, const Executor::Window& w, int c) {
            e.peak[size_t(c)] = w.peak - w.start;
            e.end[size_t(c)] = w.end - w.start;
            tag = w.peak > w.start ? w.peak_tag : MemoryTag{};
        };
        for (int b = 0; b <= n; ++b) {
            const int c = b < n ? ctx[size_t(b)] : n > 0 && checkpointed(ctx[size_t(n - 1)]) ? kAfterUnchecked : kUnchecked;
            take(m.forward[size_t(b)], m.forward_tag[size_t(b)][size_t(c)], exec.forward_windows[size_t(b)], c);
            take(m.backward[size_t(b)], m.backward_tag[size_t(b)][size_t(c)], exec.backward_windows[size_t(b)], c);
            if (b < n && checkpointed(c))
                take(m.recompute[size_t(b)], m.recompute_tag[size_t(b)][size_t(c)], exec.recompute_windows[size_t(b)], c);
        }
    }
    return m;
}

}  // namespace

Result<ChainModel> ChainModel::build(const ModelSpec& spec, const std::vector<double>& forward_ns, DeviceKind kind) {
    return build_chain_model(spec, forward_ns, kind, chain::kCompressFrom);
}

Result<ChainModel> build_chain_model(const ModelSpec& spec, const std::vector<double>& forward_ns, DeviceKind kind,
                                     int compress_from) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    const int n = int(spec.blocks.size());
    if (!forward_ns.empty() && int(forward_ns.size()) != n)
        return Error{"forward times: expected " + std::to_string(n) + ", got " + std::to_string(forward_ns.size())};
    // Long chains of repeated blocks are measured short (chain_compress.h); the rest whole.
    std::optional<Result<ChainModel>> shortened = chain::build_compressed(spec, kind, measure, compress_from);
    Result<ChainModel> measured = shortened ? std::move(*shortened) : measure(spec, kind, chain::kPatterns);
    if (!measured) return measured.error();
    ChainModel& m = *measured;
    m.measured_whole = !shortened;
    // Measured forward times scale by the share of FLOPs a policy reruns.
    const std::vector<double> fwd = block_forward_flops(spec), rerun = block_recompute_flops(spec),
                              inner = block_recompute_flops(spec, true);
    m.forward_cost = forward_ns.empty() ? fwd : forward_ns;
    m.cost = rerun;
    m.cost_inner = inner;
    m.segments = spec.segments;
    if (!forward_ns.empty())
        for (int b = 0; b < n; ++b) {
            const double scale = fwd[size_t(b)] > 0 ? forward_ns[size_t(b)] / fwd[size_t(b)] : 0.0;
            m.cost[size_t(b)] = rerun[size_t(b)] * scale;
            m.cost_inner[size_t(b)] = inner[size_t(b)] * scale;
        }
    return measured;
}

}  // namespace ckpt
