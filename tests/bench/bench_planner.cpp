// Planner benchmark: a 1,000-block residual stack. Times one prediction of a configuration (a
// dry run of the executor, and an evaluation of the chain model), building the chain model,
// and the optimal plan under a budget halfway between the smallest feasible peak and the
// unchecked peak. Prints milliseconds; the README records them (targets: predict < 1 ms,
// plan < 1 s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/session.h"

namespace {

double best_ms(int reps, const std::function<void()>& f) {
    double best = 1e300;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const int blocks = argc > 1 ? std::atoi(argv[1]) : 1000;
    ckpt::ModelSpec spec;
    spec.name = "chain";
    spec.input_shape = {512, 512};  // activations comparable to parameters
    spec.loss = ckpt::LossType::mse;
    spec.optimizer.type = ckpt::OptimizerType::sgd;
    for (int b = 0; b < blocks; ++b) {
        ckpt::BlockSpec blk;
        blk.name = "b" + std::to_string(b);
        blk.residual = true;
        blk.checkpoint = b % 3 == 0;
        ckpt::LayerSpec ln, l1, g, l2;
        ln.type = ckpt::LayerType::layernorm; ln.dim = 512;
        l1.type = ckpt::LayerType::linear; l1.in = 512; l1.out = 2048;
        g.type = ckpt::LayerType::gelu;
        l2.type = ckpt::LayerType::linear; l2.in = 2048; l2.out = 512;
        blk.layers = {ln, l1, g, l2};
        spec.blocks.push_back(blk);
    }
    ckpt::Result<ckpt::StepReport> r = ckpt::predict(spec);
    if (!r) { std::fprintf(stderr, "%s\n", r.error().message.c_str()); return 1; }
    const double predict_ms = best_ms(5, [&] { (void)ckpt::predict(spec); });

    ckpt::Result<ckpt::ChainModel> model = ckpt::ChainModel::build(spec);
    if (!model) { std::fprintf(stderr, "%s\n", model.error().message.c_str()); return 1; }
    const double build_ms = best_ms(3, [&] { (void)ckpt::ChainModel::build(spec); });
    std::vector<bool> flags(static_cast<size_t>(blocks));
    for (int b = 0; b < blocks; ++b) flags[size_t(b)] = b % 3 == 0;
    volatile int64_t sink = 0;
    const double eval_ms = best_ms(50, [&] { sink = model->peak(flags); });
    const int64_t floor = ckpt::minimal_peak(*model);
    const int64_t top = model->peak(std::vector<bool>(size_t(blocks), false));
    const int64_t budget = floor + (top - floor) / 2;
    ckpt::Result<ckpt::Plan> plan = ckpt::plan_optimal(*model, budget);
    if (!plan) { std::fprintf(stderr, "%s\n", plan.error().message.c_str()); return 1; }
    const double plan_ms = best_ms(3, [&] { (void)ckpt::plan_optimal(*model, budget); });
    const int checkpointed = plan->checkpointed();
    std::printf("%d blocks: predict (dry run) %.3f ms | chain model build %.1f ms | chain model eval %.4f ms | "
                "dp plan %.1f ms (%d of %d checkpointed, peak %lld <= budget %lld)\n",
                blocks, predict_ms, build_ms, eval_ms, plan_ms, checkpointed, blocks,
                static_cast<long long>(plan->predicted_peak), static_cast<long long>(budget));
    return 0;
}
