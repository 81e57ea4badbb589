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

#include "backends/backend.h"
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

// conv2d on a GPU: im2col columns, (in / groups * k * k) x (Ho * Wo) elements of type t per
// image, for `conv_chunk` images at a time, as many as fit 64 MiB (a batched product per group);
// backward holds the columns and, when the input wants a gradient, the columns' gradient. A
// pointwise convolution (1x1, stride 1, no padding) reads its input as the columns and needs none.
inline int64_t conv_chunk(DeviceKind kind, int64_t batch, int64_t per_image_bytes) {
    if (kind != DeviceKind::cuda || per_image_bytes <= 0) return 1;
    const int64_t fit = (int64_t(64) << 20) / per_image_bytes;
    return fit < 1 ? 1 : fit > batch ? batch : fit;
}

// conv2d on the CPU: the batch in tiles of `images` images (at least kCpuConvTileColumns output
// pixels, one image when it has that many or the convolution is pointwise), each tile one product
// per group and direction; the tiles are dealt in order to `slot_count` slots (at most kCpuConvSlots),
// which run in parallel, each in its own part of the scratch. A slot holds a tile's columns, its
// output (or output gradient) in the products' (C_out, images x Ho x Wo) layout when the tile has
// more than one image, and in backward the columns' gradient when the input wants one; each slot
// after the first sums its tiles' weight gradient in its own f32 copy, and the copies are added to
// the first slot's in slot order, so the sum is the same for any thread count. The tiling depends
// on the shape alone, never on the threads, so the bytes predicted here are those used.
constexpr int64_t kCpuConvSlots = 4, kCpuConvTileColumns = 256;
struct CpuConvTiling {
    int64_t images = 1, tiles = 1, slot_count = 1;
};
inline CpuConvTiling cpu_conv_tiling(const ConvShape& s) {
    const int64_t P = s.out_h() * s.out_w();
    CpuConvTiling c;
    c.images = s.pointwise() || P >= kCpuConvTileColumns ? 1 : (kCpuConvTileColumns + P - 1) / P;
    c.images = c.images > s.batch ? s.batch : c.images;
    c.tiles = (s.batch + c.images - 1) / c.images;
    c.slot_count = c.tiles < kCpuConvSlots ? c.tiles : kCpuConvSlots;
    return c;
}
// The bytes of one slot's parts, each a multiple of 64 (so every part is aligned like the
// scratch), and of a weight-gradient copy.
struct CpuConvSlot {
    int64_t cols = 0, out = 0, dcols = 0, partial = 0;
    int64_t bytes() const { return cols + out + dcols; }
};
inline CpuConvSlot cpu_conv_slot(const ConvShape& s, bool forward, bool need_dx, ElemType t) {
    const auto round = [](int64_t b) { return (b + 63) / 64 * 64; };
    const CpuConvTiling c = cpu_conv_tiling(s);
    const int64_t columns = c.images * s.out_h() * s.out_w(), e = elem_size(t);
    CpuConvSlot sl;
    sl.cols = s.pointwise() ? 0 : round(s.col_rows() * columns * e);
    sl.out = c.images > 1 ? round(s.out_channels / s.groups * columns * e) : 0;
    if (!forward) {
        sl.dcols = need_dx ? sl.cols : 0;
        sl.partial = round(s.out_channels * s.col_rows() * 4);
    }
    return sl;
}

inline int64_t conv_forward_scratch_bytes(DeviceKind kind, const ConvShape& s, ElemType t) {
    if (kind == DeviceKind::cuda) {
        if (s.pointwise()) return 0;
        const int64_t per = s.col_rows() * s.out_h() * s.out_w() * elem_size(t);
        return conv_chunk(kind, s.batch, per) * per;
    }
    return cpu_conv_tiling(s).slot_count * cpu_conv_slot(s, true, false, t).bytes();
}
inline int64_t conv_backward_scratch_bytes(DeviceKind kind, const ConvShape& s, bool need_dx, ElemType t) {
    if (kind == DeviceKind::cuda) return (need_dx ? 2 : 1) * conv_forward_scratch_bytes(kind, s, t);
    const int64_t n = cpu_conv_tiling(s).slot_count;
    const CpuConvSlot sl = cpu_conv_slot(s, false, need_dx, t);
    return n * sl.bytes() + (n - 1) * sl.partial;
}

}  // namespace ckpt
