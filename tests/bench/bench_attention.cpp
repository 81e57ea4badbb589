// Engine side of the attention benchmark: one attention layer's forward and backward (the fused
// QKV input and the output's gradient made beforehand), for each kernel given, their steps
// interleaved (A B A B ...) so that a change in a shared machine's load falls on all alike. One
// JSON line per kernel: the best and median step in ms, and the peak bytes the step allocates
// beyond its two inputs (the tracking allocator's, exact), with what forward keeps.
// run_attention_bench.py sets PyTorch's explicit attention beside it on the CPU, run_gpu_bench.py
// PyTorch's scaled_dot_product_attention on a GPU (timed on the host around a synchronised step).
// Not a test.
//
//   bench_attention IMPL[,IMPL] B T H HEAD_SIZE [steps] [threads] [--bidirectional] [--p P]
//                   [--dtype bf16] [--device cpu|cuda]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ckpt/names.h"
#include "core/allocator.h"
#include "layers/layer.h"

using namespace ckpt;

namespace {

struct Run {
    AttentionImpl impl;
    std::vector<double> ms;
    int64_t peak = 0, kept = 0;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: bench_attention IMPL[,IMPL] B T H HEAD_SIZE [steps] [threads] [--bidirectional] "
                             "[--p P] [--dtype bf16] [--device cpu|cuda]\n");
        return 2;
    }
    std::vector<std::string> pos;
    bool causal = true;
    double p = 0.0;
    ElemType t = ElemType::f32;
    std::string device = "cpu";
    for (int i = 6; i < argc; ++i) {
        if (std::strcmp(argv[i], "--bidirectional") == 0) causal = false;
        else if (std::strcmp(argv[i], "--p") == 0 && i + 1 < argc) p = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) t = std::strcmp(argv[++i], "bf16") == 0 ? ElemType::bf16 : ElemType::f32;
        else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else pos.push_back(argv[i]);
    }
    const int64_t B = std::atoll(argv[2]), T = std::atoll(argv[3]), H = std::atoll(argv[4]), hd = std::atoll(argv[5]);
    const int steps = pos.size() > 0 ? std::atoi(pos[0].c_str()) : 5;
    const int threads = pos.size() > 1 ? std::atoi(pos[1].c_str()) : 0;
    const Result<Backend*> found = backend_for(device);
    if (!found) {
        std::fprintf(stderr, "bench_attention: %s\n", found.error().message.c_str());
        return 2;
    }
    Backend& be = **found;
    be.set_threads(threads);
    std::vector<Run> runs;
    for (const char* s = argv[1]; *s;) {
        const char* e = std::strchr(s, ',');
        const std::string name = e ? std::string(s, e) : std::string(s);
        const auto impl = enum_from_name<AttentionImpl>(name);
        if (!impl) {
            std::fprintf(stderr, "bench_attention: unknown kernel \"%s\" (expected eager or flash)\n", name.c_str());
            return 2;
        }
        runs.push_back({*impl, {}, 0, 0});
        s = e ? e + 1 : s + std::strlen(s);
    }
    Allocator alloc(be, 0);
    OpContext ctx{alloc, be, 1};
    ctx.seq = T;
    const int64_t rows = B * T, W = 3 * H * hd, d = H * hd;
    Tensor x32 = ctx.make({rows, W}, Category::input), dy32 = ctx.make({rows, d}, Category::input);
    be.fill_normal(x32.f(), x32.numel(), 1.0f, 1, 2);
    be.fill_normal(dy32.f(), dy32.numel(), 1.0f, 1, 3);
    Tensor x = ctx.cast_to(x32, t, Category::input), dy = ctx.cast_to(dy32, t, Category::input);
    x32.reset();
    dy32.reset();
    const int64_t inputs = alloc.live_total();
    for (int step = 0; step < steps + 1; ++step)
        for (Run& r : runs) {
            LayerSpec spec;
            spec.type = LayerType::attention;
            spec.heads = H;
            spec.causal = causal;
            spec.p = p;
            spec.impl = r.impl;
            auto layer = make_layer(spec, ctx, "attn", 0);
            alloc.begin_step(nullptr);
            const auto t0 = std::chrono::steady_clock::now();
            {
                StatePtr st;
                ctx.dropout_stream = 7;
                Tensor y = layer->forward(ctx, x, &st);
                y.reset();  // what stays is what forward keeps (flash keeps its output)
                r.kept = alloc.live_total() - inputs;
                Tensor dx = layer->backward(ctx, *st, dy, true);
            }
            be.synchronize();  // a GPU's kernels have run
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (step > 0) r.ms.push_back(ms);  // the first is a warm-up (pages, caches)
            r.peak = alloc.peak_total() - inputs;
        }
    for (Run& r : runs) {
        std::sort(r.ms.begin(), r.ms.end());
        std::printf("{\"impl\": \"%s\", \"B\": %lld, \"T\": %lld, \"H\": %lld, \"hd\": %lld, \"causal\": %s, \"p\": %g, "
                    "\"dtype\": \"%s\", \"threads\": %d, \"min_ms\": %.3f, \"median_ms\": %.3f, \"peak_bytes\": %lld, "
                    "\"kept_bytes\": %lld}\n",
                    std::string(enum_name(r.impl)).c_str(), (long long)B, (long long)T, (long long)H, (long long)hd,
                    causal ? "true" : "false", p, t == ElemType::f32 ? "f32" : "bf16", omp_get_max_threads(), r.ms.front(),
                    r.ms[r.ms.size() / 2], (long long)r.peak, (long long)r.kept);
    }
    return 0;
}
