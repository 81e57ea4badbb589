// Random fills and dropout masks from the same Philox streams as the CPU backend: element i of
// a stream is word i % 4 of block i / 4, so each thread draws one block and serves four
// elements. Uniform fills and masks are equal to the CPU's bit for bit (the arithmetic is
// written without fused multiply-adds); normal fills use the device's logf/cosf, within a few
// ulp of the host's.
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"
#include "backends/cuda/typed.cuh"
#include "core/philox.h"

namespace ckpt::cuda {
namespace {

__global__ void fill_uniform_k(float* x, int64_t n, float lo, float span, uint64_t seed, uint64_t stream) {
    CKPT_GRID_STRIDE(b, (n + 3) / 4) {
        const philox::Block r = philox::philox4x32_10(uint64_t(b), stream, seed);
        for (int k = 0; k < 4; ++k) {
            const int64_t i = 4 * b + k;
            if (i < n) x[i] = __fadd_rn(lo, __fmul_rn(span, philox::to_unit(r[k])));
        }
    }
}

__global__ void fill_normal_k(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) {
    // Box-Muller on the two halves of each Philox block: element i uses block i / 2.
    CKPT_GRID_STRIDE(j, (n + 1) / 2) {
        const philox::Block r = philox::philox4x32_10(uint64_t(j), stream, seed);
        for (int h = 0; h < 2; ++h) {
            const int64_t i = 2 * j + h;
            if (i >= n) break;
            const float u1 = __fmul_rn(float(r[2 * h] >> 8) + 1.0f, 1.0f / 16777217.0f);  // (0, 1]
            const float u2 = philox::to_unit(r[2 * h + 1]);
            x[i] = __fmul_rn(__fmul_rn(stddev, sqrtf(__fmul_rn(-2.0f, logf(u1)))), cosf(__fmul_rn(6.2831853071795865f, u2)));
        }
    }
}

__global__ void fill_classes_k(int64_t* t, int64_t n, uint64_t classes, uint64_t seed, uint64_t stream) {
    CKPT_GRID_STRIDE(b, (n + 3) / 4) {
        const philox::Block r = philox::philox4x32_10(uint64_t(b), stream, seed);
        for (int k = 0; k < 4; ++k) {
            const int64_t i = 4 * b + k;
            if (i < n) t[i] = int64_t(r[k] % classes);
        }
    }
}

// Element i of the launch is element base + i of the stream; base is a multiple of 4 only when
// the caller says so, so the general path draws per element. A null y draws the mask alone.
template <typename In, typename Out>
__global__ void dropout_forward_k(const void* x, void* y, uint8_t* mask, int64_t n, float p, float scale,
                                  uint64_t base, uint64_t seed, uint64_t stream) {
    CKPT_GRID_STRIDE(i, n) {
        const uint8_t keep = philox::to_unit(philox::word(base + uint64_t(i), stream, seed)) >= p;
        mask[i] = keep;
        if (y) Out::store(y, i, keep ? __fmul_rn(In::load(x, i), scale) : 0.0f);
    }
}

template <typename In, typename Out>
__global__ void dropout_forward4_k(const void* x, void* y, uint8_t* mask, int64_t n, float p, float scale,
                                   uint64_t base, uint64_t seed, uint64_t stream) {
    CKPT_GRID_STRIDE(b, (n + 3) / 4) {
        const philox::Block r = philox::philox4x32_10((base >> 2) + uint64_t(b), stream, seed);
        for (int k = 0; k < 4; ++k) {
            const int64_t i = 4 * b + k;
            if (i >= n) break;
            const uint8_t keep = philox::to_unit(r[k]) >= p;
            mask[i] = keep;
            if (y) Out::store(y, i, keep ? __fmul_rn(In::load(x, i), scale) : 0.0f);
        }
    }
}

}  // namespace

void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream, cudaStream_t s) {
    if (n > 0) fill_uniform_k<<<grid_for((n + 3) / 4), kThreads, 0, s>>>(x, n, lo, hi - lo, seed, stream);
}

void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream, cudaStream_t s) {
    if (n > 0) fill_normal_k<<<grid_for((n + 1) / 2), kThreads, 0, s>>>(x, n, stddev, seed, stream);
}

void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream, cudaStream_t s) {
    if (n > 0) fill_classes_k<<<grid_for((n + 3) / 4), kThreads, 0, s>>>(t, n, uint64_t(classes), seed, stream);
}

void dropout_forward(ElemType tin, const void* x, void* y, ElemType tout, uint8_t* mask, int64_t n, float p,
                     float scale, uint64_t base, uint64_t seed, uint64_t stream, cudaStream_t s) {
    if (n <= 0) return;
    dispatch_type(tin, [&](auto in) {
        dispatch_type(tout, [&](auto out) {
            using In = decltype(in);
            using Out = decltype(out);
            if (base % 4 == 0)
                dropout_forward4_k<In, Out>
                    <<<grid_for((n + 3) / 4), kThreads, 0, s>>>(x, y, mask, n, p, scale, base, seed, stream);
            else
                dropout_forward_k<In, Out><<<grid_for(n), kThreads, 0, s>>>(x, y, mask, n, p, scale, base, seed, stream);
        });
    });
}

}  // namespace ckpt::cuda
