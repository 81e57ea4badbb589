// Planner benchmark: a residual stack of identical blocks (1,000 by default; `bench_planner
// 100000` for the long-chain line of the README). Times what `checkpointlab plan` does (the
// plan table: chain model, every listed set, the optimum) first, with the process's peak RSS
// at that point; then one prediction of a configuration (a dry run of the executor, and an
// evaluation of the chain model), building the chain model,
// the smallest feasible peak, and the optimal plan under a budget halfway between that and the
// unchecked peak; reports the label runs the dynamic program held and the process's peak RSS.
// Targets: predict < 1 ms per 1,000 blocks' evaluation, dp plan < 1 s at 1,000 blocks and
// < 2 s and < 1 GB at 100,000.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <optional>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "plan/chain_dp.h"
#include "plan/chain_segments.h"

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

double peak_rss_mib() {
    struct rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

}  // namespace

int main(int argc, char** argv) {
    const int blocks = argc > 1 ? std::atoi(argv[1]) : 1000;
    // "narrow": the deep narrow chain of the sublinear-memory lesson, where activations are all
    // of the peak and segments go below what per-block checkpointing reaches.
    const bool narrow = argc > 2 && std::string(argv[2]) == "narrow";
    const int64_t d = narrow ? 64 : 512;
    const bool long_chain = blocks > 10000;  // one repetition of the slow parts
    ckpt::ModelSpec spec;
    spec.name = "chain";
    spec.input_shape = {narrow ? 2048 : 512, d};  // activations comparable to parameters (or all of it)
    spec.loss = ckpt::LossType::mse;
    spec.optimizer.type = narrow ? ckpt::OptimizerType::none : ckpt::OptimizerType::sgd;
    for (int b = 0; b < blocks; ++b) {
        ckpt::BlockSpec blk;
        blk.name = "b" + std::to_string(b);
        blk.residual = true;
        blk.checkpoint = b % 3 == 0;
        ckpt::LayerSpec ln, l1, g, l2;
        ln.type = ckpt::LayerType::layernorm; ln.dim = d;
        l1.type = ckpt::LayerType::linear; l1.in = d; l1.out = 4 * d;
        g.type = ckpt::LayerType::gelu;
        l2.type = ckpt::LayerType::linear; l2.in = 4 * d; l2.out = d;
        blk.layers = {ln, l1, g, l2};
        spec.blocks.push_back(blk);
    }
    // What the CLI's plan does, budget halfway between the floor and the unchecked peak.
    double table_ms = 0.0, table_rss = 0.0;
    size_t rows = 0;
    bool shortened = false;
    {
        ckpt::Result<ckpt::ChainModel> m = ckpt::ChainModel::build(spec);
        if (!m) { std::fprintf(stderr, "%s\n", m.error().message.c_str()); return 1; }
        shortened = !m->measured_whole;
        const int64_t lo = ckpt::minimal_peak(*m), hi = m->peak(std::vector<bool>(size_t(blocks), false));
        const auto t1 = std::chrono::steady_clock::now();  // the budget is found outside the timing
        ckpt::Result<ckpt::PlanTable> t = ckpt::plan_table(spec, ckpt::PlannerKind::dp, lo + (hi - lo) / 2);
        if (!t) { std::fprintf(stderr, "%s\n", t.error().message.c_str()); return 1; }
        table_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
        rows = t->candidates.size();
        table_rss = peak_rss_mib();
    }
    std::printf("%d blocks: plan table (checkpointlab plan) %.1f ms, %zu sets listed, chain %s, peak RSS %.0f MiB\n",
                blocks, table_ms, rows, shortened ? "measured shortened" : "measured whole", table_rss);
    std::fflush(stdout);

    ckpt::Result<ckpt::StepReport> r = ckpt::predict(spec);
    if (!r) { std::fprintf(stderr, "%s\n", r.error().message.c_str()); return 1; }
    const double predict_ms = best_ms(long_chain ? 1 : 5, [&] { (void)ckpt::predict(spec); });

    ckpt::Result<ckpt::ChainModel> model = ckpt::ChainModel::build(spec);
    if (!model) { std::fprintf(stderr, "%s\n", model.error().message.c_str()); return 1; }
    const double build_ms = long_chain ? best_ms(1, [&] { model = ckpt::ChainModel::build(spec); })
                                       : best_ms(3, [&] { (void)ckpt::ChainModel::build(spec); });
    std::vector<bool> flags(static_cast<size_t>(blocks));
    for (int b = 0; b < blocks; ++b) flags[size_t(b)] = b % 3 == 0;
    volatile int64_t sink = 0;
    const double eval_ms = best_ms(50, [&] { sink = model->peak(flags); });
    const double rss_before_mib = peak_rss_mib();

    int64_t floor = 0;
    const double floor_ms = best_ms(long_chain ? 1 : 3, [&] { floor = ckpt::minimal_peak(*model); });
    const int64_t top = model->peak(std::vector<bool>(size_t(blocks), false));
    const int64_t budget = floor + (top - floor) / 2;
    ckpt::Result<ckpt::Plan> plan = ckpt::plan_optimal(*model, budget);
    if (!plan) { std::fprintf(stderr, "%s\n", plan.error().message.c_str()); return 1; }
    const double plan_ms = best_ms(3, [&] { (void)ckpt::plan_optimal(*model, budget); });
    ckpt::Result<ckpt::dp::Solution> solution = ckpt::dp::solve(*model, budget, true);
    const size_t runs = solution ? solution->runs_held : 0;
    std::printf("%d blocks: predict (dry run) %.3f ms | chain model build %.1f ms | chain model eval %.4f ms | "
                "minimal peak %.1f ms | dp plan %.1f ms (%d of %d checkpointed, peak %lld <= budget %lld; "
                "%zu label runs, %.1f MiB) | peak RSS %.0f MiB (%.0f MiB before planning)\n",
                blocks, predict_ms, build_ms, eval_ms, floor_ms, plan_ms, plan->checkpointed(), blocks,
                static_cast<long long>(plan->predicted_peak), static_cast<long long>(budget), runs,
                double(runs * 56) / (1 << 20), peak_rss_mib(), rss_before_mib);
    std::fflush(stdout);

    // Segment partitions: the floor, then the optimum at two budgets: halfway between the
    // segment floor and the unchecked peak, and at the per-block floor (where per-block
    // checkpointing has no room left and segments still do).
    int64_t seg_floor = 0;
    const double seg_floor_ms = best_ms(1, [&] { seg_floor = ckpt::minimal_segment_peak(*model); });
    for (const int64_t b : {seg_floor + (top - seg_floor) / 2, floor, seg_floor + (floor - seg_floor) / 2}) {
        std::optional<ckpt::Result<ckpt::Plan>> planned;
        const double ms = best_ms(long_chain ? 1 : 3, [&] { planned = ckpt::plan_segments(*model, b); });
        const ckpt::Result<ckpt::Plan>& p = *planned;
        if (!p) { std::fprintf(stderr, "%s\n", p.error().message.c_str()); return 1; }
        // The search's own figures, under the bound plan_segments gives it (the per-block optimum).
        ckpt::Result<ckpt::Plan> per_block = ckpt::plan_optimal(*model, b);
        const double bound = per_block ? per_block->recompute_cost : std::numeric_limits<double>::infinity();
        ckpt::Result<ckpt::seg::Solution> s = ckpt::seg::solve(*model, b, true, true, bound);
        if (!s) { std::fprintf(stderr, "%s\n", s.error().message.c_str()); return 1; }
        int longest = 0;
        for (const ckpt::BlockRange& r : p->runs) longest = std::max(longest, r.size());
        std::printf("%d blocks: segments plan %.1f ms at budget %lld (segment floor %lld, found in %.1f ms): "
                    "%zu runs (longest %d), %d of %d checkpointed, recompute %.4g (per block: %s), peak %lld | search: "
                    "%zu labels held, at most %zu at a boundary, runs tried up to %d blocks, %llu label extensions | "
                    "peak RSS %.0f MiB\n",
                    blocks, ms, static_cast<long long>(b), static_cast<long long>(seg_floor), seg_floor_ms,
                    p->runs.size(), longest, p->checkpointed(), blocks, p->recompute_cost,
                    per_block ? std::to_string(per_block->recompute_cost).c_str() : "none fits",
                    static_cast<long long>(p->predicted_peak), s->labels_held, s->most_labels, s->longest_run,
                    static_cast<unsigned long long>(s->work), peak_rss_mib());
        std::fflush(stdout);
    }
    return 0;
}
