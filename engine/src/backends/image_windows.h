// Window arithmetic of the pooling and convolution kernels, shared by the CPU and the CUDA
// backends (__host__ __device__ under nvcc): which outputs a pixel's windows cover, and which
// pixel of a max-pooling window wins. One definition on both devices means the same winner
// on ties (the first in row-major order), so max pooling's gradient goes to the same pixel
// everywhere and checkpointed runs stay bitwise equal across devices.
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

}  // namespace ckpt
