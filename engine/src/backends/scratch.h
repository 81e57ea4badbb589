// Scratch space an op asks the tracking allocator for, in bytes. It depends on how a device's
// kernels are organised and on the precision: a GPU works on every head of a batch element at once
// and needs (heads, T, T); the CPU does too for short sequences (its heads in parallel, backward a
// pair of (T, T) per key/value head), and for long ones walks the heads one at a time with one
// (T, T) slot (cpu_attention_slots); in a mixed-precision run the scores and the dropped-out
// probabilities that go into the matrix products are held in 16 bits. It is answered per kind of
// device rather than by a backend object, so the dry backend can predict a GPU's bytes on a
// machine that has none.
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

// How many (T, T) slots the CPU's attention works in: one per head (forward) or per key/value
// head (backward) while a head's products are too small for OpenBLAS to split among threads
// (GPT-2's 64 x 64), so that the heads run in parallel instead; one for long sequences, whose
// products OpenBLAS splits itself, so that the scratch stays a single (T, T) where it is large.
constexpr int64_t kCpuParallelHeadsMaxSeq = 256;
inline int64_t cpu_attention_slots(int64_t seq, int64_t heads) { return seq <= kCpuParallelHeadsMaxSeq ? heads : 1; }

// f32: the dropped-out probabilities when p > 0. 16-bit: the scores, then (in the same place)
// the probabilities as the product P V reads them.
inline int64_t attention_forward_scratch_bytes(DeviceKind kind, int64_t seq, int64_t heads, bool dropout, ElemType t) {
    const int64_t per = (kind == DeviceKind::cuda ? heads : cpu_attention_slots(seq, heads)) * seq * seq;
    if (t == ElemType::f32) return dropout ? per * 4 : 0;
    return per * elem_size(t);
}

// f32: the gradient of the scores and the dropped-out probabilities (always on the CPU, which
// keeps its historical layout; on a GPU the second only when p > 0). 16-bit: the probabilities
// as the products read them, and the gradient of the scores. On a GPU per head; on the CPU
// per slot, a slot per key/value head when they run in parallel (its query heads in turn).
inline int64_t attention_backward_scratch_bytes(DeviceKind kind, int64_t seq, int64_t heads, int64_t kv_heads,
                                                bool dropout, ElemType t) {
    const int64_t per = (kind == DeviceKind::cuda ? heads : cpu_attention_slots(seq, kv_heads)) * seq * seq;
    if (t != ElemType::f32) return 2 * per * elem_size(t);
    if (kind == DeviceKind::cuda) return (dropout ? 2 : 1) * per * 4;
    return 2 * per * 4;
}

// Fused (flash) attention keeps no (T, T) buffer. Its scratch starts with the rotary copy of Q and
// K (as eager's, rounded up to 64 bytes so that the f32 parts after it stay aligned); then:
//   GPU: backward's D = rowsum(dO * O) per row and head, (batch, heads, T) f32. The tiles live in
//        each thread block's shared memory, which the tracking allocator does not see.
//   CPU: slots of per-tile buffers, one per worker thread, and backward's D; a 16-bit backward
//        also accumulates dQ in f32 for the whole batch (FlashAttention-2's dq_accum) before
//        rounding it once. A forward work item is (batch, head, query tile), a backward one
//        (batch, key/value head): its query heads and tiles in a fixed order, so the gradients of
//        a shared key/value head and of each query row add up in the same order on every run.
//        The slot count is min(items, kCpuFlashMaxSlots), fixed rather than the thread count, so
//        that a dry run predicts the bytes of any machine; past 64 threads the kernel uses 64.
constexpr int64_t kCpuFlashTile = 64;  // query rows and key rows per tile
constexpr int64_t kCpuFlashMaxSlots = 64;
inline int64_t round_up_64(int64_t bytes) { return (bytes + 63) / 64 * 64; }
inline int64_t cpu_flash_tiles(int64_t seq) { return (seq + kCpuFlashTile - 1) / kCpuFlashTile; }
inline int64_t cpu_flash_slots(int64_t items) { return items < kCpuFlashMaxSlots ? items : kCpuFlashMaxSlots; }
inline int64_t flash_rope_bytes(int64_t rows, int64_t heads, int64_t kv_heads, int64_t head_dim, bool rope, ElemType t) {
    return round_up_64(rope_scratch_bytes(rows, heads, kv_heads, head_dim, rope, t));
}

// One CPU slot, in bytes from the slot's start, every part 64-byte aligned (0 bytes: not used).
// Forward: s the scores then probabilities of a tile (Br, Bc); o the output accumulator (Br, hd);
// m, l the running maximum and sum per row; keep the dropout decisions (Br, Bc) bytes; q, k, v
// the tiles widened to f32 for a 16-bit input. Backward: s, dp (the gradient of the dropped-out
// probabilities, then dS) (Br, Bc); dk, dv accumulators (Bc, hd); keep; q, k, v, dout widened.
struct CpuFlashSlot {
    int64_t s = 0, dp = 0, o = 0, m = 0, l = 0, dk = 0, dv = 0, keep = 0, q = 0, k = 0, v = 0, dout = 0;
    int64_t bytes = 0;
};
inline CpuFlashSlot cpu_flash_slot(int64_t head_dim, bool dropout, ElemType t, bool forward) {
    const int64_t tile = kCpuFlashTile * kCpuFlashTile * 4, rows = kCpuFlashTile * head_dim * 4;
    const bool wide = t != ElemType::f32;
    CpuFlashSlot c;
    int64_t at = 0;
    auto part = [&at](int64_t& where, int64_t bytes) {
        where = at;
        at += round_up_64(bytes);
    };
    part(c.s, tile);
    if (forward) {
        part(c.o, rows);
        part(c.m, kCpuFlashTile * 4);
        part(c.l, kCpuFlashTile * 4);
    } else {
        part(c.dp, tile);
        part(c.dk, rows);
        part(c.dv, rows);
    }
    if (dropout) part(c.keep, kCpuFlashTile * kCpuFlashTile);
    if (wide) {
        part(c.q, rows);
        part(c.k, rows);
        part(c.v, rows);
        if (!forward) part(c.dout, rows);
    }
    c.bytes = at;
    return c;
}

// The whole scratch of one call; the offsets of its parts from the scratch's start.
struct FlashScratch {
    int64_t slot_count = 0;  // CPU slots (0 on a GPU)
    int64_t slot_at = 0;  // first slot
    int64_t d_at = 0;     // backward's D (batch, heads, T) f32
    int64_t dq_at = 0;    // CPU 16-bit backward's dQ accumulator (batch * T, heads * hd) f32
    int64_t bytes = 0;
};
inline FlashScratch flash_scratch(DeviceKind kind, int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads,
                                  int64_t head_dim, bool rope, bool dropout, ElemType t, bool forward) {
    FlashScratch f;
    int64_t at = flash_rope_bytes(batch * seq, heads, kv_heads, head_dim, rope, t);
    if (!forward) {
        f.d_at = at;
        at += round_up_64(batch * heads * seq * 4);
    }
    if (kind == DeviceKind::cuda) {
        f.bytes = at;
        return f;
    }
    if (!forward && t != ElemType::f32) {
        f.dq_at = at;
        at += round_up_64(batch * seq * heads * head_dim * 4);
    }
    f.slot_count = cpu_flash_slots(forward ? batch * heads * cpu_flash_tiles(seq) : batch * kv_heads);
    f.slot_at = at;
    f.bytes = at + f.slot_count * cpu_flash_slot(head_dim, dropout, t, forward).bytes;
    return f;
}

// conv2d's im2col columns: (in / groups * k * k) x (Ho * Wo) elements of type t per image, for
// `conv_chunk` images at a time: one on the CPU (a product per image), on a GPU as many as fit
// 64 MiB (a batched product per group). A pointwise convolution (1x1, stride 1, no padding)
// reads its input as the columns and needs none. Backward holds the columns and, when the input
// wants a gradient, the columns' gradient.
inline int64_t conv_chunk(DeviceKind kind, int64_t batch, int64_t per_image_bytes) {
    if (kind != DeviceKind::cuda || per_image_bytes <= 0) return 1;
    const int64_t fit = (int64_t(64) << 20) / per_image_bytes;
    return fit < 1 ? 1 : fit > batch ? batch : fit;
}
inline int64_t conv_columns_bytes(DeviceKind kind, int64_t batch, int64_t in_channels, int64_t kernel, int64_t out_h,
                                  int64_t out_w, bool pointwise, ElemType t) {
    if (pointwise) return 0;
    const int64_t per = in_channels * kernel * kernel * out_h * out_w * elem_size(t);
    return conv_chunk(kind, batch, per) * per;
}
inline int64_t conv_forward_scratch_bytes(DeviceKind kind, int64_t batch, int64_t in_channels, int64_t kernel,
                                          int64_t out_h, int64_t out_w, bool pointwise, ElemType t) {
    return conv_columns_bytes(kind, batch, in_channels, kernel, out_h, out_w, pointwise, t);
}
inline int64_t conv_backward_scratch_bytes(DeviceKind kind, int64_t batch, int64_t in_channels, int64_t kernel,
                                           int64_t out_h, int64_t out_w, bool pointwise, bool need_dx, ElemType t) {
    return (need_dx ? 2 : 1) * conv_columns_bytes(kind, batch, in_channels, kernel, out_h, out_w, pointwise, t);
}

}  // namespace ckpt
