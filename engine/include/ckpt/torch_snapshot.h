// A PyTorch CUDA memory snapshot (the pickle `torch.cuda.memory._dump_snapshot()` writes, after
// `torch.cuda.memory._record_memory_history()`), read into the report the timeline chart, the CSV
// and Perfetto writers take, so that what PyTorch measured on the user's own GPU is drawn as a
// step run here is. The file is read by the restricted unpickler (pickle.h): nothing in it runs.
//
// What is taken from it (the manual's command-line.md, import-torch-snapshot, says the same for users):
//   - one device's trace ("device_traces"): the one asked for, else the one with the most entries;
//   - allocated bytes: an `alloc` adds its size, a `free_completed` takes it away (as PyTorch's
//     memory_viz draws active memory; `free_requested` only counts). A block freed in the trace
//     but allocated before it began (the trace is a ring buffer) was live from the start: it is
//     the baseline, unattributed (a free's frames are where it was freed);
//   - reserved bytes: `segment_alloc`/`segment_map` add, `segment_free`/`segment_unmap` take
//     away, from the reserved bytes at the start, which are the "segments" at the snapshot minus
//     what the trace added; kept over time (reserved_over_time) for the chart's reserved line;
//   - times: `time_us` when every entry has it and they never go back, else the entries' order;
//   - an `oom` entry: counted, the first described (bytes asked for and free, when). The report's
//     status stays ok: PyTorch raised an exception the program may have caught and gone on.
// Categories come from each allocation's stack frames, only where a frame says so
// (attribute_frames below); the rest is Category::unattributed, never guessed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/memory.h"
#include "ckpt/pickle.h"
#include "ckpt/report.h"
#include "ckpt/result.h"

namespace ckpt {

// The rule that put an allocation in its category (the summary counts allocations per rule).
enum class SnapshotRule : uint8_t {
    none,              // no frame says: unattributed
    recompute,         // a frame of torch/utils/checkpoint.py's recomputation: recomputed
    accumulate_grad,   // a frame named AccumulateGrad (C++ stacks): gradient
    optimizer_kept,    // allocated in torch/optim/ and never freed in the trace: optimizer_state
    optimizer_freed,   // allocated in torch/optim/ and freed in the trace: temporary
    module_apply,      // torch/nn/modules/module.py's _apply (model.cuda(), .to()): parameter
    backward,          // an autograd frame, nothing more specific: unattributed, phase backward
};
inline constexpr int kSnapshotRuleCount = 7;
std::string_view snapshot_rule_name(SnapshotRule r);  // "recompute", "optimizer_kept", ...

// What stack frames say about one allocation. `freed`: whether the trace frees it.
struct FrameAttribution {
    Category category = Category::unattributed;
    Phase phase = Phase::setup;  // setup where no frame says when
    SnapshotRule rule = SnapshotRule::none;
};
struct SnapshotFrame {
    std::string_view filename, name;
};
FrameAttribution attribute_frames(const std::vector<SnapshotFrame>& frames, bool freed);

struct TorchSnapshot {
    // Events tagged block -1, layer -1, no blocks and no spans; device_memory holds the reserved
    // bytes at the end and their peak.
    StepReport report;
    int device = 0;                 // the device whose trace this is
    int devices_traced = 0;         // devices with a non-empty trace
    struct Trace {
        int device = 0;
        int64_t entries = 0;
    };
    std::vector<Trace> traces;      // every device with a non-empty trace, in device order
    bool device_chosen = false;     // `device` was asked for, not the longest
    bool timed = false;             // event times are time_us; else time_ns is the entry's index
    int64_t entries = 0;            // trace entries of that device
    int64_t allocs = 0, frees = 0;  // alloc and free_completed entries
    int64_t free_requests = 0, segment_entries = 0, other_entries = 0;  // the rest, counted
    int64_t baseline_blocks = 0;    // freed in the trace, allocated before it began
    int64_t reserved_start = 0, reserved_peak = 0, reserved_end = 0;
    int64_t reserved_peak_entry = -1;
    // Reserved bytes over the trace: at the start, then after each segment entry. `time_ns` is
    // on the events' clock (time_us from the first entry, or the entry's index); `events_before`
    // counts the alloc and free_completed events before it (the x of an untimed chart).
    struct ReservedPoint {
        int64_t time_ns = 0, events_before = 0, bytes = 0;
    };
    std::vector<ReservedPoint> reserved_over_time;
    int64_t segments = 0;           // segments of that device at the snapshot
    int64_t ooms = 0;               // oom entries; the first:
    int64_t oom_entry = -1, oom_requested = 0, oom_device_free = 0, oom_time_ns = 0;
    std::string oom_message;        // one line, "" without an oom
    std::array<int64_t, kSnapshotRuleCount> allocs_by_rule{};
    std::array<int64_t, kCategoryCount> allocs_by_category{};
};

// The largest snapshot read: that of the unpickler.
inline constexpr size_t kMaxSnapshotBytes = kMaxPickleBytes;

// `name` names the file in the report ("model_name"). `device` >= 0 reads that device's trace
// (an error when it has none: "device_traces: device 3 has no trace entries (traced: 0, 1)"); -1
// the longest. Errors are one line: the unpickler's, or the first field that is not as PyTorch
// writes it ("device_traces[0][12].size: expected an int"), or a trace that contradicts itself
// (a block freed twice, reserved bytes below zero).
Result<TorchSnapshot> parse_torch_snapshot(std::string_view data, std::string_view name = "snapshot", int device = -1);
// Errors start with the path; a file that cannot be read is an io error.
Result<TorchSnapshot> load_torch_snapshot(const std::string& path, int device = -1);
// The import's figures as JSON (`import-torch-snapshot --report`): devices, entries, allocated
// and reserved bytes at start, peak and end, allocations per category and per rule, the oom.
std::string torch_snapshot_json(const TorchSnapshot& s);
Status write_torch_snapshot_json(const std::string& path, const TorchSnapshot& s);

}  // namespace ckpt
