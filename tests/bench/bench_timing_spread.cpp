// How far one measured time can be trusted on a busy machine: the spread of a step's times
// over runs, taken as a single sample against the median of timed repeats (RunSettings::repeats),
// while other processes load every core. One session, a warm-up step, then `runs` single-sample
// steps and `runs` repeated steps interleaved (one, repeated, one, repeated, ...), so that the
// load falls on both alike. For the step, its recomputation and each block's recomputation it
// prints the largest deviation of a run from the median of the runs, and max/min. Not a test:
// the figures go to the README with the date, machine and load.
//
//   bench_timing_spread [--runs 10] [--repeats 5] [--load N] [--threads T] MODEL.json
// --load N starts N busy processes for the duration (default: one per core; 0 for none).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/session.h"

namespace {

struct Spread {
    double median = 0, worst = 0, ratio = 0;  // ms; largest |x / median - 1|; max / min
};

Spread spread(std::vector<double> v) {
    Spread s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.median = v[(v.size() - 1) / 2];
    for (double x : v) s.worst = std::max(s.worst, s.median > 0 ? std::fabs(x / s.median - 1.0) : 0.0);
    s.ratio = v.front() > 0 ? v.back() / v.front() : 0;
    return s;
}

void print(const char* what, const char* how, const Spread& s) {
    std::printf("  %-28s %-18s median %9.3f ms   worst run %+7.1f %%   max/min %5.2fx\n", what, how, s.median,
                100.0 * s.worst, s.ratio);
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 10, repeats = 5, threads = 0;
    long load = sysconf(_SC_NPROCESSORS_ONLN);
    std::string model;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--load") == 0 && i + 1 < argc) load = std::atol(argv[++i]);
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
        else model = argv[i];
    }
    if (model.empty() || runs < 2 || repeats < 2) {
        std::fprintf(stderr, "usage: bench_timing_spread [--runs 10] [--repeats 5] [--load N] [--threads T] MODEL.json\n");
        return 2;
    }
    // The load first, before this process starts any thread: children that spin until killed.
    std::vector<pid_t> loaders;
    for (long i = 0; i < load; ++i) {
        const pid_t pid = fork();
        if (pid == 0) {
            volatile double x = 1.0;
            for (;;) x = x * 1.0000001 + 1e-9;
        }
        if (pid > 0) loaders.push_back(pid);
    }
    auto stop_load = [&] {
        for (pid_t pid : loaders) kill(pid, SIGKILL);
        for (pid_t pid : loaders) waitpid(pid, nullptr, 0);
    };

    auto spec = ckpt::load_model_spec(model);
    if (!spec) {
        stop_load();
        std::fprintf(stderr, "%s\n", spec.error().message.c_str());
        return 1;
    }
    ckpt::RunSettings settings;
    settings.threads = threads;
    auto session = ckpt::Session::create(*spec, settings);
    if (!session) {
        stop_load();
        std::fprintf(stderr, "%s\n", session.error().message.c_str());
        return 1;
    }
    (*session)->step({});  // warm-up
    const size_t nblocks = spec->blocks.size();
    // [0]: single samples, [1]: medians of `repeats`.
    std::vector<double> step[2], rec[2];
    std::vector<std::vector<double>> block_rec[2];
    block_rec[0].resize(nblocks);
    block_rec[1].resize(nblocks);
    for (int r = 0; r < runs; ++r) {
        for (int k = 0; k < 2; ++k) {
            ckpt::StepOptions opts;
            opts.repeats = k == 0 ? 1 : repeats;
            const ckpt::StepReport rep = (*session)->step(opts);
            if (rep.status != ckpt::StepStatus::ok) {
                stop_load();
                std::fprintf(stderr, "%s\n", rep.message.c_str());
                return 1;
            }
            step[k].push_back(double(rep.step_ns) / 1e6);
            rec[k].push_back(double(rep.recompute_ns) / 1e6);
            for (size_t b = 0; b < nblocks; ++b) block_rec[k][b].push_back(double(rep.blocks[b].recompute_ns) / 1e6);
        }
    }
    stop_load();

    std::printf("%s: %d runs, %ld busy processes beside it, %d checkpointed of %zu blocks\n", spec->name.c_str(), runs,
                long(loaders.size()), [&] { int n = 0; for (auto& b : spec->blocks) n += b.checkpoint; return n; }(),
                nblocks);
    char median_of[32];
    std::snprintf(median_of, sizeof median_of, "median of %d", repeats);
    for (int k = 0; k < 2; ++k) print("step", k == 0 ? "single sample" : median_of, spread(step[k]));
    for (int k = 0; k < 2; ++k) print("recomputation (all blocks)", k == 0 ? "single sample" : median_of, spread(rec[k]));
    // Each checkpointed block's recomputation: the worst block of each kind.
    for (int k = 0; k < 2; ++k) {
        Spread worst;
        size_t at = 0;
        for (size_t b = 0; b < nblocks; ++b) {
            const Spread s = spread(block_rec[k][b]);
            if (s.median > 0 && s.worst >= worst.worst) worst = s, at = b;
        }
        char what[64];
        std::snprintf(what, sizeof what, "recomputation, worst block %zu", at);
        print(what, k == 0 ? "single sample" : median_of, worst);
    }
    return 0;
}
