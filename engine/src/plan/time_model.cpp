// The predicted time of a step (ckpt/timing.h). Each layer's forward and backward is written as
// the kernels the executor calls for it: matrix products (rows x out x in for a linear; per head
// for attention; per image and group for a convolution, as im2col lays them out), elementwise
// streams (bytes read plus written) and elementwise work with a transcendental (GELU, softmax's
// exp, Philox draws). A product costs one call plus its FLOPs at the measured matrix rate; a
// stream one call plus its bytes at the measured bandwidth, or its elements at the measured
// elementwise rate when that is slower. The block and phase sums follow the executor's own
// timing stretches (forward_block, backward_block, run), so predicted and measured figures
// describe the same intervals. The layer-traits table says which layers a recomputation runs
// again, exactly as the executor decides.
#include <algorithm>

#include "ckpt/layer_traits.h"
#include "ckpt/timing.h"

namespace ckpt {
namespace {

// Softmax's exp is a scalar std::exp (cpu_attention.cpp), several times the cost of a vectorised
// GELU element; a Philox draw serves four elements.
constexpr double kSoftmaxElementCost = 3.0;
constexpr double kDrawElementCost = 0.5;

struct Costs {
    const Throughput& t;
    double ns_of(double flops, double bytes, double elems, int calls, double rate = 0) const {
        const double stream = std::max(bytes / t.bandwidth, elems / t.elementwise);
        return 1e9 * (flops / (rate > 0 ? rate : t.gemm_flops) + stream) + double(calls) * t.call_ns;
    }
    // `count` products of m x n x k, each at the rate measured for a product of its size.
    PredictedTime gemm(double m, double n, double k, double count = 1) const {
        const double one = 2.0 * m * n * k, f = one * count;
        return {int64_t(ns_of(f, 0, 0, int(std::min(count, 1e6)), t.gemm_rate(one))), f, 0};
    }
    PredictedTime stream(double bytes, double elems = 0, int calls = 1) const {
        return {int64_t(ns_of(0, bytes, elems, calls)), 0, bytes};
    }
};

PredictedTime operator+(PredictedTime a, const PredictedTime& b) { return a += b; }

// One layer's forward and backward with `in` coming in over `rows` rows (images: rows is the
// batch); `need_dx`: its input wants a gradient (not the model's first layer).
void layer_times(const Costs& c, const LayerSpec& l, const Features& in, double rows, double seq, bool need_dx,
                 PredictedTime* fwd, PredictedTime* bwd) {
    const LayerTraits& tr = layer_traits(l.type);
    const Features out = tr.out_features(l, in);
    const double n = rows * double(in.size()), n_out = rows * double(out.size());
    switch (l.type) {
    case LayerType::linear: {
        const double I = double(l.in), O = double(l.out);
        *fwd = c.gemm(rows, O, I) + (l.bias ? c.stream(4 * rows * O) : PredictedTime{});
        *bwd = c.gemm(O, I, rows) + (need_dx ? c.gemm(rows, I, O) : PredictedTime{}) +
               (l.bias ? c.stream(4 * rows * O) : PredictedTime{});
        return;
    }
    case LayerType::relu:
        *fwd = c.stream(8 * n);
        *bwd = c.stream(12 * n);
        return;
    case LayerType::gelu:
    case LayerType::tanh:
    case LayerType::silu:
        *fwd = c.stream(8 * n, n);
        *bwd = c.stream(12 * n, n);
        return;
    case LayerType::layernorm:
    case LayerType::rmsnorm:
        *fwd = c.stream(12 * n);
        *bwd = c.stream(20 * n);
        return;
    case LayerType::swiglu:
        *fwd = c.stream(4 * n + 4 * n_out, n_out);
        *bwd = c.stream(8 * n + 4 * n_out, n_out);
        return;
    case LayerType::dropout:
        if (l.p <= 0) {
            *fwd = *bwd = {};
            return;
        }
        *fwd = c.stream(9 * n, kDrawElementCost * n);
        *bwd = c.stream(9 * n);
        return;
    case LayerType::embedding: {
        const double d = double(l.dim);
        *fwd = c.stream(4 * rows * d * (l.max_len > 0 ? 3 : 2));
        *bwd = c.stream(4 * double(l.vocab) * d + 8 * rows * d + (l.max_len > 0 ? 4 * seq * d + 8 * rows * d : 0));
        return;
    }
    case LayerType::attention: {
        const double heads = double(l.heads), hd = double(out.size()) / heads, batch = std::max(1.0, rows / seq);
        const double pairs = batch * heads, t2 = seq * seq;
        PredictedTime soft = c.stream(8 * t2 * pairs, kSoftmaxElementCost * t2 * pairs);
        if (l.p > 0) soft += c.stream(9 * t2 * pairs, kDrawElementCost * t2 * pairs);
        PredictedTime rope = l.rope_theta > 0 ? c.stream(8 * n, n) : PredictedTime{};
        // Q K^T and P V per head: (T x T x hd) each.
        *fwd = c.gemm(seq, seq, hd, pairs) + c.gemm(seq, hd, seq, pairs) + soft + rope;
        // dV, dP, dQ, dK, and the softmax's backward.
        *bwd = c.gemm(seq, hd, seq, 2 * pairs) + c.gemm(seq, seq, hd, 2 * pairs) +
               c.stream(12 * t2 * pairs + (l.p > 0 ? 9 * t2 * pairs : 0)) + rope;
        return;
    }
    case LayerType::conv2d: {
        const double g = double(std::max<int64_t>(1, l.groups)), cout = double(l.out) / g;
        const double k = double(l.in) / g * double(l.kernel * l.kernel), p = double(out.h * out.w);
        const bool pointwise = l.kernel == 1 && effective_stride(l) == 1 && l.padding == 0;
        const double images = rows * g;
        const PredictedTime cols = pointwise ? PredictedTime{} : c.stream(8 * k * p * images, 0, int(images));
        *fwd = cols + c.gemm(cout, p, k, images) + (l.bias ? c.stream(4 * n_out) : PredictedTime{});
        *bwd = cols + c.gemm(cout, k, p, images) + (l.bias ? c.stream(4 * n_out) : PredictedTime{});
        if (need_dx) *bwd += c.gemm(k, p, cout, images) + (pointwise ? PredictedTime{} : c.stream(8 * k * p * images, 0, int(images)));
        return;
    }
    case LayerType::batchnorm2d:
        *fwd = c.stream(16 * n);
        *bwd = c.stream(24 * n);
        return;
    case LayerType::maxpool2d:
    case LayerType::avgpool2d: {
        const double window = double(l.kernel * l.kernel);
        *fwd = c.stream(4 * n_out * window + 4 * n_out);
        *bwd = c.stream(4 * n_out * window + 8 * n + 4 * n_out);
        return;
    }
    case LayerType::global_avgpool:
        *fwd = c.stream(4 * n + 4 * n_out);
        *bwd = c.stream(4 * n + 4 * n_out);
        return;
    default:  // flatten: a view
        *fwd = *bwd = {};
        return;
    }
}

}  // namespace

int64_t TimePrediction::step_ns_with(const std::vector<BlockRange>& runs) const {
    int64_t t = step_ns - recompute_ns;
    for (const BlockRange& r : runs)
        for (int b = r.first; b <= r.last && size_t(b) < blocks.size(); ++b)
            t += (b < r.last ? blocks[size_t(b)].recompute_if_inner : blocks[size_t(b)].recompute_if_checkpointed).ns;
    return t;
}

TimePrediction predict_times(const ModelSpec& spec, const Throughput& through) {
    TimePrediction out;
    out.throughput = through;
    if (!through.valid()) return out;
    const Costs c{through};
    const double rows = double(spec.rows()), seq = double(spec.sequence_length());
    Features features = spec.input_shape_features();
    // The batch drawn inside the step (normal inputs or token ids, and the targets).
    out.batch_ns = c.stream(4 * rows * double(features.size()), rows * double(features.size())).ns;
    bool first = true;
    // Which blocks are inside a checkpointed run, not its last.
    std::vector<bool> inner(spec.blocks.size(), false);
    for (const BlockRange& r : recompute_segments(spec))
        for (int b = r.first; b < r.last; ++b) inner[size_t(b)] = true;
    for (size_t bi = 0; bi < spec.blocks.size(); ++bi) {
        const BlockSpec& b = spec.blocks[bi];
        BlockTimePrediction bt;
        bt.layers.resize(b.layer_count());
        const std::vector<bool> reruns = recomputed_layers(b), inner_reruns = recomputed_layers(b, true);
        auto path = [&](const std::vector<LayerSpec>& layers, size_t index, Features x, bool need_dx) {
            for (size_t i = 0; i < layers.size(); ++i, ++index) {
                LayerTimePrediction& lt = bt.layers[index];
                layer_times(c, layers[i], x, rows, seq, need_dx || i > 0, &lt.forward, &lt.backward);
                const bool redraw = layers[i].type == LayerType::dropout && layers[i].p > 0 && !b.saves(index);
                const PredictedTime mask = c.stream(rows * double(x.size()), kDrawElementCost * rows * double(x.size()));
                if (reruns[index]) lt.recompute = lt.forward;
                else if (redraw) lt.recompute = mask;  // its mask again
                bt.forward += lt.forward;
                bt.backward += lt.backward;
                bt.recompute_if_checkpointed += lt.recompute;
                if (inner_reruns[index]) bt.recompute_if_inner += lt.forward;
                else if (redraw) bt.recompute_if_inner += mask;
                x = layer_traits(layers[i].type).out_features(layers[i], x);
            }
            return x;
        };
        const Features in = features;
        const Features sum = path(b.layers, 0, in, !first);
        features = sum;
        if (b.residual) {
            path(b.shortcut, b.layers.size(), in, !first);
            const double n = rows * double(sum.size());
            bt.forward += c.stream(12 * n);
            if (recomputed_sum_needed(b)) bt.recompute_if_checkpointed += c.stream(12 * n);
            if (recomputed_sum_needed(b, true)) bt.recompute_if_inner += c.stream(12 * n);
            if (!first) bt.backward += c.stream(12 * n);
            features = path(b.post, b.layers.size() + b.shortcut.size(), sum, true);
        }
        if (b.checkpoint) bt.recompute = inner[bi] ? bt.recompute_if_inner : bt.recompute_if_checkpointed;
        out.forward_ns += bt.forward.ns;
        out.backward_ns += bt.backward.ns + bt.recompute.ns;
        out.recompute_ns += bt.recompute.ns;
        out.blocks.push_back(std::move(bt));
        first = false;
    }
    out.forward_ns += out.batch_ns;
    // The loss on the last block's output, and its gradient (part of backward's stretch).
    const double n = rows * double(features.size());
    const bool xent = spec.loss == LossType::cross_entropy;
    out.loss_ns = (xent ? c.stream(12 * n, kSoftmaxElementCost * n) : c.stream(8 * n)).ns;
    out.backward_ns += c.stream(12 * n).ns;
    // The optimizer: one call per parameter tensor over its weights, gradients and state.
    double params = 0;
    int tensors = 0;
    for (const BlockSpec& b : spec.blocks)
        for (size_t l = 0; l < b.layer_count(); ++l) {
            params += double(parameter_count(b.layer(l)));
            tensors += int(layer_traits(b.layer(l).type).params(b.layer(l)).size());
        }
    const OptimizerSpec& o = spec.optimizer;
    if (o.type == OptimizerType::adamw) out.optimizer_ns = c.stream(28 * params, params, tensors).ns;
    else if (o.type == OptimizerType::sgd) out.optimizer_ns = c.stream((o.momentum != 0 ? 20 : 12) * params, 0, tensors).ns;
    out.step_ns = out.forward_ns + out.loss_ns + out.backward_ns + out.optimizer_ns;
    return out;
}

}  // namespace ckpt
