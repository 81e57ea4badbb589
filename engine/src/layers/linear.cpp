// Linear: y = x W^T + b. x (rows, in), W (out, in), b (out), y (rows, out). Backward needs only
// x, so a recomputation can rebuild its state from its input without running it.
#include <cmath>

#include "layers/layer_types.h"

namespace ckpt {
namespace {

class Linear final : public Layer {
public:
    Linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
        const float bound = 1.0f / std::sqrt(float(s.in));
        Param w{name + ".weight", ctx.make({s.out, s.in}, Category::parameter), {}, {}};  // (out, in)
        ctx.be.fill_uniform(w.value.f(), w.value.numel(), -bound, bound, ctx.seed, stream);
        params_.push_back(std::move(w));
        if (s.bias) {
            Param b{name + ".bias", ctx.make({s.out}, Category::parameter), {}, {}};  // (out)
            ctx.be.fill_uniform(b.value.f(), s.out, -bound, bound, ctx.seed, stream + 1);
            params_.push_back(std::move(b));
        }
    }

    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor&) override {
        return std::make_unique<OneTensorState>(ctx.keep(input));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const int64_t rows = x.rows();
        Tensor y = ctx.make({rows, spec_.out});  // (rows, out)
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(x));
        const float* W = params_[0].value.f();
        if (spec_.bias) ctx.be.broadcast_rows(y.f(), params_[1].value.f(), rows, spec_.out);
        ctx.be.gemm(false, true, rows, spec_.out, spec_.in, 1.0f, x.f(), spec_.in, W, spec_.in,
                    spec_.bias ? 1.0f : 0.0f, y.f(), spec_.out);
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const Tensor& x = static_cast<OneTensorState&>(state).kept;  // (rows, in)
        const int64_t rows = x.rows();
        Tensor dx;
        if (need_dx) dx = ctx.make({rows, spec_.in});
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        if (need_dx)
            ctx.be.gemm(false, false, rows, spec_.in, spec_.out, 1.0f, dy.f(), spec_.out,
                        params_[0].value.f(), spec_.in, 0.0f, dx.f(), spec_.in);
        ctx.be.gemm(true, false, spec_.out, spec_.in, rows, 1.0f, dy.f(), spec_.out, x.f(), spec_.in, 0.0f,
                    params_[0].grad.f(), spec_.in);
        if (spec_.bias) ctx.be.column_sum(params_[1].grad.f(), dy.f(), rows, spec_.out);
        return dx;
    }
};

}  // namespace

std::unique_ptr<Layer> make_linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) {
    return std::make_unique<Linear>(s, ctx, name, stream);
}

}  // namespace ckpt
