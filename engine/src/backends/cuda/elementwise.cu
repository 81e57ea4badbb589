// Elementwise kernels: fills, casts, broadcasts, activations and their gradients, residual
// adds, dropout's backward, MSE's gradient and scaling. Memory-bound, one grid-stride loop each.
// Typed tensors are read as f32 and written rounded once (typed.cuh). Where the CPU reference
// computes a value with plain multiplies and adds, so does this code (__fmul_rn and __fadd_rn
// stop the compiler from fusing them), so those results agree with the CPU bit for bit.
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"
#include "backends/cuda/typed.cuh"

namespace ckpt::cuda {
namespace {

constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

__global__ void fill_k(float* x, int64_t n, float v) {
    CKPT_GRID_STRIDE(i, n) x[i] = v;
}

__global__ void cast_k(const void* x, ElemType from, void* y, ElemType to, int64_t n) {
    CKPT_GRID_STRIDE(i, n) store_as(y, to, i, load_as(x, from, i));
}

template <typename IO>
__global__ void broadcast_rows_k(void* y, const void* b, int64_t rows, int64_t cols) {
    CKPT_GRID_STRIDE(i, rows * cols) IO::store(y, i, IO::load(b, i % cols));
}

template <Act A, typename IO>
__global__ void act_forward_k(const void* x, void* y, int64_t n) {
    CKPT_GRID_STRIDE(i, n) {
        const float v = IO::load(x, i);
        float r;
        if constexpr (A == Act::relu) r = v > 0.0f ? v : 0.0f;
        if constexpr (A == Act::gelu) r = 0.5f * v * (1.0f + tanhf(kGeluK * (v + kGeluC * v * v * v)));
        if constexpr (A == Act::tanh) r = tanhf(v);
        if constexpr (A == Act::silu) r = v / (1.0f + expf(-v));
        IO::store(y, i, r);
    }
}

template <Act A, typename IO>
__global__ void act_backward_k(const void* s, const void* dy, void* dx, int64_t n) {
    CKPT_GRID_STRIDE(i, n) {
        const float v = IO::load(s, i), g = IO::load(dy, i);
        float r;
        if constexpr (A == Act::relu) r = v > 0.0f ? g : 0.0f;
        if constexpr (A == Act::gelu) {
            const float t = tanhf(kGeluK * (v + kGeluC * v * v * v));
            const float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluK * (1.0f + 3.0f * kGeluC * v * v);
            r = g * d;
        }
        if constexpr (A == Act::tanh) r = g * (1.0f - v * v);
        if constexpr (A == Act::silu) {
            const float sg = 1.0f / (1.0f + expf(-v));
            r = g * (sg + v * sg * (1.0f - sg));
        }
        IO::store(dx, i, r);
    }
}

__global__ void add_k(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n) {
    CKPT_GRID_STRIDE(i, n) store_as(y, ty, i, __fadd_rn(load_as(a, ta, i), load_as(b, tb, i)));
}

template <typename IO>
__global__ void dropout_backward_k(const void* dy, const uint8_t* mask, void* dx, int64_t n, float scale) {
    CKPT_GRID_STRIDE(i, n) IO::store(dx, i, mask[i] ? __fmul_rn(IO::load(dy, i), scale) : 0.0f);
}

__global__ void mse_backward_k(const float* pred, const float* target, float* d, int64_t n, float k) {
    CKPT_GRID_STRIDE(i, n) d[i] = __fmul_rn(k, __fsub_rn(pred[i], target[i]));
}

__global__ void scale_k(float* x, int64_t n, float v) {
    CKPT_GRID_STRIDE(i, n) x[i] = __fmul_rn(x[i], v);
}

template <typename IO>
__global__ void swiglu_forward_k(const void* x, void* y, int64_t rows, int64_t f) {
    CKPT_GRID_STRIDE(i, rows * f) {
        const int64_t r = i / f, c = i % f;
        const float gate = IO::load(x, r * 2 * f + c), up = IO::load(x, r * 2 * f + f + c);
        IO::store(y, i, gate / (1.0f + expf(-gate)) * up);
    }
}

template <typename IO>
__global__ void swiglu_backward_k(const void* x, const void* dy, void* dx, int64_t rows, int64_t f) {
    CKPT_GRID_STRIDE(i, rows * f) {
        const int64_t r = i / f, c = i % f;
        const float gate = IO::load(x, r * 2 * f + c), up = IO::load(x, r * 2 * f + f + c), g = IO::load(dy, i);
        const float sg = 1.0f / (1.0f + expf(-gate));
        IO::store(dx, r * 2 * f + c, g * up * (sg + gate * sg * (1.0f - sg)));
        IO::store(dx, r * 2 * f + f + c, g * (gate * sg));
    }
}

template <Act A>
void act_forward_for(ElemType t, const void* x, void* y, int64_t n, cudaStream_t s) {
    dispatch_type(t, [&](auto io) { act_forward_k<A, decltype(io)><<<grid_for(n), kThreads, 0, s>>>(x, y, n); });
}
template <Act A>
void act_backward_for(ElemType t, const void* sv, const void* dy, void* dx, int64_t n, cudaStream_t s) {
    dispatch_type(t, [&](auto io) { act_backward_k<A, decltype(io)><<<grid_for(n), kThreads, 0, s>>>(sv, dy, dx, n); });
}

}  // namespace

void fill(float* x, int64_t n, float v, cudaStream_t s) {
    if (n > 0) fill_k<<<grid_for(n), kThreads, 0, s>>>(x, n, v);
}

void cast(const void* x, ElemType from, void* y, ElemType to, int64_t n, cudaStream_t s) {
    if (n > 0) cast_k<<<grid_for(n), kThreads, 0, s>>>(x, from, y, to, n);
}

void broadcast_rows(void* y, const void* b, int64_t rows, int64_t cols, ElemType t, cudaStream_t s) {
    if (rows * cols <= 0) return;
    dispatch_type(t, [&](auto io) {
        broadcast_rows_k<decltype(io)><<<grid_for(rows * cols), kThreads, 0, s>>>(y, b, rows, cols);
    });
}

void activation_forward(Act a, ElemType t, const void* x, void* y, int64_t n, cudaStream_t s) {
    if (n <= 0) return;
    switch (a) {
    case Act::relu: act_forward_for<Act::relu>(t, x, y, n, s); break;
    case Act::gelu: act_forward_for<Act::gelu>(t, x, y, n, s); break;
    case Act::tanh: act_forward_for<Act::tanh>(t, x, y, n, s); break;
    case Act::silu: act_forward_for<Act::silu>(t, x, y, n, s); break;
    }
}

void activation_backward(Act a, ElemType t, const void* saved, const void* dy, void* dx, int64_t n, cudaStream_t s) {
    if (n <= 0) return;
    switch (a) {
    case Act::relu: act_backward_for<Act::relu>(t, saved, dy, dx, n, s); break;
    case Act::gelu: act_backward_for<Act::gelu>(t, saved, dy, dx, n, s); break;
    case Act::tanh: act_backward_for<Act::tanh>(t, saved, dy, dx, n, s); break;
    case Act::silu: act_backward_for<Act::silu>(t, saved, dy, dx, n, s); break;
    }
}

void add(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n, cudaStream_t s) {
    if (n > 0) add_k<<<grid_for(n), kThreads, 0, s>>>(a, ta, b, tb, y, ty, n);
}

void dropout_backward(ElemType t, const void* dy, const uint8_t* mask, void* dx, int64_t n, float scale, cudaStream_t s) {
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) {
        dropout_backward_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(dy, mask, dx, n, scale);
    });
}

void mse_backward(const float* pred, const float* target, float* d, int64_t n, cudaStream_t s) {
    if (n > 0) mse_backward_k<<<grid_for(n), kThreads, 0, s>>>(pred, target, d, n, 2.0f / float(n));
}

void swiglu_forward(ElemType t, const void* x, void* y, int64_t rows, int64_t f, cudaStream_t s) {
    if (rows * f <= 0) return;
    dispatch_type(t, [&](auto io) { swiglu_forward_k<decltype(io)><<<grid_for(rows * f), kThreads, 0, s>>>(x, y, rows, f); });
}

void swiglu_backward(ElemType t, const void* x, const void* dy, void* dx, int64_t rows, int64_t f, cudaStream_t s) {
    if (rows * f <= 0) return;
    dispatch_type(t, [&](auto io) {
        swiglu_backward_k<decltype(io)><<<grid_for(rows * f), kThreads, 0, s>>>(x, dy, dx, rows, f);
    });
}

void scale(float* x, int64_t n, float v, cudaStream_t s) {
    if (n > 0) scale_k<<<grid_for(n), kThreads, 0, s>>>(x, n, v);
}

}  // namespace ckpt::cuda
