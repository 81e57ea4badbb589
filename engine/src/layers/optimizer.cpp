// Optimizer steps. Their state (SGD momentum, AdamW's two moments) is memory the user must
// see: it is allocated as `optimizer_state` at the first step, as PyTorch does, and kept. All
// state is allocated before any parameter moves, and an out-of-memory while allocating it
// frees what this call allocated: the step is all or nothing, and a failed one leaves the
// session exactly as it was (parameters, state and memory).
#include "core/allocator.h"
#include "layers/layer.h"

namespace ckpt {

void optimizer_step(OpContext& ctx, const OptimizerSpec& spec, std::vector<Param*>& params, int64_t step) {
    if (spec.type == OptimizerType::none) return;
    std::vector<char> first(params.size(), 0);
    try {
        for (size_t i = 0; i < params.size(); ++i) {
            Param* p = params[i];
            if (!p->grad) continue;
            first[i] = !p->state[0];
            if (!first[i]) continue;
            if (spec.type == OptimizerType::sgd) {
                if (spec.momentum != 0.0) p->state[0] = ctx.make(p->value.shape, Category::optimizer_state);
            } else {
                p->state[0] = ctx.make(p->value.shape, Category::optimizer_state);
                p->state[1] = ctx.make(p->value.shape, Category::optimizer_state);
                ctx.be.fill(p->state[0].f(), p->value.numel(), 0.0f);
                ctx.be.fill(p->state[1].f(), p->value.numel(), 0.0f);
            }
        }
    } catch (const OutOfMemoryError&) {
        for (size_t i = 0; i < params.size(); ++i)
            if (first[i]) params[i]->state[0].reset(), params[i]->state[1].reset();
        throw;
    }
    for (size_t i = 0; i < params.size(); ++i) {
        Param* p = params[i];
        if (!p->grad) continue;
        const int64_t n = p->value.numel();
        if (spec.type == OptimizerType::sgd)
            ctx.be.sgd_step(p->value.f(), p->grad.f(), p->state[0] ? p->state[0].f() : nullptr, n,
                            float(spec.lr), float(spec.momentum), float(spec.weight_decay), first[i]);
        else
            ctx.be.adamw_step(p->value.f(), p->grad.f(), p->state[0].f(), p->state[1].f(), n, float(spec.lr),
                              float(spec.beta1), float(spec.beta2), float(spec.eps), float(spec.weight_decay),
                              step);
    }
}

}  // namespace ckpt
