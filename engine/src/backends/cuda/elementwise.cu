// Elementwise kernels: fills, broadcasts, activations and their gradients, residual adds,
// dropout's backward and MSE's gradient. Memory-bound, one grid-stride loop each. Where the CPU
// reference computes a value with plain multiplies and adds, so does this code (__fmul_rn and
// __fadd_rn stop the compiler from fusing them), so those results agree with the CPU bit for bit.
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

__global__ void fill_k(float* x, int64_t n, float v) {
    CKPT_GRID_STRIDE(i, n) x[i] = v;
}

__global__ void broadcast_rows_k(float* y, const float* b, int64_t rows, int64_t cols) {
    CKPT_GRID_STRIDE(i, rows * cols) y[i] = b[i % cols];
}

template <Act A>
__global__ void act_forward_k(const float* x, float* y, int64_t n) {
    CKPT_GRID_STRIDE(i, n) {
        const float v = x[i];
        if constexpr (A == Act::relu) y[i] = v > 0.0f ? v : 0.0f;
        if constexpr (A == Act::gelu) y[i] = 0.5f * v * (1.0f + tanhf(kGeluK * (v + kGeluC * v * v * v)));
        if constexpr (A == Act::tanh) y[i] = tanhf(v);
        if constexpr (A == Act::silu) y[i] = v / (1.0f + expf(-v));
    }
}

template <Act A>
__global__ void act_backward_k(const float* s, const float* dy, float* dx, int64_t n) {
    CKPT_GRID_STRIDE(i, n) {
        const float v = s[i];
        if constexpr (A == Act::relu) dx[i] = v > 0.0f ? dy[i] : 0.0f;
        if constexpr (A == Act::gelu) {
            const float t = tanhf(kGeluK * (v + kGeluC * v * v * v));
            const float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluK * (1.0f + 3.0f * kGeluC * v * v);
            dx[i] = dy[i] * d;
        }
        if constexpr (A == Act::tanh) dx[i] = dy[i] * (1.0f - v * v);
        if constexpr (A == Act::silu) {
            const float sg = 1.0f / (1.0f + expf(-v));
            dx[i] = dy[i] * (sg + v * sg * (1.0f - sg));
        }
    }
}

__global__ void add_k(const float* a, const float* b, float* y, int64_t n) {
    CKPT_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

__global__ void dropout_backward_k(const float* dy, const uint8_t* mask, float* dx, int64_t n, float scale) {
    CKPT_GRID_STRIDE(i, n) dx[i] = mask[i] ? __fmul_rn(dy[i], scale) : 0.0f;
}

__global__ void mse_backward_k(const float* pred, const float* target, float* d, int64_t n, float k) {
    CKPT_GRID_STRIDE(i, n) d[i] = __fmul_rn(k, __fsub_rn(pred[i], target[i]));
}

}  // namespace

void fill(float* x, int64_t n, float v, cudaStream_t s) {
    if (n > 0) fill_k<<<grid_for(n), kThreads, 0, s>>>(x, n, v);
}

void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols, cudaStream_t s) {
    if (rows * cols > 0) broadcast_rows_k<<<grid_for(rows * cols), kThreads, 0, s>>>(y, b, rows, cols);
}

void activation_forward(Act a, const float* x, float* y, int64_t n, cudaStream_t s) {
    if (n <= 0) return;
    const unsigned g = grid_for(n);
    switch (a) {
    case Act::relu: act_forward_k<Act::relu><<<g, kThreads, 0, s>>>(x, y, n); break;
    case Act::gelu: act_forward_k<Act::gelu><<<g, kThreads, 0, s>>>(x, y, n); break;
    case Act::tanh: act_forward_k<Act::tanh><<<g, kThreads, 0, s>>>(x, y, n); break;
    case Act::silu: act_forward_k<Act::silu><<<g, kThreads, 0, s>>>(x, y, n); break;
    }
}

void activation_backward(Act a, const float* saved, const float* dy, float* dx, int64_t n, cudaStream_t s) {
    if (n <= 0) return;
    const unsigned g = grid_for(n);
    switch (a) {
    case Act::relu: act_backward_k<Act::relu><<<g, kThreads, 0, s>>>(saved, dy, dx, n); break;
    case Act::gelu: act_backward_k<Act::gelu><<<g, kThreads, 0, s>>>(saved, dy, dx, n); break;
    case Act::tanh: act_backward_k<Act::tanh><<<g, kThreads, 0, s>>>(saved, dy, dx, n); break;
    case Act::silu: act_backward_k<Act::silu><<<g, kThreads, 0, s>>>(saved, dy, dx, n); break;
    }
}

void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
    if (n > 0) add_k<<<grid_for(n), kThreads, 0, s>>>(a, b, y, n);
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float scale, cudaStream_t s) {
    if (n > 0) dropout_backward_k<<<grid_for(n), kThreads, 0, s>>>(dy, mask, dx, n, scale);
}

void mse_backward(const float* pred, const float* target, float* d, int64_t n, cudaStream_t s) {
    if (n > 0) mse_backward_k<<<grid_for(n), kThreads, 0, s>>>(pred, target, d, n, 2.0f / float(n));
}

}  // namespace ckpt::cuda
