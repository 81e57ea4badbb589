// Writes the seeds of fuzz_report: a JSON report of every preset, as `checkpointlab run --report`
// writes it (real CPU steps where the model is small, the dry run the window offers for the
// others, whose bytes are the same to the byte), and the kinds of report a run can leave besides a
// complete step: out of memory under a limit, stopped, and without a timeline. The recorded GPU
// reports and the malformed report cases are in tests/data and are passed to the fuzzer as they
// are.
//
//   make_report_seeds PRESET_DIR OUT_DIR
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"

namespace {

namespace fs = std::filesystem;

// Small enough to step for real in seconds, even under AddressSanitizer.
bool small(const ckpt::ModelSpec& spec) {
    double flops = 0;
    for (double f : ckpt::block_forward_flops(spec)) flops += f;
    const auto p = ckpt::predict(spec, 1);
    return flops < 2e8 && p && p->peak_total < (int64_t(64) << 20);
}

bool write(const fs::path& out, const std::string& name, const ckpt::StepReport& r, const ckpt::ModelSpec& spec) {
    const ckpt::Status st = ckpt::write_report_json((out / (name + ".json")).string(), r, spec);
    if (!st) std::fprintf(stderr, "make_report_seeds: %s\n", st.message().c_str());
    return st.ok();
}

// Two steps (the second has optimizer state, as the window's second step), the second written.
bool seed(const fs::path& out, const std::string& name, const ckpt::ModelSpec& spec, ckpt::RunSettings settings,
          const ckpt::StepOptions& options = {}) {
    auto session = ckpt::Session::create(spec, settings);
    if (!session) {
        std::fprintf(stderr, "make_report_seeds: %s: %s\n", name.c_str(), session.error().message.c_str());
        return false;
    }
    (*session)->step();
    return write(out, name, (*session)->step(options), spec);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_report_seeds PRESET_DIR OUT_DIR\n");
        return 2;
    }
    const fs::path out = argv[2];
    fs::create_directories(out);
    bool ok = true;
    int written = 0;
    for (const fs::directory_entry& f : fs::directory_iterator(argv[1])) {
        if (f.path().extension() != ".json") continue;
        const auto spec = ckpt::load_model_spec(f.path().string());
        if (!spec) {
            std::fprintf(stderr, "make_report_seeds: %s\n", spec.error().message.c_str());
            ok = false;
            continue;
        }
        const std::string name = "report_" + f.path().stem().string();
        ckpt::RunSettings settings;
        settings.dry_run = !small(*spec);
        ok = seed(out, name, *spec, settings) && ok;
        ++written;
        if (settings.dry_run) continue;
        // The other ends of a run, on the small models.
        ckpt::RunSettings limited = settings;
        const auto p = ckpt::predict(*spec, 2);
        limited.memory_limit = p ? p->peak_total * 3 / 4 : 0;
        ok = seed(out, name + "_oom", *spec, limited) && ok;
        std::atomic<bool> stop{true};
        ckpt::StepOptions stopped;
        stopped.stop = &stop;
        ok = seed(out, name + "_stopped", *spec, settings, stopped) && ok;
        ckpt::StepOptions quiet;
        quiet.record_events = false;
        ok = seed(out, name + "_no_timeline", *spec, settings, quiet) && ok;
        written += 3;
    }
    std::printf("make_report_seeds: %d reports in %s\n", written, out.string().c_str());
    return ok && written > 0 ? 0 : 1;
}
