// Scratch space an op asks the tracking allocator for, in bytes. It depends on how a device's
// kernels are organised and on the precision: the CPU walks one attention head at a time and
// needs (T, T) matrices, a GPU works on every head of a batch element at once and needs
// (heads, T, T); in a mixed-precision run the scores and the dropped-out probabilities that go
// into the matrix products are held in 16 bits. It is answered per kind of device rather than
// by a backend object, so the dry backend can predict a GPU's bytes on a machine that has none.
#pragma once

#include <cstdint>

#include "ckpt/session.h"
#include "core/elem_type.h"

namespace ckpt {

// Rotary embeddings: Q and K rotated by position, for the whole batch (rows x (heads +
// kv_heads) x head_dim of type t), laid out before the per-head matrices.
inline int64_t rope_scratch_bytes(int64_t rows, int64_t heads, int64_t kv_heads, int64_t head_dim, bool rope, ElemType t) {
    return rope ? rows * (heads + kv_heads) * head_dim * elem_size(t) : 0;
}

// f32: the dropped-out probabilities when p > 0. 16-bit: the scores, then (in the same place)
// the probabilities as the product P V reads them.
inline int64_t attention_forward_scratch_bytes(DeviceKind kind, int64_t seq, int64_t heads, bool dropout, ElemType t) {
    const int64_t per = (kind == DeviceKind::cuda ? heads : 1) * seq * seq;
    if (t == ElemType::f32) return dropout ? per * 4 : 0;
    return per * elem_size(t);
}

// f32: the gradient of the scores and the dropped-out probabilities (always on the CPU, which
// keeps its historical layout; on a GPU the second only when p > 0). 16-bit: the probabilities
// as the products read them, and the gradient of the scores.
inline int64_t attention_backward_scratch_bytes(DeviceKind kind, int64_t seq, int64_t heads, bool dropout,
                                                ElemType t) {
    const int64_t per = (kind == DeviceKind::cuda ? heads : 1) * seq * seq;
    if (t != ElemType::f32) return 2 * per * elem_size(t);
    if (kind == DeviceKind::cuda) return (dropout ? 2 : 1) * per * 4;
    return 2 * per * 4;
}

}  // namespace ckpt
