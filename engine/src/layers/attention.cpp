// Multi-head scaled dot-product attention on a fused QKV input: (rows, 3d) -> (rows, d). Keeps
// its input, the softmax output (batch, heads, T, T) and, with dropout, the mask; its scratch
// depends on the device's kernel layout (backends/scratch.h).
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
        Tensor y = ctx.make({rows, d});
        Tensor probs = ctx.make({B, H, T, T});  // the softmax output
        Tensor mask, scratch;
        if (dropout) {
            mask = ctx.make({B, H, T, T}, Category::temporary, ElemType::u8);
            scratch = ctx.make({attention_forward_scratch(ctx.be.kind(), T, H, true)});
        }
        if (state) {
            auto st = std::make_unique<AttentionState>();
            st->qkv = ctx.keep(x);
            st->probs = ctx.keep(probs);
            if (mask) st->mask = ctx.keep(mask);
            *state = std::move(st);
        }
        const uint64_t stream = ctx.dropout_stream++;
        ctx.be.attention_forward(x.f(), y.f(), probs.f(), mask ? mask.u8() : nullptr, scratch ? scratch.f() : nullptr,
                                 B, T, H, d / H, spec_.causal, float(spec_.p), ctx.seed, stream);
        return y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        const auto& st = static_cast<AttentionState&>(state);
        const bool dropout = bool(st.mask);
        const int64_t rows = st.qkv.rows(), d = st.qkv.cols() / 3, T = ctx.seq, B = rows / T, H = spec_.heads;
        Tensor dx = ctx.make(st.qkv.shape);  // (rows, 3d)
        Tensor scratch = ctx.make({attention_backward_scratch(ctx.be.kind(), T, H, dropout)});
        ctx.be.attention_backward(st.qkv.f(), st.probs.f(), dropout ? st.mask.u8() : nullptr, dy.f(), dx.f(),
                                  scratch.f(), B, T, H, d / H, spec_.causal, float(spec_.p));
        return need_dx ? dx : Tensor{};
    }
};

}  // namespace

std::unique_ptr<Layer> make_attention(const LayerSpec& s) { return std::make_unique<Attention>(s); }

}  // namespace ckpt
