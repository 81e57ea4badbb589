// Conv2d: y = x * W + b over an image batch. x (B, C_in, H, W), W (C_out, C_in / groups, k, k),
// b (C_out), y (B, C_out, Ho, Wo). Backward needs only x (and W), so, like a linear, it keeps its
// input and a recomputation can rebuild its state from that input without running it.
//
// Mixed precision follows autocast's conv2d, which is on its 16-bit list like linear: input,
// weight and bias cast to 16 bits (the weight's copy is weight_cast, kept for backward when the
// input wants a gradient), products accumulated in f32, a 16-bit output; the weight's and the
// bias's gradients are sums over the batch in f32 rounded once to 16 bits (what autograd's
// 16-bit gradient holds) and kept in f32.
#include <cmath>

#include "backends/scratch.h"
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct ConvState final : LayerState {
    Tensor x;       // (B, C_in, H, W): the input as the products read it
    Tensor w_cast;  // the weight's 16-bit copy (mixed precision only)
    ElemType in_type = ElemType::f32;
    std::vector<const Tensor*> tensors() const override { return {&x, &w_cast}; }
};

class Conv2d final : public Layer {
public:
    Conv2d(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // PyTorch's default (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        // for weight and bias, fan_in = C_in / groups * k * k.
        const int64_t fan_in = s.in / s.groups * s.kernel * s.kernel;
        const float bound = 1.0f / std::sqrt(float(fan_in));
        Param w{name + ".weight", ctx.make({s.out, s.in / s.groups, s.kernel, s.kernel}, Category::parameter), {}, {}};
        ctx.be.fill_uniform(w.value.f(), w.value.numel(), -bound, bound, ctx.seed, stream);
        params_.push_back(std::move(w));
        if (s.bias) {
            Param b{name + ".bias", ctx.make({s.out}, Category::parameter), {}, {}};
            ctx.be.fill_uniform(b.value.f(), s.out, -bound, bound, ctx.seed, stream + 1);
            params_.push_back(std::move(b));
        }
    }

    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor&) override {
        auto st = std::make_unique<ConvState>();
        st->in_type = input.type;
        st->x = ctx.keep(ctx.cast_to(input, ctx.compute));
        if (ctx.compute != ElemType::f32 && ctx.input_needs_grad)
            st->w_cast = ctx.cast_to(params_[0].value, ctx.compute, Category::weight_cast);
        return st;
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const ConvShape s = shape(x);
        const ElemType c = ctx.compute;
        Tensor y = ctx.make({s.batch, s.out_channels, s.out_h(), s.out_w()}, Category::temporary, c);
        if (c == ElemType::f32) {
            Tensor work = scratch(ctx, s, c, true, true);
            ctx.be.conv2d_forward(c, s, x.data(), params_[0].value.data(), spec_.bias ? params_[1].value.data() : nullptr,
                                  y.data(), work ? work.data() : nullptr);
            if (state) {
                auto st = std::make_unique<ConvState>();
                st->x = ctx.keep(x);
                *state = std::move(st);
            }
            return y;
        }
        Tensor xc = ctx.cast_to(x, c);
        Tensor wc = ctx.cast_to(params_[0].value, c, Category::weight_cast);
        Tensor bc = spec_.bias ? ctx.cast_to(params_[1].value, c, Category::weight_cast) : Tensor{};
        {
            Tensor work = scratch(ctx, s, c, true, true);
            ctx.be.conv2d_forward(c, s, xc.data(), wc.data(), bc ? bc.data() : nullptr, y.data(),
                                  work ? work.data() : nullptr);
        }
        if (state) {
            auto st = std::make_unique<ConvState>();
            st->in_type = x.type;
            st->x = ctx.keep(xc);
            // The weight's copy serves dx only: the model's first layer does without it.
            if (ctx.input_needs_grad) st->w_cast = std::move(wc);
            *state = std::move(st);
        }
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        auto& st = static_cast<ConvState&>(state);
        const ConvShape s = shape(st.x);
        const ElemType c = st.x.type;
        Param& w = params_[0];
        Tensor dx;
        if (need_dx) dx = ctx.make(st.x.shape, Category::temporary, c);
        if (!w.grad) w.grad = ctx.make(w.value.shape, Category::gradient);
        if (spec_.bias && !params_[1].grad) params_[1].grad = ctx.make(params_[1].value.shape, Category::gradient);
        float* db = spec_.bias ? params_[1].grad.f() : nullptr;
        {
            Tensor work = scratch(ctx, s, c, false, need_dx);
            const void* weight = c == ElemType::f32 ? w.value.data() : st.w_cast ? st.w_cast.data() : nullptr;
            ctx.be.conv2d_backward(c, s, st.x.data(), weight, dy.data(), need_dx ? dx.data() : nullptr, w.grad.f(), db,
                                   work ? work.data() : nullptr);
        }
        if (c != ElemType::f32) {
            st.w_cast.reset();  // the weight's copy is not needed any more
            round_through(ctx, w.grad, c);
            if (spec_.bias) round_through(ctx, params_[1].grad, c);
        }
        if (need_dx && st.in_type != c) return ctx.cast_to(dx, st.in_type);
        return dx;
    }

private:
    ConvShape shape(const Tensor& x) const {
        ConvShape s;
        s.batch = x.shape[0];
        s.in_channels = x.shape[1];
        s.height = x.shape[2];
        s.width = x.shape[3];
        s.out_channels = spec_.out;
        s.kernel = spec_.kernel;
        s.stride = effective_stride(spec_);
        s.padding = spec_.padding;
        s.groups = spec_.groups;
        return s;
    }

    static Tensor scratch(OpContext& ctx, const ConvShape& s, ElemType t, bool forward, bool need_dx) {
        const int64_t bytes = forward ? conv_forward_scratch_bytes(ctx.be.kind(), s, t)
                                      : conv_backward_scratch_bytes(ctx.be.kind(), s, need_dx, t);
        return bytes > 0 ? ctx.make({bytes}, Category::temporary, ElemType::u8) : Tensor{};
    }

    // An f32 gradient summed in f32, rounded once to the 16-bit type the products ran in.
    static void round_through(OpContext& ctx, Tensor& g, ElemType t) {
        Tensor low = ctx.make(g.shape, Category::temporary, t);
        ctx.be.cast(g.data(), ElemType::f32, low.data(), t, g.numel());
        ctx.be.cast(low.data(), t, g.data(), ElemType::f32, g.numel());
    }
};

}  // namespace

std::unique_ptr<Layer> make_conv2d(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) {
    return std::make_unique<Conv2d>(s, ctx, name, stream);
}

}  // namespace ckpt
