// The engine's entry point: a Session owns a model's parameters, optimizer state and tracking
// allocator on one device and runs training steps. Runs report through an EventSink (live, on
// the calling thread) and return a StepReport. predict() runs the same executor without
// allocating or computing, so its byte counts are the executor's own, for any size.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"

namespace ckpt {

enum class DeviceKind { cpu, cuda };

struct DeviceInfo {
    DeviceKind kind = DeviceKind::cpu;
    int index = 0;
    std::string name;          // "cpu", "NVIDIA H100 80GB HBM3"
    int64_t total_bytes = 0;   // physical memory
    std::string id() const;    // "cpu", "cuda:0"
};

std::vector<DeviceInfo> available_devices();
// "cpu", "cuda", "cuda:N"; an error names what is missing ("no CUDA device: ...").
Result<DeviceInfo> find_device(const std::string& id);

struct RunSettings {
    std::string device = "cpu";
    int threads = 0;            // 0: OMP_NUM_THREADS or OPENBLAS_NUM_THREADS, else the cores (cpu_pool.h)
    int64_t memory_limit = 0;   // refuse allocations past this many live bytes (0: none)
    bool dry_run = false;       // count bytes, allocate and compute nothing
    bool tf32 = false;          // CUDA: GEMMs on TF32 tensor cores (faster, ~1e-3 relative error)
    // Timed repeats of every step (StepReport: its times are their medians, with quartiles); 0:
    // the device's default, default_repeats(). The engine's own default is one, a plain step; the
    // front ends ask for the device's default (ExperimentRun).
    int repeats = 1;

    bool operator==(const RunSettings&) const = default;
};

// Timed repeats of a step when RunSettings::repeats is 0: 5 on the CPU, where a busy machine
// makes a single sample vary several-fold and the median of five holds; 1 on CUDA, where events
// on the stream time a step to within a few per cent.
int default_repeats(DeviceKind kind);
constexpr int kMaxRepeats = 99;

// Receives events as they happen, on the thread that calls step(). Keep it cheap. With repeats,
// the events and spans of the first repeat come here; on_repeat announces each later one.
class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void on_memory(const MemoryEvent&) {}
    virtual void on_span(const Span&) {}
    virtual void on_repeat(int /*repeat, from 1*/, int /*repeats*/) {}
};

struct StepOptions {
    EventSink* sink = nullptr;
    const std::atomic<bool>* stop = nullptr;  // checked before every layer
    bool capture_tensors = false;             // fill StepReport::tensors
    bool record_events = true;                // keep events/spans in the report
    bool checksum = true;                     // hash the gradients (untimed; off in benchmarks)
    int repeats = 0;                          // timed repeats; 0: the session's RunSettings::repeats
};

class Session {
public:
    static Result<std::unique_ptr<Session>> create(const ModelSpec& spec, const RunSettings& settings = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // One training step: the optimizer moves once and the step number advances by one, whatever
    // the repeats. Repeats run the same step again from the same state (parameters, optimizer
    // state, buffers and counters copied to the host before the first and put back before each
    // later one), so they compute bitwise the same gradients and the same memory; only the
    // times differ, and the report gives their medians. A step that creates state (the first
    // optimizer step) or fails is not repeated: its report says repeats = 1.
    StepReport step(const StepOptions& options = {});
    // Hands back a report the caller is done with: the next step that keeps its events records
    // them and its spans into that report's vectors, so a loop of steps
    // (`recycle(std::move(r)); r = step();`) allocates nothing for its timeline. Between
    // steps, on the thread that calls step(), like every other call.
    void recycle(StepReport&& done);

    // The parameters as they are now (before the first step: as initialised) and the batch every
    // step trains on (it depends on the seed only), copied to the host under the names of
    // StepReport::tensors ("blocks.B.L.weight", "input", "target"). Between steps.
    std::vector<NamedTensor> tensors();

    // Change which blocks are checkpointed (and how they group into segments) between steps;
    // parameters are kept.
    Status set_checkpoint(const std::vector<bool>& checkpoint);
    Status set_checkpoint(const CheckpointSet& set);
    void set_preserve_rng(bool on);

    const ModelSpec& spec() const;
    const DeviceInfo& device() const;
    CategoryBytes live_bytes() const;  // what is allocated right now (between steps)
    int64_t parameter_count() const;

private:
    struct Impl;
    explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The report of `steps` steps (the last one is returned) computed without allocating or
// computing: exact byte counts and peaks for a device of `kind`; the times are only those of
// the dry run itself. Its work is linear in the model's layers. `stop`, set from another thread,
// ends it early with an ErrorKind::stopped error.
Result<StepReport> predict(const ModelSpec& spec, int steps = 1, DeviceKind kind = DeviceKind::cpu,
                           const std::atomic<bool>* stop = nullptr);

}  // namespace ckpt
