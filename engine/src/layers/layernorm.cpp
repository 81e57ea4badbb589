// LayerNorm over the last dim, with optional affine parameters ("affine": false in the spec).
// Keeps its input and the per-row mean and 1/std for backward. Always f32, as under autocast.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct LayerNormState final : LayerState {
    Tensor x, mean, rstd;  // (rows, cols) in f32, (rows), (rows)
    ElemType in_type = ElemType::f32;  // a 16-bit input was cast up; dx goes back down
    std::vector<const Tensor*> tensors() const override { return {&x, &mean, &rstd}; }
};

class LayerNorm final : public Layer {
public:
    LayerNorm(const LayerSpec& s, OpContext& ctx, const std::string& name) : Layer(s) {
        if (!s.bias) return;  // "affine": false means no parameters at all
        Param g{name + ".weight", ctx.make({s.dim}, Category::parameter), {}, {}};
        Param b{name + ".bias", ctx.make({s.dim}, Category::parameter), {}, {}};
        ctx.be.fill(g.value.f(), s.dim, 1.0f);
        ctx.be.fill(b.value.f(), s.dim, 0.0f);
        params_.push_back(std::move(g));
        params_.push_back(std::move(b));
    }

    Tensor forward(OpContext& ctx, const Tensor& in, StatePtr* state) override {
        // Autocast runs LayerNorm in f32: a 16-bit input is cast up, and that copy is what it keeps.
        const Tensor x = ctx.cast_to(in, ElemType::f32);
        const int64_t rows = x.rows(), cols = x.cols();
        Tensor y = ctx.make(x.shape);
        Tensor mean = ctx.make({rows});
        Tensor rstd = ctx.make({rows});
        if (state) {
            auto st = std::make_unique<LayerNormState>();
            st->in_type = in.type;
            st->x = ctx.keep(x);
            st->mean = ctx.keep(mean);
            st->rstd = ctx.keep(rstd);
            *state = std::move(st);
        }
        const bool affine = !params_.empty();
        ctx.be.layernorm_forward(x.f(), affine ? params_[0].value.f() : nullptr,
                                 affine ? params_[1].value.f() : nullptr, y.f(), mean.f(), rstd.f(), rows, cols,
                                 float(spec_.eps));
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const auto& st = static_cast<LayerNormState&>(state);
        const bool affine = !params_.empty();
        // The kernel computes dx alongside the parameter gradients, so dx is always produced.
        Tensor dx = ctx.make(st.x.shape);
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        ctx.be.layernorm_backward(st.x.f(), affine ? params_[0].value.f() : nullptr, st.mean.f(), st.rstd.f(),
                                  dy.f(), dx.f(), affine ? params_[0].grad.f() : nullptr,
                                  affine ? params_[1].grad.f() : nullptr, st.x.rows(), st.x.cols());
        if (!need_dx) return {};
        return st.in_type == ElemType::f32 ? dx : ctx.cast_to(dx, st.in_type);
    }
};

}  // namespace

std::unique_ptr<Layer> make_layernorm(const LayerSpec& s, OpContext& ctx, const std::string& name) {
    return std::make_unique<LayerNorm>(s, ctx, name);
}

}  // namespace ckpt
