// BatchNorm2d in train mode: per channel, y = (x - mean) / sqrt(var + eps) * gamma + beta with
// the mean and (biased) variance of the batch over (B, H, W). Keeps its input and the batch's
// mean and 1/std per channel (PyTorch's save_mean and save_invstd). Its running mean and
// variance are buffers (category buffer, made with the layer): every forward moves them towards
// the batch's statistics, except a recomputation, which recomputes the same batch statistics
// bit for bit and leaves the running ones alone, so a checkpointed step changes them exactly
// as an unchecked one (torch.utils.checkpoint updates them twice).
//
// Mixed precision: batch_norm is on neither of autocast's lists, so it runs in its input's
// type, as cuDNN's batch norm does under autocast: a 16-bit input gives a 16-bit output and is
// kept as it is; the statistics, gamma, beta and the running buffers stay f32.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct BatchNormState final : LayerState {
    Tensor x;           // (B, C, H, W) in its own type
    Tensor mean, rstd;  // (C) f32
    std::vector<const Tensor*> tensors() const override { return {&x, &mean, &rstd}; }
};

class BatchNorm2d final : public Layer {
public:
    BatchNorm2d(const LayerSpec& s, OpContext& ctx, const std::string& name) : Layer(s) {
        if (s.bias) {  // "affine": false means no parameters
            Param g{name + ".weight", ctx.make({s.dim}, Category::parameter), {}, {}};
            Param b{name + ".bias", ctx.make({s.dim}, Category::parameter), {}, {}};
            ctx.be.fill(g.value.f(), s.dim, 1.0f);
            ctx.be.fill(b.value.f(), s.dim, 0.0f);
            params_.push_back(std::move(g));
            params_.push_back(std::move(b));
        }
        Param rm{name + ".running_mean", ctx.make({s.dim}, Category::buffer), {}, {}};
        Param rv{name + ".running_var", ctx.make({s.dim}, Category::buffer), {}, {}};
        ctx.be.fill(rm.value.f(), s.dim, 0.0f);
        ctx.be.fill(rv.value.f(), s.dim, 1.0f);
        buffers_.push_back(std::move(rm));
        buffers_.push_back(std::move(rv));
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const int64_t n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3];
        Tensor y = ctx.make(x.shape, Category::temporary, x.type);
        Tensor mean = ctx.make({c});
        Tensor rstd = ctx.make({c});
        if (state) {
            auto st = std::make_unique<BatchNormState>();
            st->x = ctx.keep(x);
            st->mean = ctx.keep(mean);
            st->rstd = ctx.keep(rstd);
            *state = std::move(st);
        }
        const bool affine = !params_.empty(), update = !ctx.recomputing;
        ctx.be.batchnorm_forward(x.type, x.data(), affine ? params_[0].value.f() : nullptr,
                                 affine ? params_[1].value.f() : nullptr, y.data(), mean.f(), rstd.f(), n, c, hw,
                                 float(spec_.eps), update ? buffers_[0].value.f() : nullptr,
                                 update ? buffers_[1].value.f() : nullptr, float(spec_.momentum));
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const auto& st = static_cast<BatchNormState&>(state);
        const bool affine = !params_.empty();
        const int64_t n = st.x.shape[0], c = st.x.shape[1], hw = st.x.shape[2] * st.x.shape[3];
        // The kernel computes dx alongside the parameter gradients, so dx is always produced.
        Tensor dx = ctx.make(st.x.shape, Category::temporary, st.x.type);
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        ctx.be.batchnorm_backward(st.x.type, st.x.data(), affine ? params_[0].value.f() : nullptr, st.mean.f(),
                                  st.rstd.f(), dy.data(), dx.data(), affine ? params_[0].grad.f() : nullptr,
                                  affine ? params_[1].grad.f() : nullptr, n, c, hw);
        return need_dx ? dx : Tensor{};
    }
};

}  // namespace

std::unique_ptr<Layer> make_batchnorm2d(const LayerSpec& s, OpContext& ctx, const std::string& name) {
    return std::make_unique<BatchNorm2d>(s, ctx, name);
}

}  // namespace ckpt
