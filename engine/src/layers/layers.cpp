// Forward and backward of every layer. Shapes: x (rows, in) -> y (rows, out), row-major.
#include "layers/layer.h"

#include <cmath>

#include "core/philox.h"

namespace ckpt {
namespace {

class Linear final : public Layer {
public:
    Linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
        const float bound = 1.0f / std::sqrt(float(s.in));
        Param w{name + ".weight", ctx.make({s.out, s.in}, Category::parameter), {}, {}};  // (out, in)
        if (!ctx.dry) ctx.be.fill_uniform(w.value.f(), w.value.numel(), -bound, bound, ctx.seed, stream);
        params_.push_back(std::move(w));
        if (s.bias) {
            Param b{name + ".bias", ctx.make({s.out}, Category::parameter), {}, {}};  // (out)
            if (!ctx.dry) ctx.be.fill_uniform(b.value.f(), s.out, -bound, bound, ctx.seed, stream + 1);
            params_.push_back(std::move(b));
        }
    }

    Rebuild rebuild_kind() const override { return Rebuild::from_input; }

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        const int64_t rows = x.rows();
        Tensor y = ctx.make({rows, spec_.out});  // (rows, out)
        ctx.keep(saved, x);
        if (ctx.dry) return y;
        const float* W = params_[0].value.f();
        if (spec_.bias) ctx.be.broadcast_rows(y.f(), params_[1].value.f(), rows, spec_.out);
        ctx.be.gemm(false, true, rows, spec_.out, spec_.in, 1.0f, x.f(), spec_.in, W, spec_.in,
                    spec_.bias ? 1.0f : 0.0f, y.f(), spec_.out);
        return y;
    }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) override {
        const Tensor& x = saved.tensors.at(0);  // (rows, in)
        const int64_t rows = x.rows();
        Tensor dx;
        if (need_dx) dx = ctx.make({rows, spec_.in});
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        if (ctx.dry) return dx;
        if (need_dx)
            ctx.be.gemm(false, false, rows, spec_.in, spec_.out, 1.0f, dy.f(), spec_.out,
                        params_[0].value.f(), spec_.in, 0.0f, dx.f(), spec_.in);
        ctx.be.gemm(true, false, spec_.out, spec_.in, rows, 1.0f, dy.f(), spec_.out, x.f(), spec_.in, 0.0f,
                    params_[0].grad.f(), spec_.in);
        if (spec_.bias) ctx.be.column_sum(params_[1].grad.f(), dy.f(), rows, spec_.out);
        return dx;
    }
};

// Elementwise activations share everything but their kernels and what they keep.
class Activation final : public Layer {
public:
    using Layer::Layer;

    Rebuild rebuild_kind() const override {
        return spec_.type == LayerType::gelu ? Rebuild::from_input : Rebuild::from_output;
    }

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        Tensor y = ctx.make(x.shape);
        // relu and tanh differentiate from their output, gelu from its input.
        ctx.keep(saved, spec_.type == LayerType::gelu ? x : y);
        if (ctx.dry) return y;
        const int64_t n = x.numel();
        switch (spec_.type) {
        case LayerType::relu: ctx.be.relu_forward(x.f(), y.f(), n); break;
        case LayerType::gelu: ctx.be.gelu_forward(x.f(), y.f(), n); break;
        default: ctx.be.tanh_forward(x.f(), y.f(), n); break;
        }
        return y;
    }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        const Tensor& s = saved.tensors.at(0);
        Tensor dx = ctx.make(s.shape);
        if (ctx.dry) return dx;
        const int64_t n = s.numel();
        switch (spec_.type) {
        case LayerType::relu: ctx.be.relu_backward(s.f(), dy.f(), dx.f(), n); break;
        case LayerType::gelu: ctx.be.gelu_backward(s.f(), dy.f(), dx.f(), n); break;
        default: ctx.be.tanh_backward(s.f(), dy.f(), dx.f(), n); break;
        }
        return dx;
    }
};

class LayerNorm final : public Layer {
public:
    LayerNorm(const LayerSpec& s, OpContext& ctx, const std::string& name) : Layer(s) {
        if (!s.bias) return;  // "bias": false means no affine parameters at all
        Param g{name + ".weight", ctx.make({s.dim}, Category::parameter), {}, {}};
        Param b{name + ".bias", ctx.make({s.dim}, Category::parameter), {}, {}};
        if (!ctx.dry) {
            ctx.be.fill(g.value.f(), s.dim, 1.0f);
            ctx.be.fill(b.value.f(), s.dim, 0.0f);
        }
        params_.push_back(std::move(g));
        params_.push_back(std::move(b));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        const int64_t rows = x.rows(), cols = x.cols();
        Tensor y = ctx.make(x.shape);
        Tensor mean = ctx.make({rows});  // (rows)
        Tensor rstd = ctx.make({rows});  // (rows)
        ctx.keep(saved, x);
        ctx.keep(saved, mean);
        ctx.keep(saved, rstd);
        if (ctx.dry) return y;
        const bool affine = !params_.empty();
        ctx.be.layernorm_forward(x.f(), affine ? params_[0].value.f() : nullptr,
                                 affine ? params_[1].value.f() : nullptr, y.f(), mean.f(), rstd.f(), rows,
                                 cols, float(spec_.eps));
        return y;
    }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) override {
        const Tensor &x = saved.tensors.at(0), &mean = saved.tensors.at(1), &rstd = saved.tensors.at(2);
        const bool affine = !params_.empty();
        // The kernel computes dx alongside the parameter gradients, so dx is always produced.
        Tensor dx = ctx.make(x.shape);
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        if (ctx.dry) return need_dx ? dx : Tensor{};
        ctx.be.layernorm_backward(x.f(), affine ? params_[0].value.f() : nullptr, mean.f(), rstd.f(), dy.f(),
                                  dx.f(), affine ? params_[0].grad.f() : nullptr,
                                  affine ? params_[1].grad.f() : nullptr, x.rows(), x.cols());
        return need_dx ? dx : Tensor{};
    }
};

class Dropout final : public Layer {
public:
    using Layer::Layer;

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        if (spec_.p == 0.0) return x;  // the identity: nothing to draw, keep or allocate
        Tensor y = ctx.make(x.shape);
        Tensor mask = ctx.make(x.shape, Category::temporary, ElemType::u8);
        ctx.keep(saved, mask);
        const uint64_t stream = ctx.dropout_stream++;
        if (ctx.dry) return y;
        ctx.be.dropout_forward(x.f(), y.f(), mask.u8(), x.numel(), float(spec_.p), ctx.seed, stream);
        return y;
    }

    int rng_calls() const override { return spec_.p == 0.0 ? 0 : 1; }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        if (spec_.p == 0.0) return dy;
        const Tensor& mask = saved.tensors.at(0);
        Tensor dx = ctx.make(mask.shape);
        if (ctx.dry) return dx;
        ctx.be.dropout_backward(dy.f(), mask.u8(), dx.f(), mask.numel(), float(spec_.p));
        return dx;
    }
};

// Token (and optionally position) embedding: (rows, 1) token ids -> (rows, dim).
class Embedding final : public Layer {
public:
    Embedding(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // N(0, 0.02) like GPT-2's initialisation.
        Param t{name + ".weight", ctx.make({s.vocab, s.dim}, Category::parameter), {}, {}};  // (vocab, dim)
        if (!ctx.dry) ctx.be.fill_normal(t.value.f(), t.value.numel(), 0.02f, ctx.seed, stream);
        params_.push_back(std::move(t));
        if (s.max_len > 0) {
            Param p{name + ".positions", ctx.make({s.max_len, s.dim}, Category::parameter), {}, {}};
            if (!ctx.dry) ctx.be.fill_normal(p.value.f(), p.value.numel(), 0.02f, ctx.seed, stream + 1);
            params_.push_back(std::move(p));
        }
    }

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        const int64_t rows = x.numel();
        Tensor y = ctx.make({rows, spec_.dim});
        ctx.keep(saved, x);  // the token ids: `input`, so no activation bytes
        if (ctx.dry) return y;
        ctx.be.embedding_forward(x.i64(), params_[0].value.f(), params_.size() > 1 ? params_[1].value.f() : nullptr,
                                 y.f(), rows, ctx.seq, spec_.dim);
        return y;
    }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool) override {
        const Tensor& tokens = saved.tensors.at(0);
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        if (ctx.dry) return {};
        // Positions beyond the sequence length get zero gradient: the kernel covers seq rows.
        float* dpos = params_.size() > 1 ? params_[1].grad.f() : nullptr;
        if (dpos) ctx.be.fill(dpos, params_[1].grad.numel(), 0.0f);
        ctx.be.embedding_backward(tokens.i64(), dy.f(), params_[0].grad.f(), dpos, tokens.numel(), ctx.seq,
                                  spec_.vocab, spec_.dim);
        return {};  // token ids have no gradient
    }
};

// Multi-head scaled dot-product attention on a fused QKV input: (rows, 3d) -> (rows, d).
class Attention final : public Layer {
public:
    using Layer::Layer;

    int rng_calls() const override { return 1; }

    Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) override {
        const int64_t rows = x.rows(), d = x.cols() / 3, T = ctx.seq, B = rows / T, H = spec_.heads;
        Tensor y = ctx.make({rows, d});
        Tensor probs = ctx.make({B, H, T, T});  // the softmax output
        Tensor mask, scratch;
        if (spec_.p > 0) {
            mask = ctx.make({B, H, T, T}, Category::temporary, ElemType::u8);
            scratch = ctx.make({T, T});
        }
        ctx.keep(saved, x);
        ctx.keep(saved, probs);
        if (mask) ctx.keep(saved, mask);
        const uint64_t stream = ctx.dropout_stream++;
        if (ctx.dry) return y;
        ctx.be.attention_forward(x.f(), y.f(), probs.f(), mask ? mask.u8() : nullptr, scratch ? scratch.f() : nullptr,
                                 B, T, H, d / H, spec_.causal, float(spec_.p), ctx.seed, stream);
        return y;
    }

    Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) override {
        const Tensor& x = saved.tensors.at(0);
        const Tensor& probs = saved.tensors.at(1);
        const bool dropout = saved.tensors.size() > 2;
        const int64_t rows = x.rows(), d = x.cols() / 3, T = ctx.seq, B = rows / T, H = spec_.heads;
        Tensor dx = ctx.make(x.shape);  // (rows, 3d)
        Tensor scratch = ctx.make({2, T, T});
        if (ctx.dry) return need_dx ? dx : Tensor{};
        ctx.be.attention_backward(x.f(), probs.f(), dropout ? saved.tensors[2].u8() : nullptr, dy.f(), dx.f(),
                                  scratch.f(), B, T, H, d / H, spec_.causal, float(spec_.p));
        return need_dx ? dx : Tensor{};
    }
};

}  // namespace

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, OpContext& ctx, const std::string& name,
                                  uint64_t param_stream) {
    switch (spec.type) {
    case LayerType::linear: return std::make_unique<Linear>(spec, ctx, name, param_stream);
    case LayerType::layernorm: return std::make_unique<LayerNorm>(spec, ctx, name);
    case LayerType::dropout: return std::make_unique<Dropout>(spec);
    case LayerType::embedding: return std::make_unique<Embedding>(spec, ctx, name, param_stream);
    case LayerType::attention: return std::make_unique<Attention>(spec);
    case LayerType::relu:
    case LayerType::gelu:
    case LayerType::tanh: return std::make_unique<Activation>(spec);
    }
    return nullptr;
}

}  // namespace ckpt
