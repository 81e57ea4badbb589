// The row-wise parts of attention; the four matrix products per head are cuBLAS calls made by
// the backend (cuda_backend.cpp). One warp per row of the (T, T) score matrix. Scores, the
// gradient of the scores and the probabilities that enter the products are of the run's type
// (f32, or 16-bit in mixed precision); the softmax itself always computes and keeps f32.
#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"
#include "backends/cuda/typed.cuh"

namespace ckpt::cuda {
namespace {

constexpr int kWarps = kThreads / 32;

template <typename IO>
__global__ void softmax_k(const void* S, float* P, int64_t rows, int64_t T, bool causal) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const int64_t base = row * T;
    float* p = P + base;
    const int64_t n = causal ? row % T + 1 : T;  // entries above the diagonal get probability 0
    float mx = -FLT_MAX;
    for (int64_t j = lane; j < n; j += 32) mx = fmaxf(mx, IO::load(S, base + j));
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int64_t j = lane; j < n; j += 32) {
        const float e = expf(IO::load(S, base + j) - mx);
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / warp_sum(sum);
    for (int64_t j = lane; j < n; j += 32) p[j] *= inv;
    for (int64_t j = n + lane; j < T; j += 32) p[j] = 0.0f;
}

template <typename IO>
__global__ void softmax_backward_k(void* dA, const float* P, const uint8_t* mask, int64_t rows, int64_t T, float scale,
                                   float keep_scale) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const int64_t base = row * T;
    const float* p = P + base;
    const uint8_t* m = mask ? mask + base : nullptr;
    float dot = 0.0f;
    for (int64_t j = lane; j < T; j += 32) {
        float v = IO::load(dA, base + j);
        if (m) v = m[j] ? v * keep_scale : 0.0f;
        dot += v * p[j];
    }
    dot = warp_sum(dot);
    for (int64_t j = lane; j < T; j += 32) {
        float v = IO::load(dA, base + j);
        if (m) v = m[j] ? v * keep_scale : 0.0f;
        IO::store(dA, base + j, scale * p[j] * (v - dot));
    }
}

template <typename IO>
__global__ void rope_k(const void* src, int64_t lds, void* dst, int64_t ldd, int64_t rows, int64_t T, int64_t heads,
                       int64_t hd, float theta, float sign) {
    const int64_t half = hd / 2;
    CKPT_GRID_STRIDE(k, rows * heads * half) {
        const int64_t i = k % half, h = (k / half) % heads, r = k / (half * heads);
        const float inv = 1.0f / powf(theta, float(2 * i) / float(hd));
        const float angle = float(r % T) * inv;
        const float c = cosf(angle), sn = sign * sinf(angle);
        const int64_t s0 = r * lds + h * hd, d0 = r * ldd + h * hd;
        const float x1 = IO::load(src, s0 + i), x2 = IO::load(src, s0 + i + half);
        IO::store(dst, d0 + i, x1 * c - x2 * sn);
        IO::store(dst, d0 + i + half, x2 * c + x1 * sn);
    }
}

template <typename IO>
__global__ void apply_mask_k(const float* P, const uint8_t* mask, void* A, int64_t n, float keep_scale) {
    CKPT_GRID_STRIDE(i, n) IO::store(A, i, mask ? (mask[i] ? __fmul_rn(P[i], keep_scale) : 0.0f) : P[i]);
}

}  // namespace

void attention_softmax(const void* S, ElemType t, float* P, int64_t rows, int64_t T, bool causal, cudaStream_t s) {
    if (rows <= 0) return;
    dispatch_type(t, [&](auto io) {
        softmax_k<decltype(io)><<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(S, P, rows, T, causal);
    });
}

void attention_softmax_backward(void* dA, ElemType t, const float* P, const uint8_t* mask, int64_t rows, int64_t T,
                                float scale, float keep_scale, cudaStream_t s) {
    if (rows <= 0) return;
    dispatch_type(t, [&](auto io) {
        softmax_backward_k<decltype(io)><<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(
            dA, P, mask, rows, T, scale, keep_scale);
    });
}

void rope_rotate(const void* src, int64_t lds, void* dst, int64_t ldd, ElemType t, int64_t rows, int64_t T,
                 int64_t heads, int64_t hd, float theta, float sign, cudaStream_t s) {
    const int64_t n = rows * heads * (hd / 2);
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) {
        rope_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(src, lds, dst, ldd, rows, T, heads, hd, theta, sign);
    });
}

void apply_mask(const float* P, const uint8_t* mask, void* A, ElemType t, int64_t n, float keep_scale, cudaStream_t s) {
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) {
        apply_mask_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(P, mask, A, n, keep_scale);
    });
}

}  // namespace ckpt::cuda
