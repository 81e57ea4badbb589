// The CPU backend's image kernels (cpu_kernels.h): conv2d by im2col and OpenBLAS products, one
// image at a time (the columns of one image are the scratch), batch norm with statistics in
// double, and pooling. Every reduction has a fixed order whatever the thread count: the weight
// gradient adds image by image, batch norm's sums run per channel in (image, pixel) order, and
// the backward of a convolution or a pooling gathers, per input element, the terms of the
// outputs that read it in output order, so recomputation reproduces a forward bit for bit.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/cpu_kernels.h"
#include "backends/image_windows.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
// The loops that run once per image (im2col, col2im, the bias fill) stay on one thread below
// this many elements: a parallel region per image costs a wake-up of every thread, and on busy
// cores that wake-up, not the copy, was the step's time (a CIFAR ResNet step on two loaded
// cores: 2 to 20 s with a region per image, against 0.3 s on one thread).
constexpr int64_t kPerImageParallelMin = int64_t(1) << 22;

// The first and last output index (inclusive) along one side whose window covers input i.
// One image's columns of one group: cols (K = channels * k * k, Ho * Wo) from x_g, the group's
// channels of one image (channels, H, W); padding reads zeros.
template <typename IO>
void im2col(const void* x, int64_t x_off, void* cols, const ConvShape& s, int64_t channels) {
    const int64_t k = s.kernel, Ho = s.out_h(), Wo = s.out_w(), P = Ho * Wo;
#pragma omp parallel for if (channels * k * k * P > kPerImageParallelMin)
    for (int64_t r = 0; r < channels * k * k; ++r) {
        const int64_t c = r / (k * k), kh = (r / k) % k, kw = r % k;
        for (int64_t oh = 0; oh < Ho; ++oh) {
            const int64_t ih = oh * s.stride - s.padding + kh;
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const int64_t iw = ow * s.stride - s.padding + kw;
                const bool in = ih >= 0 && ih < s.height && iw >= 0 && iw < s.width;
                IO::store(cols, r * P + oh * Wo + ow, in ? IO::load(x, x_off + (c * s.height + ih) * s.width + iw) : 0.0f);
            }
        }
    }
}

// The inverse gather: dx of one group's channels of one image from the columns' gradient,
// each input element summing the entries that read it (f32, in output order), rounded once.
template <typename IO>
void col2im(const void* dcols, void* dx, int64_t dx_off, const ConvShape& s, int64_t channels) {
    const int64_t k = s.kernel, Ho = s.out_h(), Wo = s.out_w(), P = Ho * Wo;
#pragma omp parallel for if (channels * s.height * s.width * k > kPerImageParallelMin)
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t ih = 0; ih < s.height; ++ih)
            for (int64_t iw = 0; iw < s.width; ++iw) {
                int64_t oh0, oh1, ow0, ow1;
                covering(ih, k, s.stride, s.padding, Ho, &oh0, &oh1);
                covering(iw, k, s.stride, s.padding, Wo, &ow0, &ow1);
                float acc = 0.0f;
                for (int64_t oh = oh0; oh <= oh1; ++oh) {
                    const int64_t kh = ih + s.padding - oh * s.stride;
                    for (int64_t ow = ow0; ow <= ow1; ++ow) {
                        const int64_t kw = iw + s.padding - ow * s.stride;
                        acc += IO::load(dcols, ((c * k + kh) * k + kw) * P + oh * Wo + ow);
                    }
                }
                IO::store(dx, dx_off + (c * s.height + ih) * s.width + iw, acc);
            }
}

}  // namespace

void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias, void* y,
                    void* scratch) {
    const int64_t G = s.groups, Cin = s.in_channels / G, Cout = s.out_channels / G, K = s.col_rows();
    const int64_t HW = s.height * s.width, P = s.out_h() * s.out_w();
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        for (int64_t n = 0; n < s.batch; ++n) {
            void* yn = offset(y, n * s.out_channels * P, t);
            if (bias) {
#pragma omp parallel for if (s.out_channels * P > kPerImageParallelMin)
                for (int64_t c = 0; c < s.out_channels; ++c) {
                    const float b = IO::load(bias, c);
                    for (int64_t p = 0; p < P; ++p) IO::store(yn, c * P + p, b);
                }
            }
            for (int64_t g = 0; g < G; ++g) {
                const int64_t x_off = (n * s.in_channels + g * Cin) * HW;
                const void* cols = offset(x, x_off, t);
                if (!s.pointwise()) {
                    im2col<IO>(x, x_off, scratch, s, Cin);
                    cols = scratch;
                }
                gemm_ex(false, false, Cout, P, K, 1.0f, offset(w, g * Cout * K, t), K, cols, P, bias ? 1.0f : 0.0f,
                        offset(yn, g * Cout * P, t), P, t, t);
            }
        }
    });
}

void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                     float* dw, float* dbias, void* scratch) {
    const int64_t G = s.groups, Cin = s.in_channels / G, Cout = s.out_channels / G, K = s.col_rows();
    const int64_t HW = s.height * s.width, P = s.out_h() * s.out_w();
    void* cols_buf = scratch;
    void* dcols_buf = s.pointwise() ? nullptr : offset(scratch, K * P, t);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        for (int64_t n = 0; n < s.batch; ++n) {
            const void* dyn = offset(dy, n * s.out_channels * P, t);
            for (int64_t g = 0; g < G; ++g) {
                const int64_t x_off = (n * s.in_channels + g * Cin) * HW;
                const void* cols = offset(x, x_off, t);
                if (!s.pointwise()) {
                    im2col<IO>(x, x_off, cols_buf, s, Cin);
                    cols = cols_buf;
                }
                const void* dyg = offset(dyn, g * Cout * P, t);
                // dW_g (+)= dY_g cols^T, image after image, in f32.
                gemm_ex(false, true, Cout, K, P, 1.0f, dyg, P, cols, P, n == 0 ? 0.0f : 1.0f, dw + g * Cout * K, K, t,
                        ElemType::f32);
                if (!dx) continue;
                // dcols = W_g^T dY_g, then gathered back onto the image (straight into dx when pointwise).
                void* dcols = s.pointwise() ? offset(dx, x_off, t) : dcols_buf;
                gemm_ex(true, false, K, P, Cout, 1.0f, offset(w, g * Cout * K, t), K, dyg, P, 0.0f, dcols, P, t, t);
                if (!s.pointwise()) col2im<IO>(dcols, dx, x_off, s, Cin);
            }
        }
        if (dbias) {
#pragma omp parallel for if (s.batch * s.out_channels * P > kParallelMin)
            for (int64_t c = 0; c < s.out_channels; ++c) {
                float acc = 0.0f;
                for (int64_t n = 0; n < s.batch; ++n)
                    for (int64_t p = 0; p < P; ++p) acc += IO::load(dy, (n * s.out_channels + c) * P + p);
                dbias[c] = acc;
            }
        }
    });
}

void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                       float* running_var, float momentum) {
    const double M = double(n) * double(hw);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (n * c * hw > kParallelMin)
        for (int64_t ch = 0; ch < c; ++ch) {
            double s = 0.0;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t p = 0; p < hw; ++p) s += IO::load(x, (i * c + ch) * hw + p);
            const float m = float(s / M);
            double v = 0.0;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t p = 0; p < hw; ++p) {
                    const double d = double(IO::load(x, (i * c + ch) * hw + p) - m);
                    v += d * d;
                }
            const float rs = float(1.0 / std::sqrt(v / M + double(eps)));
            mean[ch] = m;
            rstd[ch] = rs;
            const float g = gamma ? gamma[ch] : 1.0f, b = gamma ? beta[ch] : 0.0f;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t p = 0; p < hw; ++p) {
                    const int64_t at = (i * c + ch) * hw + p;
                    IO::store(y, at, (IO::load(x, at) - m) * rs * g + b);
                }
            if (running_mean) {
                // PyTorch's update: the mean, and the unbiased variance (M / (M - 1)).
                running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * m;
                running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * float(v / (M - 1.0));
            }
        }
    });
}

void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                        const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
    const double M = double(n) * double(hw);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (n * c * hw > kParallelMin)
        for (int64_t ch = 0; ch < c; ++ch) {
            const float m = mean[ch], rs = rstd[ch];
            double sdy = 0.0, sdyx = 0.0;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t p = 0; p < hw; ++p) {
                    const int64_t at = (i * c + ch) * hw + p;
                    const float d = IO::load(dy, at);
                    sdy += d;
                    sdyx += double(d) * double((IO::load(x, at) - m) * rs);
                }
            if (dgamma) {
                dgamma[ch] = float(sdyx);
                dbeta[ch] = float(sdy);
            }
            // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
            const float g = gamma ? gamma[ch] : 1.0f, mdy = float(sdy / M), mdyx = float(sdyx / M);
            for (int64_t i = 0; i < n; ++i)
                for (int64_t p = 0; p < hw; ++p) {
                    const int64_t at = (i * c + ch) * hw + p;
                    const float xhat = (IO::load(x, at) - m) * rs;
                    IO::store(dx, at, g * rs * (IO::load(dy, at) - mdy - xhat * mdyx));
                }
        }
    });
}

namespace {

// The flat index (in one plane) of the first maximum of output (oh, ow)'s window, or -1 when the
// window holds only padding (the validator's padding rule rules that out).
}  // namespace

void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (planes * Ho * Wo * s.kernel_h * s.kernel_w > kParallelMin)
        for (int64_t q = 0; q < planes; ++q)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    const int64_t at = window_argmax<IO>(x, q * s.height * s.width, s, oh, ow);
                    IO::store(y, (q * Ho + oh) * Wo + ow, IO::load(x, q * s.height * s.width + at));
                }
    });
}

void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels, HW = s.height * s.width;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (planes * HW * s.kernel_h * s.kernel_w > kParallelMin)
        for (int64_t q = 0; q < planes; ++q)
            for (int64_t ih = 0; ih < s.height; ++ih)
                for (int64_t iw = 0; iw < s.width; ++iw)
                    IO::store(dx, q * HW + ih * s.width + iw, pool_grad_at<IO>(x, dy, q, s, Ho, Wo, ih, iw, true));
    });
}

void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels;
    const float inv = 1.0f / float(s.kernel_h * s.kernel_w);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (planes * Ho * Wo * s.kernel_h * s.kernel_w > kParallelMin)
        for (int64_t q = 0; q < planes; ++q)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow)
                    IO::store(y, (q * Ho + oh) * Wo + ow, window_sum<IO>(x, q * s.height * s.width, s, oh, ow) * inv);
    });
}

void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels, HW = s.height * s.width;
    const float inv = 1.0f / float(s.kernel_h * s.kernel_w);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
#pragma omp parallel for if (planes * HW > kParallelMin)
        for (int64_t q = 0; q < planes; ++q)
            for (int64_t ih = 0; ih < s.height; ++ih)
                for (int64_t iw = 0; iw < s.width; ++iw)
                    IO::store(dx, q * HW + ih * s.width + iw,
                              pool_grad_at<IO>(nullptr, dy, q, s, Ho, Wo, ih, iw, false) * inv);
    });
}

}  // namespace ckpt::cpu
