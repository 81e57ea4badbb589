// Elementwise activations: ReLU, GELU (tanh form), Tanh, SiLU. They share everything but their
// kernels and what they keep: ReLU and Tanh differentiate from their output, GELU and SiLU from
// their input, so each can rebuild its backward state from one tensor without running. They run
// in the type of their input (16 bits after a mixed-precision matrix product), as under autocast.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

Act act_of(LayerType t) {
    switch (t) {
    case LayerType::relu: return Act::relu;
    case LayerType::gelu: return Act::gelu;
    case LayerType::silu: return Act::silu;
    default: return Act::tanh;
    }
}

class Elementwise final : public Layer {
public:
    using Layer::Layer;

    bool from_input() const { return rebuild_kind() == Rebuild::from_input; }
    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor& output) override {
        return std::make_unique<OneTensorState>(ctx.keep(from_input() ? input : output));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        Tensor y = ctx.make(x.shape, Category::temporary, x.type);
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(from_input() ? x : y));
        ctx.be.activation_forward(act_of(spec_.type), x.type, x.data(), y.data(), x.numel());
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        const Tensor& s = static_cast<OneTensorState&>(state).kept;
        Tensor dx = ctx.make(s.shape, Category::temporary, s.type);
        ctx.be.activation_backward(act_of(spec_.type), s.type, s.data(), dy.data(), dx.data(), s.numel());
        return dx;
    }
};

}  // namespace

std::unique_ptr<Layer> make_elementwise(const LayerSpec& s) { return std::make_unique<Elementwise>(s); }

}  // namespace ckpt
