// Losses. MSE keeps its prediction and target; softmax cross-entropy keeps the softmax output
// (its gradient is probs - onehot), so the logits can be freed as soon as the loss is known.
#include "layers/layer.h"

namespace ckpt {

double Loss::forward(OpContext& ctx, const Tensor& out, const Tensor& target, Saved& saved) {
    const int64_t rows = out.rows(), cols = out.cols();
    if (type_ == LossType::mse) {
        ctx.keep(&saved, out);
        ctx.keep(&saved, target);
        return ctx.dry ? 0.0 : ctx.be.mse_forward(out.f(), target.f(), out.numel());
    }
    Tensor probs = ctx.make(out.shape);  // (rows, classes)
    ctx.keep(&saved, probs);
    ctx.keep(&saved, target);
    return ctx.dry ? 0.0 : ctx.be.softmax_xent_forward(out.f(), target.i64(), probs.f(), rows, cols);
}

Tensor Loss::backward(OpContext& ctx, Saved& saved) {
    const Tensor& first = saved.tensors.at(0);
    const Tensor& target = saved.tensors.at(1);
    Tensor d = ctx.make(first.shape);
    if (ctx.dry) return d;
    if (type_ == LossType::mse)
        ctx.be.mse_backward(first.f(), target.f(), d.f(), first.numel());
    else
        ctx.be.softmax_xent_backward(first.f(), target.i64(), d.f(), first.rows(), first.cols());
    return d;
}

}  // namespace ckpt
