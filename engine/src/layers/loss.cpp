// Losses. MSE keeps its prediction and target; softmax cross-entropy keeps the softmax output
// (its gradient is probs - onehot), so the logits can be freed as soon as the loss is known.
#include "layers/layer.h"

namespace ckpt {
namespace {

struct LossState final : LayerState {
    Tensor first;   // MSE: the prediction; cross-entropy: the probabilities. (rows, cols)
    Tensor target;  // MSE: (rows, cols) floats; cross-entropy: (rows) class ids
    std::vector<const Tensor*> tensors() const override { return {&first, &target}; }
};

}  // namespace

double Loss::forward(OpContext& ctx, const Tensor& out, const Tensor& target, StatePtr* state) {
    const int64_t rows = out.rows(), cols = out.cols();
    auto st = std::make_unique<LossState>();
    double loss = 0.0;
    if (type_ == LossType::mse) {
        st->first = ctx.keep(out);
        st->target = ctx.keep(target);
        loss = ctx.be.mse_forward(out.f(), target.f(), out.numel());
    } else {
        Tensor probs = ctx.make(out.shape);  // (rows, classes)
        st->first = ctx.keep(probs);
        st->target = ctx.keep(target);
        loss = ctx.be.softmax_xent_forward(out.f(), target.i64(), probs.f(), rows, cols);
    }
    *state = std::move(st);
    return loss;
}

Tensor Loss::backward(OpContext& ctx, LayerState& state) {
    const auto& st = static_cast<LossState&>(state);
    Tensor d = ctx.make(st.first.shape);
    if (type_ == LossType::mse)
        ctx.be.mse_backward(st.first.f(), st.target.f(), d.f(), st.first.numel());
    else
        ctx.be.softmax_xent_backward(st.first.f(), st.target.i64(), d.f(), st.first.rows(), st.first.cols());
    return d;
}

}  // namespace ckpt
