// Pooling and flatten on images (B, C, H, W). Max pooling keeps its input: backward finds each
// window's first maximum again and routes the gradient there, which costs a second pass but no
// index tensor (PyTorch keeps both its input and int64 indices of the output's size). Average
// pooling, global average pooling and flatten keep nothing: their backward needs only shapes.
// All run in their input's type (none is on autocast's lists). Flatten returns a view of its
// input: (B, C, H, W) as (B, C * H * W), the same storage, so it allocates nothing.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

// The state of a layer whose backward needs nothing but the input's shape.
struct ShapeState final : LayerState {
    std::vector<int64_t> in_shape;
    ElemType type = ElemType::f32;
    std::vector<const Tensor*> tensors() const override { return {}; }
};

class Pooling final : public Layer {
public:
    using Layer::Layer;

    // Max pooling rebuilds from its input (kept); the others from nothing but its shape.
    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor&) override { return state_for(ctx, input); }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const PoolShape s = shape(x.shape);
        Tensor y = ctx.make({s.batch, s.channels, s.out_h(), s.out_w()}, Category::temporary, x.type);
        if (state) *state = state_for(ctx, x);
        if (spec_.type == LayerType::maxpool2d) ctx.be.maxpool_forward(x.type, s, x.data(), y.data());
        else ctx.be.avgpool_forward(x.type, s, x.data(), y.data());
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        if (spec_.type == LayerType::maxpool2d) {
            const Tensor& x = static_cast<OneTensorState&>(state).kept;
            Tensor dx = ctx.make(x.shape, Category::temporary, x.type);
            ctx.be.maxpool_backward(x.type, shape(x.shape), x.data(), dy.data(), dx.data());
            return dx;
        }
        const auto& st = static_cast<ShapeState&>(state);
        Tensor dx = ctx.make(st.in_shape, Category::temporary, st.type);
        ctx.be.avgpool_backward(st.type, shape(st.in_shape), dy.data(), dx.data());
        return dx;
    }

private:
    StatePtr state_for(OpContext& ctx, const Tensor& x) const {
        if (spec_.type == LayerType::maxpool2d) return std::make_unique<OneTensorState>(ctx.keep(x));
        auto st = std::make_unique<ShapeState>();
        st->in_shape = x.shape;
        st->type = x.type;
        return st;
    }

    PoolShape shape(const std::vector<int64_t>& x) const {
        PoolShape s;
        s.batch = x[0];
        s.channels = x[1];
        s.height = x[2];
        s.width = x[3];
        if (spec_.type == LayerType::global_avgpool) {  // one window over the whole image
            s.kernel_h = s.stride_h = s.height;
            s.kernel_w = s.stride_w = s.width;
            return s;
        }
        s.kernel_h = s.kernel_w = spec_.kernel;
        s.stride_h = s.stride_w = effective_stride(spec_);
        s.padding = spec_.padding;
        return s;
    }
};

class Flatten final : public Layer {
public:
    using Layer::Layer;

    StatePtr rebuild(OpContext&, const Tensor& input, const Tensor&) override { return state_for(input); }

    Tensor forward(OpContext&, const Tensor& x, StatePtr* state) override {
        if (state) *state = state_for(x);
        Tensor y = x;  // a view: the same storage
        y.shape = {x.shape[0], x.numel() / x.shape[0]};
        return y;
    }

    Tensor backward(OpContext&, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        Tensor dx = dy;  // a view again
        dx.shape = static_cast<ShapeState&>(state).in_shape;
        return dx;
    }

private:
    static StatePtr state_for(const Tensor& x) {
        auto st = std::make_unique<ShapeState>();
        st->in_shape = x.shape;
        st->type = x.type;
        return st;
    }
};

}  // namespace

std::unique_ptr<Layer> make_pooling(const LayerSpec& s) { return std::make_unique<Pooling>(s); }
std::unique_ptr<Layer> make_flatten(const LayerSpec& s) { return std::make_unique<Flatten>(s); }

}  // namespace ckpt
