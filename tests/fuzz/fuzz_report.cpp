// libFuzzer entry point for the report reader (File › Open run, `checkpointlab FILE.json`): every
// input is read as a JSON report, and besides "no crash, no sanitizer report, no hang" what the
// reader promises is checked, so a violation is a finding too:
//   - an error is one line, printable and short, of kind bad_input (or out_of_memory);
//   - an accepted report agrees with itself: an oracle written here, apart from the engine's
//     check (report_check.cpp), replays its events (per-category live bytes never negative,
//     live_total the running sum, the stated peaks, breakdown, peak event, tag and time those of
//     the replay, times in order and inside the step, spans inside the step, every block and
//     layer index inside the model) and adds up its totals in 128 bits;
//   - written again it reads back, and the second writing is byte-equal to the first;
//   - what the window does with an opened report runs without fault: the CSV timeline and the
//     Perfetto trace, the dry-run prediction beside it, and the Pareto sweep from its measured
//     block times (bounded: a cut-short sweep still returns its points).
// README ("Sanitizers and fuzzing") says how to run it; the seeds are reports of every preset
// (tests/fuzz/make_report_seeds.cpp), the report cases of tests/data/malformed and the recorded
// GPU reports, with tests/fuzz/report.dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ckpt/planner.h"
#include "ckpt/printable.h"
#include "ckpt/recorded_run.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "fuzz_promises.h"

namespace {

[[noreturn]] void broken(const char* promise, const std::string& detail) { fuzz::broken("fuzz_report", promise, detail); }
void check_error(const ckpt::Error& e) { fuzz::check_error("fuzz_report", e); }

bool in_model(int32_t block, int32_t layer, const ckpt::ModelSpec& spec) {
    if (block == -1) return layer == -1;
    if (block < 0 || size_t(block) >= spec.blocks.size()) return false;
    return layer >= -1 && int64_t(layer) < int64_t(spec.blocks[size_t(block)].layer_count());
}

// The oracle: the same facts as check_report, computed another way (128-bit sums, one pass that
// records every fact, then compares).
void oracle(const ckpt::StepReport& r, const ckpt::ModelSpec& spec) {
    using i128 = __int128;
    const i128 lo = INT64_MIN, hi = INT64_MAX;
    i128 kept = r.loss_kept_bytes, avoided = 0;
    for (const ckpt::BlockReport& b : r.blocks) {
        kept += b.kept_bytes;
        avoided += b.avoided_bytes;
        if (kept > hi || kept < lo || avoided > hi || avoided < lo) broken("a block total leaves int64", "");
    }
    if (r.blocks.size() != spec.blocks.size()) broken("block count", "");
    for (size_t i = 0; i < r.blocks.size(); ++i)
        if (r.blocks[i].layers.size() != spec.blocks[i].layer_count()) broken("layer count", std::to_string(i));
    if (!in_model(r.peak_tag.block, r.peak_tag.layer, spec)) broken("peak tag outside the model", "");
    if (!r.has_timeline) return;

    i128 live[ckpt::kCategoryCount], top[ckpt::kCategoryCount], at[ckpt::kCategoryCount];
    i128 sum = 0;
    for (int c = 0; c < ckpt::kCategoryCount; ++c) {
        live[c] = top[c] = at[c] = r.baseline[size_t(c)];
        sum += live[c];
    }
    i128 best = sum;
    int64_t best_event = -1;
    for (size_t i = 0; i < r.events.size(); ++i) {
        const ckpt::MemoryEvent& e = r.events[i];
        if (i > 0 && e.time_ns < r.events[i - 1].time_ns) broken("event times go back", std::to_string(i));
        if (e.time_ns < 0 || e.time_ns > r.step_ns) broken("event outside the step", std::to_string(i));
        if (!in_model(e.tag.block, e.tag.layer, spec)) broken("event outside the model", std::to_string(i));
        const int c = int(e.tag.category);
        live[c] += e.bytes;
        sum += e.bytes;
        if (live[c] < 0 || live[c] > hi) broken("category live bytes out of range", std::to_string(i));
        if (sum != i128(e.live_total)) broken("live_total is not the running sum", std::to_string(i));
        if (live[c] > top[c]) top[c] = live[c];
        if (e.bytes > 0 && sum > best) {
            best = sum;
            best_event = int64_t(i);
            for (int k = 0; k < ckpt::kCategoryCount; ++k) at[k] = live[k];
        }
    }
    for (int c = 0; c < ckpt::kCategoryCount; ++c) {
        if (top[c] != r.peak[size_t(c)]) broken("stated category peak", std::to_string(c));
        if (at[c] != r.at_peak[size_t(c)]) broken("stated at-peak breakdown", std::to_string(c));
    }
    if (best != r.peak_total) broken("stated peak total", "");
    if (best_event != r.peak_event) broken("stated peak event", "");
    if (best_event >= 0) {
        const ckpt::MemoryEvent& p = r.events[size_t(best_event)];
        if (p.time_ns != r.peak_time_ns) broken("stated peak time", "");
        if (p.tag.block != r.peak_tag.block || p.tag.layer != r.peak_tag.layer || p.tag.phase != r.peak_tag.phase ||
            p.tag.category != r.peak_tag.category)
            broken("stated peak tag", "");
    }
    for (const ckpt::Span& s : r.spans) {
        if (s.start_ns < 0 || s.end_ns < s.start_ns || s.end_ns > r.step_ns) broken("span times", "");
        if (!in_model(s.block, s.layer, spec)) broken("span outside the model", "");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ckpt::Result<ckpt::RecordedRun> run = ckpt::parse_recorded_run(text);
    if (!run) {
        check_error(run.error());
        return 0;
    }
    const ckpt::StepReport& r = run->report;
    if (ckpt::Status st = ckpt::check_report(r, run->spec); !st) broken("accepted report fails check_report", st.message());
    oracle(r, run->spec);

    // The round trip: written, read, written again, byte-equal.
    const std::string first = ckpt::report_to_json(r, run->spec);
    const ckpt::Result<ckpt::RecordedRun> again = ckpt::parse_recorded_run(first);
    if (!again) broken("its own writing refused", again.error().message);
    if (ckpt::report_to_json(again->report, again->spec) != first) broken("round trip not byte-equal", "");

    // What File › Export run and the window compute from it.
    (void)ckpt::timeline_csv(r);
    (void)ckpt::trace_json(r);
    (void)r.kept_bytes_total();
    (void)r.avoided_bytes_total();
    const ckpt::DeviceKind device = r.device.rfind("cuda", 0) == 0 ? ckpt::DeviceKind::cuda : ckpt::DeviceKind::cpu;
    (void)ckpt::predict(run->spec, 1, device);
    std::vector<double> forward;
    for (const ckpt::BlockReport& b : r.blocks) forward.push_back(double(b.forward_ns));
    if (auto chain = ckpt::ChainModel::build(run->spec, forward, device)) {
        // A small bound: the sweep must stop cleanly, not finish (a unit over 5 s is a hang). Since
        // the sweep plans segments beside blocks at each budget, 2,000,000 let Llama-3-8B's report
        // take 4-7 s under ASan on a busy 2-core machine.
        ckpt::PlanLimits limits;
        limits.max_work = 500000;
        const ckpt::ParetoSweep sweep = ckpt::pareto_sweep(*chain, 16, &limits);
        if (sweep.points.empty()) broken("a sweep without points", sweep.cut_short);
    }
    return 0;
}
