// Engine side of the CPU benchmark: times full training steps (forward, loss, backward,
// optimizer) of a model spec with a checkpoint policy and prints one JSON line per workload,
// which run_cpu_bench.py sets beside PyTorch's figures. Not a test: timings on shared machines
// are noisy, so the figures go to the README with date and machine, never into an assertion.
//
//   bench_engine MODEL.json CONFIG[,CONFIG...] [steps] [threads] [--no-events] [--device D] [--tf32]
// A CONFIG is POLICY[/BLOCK_POLICY][:no-events]: POLICY a --checkpoint policy (none, all, sqrt,
// ...); BLOCK_POLICY, when given, sets every block's selective policy (full, save_matmuls,
// attention_core); ":no-events" (or --no-events for all) turns event recording off. Several
// configurations run in one process, a session each, their steps interleaved (A B A B ...), so
// that a change in the machine's load between them, the bane of a shared machine, falls on all
// alike and their ratio (a checkpoint overhead, the cost of recording) holds. On a GPU the step
// is timed by the host around Session::step, which returns once the device has finished it.
// Besides the wall time of every timed step it reports the process's CPU time per step (what a
// step costs the cores, a steadier figure than the wall time on a busy machine) and, on the CPU,
// what the backend's thread pool did in a step: its parallel loops, the pieces the calling
// thread and the other threads ran, and the time the calling thread waited for pieces another
// thread had started (where a step waits for its threads).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_pool.h"
#include "ckpt/names.h"
#include "ckpt/session.h"

namespace {

struct Config {
    std::string text;  // as given, for the output
    std::unique_ptr<ckpt::Session> session;
    ckpt::StepOptions opts;
    std::vector<double> ms, engine_ms;  // host wall time per step; the engine's own (CUDA events on a GPU)
    std::vector<double> cpu_ms;         // the process's CPU time per step, all threads
    double recompute_ms = -1;           // the least over the steps, as for the step
    ckpt::cpu::PoolStats pool;          // summed over the timed steps
    ckpt::StepReport last;
};

double cpu_now_ms() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

std::string json_list(const std::vector<double>& v) {
    std::string out = "[";
    char buf[32];
    for (size_t i = 0; i < v.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.6f", i ? ", " : "", v[i]);
        out += buf;
    }
    return out + "]";
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t from = 0;
    for (size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + 1) out.push_back(s.substr(from, at - from));
    out.push_back(s.substr(from));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_engine MODEL.json CONFIG[,CONFIG...] [steps] [threads] [--no-events] "
                             "[--device D] [--tf32]\n");
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
    const auto loaded = ckpt::load_model_spec(argv[1]);
    if (!loaded) { std::fprintf(stderr, "bench_engine: %s\n", loaded.error().message.c_str()); return 2; }
    std::vector<Config> configs;
    for (const std::string& text : split(argv[2], ',')) {
        Config c;
        c.text = text;
        std::string policy_text = text, block_policy;
        bool config_events = events;
        if (auto colon = policy_text.find(':'); colon != std::string::npos) {
            if (policy_text.substr(colon + 1) != "no-events") {
                std::fprintf(stderr, "bench_engine: unknown option in \"%s\"\n", text.c_str());
                return 2;
            }
            config_events = false;
            policy_text = policy_text.substr(0, colon);
        }
        if (auto slash = policy_text.find('/'); slash != std::string::npos) {
            block_policy = policy_text.substr(slash + 1);
            policy_text = policy_text.substr(0, slash);
        }
        ckpt::ModelSpec spec = *loaded;
        if (!block_policy.empty()) {
            const auto p = ckpt::enum_from_name<ckpt::BlockSpec::Policy>(block_policy);
            if (!p) {
                std::fprintf(stderr, "bench_engine: unknown block policy \"%s\" (expected full, save_matmuls or "
                                     "attention_core)\n", block_policy.c_str());
                return 2;
            }
            for (ckpt::BlockSpec& b : spec.blocks) b.policy = *p;
        }
        auto policy = ckpt::parse_checkpoint_set(policy_text, int(spec.blocks.size()));
        if (!policy) { std::fprintf(stderr, "bench_engine: %s\n", policy.error().message.c_str()); return 2; }
        ckpt::apply_checkpoint_set(spec, *policy);
        ckpt::RunSettings settings;
        settings.threads = threads;
        settings.device = device;
        settings.tf32 = tf32;
        auto session = ckpt::Session::create(spec, settings);
        if (!session) { std::fprintf(stderr, "bench_engine: %s\n", session.error().message.c_str()); return 2; }
        c.session = std::move(*session);
        c.opts.record_events = config_events;
        c.opts.checksum = false;  // verification, not training: PyTorch does not hash its gradients either
        configs.push_back(std::move(c));
    }
    for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps: first-touch pages, optimizer state
        for (Config& c : configs) {
            c.session->recycle(std::move(c.last));  // as the CLI's run loop does
            ckpt::cpu::reset_pool_stats();
            const double c0 = cpu_now_ms();
            const auto t0 = std::chrono::steady_clock::now();
            c.last = c.session->step(c.opts);
            const auto t1 = std::chrono::steady_clock::now();
            const double c1 = cpu_now_ms();
            const ckpt::cpu::PoolStats ps = ckpt::cpu::pool_stats();
            if (c.last.status != ckpt::StepStatus::ok) {
                std::fprintf(stderr, "bench_engine: %s: %s\n", c.text.c_str(), c.last.message.c_str());
                return 1;
            }
            if (s >= 2) {
                c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                c.engine_ms.push_back(double(c.last.step_ns) / 1e6);
                c.cpu_ms.push_back(c1 - c0);
                c.pool.loops += ps.loops;
                c.pool.serial_loops += ps.serial_loops;
                c.pool.caller_pieces += ps.caller_pieces;
                c.pool.helper_pieces += ps.helper_pieces;
                c.pool.wait_ns += ps.wait_ns;
                const double r = double(c.last.recompute_ns) / 1e6;
                if (c.recompute_ms < 0 || r < c.recompute_ms) c.recompute_ms = r;
            }
        }
    }
    for (Config& c : configs) {
        const std::vector<double> in_order = c.ms;  // the steps as they ran, for the spread
        std::sort(c.ms.begin(), c.ms.end());
        std::sort(c.engine_ms.begin(), c.engine_ms.end());
        std::sort(c.cpu_ms.begin(), c.cpu_ms.end());
        const ckpt::StepReport& last = c.last;
        const double n = double(steps);
        std::printf("{\"model\": \"%s\", \"policy\": \"%s\", \"events\": %s, \"median_ms\": %.6f, \"min_ms\": %.6f, "
                    "\"max_ms\": %.6f, \"steps_ms\": %s, \"cpu_ms\": %.6f, "
                    "\"peak_bytes\": %lld, \"activation_peak_bytes\": %lld, \"recompute_ms\": %.6f, \"device\": \"%s\", "
                    "\"reserved_peak_bytes\": %lld, \"workspace_bytes\": %lld, \"tf32\": %s, \"engine_step_ms\": %.6f, "
                    "\"pool_loops\": %.1f, \"pool_serial_loops\": %.1f, \"pool_caller_pieces\": %.1f, "
                    "\"pool_helper_pieces\": %.1f, \"pool_wait_ms\": %.6f}\n",
                    loaded->name.c_str(), c.text.c_str(), c.opts.record_events ? "true" : "false", c.ms[c.ms.size() / 2],
                    c.ms.front(), c.ms.back(), json_list(in_order).c_str(), c.cpu_ms[c.cpu_ms.size() / 2],
                    static_cast<long long>(last.peak_total),
                    static_cast<long long>(last.peak[int(ckpt::Category::activation)]),
                    c.recompute_ms, last.device.c_str(),
                    static_cast<long long>(last.device_memory.reserved_peak),
                    static_cast<long long>(last.device_memory.workspace), last.tf32 ? "true" : "false",
                    c.engine_ms[c.engine_ms.size() / 2], double(c.pool.loops) / n, double(c.pool.serial_loops) / n,
                    double(c.pool.caller_pieces) / n, double(c.pool.helper_pieces) / n, double(c.pool.wait_ns) / 1e6 / n);
    }
    return 0;
}
