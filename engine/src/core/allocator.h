// The tracking allocator. Every tensor buffer of a session comes from here with a tag (category,
// block, layer, phase); it records one event per allocation or free, keeps live and peak bytes
// per category, and can refuse allocations past a limit ("pretend this is a 16 GB card"). On
// the dry backend it hands out no memory at all, so the same executor code predicts any size.
#pragma once

#include <array>
#include <memory>
#include <stdexcept>

#include "backends/backend.h"
#include "ckpt/memory.h"
#include "ckpt/report.h"

namespace ckpt {

class Allocator;
class Recorder;

// One buffer. Freed (and its free recorded) when the last Tensor referring to it goes away.
struct Storage {
    void* data = nullptr;
    int64_t bytes = 0;
    MemoryTag tag;
    Allocator* owner = nullptr;
    ~Storage();
};

// Thrown inside a step when an allocation is refused; the executor turns it into a report.
struct OutOfMemoryError : std::runtime_error {
    OutOfMemory info;
    explicit OutOfMemoryError(const OutOfMemory& i);
};

// The parallel layout that dry runs on this thread count for, while a DryRankScope lives (a
// thread-local context, like autocast's in PyTorch): every allocator on the dry backend made
// then shards as ZeRO does (set_shards), and every executor on one adds a sharded step's
// buffers (Executor::RankExtras) for its own blocks. The planner's and the predictor's dry runs
// then count one rank without knowing it (parallel.cpp sets the scope).
struct DryRank {
    int dp = 1;
    int zero = 0;             // ZeRO stage
    int64_t in_flight = 0;    // pipeline: the other microbatches' kept activations
    bool accumulating = false;  // microbatches > 1: the gradients are live from the step's start
    // Sequence parallelism: the sequence is split this many ways between the layers that gather
    // it (LayerSpec::sp_gather), so a later pipeline stage's input and an MSE target (the
    // gradient the next stage sends back) hold this rank's split only.
    int sequence_shards = 1;
    // DeepSpeed's mixed-precision model states (the ZeRO paper's K = 12): 16-bit parameters and
    // gradients, and the f32 master weights with the optimizer's state (ParallelLayout::states).
    bool sixteen_bit_states = false;
};
const DryRank* current_dry_rank();  // null outside every scope
class DryRankScope {
public:
    explicit DryRankScope(const DryRank& rank);
    ~DryRankScope();
    DryRankScope(const DryRankScope&) = delete;
    DryRankScope& operator=(const DryRankScope&) = delete;

private:
    DryRank rank_;
    const DryRank* outer_;
};

class Allocator {
public:
    Allocator(Backend& backend, int64_t limit);

    std::shared_ptr<Storage> allocate(int64_t bytes, Category category);
    // A transient buffer a layer decides to keep for backward moves to `category`.
    void retag(Storage& s, Category category);
    void release(Storage& s);

    void set_context(int block, int layer, Phase phase) { ctx_ = {Category::temporary, block, layer, phase}; }
    const MemoryTag& context() const { return ctx_; }

    // Starts a step: resets peaks to what is live now; events go to `recorder` (may be null).
    void begin_step(Recorder* recorder);

    const CategoryBytes& live() const { return live_; }
    int64_t live_total() const { return live_total_; }
    const CategoryBytes& peak() const { return peak_; }
    int64_t peak_total() const { return peak_total_; }
    const CategoryBytes& at_peak() const { return at_peak_; }
    int64_t peak_event() const { return peak_event_; }
    const MemoryTag& peak_tag() const { return peak_tag_; }
    int64_t peak_stamp() const { return peak_stamp_; }  // a Clock stamp; 0 when nothing recorded
    bool dry_run() const { return !backend_.computes(); }
    int64_t limit() const { return limit_; }
    Backend& backend() { return backend_; }

    // The highest live total since open_window(), and the allocation that first reached it:
    // segment peaks for the planner's chain model.
    void open_window() {
        window_peak_ = live_total_;
        window_peak_tag_ = ctx_;
    }
    int64_t window_peak() const { return window_peak_; }
    const MemoryTag& window_peak_tag() const { return window_peak_tag_; }

private:
    void record(int64_t bytes, MemoryTag tag);

    Backend& backend_;
    int64_t limit_;
    MemoryTag ctx_;
    CategoryBytes live_{}, peak_{}, at_peak_{};
    int64_t live_total_ = 0, peak_total_ = 0, peak_event_ = -1, peak_stamp_ = 0;
    int64_t event_count_ = 0;
    int64_t window_peak_ = 0;
    MemoryTag window_peak_tag_;
    MemoryTag peak_tag_;
    Recorder* recorder_ = nullptr;
    // What a category's allocations count for on a rank (a DryRankScope): 1 whole; n > 1 each
    // buffer's shard of n, padded up to whole 4-byte elements (ZeRO's sharding of f32
    // parameters, gradients and optimizer state, padded as DeepSpeed pads each tensor); 0
    // nothing.
    std::array<int, kCategoryCount> shards_ = filled_shards(1);
    // The bytes a category's f32 element counts for (DryRank::sixteen_bit_states: parameters and
    // gradients 2, each Adam moment 6 with its share of the f32 master weights); 4 otherwise.
    std::array<int, kCategoryCount> elem_bytes_ = filled_shards(4);
    static std::array<int, kCategoryCount> filled_shards(int n) {
        std::array<int, kCategoryCount> a;
        a.fill(n);
        return a;
    }
};

}  // namespace ckpt
