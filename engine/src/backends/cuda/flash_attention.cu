// Fused (flash) attention on the GPU: FlashAttention-2's algorithm (Dao, 2023), written for this
// engine after the paper and llm.c's kernels. No (T, T) buffer exists in global memory.
//
// Forward: one thread block per (batch, head, query tile). K and V tiles go through shared
// memory; the scores, the online softmax (running maximum and sum per row) and the output
// accumulator stay in registers. 16-bit inputs use the tensor cores (mma.sync m16n8k16, f32
// accumulation): four warps of 16 query rows each, a score tile converted in registers into the
// operand of P V (the probabilities rounded to the input's type). The f32 path runs on the
// FMA units: a warp per query row at a time, a lane per key of a 32-key tile.
// Backward: D = rowsum(dO O) first; then one block per (batch, key/value head, key tile) adds up
// dK and dV over its query heads and query tiles in a fixed order, and one block per (batch, head,
// query tile) adds up dQ over the key tiles in order: no float atomics, so every run gives the
// same bits (a checkpointed step equals an unchecked one). Each rebuilds P = exp(S - lse) tile by
// tile; the products of 16-bit inputs are WMMA 16x16x16 tiles in shared memory with f32
// accumulation, those of f32 inputs FMA loops.
// Dropout draws the keep decision of (b, h, q, k) from Philox element ((b H + h) T + q) T + k,
// as the CPU's kernels and the eager kernels do.
#include <mma.h>

#include <algorithm>
#include <type_traits>

#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"
#include "core/philox.h"

namespace ckpt::cuda {
namespace {

constexpr int kFlashThreads = 128;  // four warps per block

__device__ __forceinline__ float inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Element access for the three storage types: f32, bf16 and f16 (read as f32, written rounded).
template <typename E>
struct Elem;
template <>
struct Elem<float> {
    __device__ static float to_f(float v) { return v; }
    __device__ static float from_f(float v) { return v; }
};
template <>
struct Elem<__nv_bfloat16> {
    __device__ static float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
    __device__ static __nv_bfloat16 from_f(float v) { return __float2bfloat16_rn(v); }
};
template <>
struct Elem<__half> {
    __device__ static float to_f(__half v) { return __half2float(v); }
    __device__ static __half from_f(float v) { return __float2half_rn(v); }
};

__device__ __forceinline__ bool keep_at(const FlashArgs& g, int64_t b, int64_t h, int64_t q, int64_t k) {
    const uint64_t e = uint64_t(((b * g.H + h) * g.T + q) * g.T + k);
    return philox::to_unit(philox::word(e, g.stream, g.seed)) >= g.p;
}

// Rows [r0, r0 + R) of a head's (T, hd) slice (row stride ld, column c0) into shared memory
// (R, HD) with row stride lds, zero past T and past hd.
template <typename E, int R, int HD>
__device__ void load_tile(E* dst, int lds, const E* src, int64_t ld, int64_t row0, int64_t T, int64_t hd) {
    for (int i = threadIdx.x; i < R * HD; i += blockDim.x) {
        const int r = i / HD, c = i % HD;
        dst[r * lds + c] = row0 + r < T && c < hd ? src[(row0 + r) * ld + c] : Elem<E>::from_f(0.0f);
    }
}

// ---- forward, 16-bit: mma.sync m16n8k16 ----------------------------------------------------

template <typename E>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    if constexpr (std::is_same_v<E, __nv_bfloat16>)
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Two 16-bit values as one register, the first in the low half (an mma operand pair).
template <typename E>
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
    uint32_t r;
    if constexpr (std::is_same_v<E, __nv_bfloat16>) {
        const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        r = *reinterpret_cast<const uint32_t*>(&v);
    } else {
        const __half2 v = __floats2half2_rn(lo, hi);
        r = *reinterpret_cast<const uint32_t*>(&v);
    }
    return r;
}
__device__ __forceinline__ uint32_t pair(const uint16_t* s, int i) { return *reinterpret_cast<const uint32_t*>(s + i); }
__device__ __forceinline__ uint32_t pair2(const uint16_t* s, int i, int j) { return uint32_t(s[i]) | uint32_t(s[j]) << 16; }

// Fragment layouts of m16n8k16 (PTX ISA), g = lane / 4, t = lane % 4: A (16 x 16, row-major)
// registers {(g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)}; B (16 x 8, by column)
// {(2t..2t+1, g), (2t+8..2t+9, g)}; C (16 x 8) {(g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)}. The
// C layout of two adjacent 8-key score tiles is the A layout of a 16-key probability chunk,
// which is how the probabilities reach P V without leaving the registers.
template <typename E, int HD>
__global__ void __launch_bounds__(kFlashThreads) flash_forward_mma(FlashArgs g, int64_t b0) {
    constexpr int Br = 64, Bc = 64, LD = HD + 8;  // LD: padded row stride (elements), even
    extern __shared__ __align__(128) unsigned char smem[];
    uint16_t* sQ = reinterpret_cast<uint16_t*>(smem);  // (Br, HD)
    uint16_t* sK = sQ + Br * LD;                      // (Bc, HD)
    uint16_t* sV = sK + Bc * LD;                      // (Bc, HD)
    const int64_t b = b0 + blockIdx.z, h = blockIdx.y, j = h / g.group, q0 = int64_t(blockIdx.x) * Br;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gi = lane / 4, ti = lane % 4;
    const E* qk = static_cast<const E*>(g.qk);
    const E* v = static_cast<const E*>(g.qkv);
    load_tile<E, Br, HD>(reinterpret_cast<E*>(sQ), LD, qk + b * g.T * g.ldqk + h * g.hd, g.ldqk, q0, g.T, g.hd);
    float o[HD / 8][4];
#pragma unroll
    for (int n = 0; n < HD / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m[2] = {-inf(), -inf()}, l[2] = {0.0f, 0.0f};
    const int64_t row[2] = {q0 + warp * 16 + gi, q0 + warp * 16 + gi + 8};
    const int64_t tiles = (g.T + Bc - 1) / Bc;
    const int64_t kt_end = g.causal ? imin(tiles, (imin(q0 + Br, g.T) - 1) / Bc + 1) : tiles;  // skip above the diagonal
    for (int64_t kt = 0; kt < kt_end; ++kt) {
        const int64_t k0 = kt * Bc;
        __syncthreads();  // the previous tile's readers are done
        load_tile<E, Bc, HD>(reinterpret_cast<E*>(sK), LD, qk + b * g.T * g.ldqk + (g.H + j) * g.hd, g.ldqk, k0, g.T,
                             g.hd);
        load_tile<E, Bc, HD>(reinterpret_cast<E*>(sV), LD, v + b * g.T * g.W + (g.H + g.Hk + j) * g.hd, g.W, k0, g.T,
                             g.hd);
        __syncthreads();
        float s[Bc / 8][4];
#pragma unroll
        for (int n = 0; n < Bc / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < HD / 16; ++kc) {  // S = Q K^T over the head size
            const int qr = (warp * 16 + gi) * LD + kc * 16 + 2 * ti;
            const uint32_t a[4] = {pair(sQ, qr), pair(sQ, qr + 8 * LD), pair(sQ, qr + 8), pair(sQ, qr + 8 * LD + 8)};
#pragma unroll
            for (int n = 0; n < Bc / 8; ++n) {
                const int kr = (n * 8 + gi) * LD + kc * 16 + 2 * ti;
                const uint32_t bb[2] = {pair(sK, kr), pair(sK, kr + 8)};
                mma16816<E>(s[n], a, bb);
            }
        }
        // Scale and mask (keys past T, and above the diagonal), then the online softmax per row.
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int64_t key = k0 + n * 8 + 2 * ti + (e & 1);
                const bool masked = key >= g.T || (g.causal && key > row[e >> 1]);
                s[n][e] = masked ? -inf() : s[n][e] * g.scale;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
            }
        float mu[2], alpha[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; ++r) {  // the four lanes of a quad hold one row
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            mu[r] = mx[r] == -inf() ? 0.0f : mx[r];  // nothing seen yet: no NaN from -inf - -inf
            alpha[r] = expf(m[r] - mu[r]);
        }
#pragma unroll
        for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float p = expf(s[n][e] - mu[e >> 1]);
                sum[e >> 1] += p;
                s[n][e] = p;
            }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 1);
            sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 2);
            l[r] = l[r] * alpha[r] + sum[r];
            m[r] = mx[r];
        }
#pragma unroll
        for (int n = 0; n < HD / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) o[n][e] *= alpha[e >> 1];
        if (g.p > 0.0f)
#pragma unroll
            for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int64_t key = k0 + n * 8 + 2 * ti + (e & 1), q = row[e >> 1];
                    if (key < g.T && q < g.T) s[n][e] = keep_at(g, b, h, q, key) ? s[n][e] * g.keep_scale : 0.0f;
                }
        // O += P V: P's A fragments straight from the score registers, V's B fragments from
        // shared memory (two keys apart in a column).
#pragma unroll
        for (int kc = 0; kc < Bc / 16; ++kc) {
            const uint32_t a[4] = {pack<E>(s[2 * kc][0], s[2 * kc][1]), pack<E>(s[2 * kc][2], s[2 * kc][3]),
                                   pack<E>(s[2 * kc + 1][0], s[2 * kc + 1][1]), pack<E>(s[2 * kc + 1][2], s[2 * kc + 1][3])};
            const int kr = kc * 16 + 2 * ti;
#pragma unroll
            for (int n = 0; n < HD / 8; ++n) {
                const int c = n * 8 + gi;
                const uint32_t bb[2] = {pair2(sV, kr * LD + c, (kr + 1) * LD + c),
                                        pair2(sV, (kr + 8) * LD + c, (kr + 9) * LD + c)};
                mma16816<E>(o[n], a, bb);
            }
        }
    }
    E* out = static_cast<E*>(g.o);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (row[r] >= g.T) continue;
        const float inv = 1.0f / l[r];
#pragma unroll
        for (int n = 0; n < HD / 8; ++n)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int64_t c = n * 8 + 2 * ti + e;
                if (c < g.hd) out[(b * g.T + row[r]) * g.d + h * g.hd + c] = Elem<E>::from_f(o[n][2 * r + e] * inv);
            }
        if (ti == 0) g.lse_out[(b * g.H + h) * g.T + row[r]] = m[r] + logf(l[r]);
    }
}

// ---- forward, f32: FMA, a lane per key ----------------------------------------------------

template <int HD>  // a multiple of 32
__global__ void __launch_bounds__(kFlashThreads) flash_forward_f32(FlashArgs g, int64_t b0) {
    constexpr int Br = 32, Bc = 32, RPW = Br / (kFlashThreads / 32), LD = HD + 1, PER = HD / 32;
    extern __shared__ __align__(128) unsigned char smem[];
    float* sQ = reinterpret_cast<float*>(smem);  // (Br, HD), rows padded to LD: a lane per key reads across banks
    float* sK = sQ + Br * LD;
    float* sV = sK + Bc * LD;
    const int64_t b = b0 + blockIdx.z, h = blockIdx.y, j = h / g.group, q0 = int64_t(blockIdx.x) * Br;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float* qk = static_cast<const float*>(g.qk);
    const float* v = static_cast<const float*>(g.qkv);
    load_tile<float, Br, HD>(sQ, LD, qk + b * g.T * g.ldqk + h * g.hd, g.ldqk, q0, g.T, g.hd);
    float o[RPW][PER], m[RPW], l[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) {
        m[r] = -inf();
        l[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < PER; ++i) o[r][i] = 0.0f;
    }
    const int64_t tiles = (g.T + Bc - 1) / Bc;
    const int64_t kt_end = g.causal ? imin(tiles, (imin(q0 + Br, g.T) - 1) / Bc + 1) : tiles;
    for (int64_t kt = 0; kt < kt_end; ++kt) {
        const int64_t k0 = kt * Bc, key = k0 + lane;
        __syncthreads();
        load_tile<float, Bc, HD>(sK, LD, qk + b * g.T * g.ldqk + (g.H + j) * g.hd, g.ldqk, k0, g.T, g.hd);
        load_tile<float, Bc, HD>(sV, LD, v + b * g.T * g.W + (g.H + g.Hk + j) * g.hd, g.W, k0, g.T, g.hd);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < RPW; ++r) {
            const int qr = warp * RPW + r;
            const int64_t q = q0 + qr;
            float s = 0.0f;
            for (int c = 0; c < HD; ++c) s += sQ[qr * LD + c] * sK[lane * LD + c];
            s = key >= g.T || (g.causal && key > q) ? -inf() : s * g.scale;
            const float mx = fmaxf(m[r], warp_max(s));
            const float mu = mx == -inf() ? 0.0f : mx;
            const float alpha = expf(m[r] - mu);
            float p = expf(s - mu);
            l[r] = l[r] * alpha + warp_sum(p);
            m[r] = mx;
            if (g.p > 0.0f && key < g.T && q < g.T) p = keep_at(g, b, h, q, key) ? p * g.keep_scale : 0.0f;
#pragma unroll
            for (int i = 0; i < PER; ++i) o[r][i] *= alpha;
            for (int k = 0; k < Bc; ++k) {
                const float pk = __shfl_sync(0xffffffffu, p, k);
#pragma unroll
                for (int i = 0; i < PER; ++i) o[r][i] += pk * sV[k * LD + lane + 32 * i];
            }
        }
    }
    float* out = static_cast<float*>(g.o);
#pragma unroll
    for (int r = 0; r < RPW; ++r) {
        const int64_t q = q0 + warp * RPW + r;
        if (q >= g.T) continue;
        const float inv = 1.0f / l[r];
#pragma unroll
        for (int i = 0; i < PER; ++i)
            if (lane + 32 * i < g.hd) out[(b * g.T + q) * g.d + h * g.hd + lane + 32 * i] = o[r][i] * inv;
        if (lane == 0) g.lse_out[(b * g.H + h) * g.T + q] = m[r] + logf(l[r]);
    }
}

// ---- backward -------------------------------------------------------------------------------

// D = rowsum(dO * O) per row and head, summed in order over the head size.
template <typename E>
__global__ void flash_rowsum(FlashArgs g, int64_t rows, float* D) {
    const E* dout = static_cast<const E*>(g.dout);
    const E* out = static_cast<const E*>(g.out);
    CKPT_GRID_STRIDE(i, rows * g.H) {
        const int64_t r = i / g.H, h = i % g.H;
        float s = 0.0f;
        for (int64_t c = 0; c < g.hd; ++c)
            s += Elem<E>::to_f(dout[r * g.d + h * g.hd + c]) * Elem<E>::to_f(out[r * g.d + h * g.hd + c]);
        D[((r / g.T) * g.H + h) * g.T + r % g.T] = s;
    }
}

// C (M, N; f32, shared memory, row stride ldc) = [C +] op(A) op(B), op(A) (M, K) and op(B) (K, N)
// of type E in shared memory; TA: A is stored (K, M), TB: B is stored (N, K). 16-bit operands go
// to the tensor cores as WMMA 16x16x16 tiles (a warp per output tile), f32 ones to FMA loops (a
// thread per output element); both add in a fixed order.
template <bool TA, bool TB, int M, int N, int K, typename E>
__device__ void block_gemm(float* C, int ldc, const E* A, int lda, const E* B, int ldb, bool accumulate) {
    if constexpr (std::is_same_v<E, float>) {
        for (int idx = threadIdx.x; idx < M * N; idx += blockDim.x) {
            const int i = idx / N, n = idx % N;
            float s = accumulate ? C[i * ldc + n] : 0.0f;
            for (int k = 0; k < K; ++k) s += (TA ? A[k * lda + i] : A[i * lda + k]) * (TB ? B[n * ldb + k] : B[k * ldb + n]);
            C[i * ldc + n] = s;
        }
    } else {
        namespace wmma = nvcuda::wmma;
        using LA = std::conditional_t<TA, wmma::col_major, wmma::row_major>;
        using LB = std::conditional_t<TB, wmma::col_major, wmma::row_major>;
        const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
        for (int tile = warp; tile < (M / 16) * (N / 16); tile += warps) {
            const int i0 = tile / (N / 16) * 16, n0 = tile % (N / 16) * 16;
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
            if (accumulate) wmma::load_matrix_sync(c, C + i0 * ldc + n0, ldc, wmma::mem_row_major);
            else wmma::fill_fragment(c, 0.0f);
            for (int k0 = 0; k0 < K; k0 += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, E, LA> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, E, LB> bf;
                wmma::load_matrix_sync(a, TA ? A + k0 * lda + i0 : A + i0 * lda + k0, lda);
                wmma::load_matrix_sync(bf, TB ? B + n0 * ldb + k0 : B + k0 * ldb + n0, ldb);
                wmma::mma_sync(c, a, bf, c);
            }
            wmma::store_matrix_sync(C + i0 * ldc + n0, c, ldc, wmma::mem_row_major);
        }
    }
}

// The shared-memory layout of both backward kernels for (E, HD, BT): operand tiles of E, score
// tiles of f32, the probabilities and dS as the products read them (16-bit: their own tiles;
// f32: the score tiles themselves), the f32 accumulators, and per-row lse and D. Every part starts
// on 128 bytes (WMMA wants 32-byte aligned tiles).
template <typename E, int HD, int BT>
struct BackwardSmem {
    static constexpr bool wide = !std::is_same_v<E, float>;
    static constexpr int LDE = HD + (wide ? 8 : 1);  // operand rows; f32: off the bank stride
    static constexpr int LDS = BT + 4;               // f32 score rows (a multiple of 4 for WMMA)
    static constexpr int LDP = wide ? BT + 8 : LDS;  // probabilities and dS as operands
    static constexpr int LDA = HD + 4;               // f32 accumulator rows
    static constexpr int64_t up(int64_t b) { return (b + 127) / 128 * 128; }
    static constexpr int64_t tile_e = up(int64_t(BT) * LDE * sizeof(E));
    static constexpr int64_t tile_s = up(int64_t(BT) * LDS * 4);
    static constexpr int64_t tile_p = wide ? up(int64_t(BT) * LDP * sizeof(E)) : 0;
    static constexpr int64_t tile_a = up(int64_t(BT) * LDA * 4);
    static constexpr int64_t rows = up(int64_t(BT) * 4);
    static constexpr int64_t bytes = 4 * tile_e + 2 * tile_s + 2 * tile_p + 2 * tile_a + 2 * rows;
    E *K, *V, *Q, *dO, *P, *dS;
    float *S, *dP, *acc0, *acc1, *lse, *D;
    __device__ explicit BackwardSmem(unsigned char* base) {
        unsigned char* p = base;
        auto take = [&p](int64_t n) {
            unsigned char* at = p;
            p += n;
            return at;
        };
        K = reinterpret_cast<E*>(take(tile_e));
        V = reinterpret_cast<E*>(take(tile_e));
        Q = reinterpret_cast<E*>(take(tile_e));
        dO = reinterpret_cast<E*>(take(tile_e));
        S = reinterpret_cast<float*>(take(tile_s));
        dP = reinterpret_cast<float*>(take(tile_s));
        P = wide ? reinterpret_cast<E*>(take(tile_p)) : reinterpret_cast<E*>(S);
        dS = wide ? reinterpret_cast<E*>(take(tile_p)) : reinterpret_cast<E*>(dP);
        acc0 = reinterpret_cast<float*>(take(tile_a));
        acc1 = reinterpret_cast<float*>(take(tile_a));
        lse = reinterpret_cast<float*>(take(rows));
        D = reinterpret_cast<float*>(take(rows));
    }
};

// One query tile (q0) against one key tile (k0) of head h: S = Q K^T and dP = dO V^T, then the
// probabilities P' through dropout (into sm.P) and dS = P (dP' - D) (into sm.dS), 0 where masked.
template <typename E, int HD, int BT>
__device__ void score_tile(const FlashArgs& g, BackwardSmem<E, HD, BT>& sm, int64_t b, int64_t h, int64_t q0, int64_t k0) {
    using Sm = BackwardSmem<E, HD, BT>;
    block_gemm<false, true, BT, BT, HD>(sm.S, Sm::LDS, sm.Q, Sm::LDE, sm.K, Sm::LDE, false);
    block_gemm<false, true, BT, BT, HD>(sm.dP, Sm::LDS, sm.dO, Sm::LDE, sm.V, Sm::LDE, false);
    __syncthreads();
    for (int idx = threadIdx.x; idx < BT * BT; idx += blockDim.x) {
        const int i = idx / BT, c = idx % BT;
        const int64_t q = q0 + i, k = k0 + c;
        float pd = 0.0f, ds = 0.0f;
        if (q < g.T && k < g.T && (!g.causal || k <= q)) {
            const float pr = expf(sm.S[i * Sm::LDS + c] * g.scale - sm.lse[i]);
            float gr = sm.dP[i * Sm::LDS + c];
            pd = pr;
            if (g.p > 0.0f) {
                const bool kept = keep_at(g, b, h, q, k);
                gr = kept ? gr * g.keep_scale : 0.0f;
                pd = kept ? pr * g.keep_scale : 0.0f;
            }
            ds = pr * (gr - sm.D[i]);
        }
        sm.P[i * Sm::LDP + c] = Elem<E>::from_f(pd);  // f32: in place of S (one thread per element)
        sm.dS[i * Sm::LDP + c] = Elem<E>::from_f(ds);
    }
    __syncthreads();
}

template <typename E, int BT>
__device__ void load_rows(float* dst, const float* src, int64_t row0, int64_t T) {
    for (int i = threadIdx.x; i < BT; i += blockDim.x) dst[i] = row0 + i < T ? src[row0 + i] : 0.0f;
}

// dK and dV of one key tile of key/value head j: its query heads in order, their query tiles in
// order (below the diagonal when causal).
template <typename E, int HD, int BT>
__global__ void __launch_bounds__(kFlashThreads) flash_backward_dkdv(FlashArgs g, int64_t b0) {
    using Sm = BackwardSmem<E, HD, BT>;
    extern __shared__ __align__(128) unsigned char smem[];
    Sm sm(smem);
    const int64_t b = b0 + blockIdx.z, j = blockIdx.y, k0 = int64_t(blockIdx.x) * BT;
    const E* qk = static_cast<const E*>(g.qk);
    const E* dout = static_cast<const E*>(g.dout);
    load_tile<E, BT, HD>(sm.K, Sm::LDE, qk + b * g.T * g.ldqk + (g.H + j) * g.hd, g.ldqk, k0, g.T, g.hd);
    load_tile<E, BT, HD>(sm.V, Sm::LDE, static_cast<const E*>(g.qkv) + b * g.T * g.W + (g.H + g.Hk + j) * g.hd, g.W, k0,
                         g.T, g.hd);
    for (int i = threadIdx.x; i < BT * Sm::LDA; i += blockDim.x) sm.acc0[i] = sm.acc1[i] = 0.0f;  // dK, dV
    const int64_t tiles = (g.T + BT - 1) / BT;
    for (int64_t h = j * g.group; h < (j + 1) * g.group; ++h)
        for (int64_t qt = g.causal ? blockIdx.x : 0; qt < tiles; ++qt) {
            const int64_t q0 = qt * BT;
            __syncthreads();
            load_tile<E, BT, HD>(sm.Q, Sm::LDE, qk + b * g.T * g.ldqk + h * g.hd, g.ldqk, q0, g.T, g.hd);
            load_tile<E, BT, HD>(sm.dO, Sm::LDE, dout + b * g.T * g.d + h * g.hd, g.d, q0, g.T, g.hd);
            load_rows<E, BT>(sm.lse, g.lse + (b * g.H + h) * g.T, q0, g.T);
            load_rows<E, BT>(sm.D, g.D + (b * g.H + h) * g.T, q0, g.T);
            __syncthreads();
            score_tile<E, HD, BT>(g, sm, b, h, q0, k0);
            block_gemm<true, false, BT, HD, BT>(sm.acc1, Sm::LDA, sm.P, Sm::LDP, sm.dO, Sm::LDE, true);   // dV += P'^T dO
            block_gemm<true, false, BT, HD, BT>(sm.acc0, Sm::LDA, sm.dS, Sm::LDP, sm.Q, Sm::LDE, true);  // dK += dS^T Q
        }
    __syncthreads();
    E* dqkv = static_cast<E*>(g.dqkv);
    for (int i = threadIdx.x; i < BT * HD; i += blockDim.x) {
        const int r = i / HD, c = i % HD;
        if (k0 + r >= g.T || c >= g.hd) continue;
        const int64_t at = (b * g.T + k0 + r) * g.W;
        dqkv[at + (g.H + j) * g.hd + c] = Elem<E>::from_f(g.scale * sm.acc0[r * Sm::LDA + c]);
        dqkv[at + (g.H + g.Hk + j) * g.hd + c] = Elem<E>::from_f(sm.acc1[r * Sm::LDA + c]);
    }
}

// dQ of one query tile of head h: its key tiles in order (up to the diagonal when causal).
template <typename E, int HD, int BT>
__global__ void __launch_bounds__(kFlashThreads) flash_backward_dq(FlashArgs g, int64_t b0) {
    using Sm = BackwardSmem<E, HD, BT>;
    extern __shared__ __align__(128) unsigned char smem[];
    Sm sm(smem);
    const int64_t b = b0 + blockIdx.z, h = blockIdx.y, j = h / g.group, q0 = int64_t(blockIdx.x) * BT;
    const E* qk = static_cast<const E*>(g.qk);
    load_tile<E, BT, HD>(sm.Q, Sm::LDE, qk + b * g.T * g.ldqk + h * g.hd, g.ldqk, q0, g.T, g.hd);
    load_tile<E, BT, HD>(sm.dO, Sm::LDE, static_cast<const E*>(g.dout) + b * g.T * g.d + h * g.hd, g.d, q0, g.T, g.hd);
    load_rows<E, BT>(sm.lse, g.lse + (b * g.H + h) * g.T, q0, g.T);
    load_rows<E, BT>(sm.D, g.D + (b * g.H + h) * g.T, q0, g.T);
    for (int i = threadIdx.x; i < BT * Sm::LDA; i += blockDim.x) sm.acc0[i] = 0.0f;  // dQ
    const int64_t tiles = (g.T + BT - 1) / BT;
    const int64_t kt_end = g.causal ? imin(tiles, (imin(q0 + BT, g.T) - 1) / BT + 1) : tiles;
    for (int64_t kt = 0; kt < kt_end; ++kt) {
        const int64_t k0 = kt * BT;
        __syncthreads();
        load_tile<E, BT, HD>(sm.K, Sm::LDE, qk + b * g.T * g.ldqk + (g.H + j) * g.hd, g.ldqk, k0, g.T, g.hd);
        load_tile<E, BT, HD>(sm.V, Sm::LDE, static_cast<const E*>(g.qkv) + b * g.T * g.W + (g.H + g.Hk + j) * g.hd, g.W,
                             k0, g.T, g.hd);
        __syncthreads();
        score_tile<E, HD, BT>(g, sm, b, h, q0, k0);
        block_gemm<false, false, BT, HD, BT>(sm.acc0, Sm::LDA, sm.dS, Sm::LDP, sm.K, Sm::LDE, true);  // dQ += dS K
    }
    __syncthreads();
    E* dqkv = static_cast<E*>(g.dqkv);
    for (int i = threadIdx.x; i < BT * HD; i += blockDim.x) {
        const int r = i / HD, c = i % HD;
        if (q0 + r < g.T && c < g.hd)
            dqkv[(b * g.T + q0 + r) * g.W + h * g.hd + c] = Elem<E>::from_f(g.scale * sm.acc0[r * Sm::LDA + c]);
    }
}

// ---- launchers --------------------------------------------------------------------------------

// A kernel over (tiles, heads, batch): the batch in chunks of the grid's z limit.
template <typename Kernel>
void launch(Kernel k, int64_t tiles, int64_t heads, int64_t batch, int64_t smem_bytes, const FlashArgs& g, cudaStream_t s) {
    if (smem_bytes > 48 * 1024) cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_bytes));
    for (int64_t b0 = 0; b0 < batch; b0 += 65535)
        k<<<dim3(unsigned(tiles), unsigned(heads), unsigned(std::min<int64_t>(65535, batch - b0))), kFlashThreads,
            size_t(smem_bytes), s>>>(g, b0);
}

// Calls f(std::integral_constant<int, HD>) for the padded head size: 16, 32, 64, 128 or 256, at
// least Floor (the sizes the kernels are compiled for).
template <int Floor, typename Fn>
void with_head_size(int64_t hd, Fn&& f) {
    if constexpr (Floor <= 16)
        if (hd <= 16) return f(std::integral_constant<int, 16>{});
    if (hd <= 32) return f(std::integral_constant<int, 32>{});
    if (hd <= 64) return f(std::integral_constant<int, 64>{});
    if (hd <= 128) return f(std::integral_constant<int, 128>{});
    f(std::integral_constant<int, 256>{});
}

// The backward's tile: as many rows as keep the shared memory near 100 KiB at f32.
template <int HD>
constexpr int backward_tile() { return HD <= 64 ? 64 : HD == 128 ? 32 : 16; }

template <typename E>
void forward_typed(const FlashArgs& g, int64_t batch, cudaStream_t s) {
    if constexpr (std::is_same_v<E, float>) {
        with_head_size<32>(g.hd, [&](auto hd) {
            constexpr int HD = decltype(hd)::value;
            launch(flash_forward_f32<HD>, (g.T + 31) / 32, g.H, batch, int64_t(3) * 32 * (HD + 1) * 4, g, s);
        });
    } else {
        with_head_size<16>(g.hd, [&](auto hd) {
            constexpr int HD = decltype(hd)::value;
            launch(flash_forward_mma<E, HD>, (g.T + 63) / 64, g.H, batch, int64_t(3) * 64 * (HD + 8) * 2, g, s);
        });
    }
}

template <typename E>
void backward_typed(const FlashArgs& g, int64_t batch, cudaStream_t s) {
    with_head_size<16>(g.hd, [&](auto hd) {
        constexpr int HD = decltype(hd)::value, BT = backward_tile<HD>();
        const int64_t tiles = (g.T + BT - 1) / BT, bytes = BackwardSmem<E, HD, BT>::bytes;
        launch(flash_backward_dkdv<E, HD, BT>, tiles, g.Hk, batch, bytes, g, s);
        launch(flash_backward_dq<E, HD, BT>, tiles, g.H, batch, bytes, g, s);
    });
}

template <typename Fn>
void with_type(ElemType t, Fn&& f) {
    switch (t) {
    case ElemType::bf16: f(__nv_bfloat16{}); break;
    case ElemType::f16: f(__half{}); break;
    default: f(float{}); break;
    }
}

}  // namespace

void flash_attention_forward(ElemType t, const FlashArgs& g, int64_t batch, cudaStream_t s) {
    if (batch <= 0 || g.T <= 0) return;
    with_type(t, [&](auto e) { forward_typed<decltype(e)>(g, batch, s); });
}

void flash_attention_backward(ElemType t, const FlashArgs& g, int64_t batch, float* D, cudaStream_t s) {
    if (batch <= 0 || g.T <= 0) return;
    FlashArgs a = g;
    a.D = D;
    with_type(t, [&](auto e) {
        using E = decltype(e);
        flash_rowsum<E><<<grid_for(batch * g.T * g.H), kThreads, 0, s>>>(a, batch * g.T, D);
        backward_typed<E>(a, batch, s);
    });
}

}  // namespace ckpt::cuda
