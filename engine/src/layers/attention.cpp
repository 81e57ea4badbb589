// Multi-head scaled dot-product attention on a fused [Q | K | V] input: (rows, (H + 2 Hkv) hd)
// -> (rows, H hd). Grouped-query attention shares each of Hkv key/value heads among H / Hkv
// query heads; rotary embeddings (rope_theta) rotate Q and K by position. Two kernels ("impl"):
//   eager keeps its input, the softmax output (batch, heads, T, T, always f32: autocast's
//     softmax) and, with dropout, the mask;
//   flash (FlashAttention-2) keeps its input, its output and the log-sum-exp of each row and
//     head (batch, heads, T) f32, and the number of its random stream: backward draws the same
//     keep decisions again, so no mask is kept.
// Its products run in the input's type; its scratch depends on the device's kernel layout and
// the precision (backends/scratch.h). Both draw one random stream per forward, so a model's
// later dropout layers use the same streams whichever kernel it runs.
#include "backends/scratch.h"
#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct AttentionState final : LayerState {
    Tensor qkv;    // (rows, (H + 2 Hkv) hd)
    Tensor probs;  // (B, H, T, T)
    Tensor mask;   // (B, H, T, T) bytes, only with dropout
    std::vector<const Tensor*> tensors() const override {
        if (mask) return {&qkv, &probs, &mask};
        return {&qkv, &probs};
    }
};

struct FlashAttentionState final : LayerState {
    Tensor qkv;  // (rows, (H + 2 Hkv) hd)
    Tensor out;  // (rows, H hd): usually also the next layer's input, counted once
    Tensor lse;  // (B, H, T) f32
    uint64_t stream = 0;  // the forward's Philox stream: its dropout keep decisions
    std::vector<const Tensor*> tensors() const override { return {&qkv, &out, &lse}; }
};

class Attention final : public Layer {
public:
    using Layer::Layer;

    AttentionShape shape(OpContext& ctx, const Tensor& x) const {
        AttentionShape a;
        a.heads = spec_.heads;
        a.kv_heads = spec_.kv_heads > 0 ? spec_.kv_heads : spec_.heads;
        a.head_dim = x.cols() / (a.heads + 2 * a.kv_heads);
        a.seq = ctx.seq;
        a.batch = x.rows() / ctx.seq;
        a.causal = spec_.causal;
        a.p = float(spec_.p);
        a.rope_theta = float(spec_.rope_theta);
        return a;
    }

    Tensor scratch(OpContext& ctx, const AttentionShape& a, ElemType t, bool forward) const {
        const DeviceKind k = ctx.be.kind();
        const bool dropout = a.p > 0;
        const int64_t bytes =
            rope_scratch_bytes(a.batch * a.seq, a.heads, a.kv_heads, a.head_dim, a.rope_theta > 0, t) +
            (forward ? attention_forward_scratch_bytes(k, a.seq, a.heads, dropout, t)
                     : attention_backward_scratch_bytes(k, a.seq, a.heads, a.kv_heads, dropout, t));
        return bytes > 0 ? ctx.make({bytes}, Category::temporary, ElemType::u8) : Tensor{};
    }

    Tensor flash_scratch_tensor(OpContext& ctx, const AttentionShape& a, ElemType t, bool forward) const {
        const int64_t bytes = flash_scratch(ctx.be.kind(), a.batch, a.seq, a.heads, a.kv_heads, a.head_dim,
                                            a.rope_theta > 0, a.p > 0, t, forward)
                                  .bytes;
        return bytes > 0 ? ctx.make({bytes}, Category::temporary, ElemType::u8) : Tensor{};
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        if (spec_.impl == AttentionImpl::flash) return flash_forward(ctx, x, state);
        const AttentionShape a = shape(ctx, x);
        const int64_t rows = x.rows(), B = a.batch, H = a.heads, T = a.seq;
        Tensor y = ctx.make({rows, a.out()}, Category::temporary, x.type);
        Tensor probs = ctx.make({B, H, T, T});  // the softmax output, f32
        Tensor mask;
        if (a.p > 0) mask = ctx.make({B, H, T, T}, Category::temporary, ElemType::u8);
        Tensor work = scratch(ctx, a, x.type, true);
        if (state) {
            auto st = std::make_unique<AttentionState>();
            st->qkv = ctx.keep(x);
            st->probs = ctx.keep(probs);
            if (mask) st->mask = ctx.keep(mask);
            *state = std::move(st);
        }
        const uint64_t stream = ctx.dropout_stream++;
        ctx.be.attention_forward(x.type, a, x.data(), y.data(), probs.f(), mask ? mask.u8() : nullptr,
                                 work ? work.data() : nullptr, ctx.seed, stream);
        return y;
    }

    Tensor flash_forward(OpContext& ctx, const Tensor& x, StatePtr* state) {
        const AttentionShape a = shape(ctx, x);
        Tensor y = ctx.make({x.rows(), a.out()}, Category::temporary, x.type);
        Tensor lse = ctx.make({a.batch, a.heads, a.seq});  // f32
        Tensor work = flash_scratch_tensor(ctx, a, x.type, true);
        const uint64_t stream = ctx.dropout_stream++;
        if (state) {
            auto st = std::make_unique<FlashAttentionState>();
            st->qkv = ctx.keep(x);
            st->out = ctx.keep(y);
            st->lse = ctx.keep(lse);
            st->stream = stream;
            *state = std::move(st);
        }
        ctx.be.flash_attention_forward(x.type, a, x.data(), y.data(), lse.f(), work ? work.data() : nullptr, ctx.seed,
                                       stream);
        return y;
    }

    Tensor flash_backward(OpContext& ctx, const FlashAttentionState& st, const Tensor& dy, bool need_dx) {
        const AttentionShape a = shape(ctx, st.qkv);
        const ElemType t = st.qkv.type;
        Tensor dx = ctx.make(st.qkv.shape, Category::temporary, t);
        Tensor work = flash_scratch_tensor(ctx, a, t, false);
        ctx.be.flash_attention_backward(t, a, st.qkv.data(), st.out.data(), st.lse.f(), dy.data(), dx.data(),
                                        work ? work.data() : nullptr, ctx.seed, st.stream);
        return need_dx ? dx : Tensor{};
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) override {
        if (spec_.impl == AttentionImpl::flash)
            return flash_backward(ctx, static_cast<FlashAttentionState&>(state), dy, need_dx);
        const auto& st = static_cast<AttentionState&>(state);
        const AttentionShape a = shape(ctx, st.qkv);
        const ElemType t = st.qkv.type;
        Tensor dx = ctx.make(st.qkv.shape, Category::temporary, t);
        Tensor work = scratch(ctx, a, t, false);
        ctx.be.attention_backward(t, a, st.qkv.data(), st.probs.f(), st.mask ? st.mask.u8() : nullptr, dy.data(),
                                  dx.data(), work ? work.data() : nullptr);
        return need_dx ? dx : Tensor{};
    }
};

}  // namespace

std::unique_ptr<Layer> make_attention(const LayerSpec& s) { return std::make_unique<Attention>(s); }

}  // namespace ckpt
