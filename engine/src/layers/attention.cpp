// Multi-head scaled dot-product attention on a fused QKV input: (rows, 3d) -> (rows, d). Keeps
// its input, the softmax output (batch, heads, T, T, always f32: autocast's softmax) and, with
// dropout, the mask; its products run in the input's type; its scratch depends on the device's
// kernel layout and the precision (backends/scratch.h).
#include "backends/scratch.h"
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct AttentionState final : LayerState {
    Tensor qkv;    // (rows, 3d)
    Tensor probs;  // (B, H, T, T)
    Tensor mask;   // (B, H, T, T) bytes, only with dropout
    std::vector<const Tensor*> tensors() const override {
        if (mask) return {&qkv, &probs, &mask};
        return {&qkv, &probs};
    }
};

class Attention final : public Layer {
public:
    using Layer::Layer;

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const int64_t rows = x.rows(), d = x.cols() / 3, T = ctx.seq, B = rows / T, H = spec_.heads;
        const bool dropout = spec_.p > 0;
        Tensor y = ctx.make({rows, d}, Category::temporary, x.type);
        Tensor probs = ctx.make({B, H, T, T});  // the softmax output, f32
        Tensor mask, scratch;
        if (dropout) mask = ctx.make({B, H, T, T}, Category::temporary, ElemType::u8);
        if (const int64_t bytes = attention_forward_scratch_bytes(ctx.be.kind(), T, H, dropout, x.type))
            scratch = ctx.make({bytes}, Category::temporary, ElemType::u8);
        if (state) {
            auto st = std::make_unique<AttentionState>();
            st->qkv = ctx.keep(x);
            st->probs = ctx.keep(probs);
            if (mask) st->mask = ctx.keep(mask);
            *state = std::move(st);
        }
        const uint64_t stream = ctx.dropout_stream++;
        ctx.be.attention_forward(x.type, x.data(), y.data(), probs.f(), mask ? mask.u8() : nullptr,
                                 scratch ? scratch.data() : nullptr, B, T, H, d / H, spec_.causal, float(spec_.p),
                                 ctx.seed, stream);
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const auto& st = static_cast<AttentionState&>(state);
        const bool dropout = bool(st.mask);
        const int64_t rows = st.qkv.rows(), d = st.qkv.cols() / 3, T = ctx.seq, B = rows / T, H = spec_.heads;
        const ElemType t = st.qkv.type;
        Tensor dx = ctx.make(st.qkv.shape, Category::temporary, t);  // (rows, 3d)
        Tensor scratch = ctx.make({attention_backward_scratch_bytes(ctx.be.kind(), T, H, dropout, t)},
                                  Category::temporary, ElemType::u8);
        ctx.be.attention_backward(t, st.qkv.data(), st.probs.f(), dropout ? st.mask.u8() : nullptr, dy.data(),
                                  dx.data(), scratch.data(), B, T, H, d / H, spec_.causal, float(spec_.p));
        return need_dx ? dx : Tensor{};
    }
};

}  // namespace

std::unique_ptr<Layer> make_attention(const LayerSpec& s) { return std::make_unique<Attention>(s); }

}  // namespace ckpt
