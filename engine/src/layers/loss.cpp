// Losses. MSE keeps its prediction and target; softmax cross-entropy keeps the softmax output
// (its gradient is probs - onehot), so the logits can be freed as soon as the loss is known.
// Both run in f32; a 16-bit model output is cast up (kept, for MSE) and its gradient cast down.
#include "layers/layer.h"

namespace ckpt {
namespace {

struct LossState final : LayerState {
    Tensor first;   // MSE: the prediction; cross-entropy: the probabilities. (rows, cols), f32
    Tensor target;  // MSE: (rows, cols) floats; cross-entropy: (rows) class ids
    ElemType in_type = ElemType::f32;  // the output's own type, which the gradient is returned in
    std::vector<const Tensor*> tensors() const override { return {&first, &target}; }
};

}  // namespace

double Loss::forward(OpContext& ctx, const Tensor& model_out, const Tensor& target, StatePtr* state) {
    // The losses run in f32 (autocast's list): a 16-bit output is cast up first.
    const Tensor out = ctx.cast_to(model_out, ElemType::f32);
    const int64_t rows = out.rows(), cols = out.cols();
    auto st = std::make_unique<LossState>();
    st->in_type = model_out.type;
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

Tensor Loss::backward(OpContext& ctx, LayerState& state, float grad_scale) {
    const auto& st = static_cast<LossState&>(state);
    Tensor d = ctx.make(st.first.shape);
    if (type_ == LossType::mse)
        ctx.be.mse_backward(st.first.f(), st.target.f(), d.f(), st.first.numel());
    else
        ctx.be.softmax_xent_backward(st.first.f(), st.target.i64(), d.f(), st.first.rows(), st.first.cols());
    if (grad_scale != 1.0f) ctx.be.scale(d.f(), d.numel(), grad_scale);
    return st.in_type == ElemType::f32 ? d : ctx.cast_to(d, st.in_type);
}

}  // namespace ckpt
