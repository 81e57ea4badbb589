// Elementwise activations: ReLU, GELU (tanh form), Tanh, SiLU. They share everything but their
// kernels and what they keep: ReLU and Tanh differentiate from their output, GELU and SiLU from
// their input, so each can rebuild its backward state from one tensor without running.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

class Elementwise final : public Layer {
public:
    using Layer::Layer;

    bool from_input() const { return rebuild_kind() == Rebuild::from_input; }
    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor& output) override {
        return std::make_unique<OneTensorState>(ctx.keep(from_input() ? input : output));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        Tensor y = ctx.make(x.shape);
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(from_input() ? x : y));
        const int64_t n = x.numel();
        switch (spec_.type) {
        case LayerType::relu: ctx.be.relu_forward(x.f(), y.f(), n); break;
        case LayerType::gelu: ctx.be.gelu_forward(x.f(), y.f(), n); break;
        case LayerType::silu: ctx.be.silu_forward(x.f(), y.f(), n); break;
        default: ctx.be.tanh_forward(x.f(), y.f(), n); break;
        }
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        const Tensor& s = static_cast<OneTensorState&>(state).kept;
        Tensor dx = ctx.make(s.shape);
        const int64_t n = s.numel();
        switch (spec_.type) {
        case LayerType::relu: ctx.be.relu_backward(s.f(), dy.f(), dx.f(), n); break;
        case LayerType::gelu: ctx.be.gelu_backward(s.f(), dy.f(), dx.f(), n); break;
        case LayerType::silu: ctx.be.silu_backward(s.f(), dy.f(), dx.f(), n); break;
        default: ctx.be.tanh_backward(s.f(), dy.f(), dx.f(), n); break;
        }
        return dx;
    }
};

}  // namespace

std::unique_ptr<Layer> make_elementwise(const LayerSpec& s) { return std::make_unique<Elementwise>(s); }

}  // namespace ckpt
