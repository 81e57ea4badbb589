// libFuzzer entry point for PyTorch memory snapshots (File › Open PyTorch snapshot,
// `checkpointlab import-torch-snapshot`): every input is read by the restricted unpickler and,
// when it is plain data, as a snapshot. Besides "no crash, no sanitizer report, no hang, no
// leak" (the memo makes cycles), what the reader promises is checked:
//   - an error is one line, printable and short, of kind bad_input (or out_of_memory);
//   - an accepted snapshot's report agrees with itself (check_report, as a report read from a
//     file), its live bytes never go negative and its peak is the highest running total;
//   - its JSON summary and CSV timeline are written without fault.
// Seeds: tests/data/torch_snapshots/*.pickle (bootstrap.sh sanitize runs them, then fuzzes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/pickle.h"
#include "ckpt/recorded_run.h"
#include "ckpt/torch_snapshot.h"
#include "ckpt/writers.h"
#include "fuzz_promises.h"

namespace {

[[noreturn]] void broken(const char* promise, const std::string& detail) {
    fuzz::broken("fuzz_torch_snapshot", promise, detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ckpt::Result<ckpt::PickleDoc> doc = ckpt::parse_pickle(text);
    if (!doc) fuzz::check_error("fuzz_torch_snapshot", doc.error());
    const ckpt::Result<ckpt::TorchSnapshot> s = ckpt::parse_torch_snapshot(text, "fuzz");
    if (!s) {
        fuzz::check_error("fuzz_torch_snapshot", s.error());
        return 0;
    }
    if (!doc) broken("a snapshot read from a pickle the unpickler refused", s->report.model_name);
    const ckpt::StepReport& r = s->report;
    if (ckpt::Status st = ckpt::check_report(r, ckpt::ModelSpec{}); !st) broken("report contradicts itself", st.message());
    __int128 live = 0, peak = 0;
    for (int64_t v : r.baseline) live += v;
    peak = live;
    for (const ckpt::MemoryEvent& e : r.events) {
        live += e.bytes;
        if (live < 0) broken("live bytes negative", "");
        if (live > peak) peak = live;
    }
    if (peak != r.peak_total) broken("peak is not the highest running total", "");
    if (s->reserved_start < 0 || s->reserved_peak < s->reserved_start) broken("reserved bytes", "");
    if (s->reserved_over_time.empty() || s->reserved_over_time.front().bytes != s->reserved_start)
        broken("reserved bytes over time do not start at the start", "");
    for (const auto& p : s->reserved_over_time)
        if (p.bytes < 0 || p.bytes > s->reserved_peak || p.events_before > int64_t(r.events.size()))
            broken("reserved bytes over time", "");
    (void)ckpt::torch_snapshot_json(*s);
    // Every other device's trace reads as well, or is refused with one line (--device-index).
    for (const ckpt::TorchSnapshot::Trace& t : s->traces) {
        if (t.device == s->device) continue;
        const ckpt::Result<ckpt::TorchSnapshot> other = ckpt::parse_torch_snapshot(text, "fuzz", t.device);
        if (!other) fuzz::check_error("fuzz_torch_snapshot", other.error());
        else if (other->device != t.device || other->entries != t.entries) broken("--device-index read another trace", "");
        break;  // one is enough: a file of many traces would be read as many times
    }
    (void)ckpt::timeline_csv(r);
    return 0;
}
