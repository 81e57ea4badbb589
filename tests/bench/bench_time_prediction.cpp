// Predicted time against measured time, block by block and layer by layer (ckpt/timing.h). For
// each model: the throughputs measured now (not the cache: this is the calibration's check),
// the prediction of every block's forward, backward and recomputation with every block
// checkpointed, then steps whose per-layer spans give the measured medians. Prints each block's
// predicted/measured ratio, how many blocks of FLOP-bound layers (matrix products decide their
// time) fall within +-25 %, and the worst layers. Not a test: the figures go to the README with
// the date, machine and load.
//
//   bench_time_prediction [--steps N] [--threads T] MODEL.json...
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ckpt/layer_traits.h"
#include "ckpt/names.h"
#include "ckpt/session.h"
#include "ckpt/timing.h"

namespace {

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[(v.size() - 1) / 2];
}

// Whether a matrix product decides the layer's time.
bool flop_bound(ckpt::LayerType t) {
    return t == ckpt::LayerType::linear || t == ckpt::LayerType::conv2d || t == ckpt::LayerType::attention;
}

struct Row {
    std::string what;
    double predicted_ms, measured_ms;
    double ratio() const { return measured_ms > 0 ? predicted_ms / measured_ms : 0; }
};

}  // namespace

int main(int argc, char** argv) {
    int steps = 5, threads = 0;
    std::vector<std::string> models;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
        else models.push_back(argv[i]);
    }
    if (models.empty()) {
        std::fprintf(stderr, "usage: bench_time_prediction [--steps N] [--threads T] MODEL.json...\n");
        return 2;
    }
    auto through = ckpt::measure_throughput("cpu", threads);
    if (!through) {
        std::fprintf(stderr, "%s\n", through.error().message.c_str());
        return 1;
    }
    std::printf("throughput (%s): matrix products %.1f GFLOP/s, stream %.2f GB/s, GELU %.0f M elements/s, call %.2f us\n",
                through->key.c_str(), through->gemm_flops / 1e9, through->bandwidth / 1e9, through->elementwise / 1e6,
                through->call_ns / 1e3);
    std::printf("  products by size:");
    for (const auto& [flops, rate] : through->gemm_curve)
        std::printf(" %.0fx%.0fx%.0f %.1f GFLOP/s;", std::cbrt(flops / 2), std::cbrt(flops / 2), std::cbrt(flops / 2), rate / 1e9);
    std::printf("\n");
    int all_within = 0, all_blocks = 0;
    for (const std::string& path : models) {
        auto spec = ckpt::load_model_spec(path);
        if (!spec) {
            std::fprintf(stderr, "%s\n", spec.error().message.c_str());
            return 1;
        }
        for (auto& b : spec->blocks) b.checkpoint = true;
        const ckpt::TimePrediction pred = ckpt::predict_times(*spec, *through);
        ckpt::RunSettings settings;
        settings.threads = threads;
        auto session = ckpt::Session::create(*spec, settings);
        if (!session) {
            std::fprintf(stderr, "%s\n", session.error().message.c_str());
            return 1;
        }
        (*session)->step({});  // warm-up: optimizer state, first touches
        // Per (block, layer, phase): every step's span, in ms.
        std::map<std::tuple<int, int, int>, std::vector<double>> spans;
        std::vector<double> step_ms;
        for (int s = 0; s < steps; ++s) {
            const ckpt::StepReport r = (*session)->step({});
            if (r.status != ckpt::StepStatus::ok) {
                std::fprintf(stderr, "%s\n", r.message.c_str());
                return 1;
            }
            step_ms.push_back(double(r.step_ns) / 1e6);
            for (const ckpt::Span& sp : r.spans)
                if (sp.block >= 0) spans[{sp.block, sp.layer, int(sp.phase)}].push_back(double(sp.end_ns - sp.start_ns) / 1e6);
        }
        auto measured = [&](int b, int l, ckpt::Phase p) { return median(spans[{b, l, int(p)}]); };
        std::printf("\n%s (%s): step predicted %.2f ms, measured %.2f ms (median of %d), every block checkpointed\n",
                    spec->name.c_str(), path.c_str(), double(pred.step_ns) / 1e6, median(step_ms), steps);
        std::printf("  %-16s %28s %28s %28s\n", "block", "forward pred/meas ms", "backward pred/meas ms",
                    "recompute pred/meas ms");
        std::vector<Row> layers;
        int within = 0, counted = 0;
        for (size_t b = 0; b < spec->blocks.size(); ++b) {
            const ckpt::BlockTimePrediction& bp = pred.blocks[b];
            const double f = measured(int(b), -1, ckpt::Phase::forward), bw = measured(int(b), -1, ckpt::Phase::backward),
                         rc = measured(int(b), -1, ckpt::Phase::recompute);
            auto cell = [](double p, double m) {
                static char buf[4][64];
                static int k = 0;
                char* s = buf[k++ % 4];
                std::snprintf(s, 64, "%8.3f /%8.3f (%4.2fx)", p, m, m > 0 ? p / m : 0.0);
                return s;
            };
            std::printf("  %-16s %28s %28s %28s\n", spec->blocks[b].name.substr(0, 16).c_str(),
                        cell(double(bp.forward.ns) / 1e6, f), cell(double(bp.backward.ns) / 1e6, bw),
                        cell(double(bp.recompute.ns) / 1e6, rc));
            bool bound = false;
            for (size_t l = 0; l < spec->blocks[b].layer_count(); ++l) bound |= flop_bound(spec->blocks[b].layer(l).type);
            if (bound) {
                for (auto [p, m] : {std::pair{double(bp.forward.ns) / 1e6, f}, std::pair{double(bp.backward.ns) / 1e6, bw}}) {
                    ++counted;
                    within += m > 0 && std::fabs(p / m - 1.0) <= 0.25;
                }
            }
            for (size_t l = 0; l < spec->blocks[b].layer_count(); ++l) {
                const ckpt::LayerTimePrediction& lp = bp.layers[l];
                const std::string type(ckpt::layer_type_name(spec->blocks[b].layer(l).type));
                const std::string name = spec->blocks[b].name + "." + std::to_string(l) + " " + type;
                layers.push_back({name + " forward", double(lp.forward.ns) / 1e6, measured(int(b), int(l), ckpt::Phase::forward)});
                layers.push_back({name + " backward", double(lp.backward.ns) / 1e6, measured(int(b), int(l), ckpt::Phase::backward)});
            }
        }
        std::printf("  FLOP-bound blocks' forward and backward within +-25 %%: %d of %d\n", within, counted);
        all_within += within;
        all_blocks += counted;
        // The layers furthest off, of those that take at least 2 % of the step.
        const double step = median(step_ms);
        std::vector<Row> big;
        for (const Row& r : layers)
            if (r.measured_ms >= 0.02 * step / 2 && r.measured_ms > 0) big.push_back(r);
        std::sort(big.begin(), big.end(), [](const Row& a, const Row& b) {
            return std::fabs(std::log(a.ratio())) > std::fabs(std::log(b.ratio()));
        });
        std::printf("  worst layers (of those over 1 %% of the step): ");
        for (size_t i = 0; i < std::min<size_t>(4, big.size()); ++i)
            std::printf("%s%s %.3f/%.3f ms (%.2fx)", i ? "; " : "", big[i].what.c_str(), big[i].predicted_ms,
                        big[i].measured_ms, big[i].ratio());
        std::printf("\n");
    }
    std::printf("\nall models: %d of %d FLOP-bound block times within +-25 %%\n", all_within, all_blocks);
    return 0;
}
