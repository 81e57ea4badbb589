// RMSNorm (LLaMA's norm): y = x / sqrt(mean(x^2) + eps) * gamma over the last dim. Keeps its
// input and the per-row 1/rms for backward. Always f32 (LLaMA casts to f32 for it too).
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct RmsNormState final : LayerState {
    Tensor x, rstd;  // (rows, cols) in f32, (rows)
    ElemType in_type = ElemType::f32;
    std::vector<const Tensor*> tensors() const override { return {&x, &rstd}; }
};

class RmsNorm final : public Layer {
public:
    RmsNorm(const LayerSpec& s, OpContext& ctx, const std::string& name) : Layer(s) {
        Param g{name + ".weight", ctx.make({s.dim}, Category::parameter), {}, {}};
        ctx.be.fill(g.value.f(), s.dim, 1.0f);
        params_.push_back(std::move(g));
    }

    Tensor forward(OpContext& ctx, const Tensor& in, StatePtr* state) override {
        const Tensor x = ctx.cast_to(in, ElemType::f32);
        const int64_t rows = x.rows(), cols = x.cols();
        Tensor y = ctx.make(x.shape);
        Tensor rstd = ctx.make({rows});
        if (state) {
            auto st = std::make_unique<RmsNormState>();
            st->in_type = in.type;
            st->x = ctx.keep(x);
            st->rstd = ctx.keep(rstd);
            *state = std::move(st);
        }
        ctx.be.rmsnorm_forward(x.f(), params_[0].value.f(), y.f(), rstd.f(), rows, cols, float(spec_.eps));
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const auto& st = static_cast<RmsNormState&>(state);
        Tensor dx = ctx.make(st.x.shape);
        if (!params_[0].grad) params_[0].grad = ctx.make(params_[0].value.shape, Category::gradient);
        ctx.be.rmsnorm_backward(st.x.f(), params_[0].value.f(), st.rstd.f(), dy.f(), dx.f(), params_[0].grad.f(),
                                st.x.rows(), st.x.cols());
        if (!need_dx) return {};
        return st.in_type == ElemType::f32 ? dx : ctx.cast_to(dx, st.in_type);
    }
};

// SwiGLU on a fused [gate | up] input: (rows, 2f) -> (rows, f) = silu(gate) * up. Keeps its
// input, from which a recomputation rebuilds its state without running it. Runs in the type of
// its input.
class SwiGlu final : public Layer {
public:
    using Layer::Layer;

    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor&) override {
        return std::make_unique<OneTensorState>(ctx.keep(input));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const int64_t rows = x.rows(), f = x.cols() / 2;
        Tensor y = ctx.make({rows, f}, Category::temporary, x.type);
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(x));
        ctx.be.swiglu_forward(x.type, x.data(), y.data(), rows, f);
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        const Tensor& x = static_cast<OneTensorState&>(state).kept;
        Tensor dx = ctx.make(x.shape, Category::temporary, x.type);
        ctx.be.swiglu_backward(x.type, x.data(), dy.data(), dx.data(), x.rows(), x.cols() / 2);
        return dx;
    }
};

}  // namespace

std::unique_ptr<Layer> make_rmsnorm(const LayerSpec& s, OpContext& ctx, const std::string& name) {
    return std::make_unique<RmsNorm>(s, ctx, name);
}
std::unique_ptr<Layer> make_swiglu(const LayerSpec& s) { return std::make_unique<SwiGlu>(s); }

}  // namespace ckpt
