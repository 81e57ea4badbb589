// Scratch space an op asks the tracking allocator for, in floats. It depends on how a device's
// kernels are organised: the CPU walks one attention head at a time and needs one (T, T)
// matrix, a GPU works on every head of a batch element at once and needs (heads, T, T). It is
// answered per kind of device rather than by a backend object, so the dry backend can predict
// a GPU's bytes on a machine that has none.
#pragma once

#include <cstdint>

#include "ckpt/session.h"

namespace ckpt {

// The dropped-out probabilities when p > 0.
inline int64_t attention_forward_scratch(DeviceKind kind, int64_t seq, int64_t heads, bool dropout) {
    if (!dropout) return 0;
    return (kind == DeviceKind::cuda ? heads : 1) * seq * seq;
}

// The gradient of the scores, and the dropped-out probabilities (always on the CPU, which
// keeps its historical layout; on a GPU only when p > 0).
inline int64_t attention_backward_scratch(DeviceKind kind, int64_t seq, int64_t heads, bool dropout) {
    if (kind == DeviceKind::cuda) return (dropout ? 2 : 1) * heads * seq * seq;
    return 2 * seq * seq;
}

}  // namespace ckpt
