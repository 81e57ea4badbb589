// Fused (flash) attention on the CPU: FlashAttention-2's algorithm (Dao, 2023) in tiles of
// kCpuFlashTile query rows by kCpuFlashTile key rows, the products by OpenBLAS on each tile (one
// thread each: OpenBLAS runs single-threaded inside a parallel region). No (T, T) buffer exists:
// each worker thread owns a slot of per-tile buffers (scratch.h's CpuFlashSlot).
//
// Forward, per (batch, head, query tile): for each key tile (above the diagonal skipped when
// causal) S = scale Q K^T, an online softmax (running maximum m and sum l per row; the output
// accumulator rescaled by exp(m_old - m_new)), O += P V; then O / l and lse = m + log l.
// Backward, per (batch, key/value head): for each key tile, for each of its query heads in order,
// for each query tile (below the diagonal when causal): P = exp(S - lse) rebuilt, dP = dO V^T,
// dS = P (dP' - D) with D = rowsum(dO O) and dP' the gradient through dropout; dV += P'^T dO,
// dK += scale dS^T Q, dQ += scale dS K. dK and dV are complete when a key tile's loops end; dQ adds
// up over the key tiles in ascending order, in place (f32) or in an f32 accumulator rounded once
// (16-bit). Every sum runs in one fixed order, whatever the thread count.
//
// Dropout draws the keep decision of (b, h, q, k) from Philox element ((b H + h) T + q) T + k, the
// element the eager kernel's mask holds there, and backward draws it again: no mask is kept.
// 16-bit inputs are widened to f32 tile by tile (exactly), products accumulate in f32, and the
// probabilities and dS enter their products rounded to the input's type (as a tensor core's
// 16-bit operands do); the softmax and lse stay f32.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_math.h"
#include "backends/scratch.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t Bt = kCpuFlashTile;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Where one call's operands are. qk: Q and K (rotated, in the scratch, with rotary positions),
// row stride ldqk; V, O and the gradients in their own tensors.
struct Operands {
    ElemType t = ElemType::f32;
    int64_t B = 0, T = 0, H = 0, Hk = 0, hd = 0, g = 0, W = 0, d = 0, ldqk = 0, tiles = 0;
    const void* qk = nullptr;
    const void* qkv = nullptr;
    float scale = 1.0f, p = 0.0f, keep_scale = 1.0f;
    bool causal = false;
    uint64_t seed = 0, stream = 0;
};

Operands operands(ElemType t, const AttentionShape& a, const void* qkv, void* scratch, uint64_t seed, uint64_t stream) {
    Operands o;
    o.t = t;
    o.B = a.batch;
    o.T = a.seq;
    o.H = a.heads;
    o.Hk = a.kv_heads;
    o.hd = a.head_dim;
    o.g = a.group();
    o.W = a.width();
    o.d = a.out();
    o.tiles = cpu_flash_tiles(a.seq);
    o.qkv = qkv;
    o.scale = 1.0f / std::sqrt(float(a.head_dim));
    o.p = a.p;
    o.keep_scale = 1.0f / (1.0f - a.p);
    o.causal = a.causal;
    o.seed = seed;
    o.stream = stream;
    o.qk = qkv;
    o.ldqk = a.width();
    if (a.rope_theta > 0.0f) {  // Q and K rotated into the scratch's first part (as eager does)
        o.ldqk = (a.heads + a.kv_heads) * a.head_dim;
        rope_rotate(t, qkv, a.width(), scratch, o.ldqk, a.batch * a.seq, a.seq, a.heads + a.kv_heads, a.head_dim,
                    a.rope_theta, 1.0f);
        o.qk = scratch;
    }
    return o;
}

// A tile operand as OpenBLAS reads it: f32 in place, or 16-bit widened into a slot buffer.
struct TileView {
    const float* p;
    int64_t ld;
};
template <typename IO>
TileView tile(const void* src, int64_t ld, int64_t rows, int64_t cols, float* buf) {
    if constexpr (IO::type == ElemType::f32) {
        return {static_cast<const float*>(src), ld};
    } else {
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t c = 0; c < cols; ++c) buf[i * cols + c] = IO::load(src, i * ld + c);
        return {buf, cols};
    }
}

// What a product operand holds after rounding to the input's type (f32: unchanged).
template <typename IO>
float as_operand(float v) {
    if constexpr (IO::type == ElemType::f32) {
        return v;
    } else {
        uint16_t h;
        IO::store(&h, 0, v);
        return IO::load(&h, 0);
    }
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ElemType::f32, ElemType::f32);
}

// The keep decisions of rows [q0, q0 + nr) and keys [k0, k0 + nc) of head (b, h), (Bt, Bt) bytes.
void draw_tile(const Operands& o, uint8_t* keep, int64_t b, int64_t h, int64_t q0, int64_t nr, int64_t k0, int64_t nc) {
    for (int64_t i = 0; i < nr; ++i)
        draw_keep(keep + i * Bt, 0, nc, o.p, uint64_t(((b * o.H + h) * o.T + q0 + i) * o.T + k0), o.stream, o.seed);
}

// Keys of row i (of a tile at q0) that row sees in the key tile at k0: all nc, or up to the
// diagonal when causal.
int64_t visible(const Operands& o, int64_t q0, int64_t i, int64_t k0, int64_t nc) {
    if (!o.causal) return nc;
    return std::clamp<int64_t>(q0 + i - k0 + 1, 0, nc);
}

// Runs body(item, slot) for items [0, n) on min(threads, slots) threads; each thread has its slot.
template <typename Body>
void for_items(int64_t n, int64_t slots, Body body) {
    const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), slots)));
#pragma omp parallel num_threads(threads)
    {
        const int64_t slot = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n; ++item) body(item, slot);
    }
}

template <typename IO>
void forward(const Operands& o, void* out, float* lse, char* scratch, const FlashScratch& fs) {
    const CpuFlashSlot L = cpu_flash_slot(o.hd, o.p > 0.0f, o.t, true);
    const int64_t hd = o.hd, ldo = o.d;
    for_items(o.B * o.H * o.tiles, fs.slot_count, [&](int64_t item, int64_t slot) {
        const int64_t qt = item % o.tiles, h = (item / o.tiles) % o.H, b = item / (o.tiles * o.H), j = h / o.g;
        char* base = scratch + fs.slot_at + slot * L.bytes;
        float* S = reinterpret_cast<float*>(base + L.s);    // (Bt, Bt)
        float* O = reinterpret_cast<float*>(base + L.o);    // (Bt, hd)
        float* m = reinterpret_cast<float*>(base + L.m);    // (Bt)
        float* l = reinterpret_cast<float*>(base + L.l);    // (Bt)
        uint8_t* keep = o.p > 0.0f ? reinterpret_cast<uint8_t*>(base + L.keep) : nullptr;  // (Bt, Bt)
        const int64_t q0 = qt * Bt, nr = std::min(Bt, o.T - q0);
        const TileView Q = tile<IO>(offset(o.qk, (b * o.T + q0) * o.ldqk + h * hd, o.t), o.ldqk, nr, hd,
                                    reinterpret_cast<float*>(base + L.q));
        std::fill(O, O + nr * hd, 0.0f);
        std::fill(m, m + nr, kNegInf);
        std::fill(l, l + nr, 0.0f);
        const int64_t kt_end = o.causal ? qt + 1 : o.tiles;  // tiles above the diagonal are skipped
        for (int64_t kt = 0; kt < kt_end; ++kt) {
            const int64_t k0 = kt * Bt, nc = std::min(Bt, o.T - k0);
            const TileView K = tile<IO>(offset(o.qk, (b * o.T + k0) * o.ldqk + (o.H + j) * hd, o.t), o.ldqk, nc, hd,
                                        reinterpret_cast<float*>(base + L.k));
            const TileView V = tile<IO>(offset(o.qkv, (b * o.T + k0) * o.W + (o.H + o.Hk + j) * hd, o.t), o.W, nc, hd,
                                        reinterpret_cast<float*>(base + L.v));
            sgemm(false, true, nr, nc, hd, o.scale, Q.p, Q.ld, K.p, K.ld, 0.0f, S, Bt);  // S = scale Q K^T
            if (keep) draw_tile(o, keep, b, h, q0, nr, k0, nc);
            for (int64_t i = 0; i < nr; ++i) {
                float* s = S + i * Bt;
                const int64_t n = visible(o, q0, i, k0, nc);
                float mx = m[i];
                for (int64_t c = 0; c < n; ++c) mx = std::max(mx, s[c]);
                // The first tile a row sees has m = -inf: nothing accumulated yet to rescale.
                const float alpha = m[i] == kNegInf ? 0.0f : vexp(m[i] - mx);
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t c = 0; c < n; ++c) {
                    const float e = vexp(s[c] - mx);
                    sum += e;
                    s[c] = e;
                }
                for (int64_t c = n; c < nc; ++c) s[c] = 0.0f;  // masked: probability 0
                l[i] = alpha * l[i] + sum;
                m[i] = mx;
                float* orow = O + i * hd;
                for (int64_t c = 0; c < hd; ++c) orow[c] *= alpha;
                const uint8_t* kr = keep ? keep + i * Bt : nullptr;
                for (int64_t c = 0; c < n; ++c) {
                    const float v = kr ? (kr[c] ? s[c] * o.keep_scale : 0.0f) : s[c];
                    s[c] = as_operand<IO>(v);
                }
            }
            sgemm(false, false, nr, hd, nc, 1.0f, S, Bt, V.p, V.ld, 1.0f, O, hd);  // O += P V
        }
        for (int64_t i = 0; i < nr; ++i) {
            const float inv = 1.0f / l[i];
            for (int64_t c = 0; c < hd; ++c) IO::store(out, (b * o.T + q0 + i) * ldo + h * hd + c, O[i * hd + c] * inv);
            lse[(b * o.H + h) * o.T + q0 + i] = m[i] + std::log(l[i]);
        }
    });
}

template <typename IO>
void backward(const Operands& o, const void* out, const float* lse, const void* dout, void* dqkv, char* scratch,
              const FlashScratch& fs) {
    const CpuFlashSlot L = cpu_flash_slot(o.hd, o.p > 0.0f, o.t, false);
    const int64_t hd = o.hd, H = o.H, T = o.T;
    constexpr bool wide = IO::type != ElemType::f32;
    // D = rowsum(dO * O) per row and head (FlashAttention-2's preprocessing), in double.
    float* D = reinterpret_cast<float*>(scratch + fs.d_at);  // (B, H, T)
#pragma omp parallel for if (o.B * T * H * hd > (1 << 15))
    for (int64_t r = 0; r < o.B * T; ++r)
        for (int64_t h = 0; h < H; ++h) {
            double s = 0.0;
            for (int64_t c = 0; c < hd; ++c)
                s += double(IO::load(dout, r * o.d + h * hd + c)) * double(IO::load(out, r * o.d + h * hd + c));
            D[((r / T) * H + h) * T + r % T] = float(s);
        }
    // dQ accumulates in place (f32: dqkv's Q columns) or in the f32 accumulator (16-bit).
    float* dq = wide ? reinterpret_cast<float*>(scratch + fs.dq_at) : static_cast<float*>(dqkv);
    const int64_t lddq = wide ? H * hd : o.W;
    for_items(o.B * o.Hk, fs.slot_count, [&](int64_t item, int64_t slot) {
        const int64_t b = item / o.Hk, j = item % o.Hk;
        char* base = scratch + fs.slot_at + slot * L.bytes;
        float* S = reinterpret_cast<float*>(base + L.s);    // (Bt, Bt): P, then P' as dV's product reads it
        float* dP = reinterpret_cast<float*>(base + L.dp);  // (Bt, Bt): dP, then dS
        float* dK = reinterpret_cast<float*>(base + L.dk);  // (Bt, hd)
        float* dV = reinterpret_cast<float*>(base + L.dv);  // (Bt, hd)
        uint8_t* keep = o.p > 0.0f ? reinterpret_cast<uint8_t*>(base + L.keep) : nullptr;
        for (int64_t h = j * o.g; h < (j + 1) * o.g; ++h)
            for (int64_t r = 0; r < T; ++r) std::fill_n(dq + (b * T + r) * lddq + h * hd, hd, 0.0f);
        for (int64_t kt = 0; kt < o.tiles; ++kt) {
            const int64_t k0 = kt * Bt, nc = std::min(Bt, T - k0);
            const TileView K = tile<IO>(offset(o.qk, (b * T + k0) * o.ldqk + (H + j) * hd, o.t), o.ldqk, nc, hd,
                                        reinterpret_cast<float*>(base + L.k));
            const TileView V = tile<IO>(offset(o.qkv, (b * T + k0) * o.W + (H + o.Hk + j) * hd, o.t), o.W, nc, hd,
                                        reinterpret_cast<float*>(base + L.v));
            std::fill(dK, dK + nc * hd, 0.0f);
            std::fill(dV, dV + nc * hd, 0.0f);
            for (int64_t h = j * o.g; h < (j + 1) * o.g; ++h) {
                for (int64_t qt = o.causal ? kt : 0; qt < o.tiles; ++qt) {  // tiles above the diagonal skipped
                    const int64_t q0 = qt * Bt, nr = std::min(Bt, T - q0);
                    const TileView Q = tile<IO>(offset(o.qk, (b * T + q0) * o.ldqk + h * hd, o.t), o.ldqk, nr, hd,
                                                reinterpret_cast<float*>(base + L.q));
                    const TileView dO = tile<IO>(offset(dout, (b * T + q0) * o.d + h * hd, o.t), o.d, nr, hd,
                                                 reinterpret_cast<float*>(base + L.dout));
                    sgemm(false, true, nr, nc, hd, o.scale, Q.p, Q.ld, K.p, K.ld, 0.0f, S, Bt);  // S = scale Q K^T
                    sgemm(false, true, nr, nc, hd, 1.0f, dO.p, dO.ld, V.p, V.ld, 0.0f, dP, Bt);  // dP = dO V^T
                    if (keep) draw_tile(o, keep, b, h, q0, nr, k0, nc);
                    const float* lrow = lse + (b * H + h) * T + q0;
                    const float* drow = D + (b * H + h) * T + q0;
                    for (int64_t i = 0; i < nr; ++i) {
                        float* s = S + i * Bt;
                        float* dp = dP + i * Bt;
                        const uint8_t* kr = keep ? keep + i * Bt : nullptr;
                        const int64_t n = visible(o, q0, i, k0, nc);
                        const float li = lrow[i], di = drow[i];
                        for (int64_t c = 0; c < n; ++c) {
                            const float pr = vexp(s[c] - li);  // the probability, rebuilt
                            float g = dp[c];                   // the gradient of the dropped-out one
                            float pd = pr;
                            if (kr) {
                                g = kr[c] ? g * o.keep_scale : 0.0f;
                                pd = kr[c] ? pr * o.keep_scale : 0.0f;
                            }
                            dp[c] = as_operand<IO>(pr * (g - di));  // dS (unscaled: scale goes into dQ, dK)
                            s[c] = as_operand<IO>(pd);
                        }
                        for (int64_t c = n; c < nc; ++c) s[c] = dp[c] = 0.0f;
                    }
                    sgemm(true, false, nc, hd, nr, 1.0f, S, Bt, dO.p, dO.ld, 1.0f, dV, hd);       // dV += P'^T dO
                    sgemm(true, false, nc, hd, nr, o.scale, dP, Bt, Q.p, Q.ld, 1.0f, dK, hd);     // dK += scale dS^T Q
                    sgemm(false, false, nr, hd, nc, o.scale, dP, Bt, K.p, K.ld, 1.0f,             // dQ += scale dS K
                          dq + (b * T + q0) * lddq + h * hd, lddq);
                }
            }
            for (int64_t r = 0; r < nc; ++r)
                for (int64_t c = 0; c < hd; ++c) {
                    const int64_t at = (b * T + k0 + r) * o.W;
                    IO::store(dqkv, at + (H + j) * hd + c, dK[r * hd + c]);
                    IO::store(dqkv, at + (H + o.Hk + j) * hd + c, dV[r * hd + c]);
                }
        }
        if constexpr (wide)  // dQ rounded once
            for (int64_t h = j * o.g; h < (j + 1) * o.g; ++h)
                for (int64_t r = 0; r < T; ++r)
                    for (int64_t c = 0; c < hd; ++c)
                        IO::store(dqkv, (b * T + r) * o.W + h * hd + c, dq[(b * T + r) * lddq + h * hd + c]);
    });
}

}  // namespace

void flash_attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* lse,
                             void* scratch, uint64_t seed, uint64_t stream) {
    const FlashScratch fs = flash_scratch(DeviceKind::cpu, a.batch, a.seq, a.heads, a.kv_heads, a.head_dim,
                                          a.rope_theta > 0.0f, a.p > 0.0f, t, true);
    const Operands o = operands(t, a, qkv, scratch, seed, stream);
    dispatch(t, [&](auto io) { forward<decltype(io)>(o, out, lse, static_cast<char*>(scratch), fs); });
}

void flash_attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const void* out, const float* lse,
                              const void* dout, void* dqkv, void* scratch, uint64_t seed, uint64_t stream) {
    const FlashScratch fs = flash_scratch(DeviceKind::cpu, a.batch, a.seq, a.heads, a.kv_heads, a.head_dim,
                                          a.rope_theta > 0.0f, a.p > 0.0f, t, false);
    const Operands o = operands(t, a, qkv, scratch, seed, stream);
    dispatch(t, [&](auto io) { backward<decltype(io)>(o, out, lse, dout, dqkv, static_cast<char*>(scratch), fs); });
    // The products gave dQ and dK in the rotated frame: rotate them back, in place.
    if (a.rope_theta > 0.0f)
        rope_rotate(t, dqkv, a.width(), dqkv, a.width(), a.batch * a.seq, a.seq, a.heads + a.kv_heads, a.head_dim,
                    a.rope_theta, -1.0f);
}

}  // namespace ckpt::cpu
