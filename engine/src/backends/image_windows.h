// Window arithmetic of the pooling and convolution kernels, shared by the CPU and the CUDA
// backends (__host__ __device__ under nvcc): which outputs a pixel's windows cover, which pixel
// of a max-pooling window wins, and the per-element sums of pooling forward and backward. One
// definition on both devices means the same winner on ties (the first in row-major order) and
// the same summation order, so the two devices agree element by element; the backends only
// choose how to iterate (OpenMP loops, a grid-stride kernel).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CKPT_WIN_HD __host__ __device__ __forceinline__
#else
#define CKPT_WIN_HD inline
#endif

namespace ckpt {

// The outputs o (first..last, clipped to [0, outs)) whose window along one axis covers input
// index i: o * stride <= i + padding < o * stride + kernel.
CKPT_WIN_HD void covering(int64_t i, int64_t kernel, int64_t stride, int64_t padding, int64_t outs, int64_t* first,
                          int64_t* last) {
    const int64_t hi = i + padding;
    *first = hi - kernel + 1 <= 0 ? 0 : (hi - kernel + 1 + stride - 1) / stride;
    *last = outs - 1 < hi / stride ? outs - 1 : hi / stride;
}

// The offset (ih * width + iw) of the largest value in output (oh, ow)'s window of the plane at
// `plane`, the first in row-major order on ties; -1 when the window holds no pixel. S has
// kernel_h/w, stride_h/w, padding, height and width; IO::load(x, i) reads element i as float.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <typename IO, typename S>
CKPT_WIN_HD int64_t window_argmax(const void* x, int64_t plane, const S& s, int64_t oh, int64_t ow) {
    int64_t best = -1;
    float bv = 0.0f;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.padding + kh;
        if (ih < 0 || ih >= s.height) continue;
        for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
            const int64_t iw = ow * s.stride_w - s.padding + kw;
            if (iw < 0 || iw >= s.width) continue;
            const float v = IO::load(x, plane + ih * s.width + iw);
            if (best < 0 || v > bv) {
                bv = v;
                best = ih * s.width + iw;
            }
        }
    }
    return best;
}

// The sum over output (oh, ow)'s window of the plane at `plane` (padding counts as zeros).
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <typename IO, typename S>
CKPT_WIN_HD float window_sum(const void* x, int64_t plane, const S& s, int64_t oh, int64_t ow) {
    float acc = 0.0f;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.padding + kh;
        if (ih < 0 || ih >= s.height) continue;
        for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
            const int64_t iw = ow * s.stride_w - s.padding + kw;
            if (iw >= 0 && iw < s.width) acc += IO::load(x, plane + ih * s.width + iw);
        }
    }
    return acc;
}

// The gradient reaching input pixel (ih, iw) of plane q from the (Ho, Wo) outputs whose windows
// cover it: every one of them for average pooling (before the 1/k^2 scale), only those it won
// for max pooling (x is the forward input).
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <typename IO, typename S>
CKPT_WIN_HD float pool_grad_at(const void* x, const void* dy, int64_t q, const S& s, int64_t Ho, int64_t Wo, int64_t ih,
                               int64_t iw, bool max_pool) {
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, s.kernel_h, s.stride_h, s.padding, Ho, &oh0, &oh1);
    covering(iw, s.kernel_w, s.stride_w, s.padding, Wo, &ow0, &ow1);
    const int64_t plane = q * s.height * s.width, me = ih * s.width + iw;
    float acc = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
        for (int64_t ow = ow0; ow <= ow1; ++ow)
            if (!max_pool || window_argmax<IO>(x, plane, s, oh, ow) == me) acc += IO::load(dy, (q * Ho + oh) * Wo + ow);
    return acc;
}

}  // namespace ckpt
