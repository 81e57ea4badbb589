// Token (and optionally learned position) embedding: (rows, 1) token ids -> (rows, dim). Keeps
// the token ids, which are `input` bytes, so it adds no activation bytes. Under sequence
// parallelism (LayerSpec::sp_scatter, one rank's dry step) the vocabulary-parallel lookup's
// partial rows are reduce-scattered into this rank's split of the sequence.
#include "layers/layer_types.h"

namespace ckpt {
namespace {

class Embedding final : public Layer {
public:
    Embedding(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // N(0, 0.02) like GPT-2's initialisation.
        Param t{name + ".weight", ctx.make({s.vocab, s.dim}, Category::parameter), {}, {}};  // (vocab, dim)
        ctx.be.fill_normal(t.value.f(), t.value.numel(), 0.02f, ctx.seed, stream);
        params_.push_back(std::move(t));
        if (s.max_len > 0) {
            Param p{name + ".positions", ctx.make({s.max_len, s.dim}, Category::parameter), {}, {}};
            ctx.be.fill_normal(p.value.f(), p.value.numel(), 0.02f, ctx.seed, stream + 1);
            params_.push_back(std::move(p));
        }
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const int64_t rows = x.numel();
        Tensor y = ctx.make({rows, spec_.dim}, spec_.sp_scatter > 1 ? Category::communication : Category::temporary);
        if (state) *state = std::make_unique<OneTensorState>(ctx.keep(x));
        ctx.be.embedding_forward(x.i64(), params_[0].value.f(), params_.size() > 1 ? params_[1].value.f() : nullptr,
                                 y.f(), rows, ctx.seq, spec_.dim);
        return spec_.sp_scatter > 1 ? ctx.reduce_scatter_rows(y, spec_.sp_scatter) : y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy_in, bool) override {
        const Tensor& tokens = static_cast<OneTensorState&>(state).kept;
        const Tensor dy = spec_.sp_scatter > 1 ? ctx.all_gather_rows(dy_in, spec_.sp_scatter) : dy_in;  // (rows, dim)
        // A tied LM head ran its backward first and left the table's gradient: this one is
        // computed beside it and added, as autograd accumulates a shared parameter's gradient.
        Tensor table_grad;
        if (params_[0].grad) table_grad = ctx.make(params_[0].value.shape);
        for (Param& p : params_)
            if (!p.grad) p.grad = ctx.make(p.value.shape, Category::gradient);
        // Positions beyond the sequence length get zero gradient: the kernel covers seq rows.
        float* dpos = params_.size() > 1 ? params_[1].grad.f() : nullptr;
        if (dpos) ctx.be.fill(dpos, params_[1].grad.numel(), 0.0f);
        float* dtable = table_grad ? table_grad.f() : params_[0].grad.f();
        ctx.be.embedding_backward(tokens.i64(), dy.f(), dtable, dpos, tokens.numel(), ctx.seq, spec_.vocab, spec_.dim);
        if (table_grad)
            ctx.be.add(params_[0].grad.data(), ElemType::f32, table_grad.data(), ElemType::f32, params_[0].grad.data(),
                       ElemType::f32, table_grad.numel());
        return {};  // token ids have no gradient
    }
};

}  // namespace

std::unique_ptr<Layer> make_embedding(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) {
    return std::make_unique<Embedding>(s, ctx, name, stream);
}

}  // namespace ckpt
