// Engine side of the CPU benchmark: times full training steps (forward, loss, backward,
// optimizer) of a model spec with a checkpoint policy and prints one JSON line per workload,
// which run_cpu_bench.py sets beside PyTorch's figures. Not a test: timings on shared machines
// are noisy, so the figures go to the README with date and machine, never into an assertion.
//
//   bench_engine MODEL.json POLICY[/BLOCK_POLICY] [steps] [threads] [--no-events] [--device D] [--tf32]
// POLICY is a --checkpoint policy (none, all, sqrt, ...); BLOCK_POLICY, when given, sets every
// block's selective policy (full, save_matmuls, attention_core). On a GPU the step is timed by
// the host around Session::step, which returns once the device has finished the step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/names.h"
#include "ckpt/session.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_engine MODEL.json POLICY [steps] [threads] [--no-events]\n");
        return 2;
    }
    std::vector<std::string> pos;
    bool events = true, tf32 = false;
    std::string device = "cpu";
    for (int i = 3; i < argc; ++i) {
        if (std::strcmp(argv[i], "--no-events") == 0) events = false;
        else if (std::strcmp(argv[i], "--tf32") == 0) tf32 = true;
        else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else pos.push_back(argv[i]);
    }
    const int steps = pos.size() > 0 ? std::atoi(pos[0].c_str()) : 10;
    const int threads = pos.size() > 1 ? std::atoi(pos[1].c_str()) : 0;
    auto spec = ckpt::load_model_spec(argv[1]);
    if (!spec) { std::fprintf(stderr, "bench_engine: %s\n", spec.error().message.c_str()); return 2; }
    std::string policy_text = argv[2], block_policy;
    if (auto slash = policy_text.find('/'); slash != std::string::npos) {
        block_policy = policy_text.substr(slash + 1);
        policy_text = policy_text.substr(0, slash);
    }
    if (auto p = ckpt::enum_from_name<ckpt::BlockSpec::Policy>(block_policy))
        for (ckpt::BlockSpec& b : spec->blocks) b.policy = *p;
    auto policy = ckpt::parse_checkpoint_set(policy_text, int(spec->blocks.size()));
    if (!policy) { std::fprintf(stderr, "bench_engine: %s\n", policy.error().message.c_str()); return 2; }
    ckpt::apply_checkpoint_set(*spec, *policy);
    ckpt::RunSettings settings;
    settings.threads = threads;
    settings.device = device;
    settings.tf32 = tf32;
    auto session = ckpt::Session::create(*spec, settings);
    if (!session) { std::fprintf(stderr, "bench_engine: %s\n", session.error().message.c_str()); return 2; }

    ckpt::StepOptions opts;
    opts.record_events = events;
    opts.checksum = false;  // verification, not training: PyTorch does not hash its gradients either
    std::vector<double> ms, engine_ms;  // host wall time per step; the engine's own (CUDA events on a GPU)
    ckpt::StepReport last;
    for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps: first-touch pages, optimizer state
        const auto t0 = std::chrono::steady_clock::now();
        last = (*session)->step(opts);
        const auto t1 = std::chrono::steady_clock::now();
        if (last.status != ckpt::StepStatus::ok) { std::fprintf(stderr, "bench_engine: %s\n", last.message.c_str()); return 1; }
        if (s >= 2) {
            ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            engine_ms.push_back(double(last.step_ns) / 1e6);
        }
    }
    std::sort(ms.begin(), ms.end());
    std::sort(engine_ms.begin(), engine_ms.end());
    const double median = ms[ms.size() / 2];
    std::printf("{\"model\": \"%s\", \"policy\": \"%s\", \"events\": %s, \"median_ms\": %.6f, \"min_ms\": %.6f, "
                "\"peak_bytes\": %lld, \"activation_peak_bytes\": %lld, \"recompute_ms\": %.6f, \"device\": \"%s\", "
                "\"reserved_peak_bytes\": %lld, \"workspace_bytes\": %lld, \"tf32\": %s, \"engine_step_ms\": %.6f}\n",
                spec->name.c_str(), argv[2], events ? "true" : "false", median, ms.front(),
                static_cast<long long>(last.peak_total),
                static_cast<long long>(last.peak[int(ckpt::Category::activation)]), double(last.recompute_ns) / 1e6,
                last.device.c_str(), static_cast<long long>(last.device_memory.reserved_peak),
                static_cast<long long>(last.device_memory.workspace), last.tf32 ? "true" : "false",
                engine_ms[engine_ms.size() / 2]);
    return 0;
}
