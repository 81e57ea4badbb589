// The row-wise parts of attention; the four matrix products per head are cuBLAS calls made by
// the backend (cuda_backend.cpp). One warp per row of the (T, T) score matrix.
#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

constexpr int kWarps = kThreads / 32;

__global__ void softmax_k(float* P, int64_t rows, int64_t T, bool causal) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float* p = P + row * T;
    const int64_t n = causal ? row % T + 1 : T;  // entries above the diagonal get probability 0
    float mx = -FLT_MAX;
    for (int64_t j = lane; j < n; j += 32) mx = fmaxf(mx, p[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int64_t j = lane; j < n; j += 32) {
        const float e = expf(p[j] - mx);
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / warp_sum(sum);
    for (int64_t j = lane; j < n; j += 32) p[j] *= inv;
    for (int64_t j = n + lane; j < T; j += 32) p[j] = 0.0f;
}

__global__ void softmax_backward_k(float* dA, const float* P, const uint8_t* mask, int64_t rows, int64_t T,
                                   float scale, float keep_scale) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float* g = dA + row * T;
    const float* p = P + row * T;
    const uint8_t* m = mask ? mask + row * T : nullptr;
    float dot = 0.0f;
    for (int64_t j = lane; j < T; j += 32) {
        float v = g[j];
        if (m) v = m[j] ? v * keep_scale : 0.0f;
        g[j] = v;
        dot += v * p[j];
    }
    dot = warp_sum(dot);
    for (int64_t j = lane; j < T; j += 32) g[j] = scale * p[j] * (g[j] - dot);
}

__global__ void apply_mask_k(const float* P, const uint8_t* mask, float* A, int64_t n, float keep_scale) {
    CKPT_GRID_STRIDE(i, n) A[i] = mask[i] ? __fmul_rn(P[i], keep_scale) : 0.0f;
}

}  // namespace

void attention_softmax(float* P, int64_t rows, int64_t T, bool causal, cudaStream_t s) {
    if (rows > 0) softmax_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(P, rows, T, causal);
}

void attention_softmax_backward(float* dA, const float* P, const uint8_t* mask, int64_t rows, int64_t T, float scale,
                                float keep_scale, cudaStream_t s) {
    if (rows > 0)
        softmax_backward_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(dA, P, mask, rows, T, scale,
                                                                                         keep_scale);
}

void apply_mask(const float* P, const uint8_t* mask, float* A, int64_t n, float keep_scale, cudaStream_t s) {
    if (n > 0) apply_mask_k<<<grid_for(n), kThreads, 0, s>>>(P, mask, A, n, keep_scale);
}

}  // namespace ckpt::cuda
