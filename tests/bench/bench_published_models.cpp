// "Will it fit" for published models, timed: imports each config of tests/data/configs (or the
// files given), predicts one bf16 step at 8192 tokens (GPT-2 at its 1024 positions, Mistral at
// its 4096-token window) and builds the plan table for an 80 GB budget: the work behind
// `checkpointlab import` + `checkpointlab plan` and the GUI's prediction. Prints milliseconds
// (best of 3); the README records them (target: Llama-3-8B at 8192 tokens under a second).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "ckpt/units.h"

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
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) files.push_back(argv[i]);
    if (files.empty())
        for (const char* f : {"gpt2.json", "qwen2_0_5b.json", "mistral_7b.json", "llama3_8b.json"})
            files.push_back(std::string(CKPT_SOURCE_DIR "/tests/data/configs/") + f);
    const int64_t budget = int64_t(80) * 1000 * 1000 * 1000;
    for (const std::string& file : files) {
        // GPT-2 has 1024 positions, Mistral-7B-v0.1 a 4096-token sliding window.
        const int64_t seq = file.find("gpt2") != std::string::npos      ? 1024
                            : file.find("mistral") != std::string::npos ? 4096
                                                                        : 8192;
        ckpt::Result<ckpt::ModelSpec> spec = ckpt::import_hf_config_file(file, 1, seq);
        if (!spec) { std::fprintf(stderr, "%s\n", spec.error().message.c_str()); return 1; }
        spec->precision = ckpt::Precision::bf16_mixed;
        ckpt::Result<ckpt::StepReport> step = ckpt::Error{"not run"};
        ckpt::Result<ckpt::PlanTable> table = ckpt::Error{"not run"};
        const double import_ms = best_ms(3, [&] { (void)ckpt::import_hf_config_file(file, 1, seq); });
        const double predict_ms = best_ms(3, [&] { step = ckpt::predict(*spec, 2); });
        const double plan_ms = best_ms(3, [&] { table = ckpt::plan_table(*spec, ckpt::PlannerKind::dp, budget); });
        if (!step || !table) { std::fprintf(stderr, "%s: prediction failed\n", file.c_str()); return 1; }
        const ckpt::PlanCandidate* chosen = table->chosen_candidate();
        std::printf("%-16s %14s parameters, 1 x %lld tokens bf16: import %.1f ms | predict %.1f ms (peak %s) | "
                    "plan at 80 GB %.1f ms (%s)\n",
                    spec->name.c_str(), ckpt::format_count(ckpt::parameter_count(*spec)).c_str(),
                    static_cast<long long>(seq), import_ms, predict_ms, ckpt::format_bytes(step->peak_total).c_str(),
                    plan_ms, chosen ? ("fits, peak " + ckpt::format_bytes(chosen->plan.predicted_peak)).c_str() : "no plan fits");
    }
    return 0;
}
