// Dropout: keeps its mask (one byte per element). The mask comes from Philox(seed, stream), and
// the stream counter is what a recomputation restores to draw the same mask again: it draws the
// mask alone (rebuild), so the layers before it need not run again just to feed it. It runs in
// the type of its input.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

class Dropout final : public Layer {
public:
    using Layer::Layer;

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        if (spec_.p == 0.0) {  // the identity: nothing to draw, keep or allocate
            if (state) *state = std::make_unique<OneTensorState>(Tensor{});
            return x;
        }
        shape_ = x.shape;
        Tensor y = ctx.make(x.shape, Category::temporary, x.type);
        Tensor mask = ctx.make(x.shape, Category::temporary, ElemType::u8);
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(mask));
        const uint64_t stream = ctx.dropout_stream++;
        ctx.be.dropout_forward(x.type, x.data(), y.data(), mask.u8(), x.numel(), float(spec_.p), ctx.seed, stream);
        return y;
    }

    // The state without the input: the mask of the stream the executor has restored. The shape
    // is the forward's of this step (a recomputation always follows its own forward).
    StatePtr rebuild(OpContext& ctx, const Tensor&, const Tensor&) override {
        if (spec_.p == 0.0) return std::make_unique<OneTensorState>(Tensor{});
        Tensor mask = ctx.make(shape_, Category::temporary, ElemType::u8);
        ctx.be.dropout_mask(mask.u8(), mask.numel(), float(spec_.p), ctx.seed, ctx.dropout_stream);
        return std::make_unique<OneTensorState>(ctx.keep(mask));
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (!need_dx) return {};
        if (spec_.p == 0.0) return dy;
        const Tensor& mask = static_cast<OneTensorState&>(state).kept;
        Tensor dx = ctx.make(mask.shape, Category::temporary, dy.type);
        ctx.be.dropout_backward(dy.type, dy.data(), mask.u8(), dx.data(), mask.numel(), float(spec_.p));
        return dx;
    }

private:
    std::vector<int64_t> shape_;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(const LayerSpec& s) { return std::make_unique<Dropout>(s); }

}  // namespace ckpt
