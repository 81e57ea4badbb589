// Linear: y = x W^T + b. x (rows, in), W (out, in), b (out), y (rows, out). Backward needs only
// x, so a recomputation can rebuild its state from its input without running it.
//
// In a mixed-precision run it does what autocast does to a linear: the input, the weight and
// the bias are cast to 16 bits (the weight's copy is the category weight_cast, kept for
// backward like autocast's cached cast), the product accumulates in f32 and its output is
// 16-bit; backward computes dx and dW in 16 bits and the weight's gradient reaches the f32
// parameter's gradient through the cast, so it is a 16-bit value held in f32. Like autograd, it
// keeps the weight's copy only when its input wants a gradient (not for the model's first layer).
//
// Under sequence parallelism (one rank's dry step, LayerSpec::sp_gather and sp_scatter), a
// column-parallel linear takes this rank's split of the sequence, multiplies the whole sequence
// gathered into a communication buffer, and keeps only its split (Megatron-LM gathers again in
// backward for the weight's gradient and reduce-scatters dx); a row-parallel one makes its
// product over the whole sequence in a communication buffer and returns its split (backward
// gathers dy whole again).
#include <cmath>

#include "layers/layer_types.h"

namespace ckpt {
namespace {

struct LinearState final : LayerState {
    Tensor x;       // (rows, in): the input as the product read it
    Tensor w_cast;  // (out, in): the weight's 16-bit copy (mixed precision only)
    ElemType in_type = ElemType::f32;  // the input's own type, which dx is returned in
    std::vector<const Tensor*> tensors() const override { return {&x, &w_cast}; }
};

class Linear final : public Layer {
public:
    Linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) : Layer(s) {
        // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. A tied head has no
        // weight of its own: it uses the embedding's table (tie()).
        const float bound = 1.0f / std::sqrt(float(s.in));
        if (!s.tied) {
            Param w{name + ".weight", ctx.make({s.out, s.in}, Category::parameter), {}, {}};  // (out, in)
            ctx.be.fill_uniform(w.value.f(), w.value.numel(), -bound, bound, ctx.seed, stream);
            params_.push_back(std::move(w));
        }
        if (s.bias) {
            Param b{name + ".bias", ctx.make({s.out}, Category::parameter), {}, {}};  // (out)
            ctx.be.fill_uniform(b.value.f(), s.out, -bound, bound, ctx.seed, stream + 1);
            params_.push_back(std::move(b));
        }
    }

    void tie(Param* shared) override { tied_ = shared; }

    StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor&) override {
        auto st = std::make_unique<LinearState>();
        st->in_type = input.type;
        st->x = ctx.keep(ctx.cast_to(input, ctx.compute));
        if (ctx.compute != ElemType::f32 && ctx.input_needs_grad)
            st->w_cast = ctx.cast_to(weight().value, ctx.compute, Category::weight_cast);
        return st;
    }

    Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) override {
        const ElemType c = ctx.compute;
        const Category out_category = spec_.sp_scatter > 1 ? Category::communication : Category::temporary;
        if (c == ElemType::f32) {
            const Tensor xw = spec_.sp_gather > 1 ? ctx.all_gather_rows(x, spec_.sp_gather) : x;  // (rows, in)
            const int64_t rows = xw.rows();
            Tensor y = ctx.make({rows, spec_.out}, out_category);  // (rows, out)
            if (state) {
                auto st = std::make_unique<LinearState>();
                st->x = ctx.keep(x);
                *state = std::move(st);
            }
            const float* W = weight().value.f();
            if (spec_.bias) ctx.be.broadcast_rows(y.f(), bias()->value.f(), rows, spec_.out, ElemType::f32);
            ctx.be.gemm(false, true, rows, spec_.out, spec_.in, 1.0f, xw.f(), spec_.in, W, spec_.in,
                        spec_.bias ? 1.0f : 0.0f, y.f(), spec_.out);
            return spec_.sp_scatter > 1 ? ctx.reduce_scatter_rows(y, spec_.sp_scatter) : y;
        }
        Tensor xc = ctx.cast_to(x, c);
        const Tensor xw = spec_.sp_gather > 1 ? ctx.all_gather_rows(xc, spec_.sp_gather) : xc;  // (rows, in)
        const int64_t rows = xw.rows();
        Tensor wc = ctx.cast_to(weight().value, c, Category::weight_cast);
        Tensor y = ctx.make({rows, spec_.out}, out_category, c);
        if (spec_.bias) {
            Tensor bc = ctx.cast_to(bias()->value, c, Category::weight_cast);
            ctx.be.broadcast_rows(y.data(), bc.data(), rows, spec_.out, c);
        }
        ctx.be.gemm_ex(false, true, rows, spec_.out, spec_.in, 1.0f, xw.data(), spec_.in, wc.data(), spec_.in,
                       spec_.bias ? 1.0f : 0.0f, y.data(), spec_.out, c, c);
        if (state) {
            auto st = std::make_unique<LinearState>();
            st->in_type = x.type;
            st->x = ctx.keep(xc);
            // The weight's copy serves dx only: the model's first layer does without it.
            if (ctx.input_needs_grad) st->w_cast = std::move(wc);
            *state = std::move(st);
        }
        return spec_.sp_scatter > 1 ? ctx.reduce_scatter_rows(y, spec_.sp_scatter) : y;
    }

    Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy_in, bool need_dx) override {
        auto& st = static_cast<LinearState&>(state);
        // Sequence parallelism: the whole sequence's input and output gradient gathered again.
        const Tensor x = spec_.sp_gather > 1 ? ctx.all_gather_rows(st.x, spec_.sp_gather) : st.x;  // (rows, in)
        const Tensor dy = spec_.sp_scatter > 1 ? ctx.all_gather_rows(dy_in, spec_.sp_scatter) : dy_in;  // (rows, out)
        const int64_t rows = x.rows();
        const ElemType c = x.type;
        Param& w = weight();
        Tensor dx;
        if (need_dx)
            dx = ctx.make({rows, spec_.in}, spec_.sp_gather > 1 ? Category::communication : Category::temporary, c);
        // A gradient that already exists (a tied weight the embedding also uses) is added to.
        const bool accumulate = bool(w.grad);
        if (!w.grad) w.grad = ctx.make(w.value.shape, Category::gradient);
        if (Param* b = bias(); b && !b->grad) b->grad = ctx.make(b->value.shape, Category::gradient);
        if (c == ElemType::f32) {
            if (need_dx)
                ctx.be.gemm(false, false, rows, spec_.in, spec_.out, 1.0f, dy.f(), spec_.out, w.value.f(), spec_.in, 0.0f,
                            dx.f(), spec_.in);
            ctx.be.gemm(true, false, spec_.out, spec_.in, rows, 1.0f, dy.f(), spec_.out, x.f(), spec_.in,
                        accumulate ? 1.0f : 0.0f, w.grad.f(), spec_.in);
            if (spec_.bias) ctx.be.column_sum(bias()->grad.f(), dy.f(), rows, spec_.out, ElemType::f32);
            return need_dx && spec_.sp_gather > 1 ? ctx.reduce_scatter_rows(dx, spec_.sp_gather) : dx;
        }
        if (need_dx)
            ctx.be.gemm_ex(false, false, rows, spec_.in, spec_.out, 1.0f, dy.data(), spec_.out, st.w_cast.data(),
                           spec_.in, 0.0f, dx.data(), spec_.in, c, c);
        st.w_cast.reset();  // the weight's copy is not needed any more
        {
            Tensor dw = ctx.make({spec_.out, spec_.in}, Category::temporary, c);
            ctx.be.gemm_ex(true, false, spec_.out, spec_.in, rows, 1.0f, dy.data(), spec_.out, x.data(), spec_.in, 0.0f,
                           dw.data(), spec_.in, c, c);
            if (accumulate)
                ctx.be.add(w.grad.data(), ElemType::f32, dw.data(), c, w.grad.data(), ElemType::f32, dw.numel());
            else
                ctx.be.cast(dw.data(), c, w.grad.data(), ElemType::f32, dw.numel());
        }
        if (spec_.bias) {
            // The bias's gradient is a 16-bit sum (PyTorch's bias grad in autocast), held in f32.
            Param& b = *bias();
            Tensor db = ctx.make({spec_.out}, Category::temporary, c);
            ctx.be.column_sum(b.grad.f(), dy.data(), rows, spec_.out, c);
            ctx.be.cast(b.grad.data(), ElemType::f32, db.data(), c, spec_.out);
            ctx.be.cast(db.data(), c, b.grad.data(), ElemType::f32, spec_.out);
        }
        if (need_dx && spec_.sp_gather > 1) dx = ctx.reduce_scatter_rows(dx, spec_.sp_gather);
        if (need_dx && st.in_type != c) return ctx.cast_to(dx, st.in_type);
        return dx;
    }

private:
    Param& weight() { return tied_ ? *tied_ : params_[0]; }
    Param* bias() { return spec_.bias ? &params_[spec_.tied ? 0 : 1] : nullptr; }

    Param* tied_ = nullptr;
};

}  // namespace

std::unique_ptr<Layer> make_linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream) {
    return std::make_unique<Linear>(s, ctx, name, stream);
}

}  // namespace ckpt
