// What one training step produced: timings per block and phase, bytes kept and avoided per
// block, peaks per category and where they happened, the full memory/span timeline and a
// gradient checksum. Writers (writers.h) turn it into JSON, CSV, a Perfetto trace or tensors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/checked.h"
#include "ckpt/memory.h"
#include "ckpt/result.h"

namespace ckpt {

// A timed interval. layer == -1 marks a whole block's phase (the spans the charts draw);
// block == -1 with phase loss/optimizer marks the loss and the optimizer step.
struct Span {
    Span() = default;
    // A constructor, as MemoryEvent's (memory.h): the recorder builds spans in place.
    Span(int32_t block_, int32_t layer_, Phase phase_, int64_t start, int64_t end)
        : block(block_), layer(layer_), phase(phase_), start_ns(start), end_ns(end) {}

    int32_t block = -1;
    int32_t layer = -1;
    Phase phase = Phase::forward;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
};

// A host copy of a tensor, for the safetensors dump (row-major).
struct NamedTensor {
    std::string name;
    std::vector<int64_t> shape;
    enum class Type { f32, i64 } type = Type::f32;
    std::vector<float> f32;
    std::vector<int64_t> i64;
};

// The spread of a time measured over the timed repeats of one step (RunSettings::repeats): the
// figure itself (StepReport::step_ns, BlockReport::forward_ns, ...) is the median of the repeats,
// lo and hi their lower and upper quartiles (for 5 repeats the 2nd and 4th fastest), so that one
// repeat a busy machine disturbed moves neither. With one repeat both equal the figure.
struct TimeRange {
    int64_t lo_ns = 0, hi_ns = 0;
    // Half the range over the median: the "±x %" a figure is shown with (0 for one repeat).
    double relative(int64_t median_ns) const {
        return median_ns > 0 ? 0.5 * double(hi_ns - lo_ns) / double(median_ns) : 0.0;
    }
    bool operator==(const TimeRange&) const = default;
};

// The phase times of one timed repeat of a step, in ns.
struct RepeatTimes {
    int64_t step_ns = 0, forward_ns = 0, loss_ns = 0, backward_ns = 0, recompute_ns = 0, optimizer_ns = 0;
    bool operator==(const RepeatTimes&) const = default;
};

// Per-layer attribution inside a block (selective checkpointing shows up here).
struct LayerReport {
    std::string type;              // "linear", "attention", ...
    bool saved = false;            // kept rather than recomputed inside a checkpointed block
    int64_t kept_bytes = 0;        // bytes this layer holds for backward after forward
    int64_t recomputed_bytes = 0;  // bytes its recomputation rematerialised
};

struct BlockReport {
    int index = 0;
    std::string name;
    bool checkpoint = false;
    int64_t forward_ns = 0;
    int64_t backward_ns = 0;   // the block's own backward, recomputation excluded
    int64_t recompute_ns = 0;  // re-running forward inside backward (0 unless checkpointed)
    int64_t kept_bytes = 0;            // bytes held for backward at the end of forward
    int64_t kept_bytes_unchecked = 0;  // what the block would hold without checkpointing
    int64_t avoided_bytes = 0;         // kept_bytes_unchecked - kept_bytes
    int64_t recomputed_bytes = 0;      // bytes its recomputation rematerialised and kept for backward
    int64_t input_kept_bytes = 0;      // part of kept_bytes: the input a checkpointed block keeps
    int64_t weight_cast_bytes = 0;     // mixed precision: 16-bit weight copies kept for backward
    std::vector<LayerReport> layers;
    // The checkpointed run the block is recomputed with (first and last block; both its own
    // index when checkpointed alone, -1 when not checkpointed): see recompute_segments.
    int segment_first = -1, segment_last = -1;
    // The quartiles of forward_ns, backward_ns and recompute_ns over the step's repeats (last,
    // so that a brace-initialised report keeps its order).
    TimeRange forward_range, backward_range, recompute_range;
};

enum class StepStatus { ok, stopped, out_of_memory, failed };

struct OutOfMemory {
    MemoryTag tag;            // block, layer and phase of the allocation that failed
    int64_t requested = 0;
    int64_t free_bytes = 0;   // limit minus live at that moment (device: what it reported free)
    int64_t limit = 0;
    bool device = false;      // the device refused (cudaMalloc failed), not the memory limit
};

// What the device held besides the tensors the categories count (CUDA; zeros on the CPU except
// the pool). Requested bytes are the categories; reserved is what the backend's pool took from
// the driver to serve them, like torch.cuda.memory_reserved beside memory_allocated.
struct DeviceMemoryReport {
    int64_t reserved = 0;        // at the end of the step
    int64_t reserved_peak = 0;   // highest during the step
    int64_t workspace = 0;       // cuBLAS workspace and the backend's reduction buffers
    int64_t context = 0;         // CUDA context and runtime, measured before the backend took any
    int64_t total = 0;           // the device's memory
};

struct StepReport {
    StepStatus status = StepStatus::ok;
    std::string message;  // one line when status != ok
    OutOfMemory oom;      // filled when status == out_of_memory

    std::string model_name;
    std::string device;  // "cpu (2 threads)", "cuda:0 (NVIDIA H200)"
    bool tf32 = false;   // CUDA GEMMs ran on TF32 tensor cores (not bitwise comparable to f32)
    std::string precision = "f32";  // "f32", "bf16-mixed", "fp16-mixed"
    float loss_scale = 1.0f;         // fp16: the loss scale this step's backward used
    bool step_skipped = false;       // fp16: gradients overflowed, the optimizer step was skipped
    int step = 0;        // 1-based within the session
    bool dry_run = false;
    // A prediction for one rank of a parallel layout (parallel.h): which rank of which layout,
    // "rank 0 (stage 0, blocks 0-16) of dp 8 (ZeRO-3) x tp 1 x pp 1"; empty for one device.
    std::string parallel;
    double loss = 0.0;

    // Every time is the median of `repeats` timed repeats of this same step (the session's state
    // put back before each, so they compute the same numbers; memory is that of one step and
    // equal in all of them); the ranges are their quartiles. The events and spans are those of
    // `kept_repeat`, the repeat whose step time is the median. One repeat: the step's own times.
    int64_t step_ns = 0;
    int64_t forward_ns = 0, loss_ns = 0, backward_ns = 0, recompute_ns = 0, optimizer_ns = 0;
    int repeats = 1;
    int kept_repeat = 0;
    TimeRange step_range, forward_range, loss_range, backward_range, recompute_range, optimizer_range;
    std::vector<RepeatTimes> repeat_times;  // each repeat's phase times in the order they ran (empty for one)

    std::vector<BlockReport> blocks;
    int64_t loss_kept_bytes = 0;  // what the loss keeps for its backward (e.g. softmax output)

    CategoryBytes baseline{};      // live bytes per category when the step started
    CategoryBytes peak{};          // peak of each category on its own during the step
    int64_t peak_total = 0;        // peak of the sum
    CategoryBytes at_peak{};       // the breakdown at the moment of peak_total
    int64_t peak_event = -1;       // index into events of the event that reached peak_total
    MemoryTag peak_tag;            // who allocated at that moment
    int64_t peak_time_ns = 0;
    DeviceMemoryReport device_memory;

    std::vector<MemoryEvent> events;
    std::vector<Span> spans;
    // The events and spans were recorded (StepOptions::record_events): a step run without them,
    // or a report read from a file written before reports carried them, has none to draw, and
    // its JSON report leaves them out rather than claim an empty timeline.
    bool has_timeline = true;

    // A 64-bit FNV-1a-style hash over the raw bits of every parameter gradient, taken as 64-bit
    // words, in parameter order: equal checksums mean bitwise-equal gradients (barring a 2^-64
    // collision). The sums are for humans. Computed after the step's timings are taken.
    uint64_t gradient_checksum = 0;
    double gradient_sum = 0.0;
    double gradient_abs_sum = 0.0;
    bool preserve_rng = true;
    bool dropout_present = false;

    std::vector<NamedTensor> tensors;  // input, target, parameters, output, gradients on request

    // Figures derived from the blocks, computed here once so every front end and writer shows
    // the same number.
    // The two totals saturate at the int64 bounds (checked.h); a report read from a file is
    // refused when they would (recorded_run.h), so a shown total is always the exact sum.
    int64_t kept_bytes_total() const {  // sum of blocks' kept_bytes plus the loss's
        int64_t t = loss_kept_bytes;
        for (const BlockReport& b : blocks) t = saturating_add(t, b.kept_bytes);
        return t;
    }
    int checkpointed_blocks() const {
        int n = 0;
        for (const BlockReport& b : blocks) n += b.checkpoint ? 1 : 0;
        return n;
    }
    // What checkpointing saved over the whole model (single blocks can be negative; see README).
    int64_t avoided_bytes_total() const {
        int64_t t = 0;
        for (const BlockReport& b : blocks) t = saturating_add(t, b.avoided_bytes);
        return t;
    }
    // The recomputation overhead, recomputation over the rest of the step (0.12 is +12 %): the
    // median over the repeats of each repeat's own ratio, and the quartiles of those ratios as
    // `lo` and `hi` when asked.
    double recompute_overhead(double* lo = nullptr, double* hi = nullptr) const;
    // Sets every range (the step's, its phases', each block's) to its figure: one sample.
    void single_sample_ranges();
};

// The median and quartiles (TimeRange) of `samples`, as the report's figures take them: the lower
// median (a sample that was measured) and the samples a quarter in from either end.
int64_t median_of(std::vector<int64_t> samples, TimeRange* range = nullptr);

std::string_view status_name(StepStatus s);  // "ok", "stopped", "out_of_memory", "failed"
// The error kind of a step that did not finish: stopped, out_of_memory, or (failed: the system
// refused memory outside the limit) device. bad_input for ok, which is no error.
inline ErrorKind error_kind(StepStatus s) {
    switch (s) {
    case StepStatus::stopped: return ErrorKind::stopped;
    case StepStatus::out_of_memory: return ErrorKind::out_of_memory;
    case StepStatus::failed: return ErrorKind::device;
    case StepStatus::ok: break;
    }
    return ErrorKind::bad_input;
}

}  // namespace ckpt
