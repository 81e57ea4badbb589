// What the tracking allocator records: the category every buffer belongs to, the tag that says
// which block/layer/phase asked for it, and one event per allocation or free. These are the
// numbers the whole product shows, so they are plain data that every front end can read.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "ckpt/checked.h"

namespace ckpt {

enum class Category : uint8_t {
    parameter,        // weights and biases
    buffer,           // state a layer keeps across steps that is not trained: batch norm's running statistics
    weight_cast,      // mixed precision: 16-bit copies of weights for the matrix products (autocast's)
    gradient,         // parameter gradients (allocated in backward, freed at the step's end)
    optimizer_state,  // AdamW moments, SGD momentum
    input,            // the batch and its target
    activation,       // forward tensors kept for backward
    recomputed,       // tensors rematerialised during backward of a checkpointed block
    temporary,        // transient: an op's output not kept, backward's flowing gradients, scratch
    // Parallel layouts (parallel.h): a sharded unit's parameters gathered for computing (ZeRO-3,
    // FSDP's all-gather) and its unsharded gradients awaiting the reduce-scatter.
    communication,
    // Bytes whose purpose the source does not say: only a PyTorch memory snapshot's allocations
    // that no stack frame attributes (torch_snapshot.h). The engine's own steps never use it.
    unattributed,
};
inline constexpr int kCategoryCount = 11;
using CategoryBytes = std::array<int64_t, kCategoryCount>;

enum class Phase : uint8_t { setup, forward, loss, backward, recompute, optimizer };
inline constexpr int kPhaseCount = 6;

std::string_view category_name(Category c);  // "parameter", "optimizer_state", ...
std::string_view phase_name(Phase p);        // "forward", "recompute", ...

// Block -1 means "outside every block" (the loss, the optimizer, set-up).
struct MemoryTag {
    Category category = Category::temporary;
    int32_t block = -1;
    int32_t layer = -1;
    Phase phase = Phase::setup;
};

// One allocation (bytes > 0) or free (bytes < 0). A retag (a transient output that a layer
// decides to keep for backward) is a free from the old category and an alloc in the new one
// at the same instant, so per-category live bytes stay exact.
struct MemoryEvent {
    MemoryEvent() = default;
    // A constructor rather than an aggregate, so that the recorder's emplace_back builds an
    // event in place in its vector on every compiler (clang 14 has no parenthesized aggregate
    // initialization, and GCC copies a braced temporary through the stack).
    // The tag is copied whole, padding and all (two stores from the registers it came in,
    // where member-wise it is four).
    MemoryEvent(int64_t time, int64_t bytes_, MemoryTag tag_, int64_t live)
        : time_ns(time), bytes(bytes_), live_total(live) {
        std::memcpy(&tag, &tag_, sizeof tag);
    }

    int64_t time_ns = 0;   // since the step started, monotonic
    int64_t bytes = 0;     // signed
    MemoryTag tag;
    int64_t live_total = 0;  // live bytes of all categories right after this event
};

// The sum over categories; saturated at the int64 bounds (checked.h: a report read from a file
// can hold any values, and the reader refuses those whose sums leave the range).
inline int64_t total(const CategoryBytes& b) {
    int64_t t = 0;
    for (int64_t v : b) t = saturating_add(t, v);
    return t;
}

}  // namespace ckpt
