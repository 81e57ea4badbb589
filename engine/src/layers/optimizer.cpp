// Optimizer steps. Their state (SGD momentum, AdamW's two moments) is memory the user must
// see: it is allocated as `optimizer_state` at the first step, as PyTorch does, and kept.
#include "layers/layer.h"

namespace ckpt {

void optimizer_step(OpContext& ctx, const OptimizerSpec& spec, std::vector<Param*>& params, int64_t step) {
    if (spec.type == OptimizerType::none) return;
    for (Param* p : params) {
        if (!p->grad) continue;
        const int64_t n = p->value.numel();
        if (spec.type == OptimizerType::sgd) {
            const bool first = !p->state[0];
            if (spec.momentum != 0.0 && first) p->state[0] = ctx.make(p->value.shape, Category::optimizer_state);
            if (ctx.dry) continue;
            ctx.be.sgd_step(p->value.f(), p->grad.f(), p->state[0] ? p->state[0].f() : nullptr, n,
                            float(spec.lr), float(spec.momentum), float(spec.weight_decay), first);
        } else {
            if (!p->state[0]) {
                p->state[0] = ctx.make(p->value.shape, Category::optimizer_state);
                p->state[1] = ctx.make(p->value.shape, Category::optimizer_state);
                if (!ctx.dry) {
                    ctx.be.fill(p->state[0].f(), n, 0.0f);
                    ctx.be.fill(p->state[1].f(), n, 0.0f);
                }
            }
            if (ctx.dry) continue;
            ctx.be.adamw_step(p->value.f(), p->grad.f(), p->state[0].f(), p->state[1].f(), n, float(spec.lr),
                              float(spec.beta1), float(spec.beta2), float(spec.eps), float(spec.weight_decay),
                              step);
        }
    }
}

}  // namespace ckpt
