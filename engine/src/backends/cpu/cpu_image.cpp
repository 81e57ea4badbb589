// The CPU backend's image kernels (cpu_kernels.h): conv2d by im2col and products over tiles of the
// batch (cpu_conv_tiling, scratch.h), batch norm with statistics in double, and pooling. Each op
// is one parallel loop on the backend's pool (cpu_pool.h): a convolution's slots, batch norm's
// channels, pooling's planes. When a convolution has fewer slots than the pool has threads (a
// small batch), its slots run one after another and each product, im2col and col2im runs in
// parallel instead; both ways compute the same pieces, so the bits are the same. Every reduction
// has a fixed order whatever the thread count: the weight gradient adds tile by tile within a
// slot and slot by slot after, batch norm's sums run per channel image by image, col2im adds
// each input element's terms in kernel-row order, and pooling's backward adds each input
// element's terms in output order, so recomputation reproduces a forward bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_pool.h"
#include "backends/image_windows.h"
#include "backends/scratch.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// The outputs [first, last) along one axis whose input index o * stride - padding + k is inside
// [0, size): the part of an im2col row that reads the image rather than its zero padding.
void inside(int64_t k, int64_t size, int64_t stride, int64_t padding, int64_t outs, int64_t* first, int64_t* last) {
    const int64_t lo = padding - k, hi = size - 1 + padding - k;  // o * stride in [lo, hi]
    *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    *last = hi < 0 ? 0 : std::min(outs, hi / stride + 1);
    *first = std::min(*first, *last);
}

// Row r = (c, kh, kw) of one image's im2col matrix, the group's channel c read from x at x_off
// (channels, H, W), into cols at `at`: Ho * Wo values, padding as zeros. Values are copied as
// bits (T is float, or uint16_t for the 16-bit types), in plain loops that the compiler vectorizes
// (a row of a CIFAR image is 32 values, too short for a library call each).
template <typename T>
void im2col_row(const void* x, int64_t x_off, void* cols, int64_t at, const ConvShape& s, int64_t r) {
    const int64_t k = s.kernel, st = s.stride, Ho = s.out_h(), Wo = s.out_w();
    const int64_t c = r / (k * k), kh = (r / k) % k, kw = r % k;
    int64_t ow0, ow1;
    inside(kw, s.width, st, s.padding, Wo, &ow0, &ow1);
    T* dst = static_cast<T*>(cols) + at;
    const T* plane = static_cast<const T*>(x) + x_off + c * s.height * s.width;
    for (int64_t oh = 0; oh < Ho; ++oh, dst += Wo) {
        const int64_t ih = oh * st - s.padding + kh;
        if (ih < 0 || ih >= s.height) {
            for (int64_t ow = 0; ow < Wo; ++ow) dst[ow] = T(0);
            continue;
        }
        const int64_t from = ih * s.width - s.padding + kw;  // plane[from + ow * st] is output ow's input
        for (int64_t ow = 0; ow < ow0; ++ow) dst[ow] = T(0);
        if (st == 1) {
            for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] = plane[from + ow];
        } else {
            for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] = plane[from + ow * st];
        }
        for (int64_t ow = ow1; ow < Wo; ++ow) dst[ow] = T(0);
    }
}

// Input row ih of the group's channel c of one image, from the columns' gradient (rows of `ld`
// columns, this image's from column col0): each element sums the terms of the outputs that read
// it in f32, kernel row by kernel row, and is rounded once into dx at x_off (channels, H, W).
template <typename IO>
void col2im_row(const void* dcols, int64_t ld, int64_t col0, void* dx, int64_t x_off, const ConvShape& s, int64_t c,
                int64_t ih) {
    thread_local std::vector<float> acc;
    acc.assign(size_t(s.width), 0.0f);
    float* const a = acc.data();
    const int64_t k = s.kernel, st = s.stride, Ho = s.out_h(), Wo = s.out_w();
    for (int64_t kh = 0; kh < k; ++kh) {
        const int64_t t = ih + s.padding - kh;  // = oh * stride
        if (t < 0 || t % st != 0 || t / st >= Ho) continue;
        const int64_t oh = t / st;
        for (int64_t kw = 0; kw < k; ++kw) {
            int64_t ow0, ow1;
            inside(kw, s.width, st, s.padding, Wo, &ow0, &ow1);
            const int64_t src = ((c * k + kh) * k + kw) * ld + col0 + oh * Wo, shift = kw - s.padding;
            if (st == 1) {  // output ow reads input column ow + shift
#pragma omp simd
                for (int64_t ow = ow0; ow < ow1; ++ow) a[ow + shift] += IO::load(dcols, src + ow);
            } else {
                for (int64_t ow = ow0; ow < ow1; ++ow) a[ow * st + shift] += IO::load(dcols, src + ow);
            }
        }
    }
    const int64_t at = x_off + (c * s.height + ih) * s.width;
    for (int64_t iw = 0; iw < s.width; ++iw) IO::store(dx, at + iw, a[iw]);
}

// What a convolution's slots share: the shape, its tiling and the scratch's layout.
struct ConvPlan {
    ConvShape s;
    CpuConvTiling tiling;
    CpuConvSlot slot;
    int64_t G, Cin, Cout, K, HW, P;
    ElemType t;
    bool across;  // slots in parallel, each on one thread (else in turn, each step in parallel)

    ConvPlan(const ConvShape& shape, bool forward, bool need_dx, ElemType type)
        : s(shape), tiling(cpu_conv_tiling(shape)), slot(cpu_conv_slot(shape, forward, need_dx, type)),
          G(shape.groups), Cin(shape.in_channels / shape.groups), Cout(shape.out_channels / shape.groups),
          K(shape.col_rows()), HW(shape.height * shape.width), P(shape.out_h() * shape.out_w()), t(type),
          across(pool_threads() > 1 && tiling.slot_count > 1 && tiling.slot_count >= pool_threads()) {}

    // Runs body(slot) for every slot.
    template <typename F>
    void each_slot(const F& body) const {
        if (across) parallel_for(tiling.slot_count, body);
        else
            for (int64_t i = 0; i < tiling.slot_count; ++i) body(i);
    }
    // The tiles slot i works through, in order: [first, last).
    int64_t first_tile(int64_t i) const { return i * tiling.tiles / tiling.slot_count; }
    int64_t images_in(int64_t tile) const { return std::min(tiling.images, s.batch - tile * tiling.images); }
    // Part `offset` of slot i's buffers. Slots that run in turn share the first slot's, which
    // stay in the cache from one to the next (the scratch still holds every slot's).
    char* part(void* scratch, int64_t i, int64_t offset) const {
        return static_cast<char*>(scratch) + (across ? i : 0) * slot.bytes() + offset;
    }
    float* partial(void* scratch, float* dw, int64_t i) const {  // slot i's weight-gradient sum
        return i == 0 ? dw
                      : reinterpret_cast<float*>(static_cast<char*>(scratch) + tiling.slot_count * slot.bytes() +
                                                 (i - 1) * slot.partial);
    }

    // The tile's im2col matrix of group g, (K, nb * P) with image i's columns from i * P.
    void im2col(const void* x, int64_t n0, int64_t nb, int64_t g, void* cols) const {
        parallel_for(nb * K, [&](int64_t q) {
            const int64_t i = q / K, r = q % K;
            const int64_t at = r * nb * P + i * P, x_off = ((n0 + i) * s.in_channels + g * Cin) * HW;
            if (t == ElemType::f32) im2col_row<float>(x, x_off, cols, at, s, r);
            else im2col_row<uint16_t>(x, x_off, cols, at, s, r);
        }, nb * K * P > kParallelMin);
    }
    // Rows of group g of the tile's images, between their (nb, C_out, P) layout in `images` and
    // the products' (C_out, nb * P) in `tile`: gathered into the tile, or scattered back.
    void gather(const void* images, void* tile, int64_t n0, int64_t nb, int64_t g) const {
        rows(n0, nb, g, [&](int64_t image_at, int64_t tile_at, size_t bytes) {
            std::memcpy(static_cast<char*>(tile) + tile_at, static_cast<const char*>(images) + image_at, bytes);
        });
    }
    void scatter(const void* tile, void* images, int64_t n0, int64_t nb, int64_t g) const {
        rows(n0, nb, g, [&](int64_t image_at, int64_t tile_at, size_t bytes) {
            std::memcpy(static_cast<char*>(images) + image_at, static_cast<const char*>(tile) + tile_at, bytes);
        });
    }
    template <typename Copy>
    void rows(int64_t n0, int64_t nb, int64_t g, const Copy& copy) const {
        const int64_t e = elem_size(t);
        parallel_for(nb * Cout, [&](int64_t q) {
            const int64_t i = q / Cout, c = q % Cout;
            copy(((n0 + i) * s.out_channels + g * Cout + c) * P * e, (c * nb * P + i * P) * e, size_t(P * e));
        }, nb * Cout * P > kParallelMin);
    }
};

}  // namespace

void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias, void* y,
                    void* scratch) {
    const ConvPlan pl(s, true, false, t);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        pl.each_slot([&](int64_t slot) {
            void* cols = pl.part(scratch, slot, 0);
            void* out = pl.part(scratch, slot, pl.slot.cols);
            for (int64_t tile = pl.first_tile(slot); tile < pl.first_tile(slot + 1); ++tile) {
                const int64_t n0 = tile * pl.tiling.images, nb = pl.images_in(tile), N = nb * pl.P;
                for (int64_t g = 0; g < pl.G; ++g) {
                    // The product writes the image's rows directly when the tile is one image.
                    void* dst = nb == 1 ? offset(y, (n0 * s.out_channels + g * pl.Cout) * pl.P, t) : out;
                    if (bias)  // the bias first, then the product adds onto it
                        parallel_for(pl.Cout, [&](int64_t c) {
                            const float b = IO::load(bias, g * pl.Cout + c);
                            for (int64_t p = 0; p < N; ++p) IO::store(dst, c * N + p, b);
                        }, pl.Cout * N > kParallelMin);
                    const void* B = offset(x, (n0 * s.in_channels + g * pl.Cin) * pl.HW, t);  // pointwise: one image
                    if (!s.pointwise()) {
                        pl.im2col(x, n0, nb, g, cols);
                        B = cols;
                    }
                    gemm_ex(false, false, pl.Cout, N, pl.K, 1.0f, offset(w, g * pl.Cout * pl.K, t), pl.K, B, N,
                            bias ? 1.0f : 0.0f, dst, N, t, t);
                    if (nb > 1) pl.scatter(out, y, n0, nb, g);
                }
            }
        });
    });
}

void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                     float* dw, float* dbias, void* scratch) {
    const ConvPlan pl(s, false, dx != nullptr, t);
    const int64_t wn = s.out_channels * pl.K;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        pl.each_slot([&](int64_t slot) {
            void* cols = pl.part(scratch, slot, 0);
            void* dyt = pl.part(scratch, slot, pl.slot.cols);
            void* dcols = pl.part(scratch, slot, pl.slot.cols + pl.slot.out);
            float* dws = pl.partial(scratch, dw, slot);
            const int64_t first = pl.first_tile(slot);
            for (int64_t tile = first; tile < pl.first_tile(slot + 1); ++tile) {
                const int64_t n0 = tile * pl.tiling.images, nb = pl.images_in(tile), N = nb * pl.P;
                for (int64_t g = 0; g < pl.G; ++g) {
                    const int64_t x_off = (n0 * s.in_channels + g * pl.Cin) * pl.HW;
                    const void* B = offset(x, x_off, t);  // pointwise: the image is its columns
                    if (!s.pointwise()) {
                        pl.im2col(x, n0, nb, g, cols);
                        B = cols;
                    }
                    // dY of the group, (C_out, N): the image's rows, or the tile's gathered.
                    const void* D = offset(dy, (n0 * s.out_channels + g * pl.Cout) * pl.P, t);
                    if (nb > 1) {
                        pl.gather(dy, dyt, n0, nb, g);
                        D = dyt;
                    }
                    // dW_g (+)= dY_g cols^T over the slot's tiles in order, in f32.
                    gemm_ex(false, true, pl.Cout, pl.K, N, 1.0f, D, N, B, N, tile == first ? 0.0f : 1.0f,
                            dws + g * pl.Cout * pl.K, pl.K, t, ElemType::f32);
                    if (!dx) continue;
                    // dcols = W_g^T dY_g, then gathered back onto the images (straight into dx when pointwise).
                    void* dC = s.pointwise() ? offset(dx, x_off, t) : dcols;
                    gemm_ex(true, false, pl.K, N, pl.Cout, 1.0f, offset(w, g * pl.Cout * pl.K, t), pl.K, D, N, 0.0f, dC,
                            N, t, t);
                    if (s.pointwise()) continue;
                    const int64_t H = s.height;
                    parallel_for(nb * pl.Cin * H, [&](int64_t q) {
                        const int64_t i = q / (pl.Cin * H), c = q / H % pl.Cin, ih = q % H;
                        col2im_row<IO>(dcols, N, i * pl.P, dx, ((n0 + i) * s.in_channels + g * pl.Cin) * pl.HW, s, c, ih);
                    }, nb * pl.Cin * pl.HW * s.kernel > kParallelMin);
                }
            }
        });
        // The slots' sums, added in slot order.
        if (pl.tiling.slot_count > 1) {
            float* const sum = dw;
            parallel_ranges(wn, 8192, [&](int64_t p0, int64_t p1) {
                for (int64_t i = 1; i < pl.tiling.slot_count; ++i) {
                    const float* const add = pl.partial(scratch, dw, i);
#pragma omp simd
                    for (int64_t j = p0; j < p1; ++j) sum[j] += add[j];
                }
            }, wn > kParallelMin);
        }
        if (dbias) {
            parallel_for(s.out_channels, [&](int64_t c) {
                float acc = 0.0f;
                for (int64_t n = 0; n < s.batch; ++n)
                    for (int64_t p = 0; p < pl.P; ++p) acc += IO::load(dy, (n * s.out_channels + c) * pl.P + p);
                dbias[c] = acc;
            }, s.batch * s.out_channels * pl.P > kParallelMin);
        }
    });
}

void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                       float* running_var, float momentum) {
    const double M = double(n) * double(hw);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        // One piece per channel: its statistics need every image. Each plane is summed in vector
        // lanes, the planes in image order.
        parallel_for(c, [&](int64_t ch) {
            const void* const xs = x;
            void* const ys = y;
            double s = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t at = (i * c + ch) * hw;
                double ps = 0.0;
#pragma omp simd reduction(+ : ps)
                for (int64_t p = 0; p < hw; ++p) ps += IO::load(xs, at + p);
                s += ps;
            }
            const float m = float(s / M);
            double v = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t at = (i * c + ch) * hw;
                double pv = 0.0;
#pragma omp simd reduction(+ : pv)
                for (int64_t p = 0; p < hw; ++p) {
                    const double d = double(IO::load(xs, at + p) - m);
                    pv += d * d;
                }
                v += pv;
            }
            const float rs = float(1.0 / std::sqrt(v / M + double(eps)));
            mean[ch] = m;
            rstd[ch] = rs;
            const float g = gamma ? gamma[ch] : 1.0f, b = gamma ? beta[ch] : 0.0f;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t at = (i * c + ch) * hw;
#pragma omp simd
                for (int64_t p = 0; p < hw; ++p) IO::store(ys, at + p, (IO::load(xs, at + p) - m) * rs * g + b);
            }
            if (running_mean) {
                // PyTorch's update: the mean, and the unbiased variance (M / (M - 1)).
                running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * m;
                running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * float(v / (M - 1.0));
            }
        }, n * c * hw > kParallelMin);
    });
}

void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                        const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
    const double M = double(n) * double(hw);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        parallel_for(c, [&](int64_t ch) {
            const void* const xs = x;
            const void* const dys = dy;
            void* const dxs = dx;
            const float m = mean[ch], rs = rstd[ch];
            double sdy = 0.0, sdyx = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t at = (i * c + ch) * hw;
                double pdy = 0.0, pdyx = 0.0;
#pragma omp simd reduction(+ : pdy, pdyx)
                for (int64_t p = 0; p < hw; ++p) {
                    const float d = IO::load(dys, at + p);
                    pdy += d;
                    pdyx += double(d) * double((IO::load(xs, at + p) - m) * rs);
                }
                sdy += pdy;
                sdyx += pdyx;
            }
            if (dgamma) {
                dgamma[ch] = float(sdyx);
                dbeta[ch] = float(sdy);
            }
            // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
            const float g = gamma ? gamma[ch] : 1.0f, mdy = float(sdy / M), mdyx = float(sdyx / M);
            for (int64_t i = 0; i < n; ++i) {
                const int64_t at = (i * c + ch) * hw;
#pragma omp simd
                for (int64_t p = 0; p < hw; ++p) {
                    const float xhat = (IO::load(xs, at + p) - m) * rs;
                    IO::store(dxs, at + p, g * rs * (IO::load(dys, at + p) - mdy - xhat * mdyx));
                }
            }
        }, n * c * hw > kParallelMin);
    });
}

// Pooling: one piece per run of planes (channels of images), about kParallelMin / 4 elements.
namespace {
int64_t plane_grain(int64_t plane_elements) { return std::max<int64_t>(1, kParallelMin / 4 / std::max<int64_t>(plane_elements, 1)); }
}  // namespace

void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        parallel_ranges(planes, plane_grain(s.height * s.width), [&](int64_t q0, int64_t q1) {
            for (int64_t q = q0; q < q1; ++q)
                for (int64_t oh = 0; oh < Ho; ++oh)
                    for (int64_t ow = 0; ow < Wo; ++ow) {
                        const int64_t at = window_argmax<IO>(x, q * s.height * s.width, s, oh, ow);
                        IO::store(y, (q * Ho + oh) * Wo + ow, IO::load(x, q * s.height * s.width + at));
                    }
        }, planes * Ho * Wo * s.kernel_h * s.kernel_w > kParallelMin);
    });
}

// Pooling's backward, plane by plane: f32 scatters each output's gradient onto its window in
// output order (scatter(q, plane), the plane zeroed first), which adds each pixel's terms in the
// order pool_grad_at gathers them, for a k^2-th of the window searches; 16-bit gathers per pixel
// (gather(q, ih, iw)), summing in f32 and rounding once.
template <typename IO, typename Scatter, typename Gather>
void pool_backward_planes(const PoolShape& s, void* dx, int64_t work, const Scatter& scatter, const Gather& gather) {
    const int64_t planes = s.batch * s.channels, HW = s.height * s.width;
    parallel_ranges(planes, plane_grain(HW), [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
            if constexpr (IO::type == ElemType::f32) {
                float* plane = static_cast<float*>(dx) + q * HW;
                std::fill(plane, plane + HW, 0.0f);
                scatter(q, plane);
            } else {
                for (int64_t ih = 0; ih < s.height; ++ih)
                    for (int64_t iw = 0; iw < s.width; ++iw) IO::store(dx, q * HW + ih * s.width + iw, gather(q, ih, iw));
            }
        }
    }, work > kParallelMin);
}

void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), HW = s.height * s.width;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        pool_backward_planes<IO>(
            s, dx, s.batch * s.channels * HW * s.kernel_h * s.kernel_w,
            [&](int64_t q, float* plane) {
                for (int64_t oh = 0; oh < Ho; ++oh)
                    for (int64_t ow = 0; ow < Wo; ++ow)
                        plane[window_argmax<IO>(x, q * HW, s, oh, ow)] += IO::load(dy, (q * Ho + oh) * Wo + ow);
            },
            [&](int64_t q, int64_t ih, int64_t iw) { return pool_grad_at<IO>(x, dy, q, s, Ho, Wo, ih, iw, true); });
    });
}

void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), planes = s.batch * s.channels;
    const float inv = 1.0f / float(s.kernel_h * s.kernel_w);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        parallel_ranges(planes, plane_grain(s.height * s.width), [&](int64_t q0, int64_t q1) {
            for (int64_t q = q0; q < q1; ++q)
                for (int64_t oh = 0; oh < Ho; ++oh)
                    for (int64_t ow = 0; ow < Wo; ++ow)
                        IO::store(y, (q * Ho + oh) * Wo + ow, window_sum<IO>(x, q * s.height * s.width, s, oh, ow) * inv);
        }, planes * Ho * Wo * s.kernel_h * s.kernel_w > kParallelMin);
    });
}

void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx) {
    const int64_t Ho = s.out_h(), Wo = s.out_w(), HW = s.height * s.width;
    const float inv = 1.0f / float(s.kernel_h * s.kernel_w);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        pool_backward_planes<IO>(
            s, dx, s.batch * s.channels * HW,
            [&](int64_t q, float* plane) {
                for (int64_t oh = 0; oh < Ho; ++oh)
                    for (int64_t ow = 0; ow < Wo; ++ow) {
                        const float g = IO::load(dy, (q * Ho + oh) * Wo + ow);
                        for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
                            const int64_t ih = oh * s.stride_h - s.padding + kh;
                            if (ih < 0 || ih >= s.height) continue;
                            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
                                const int64_t iw = ow * s.stride_w - s.padding + kw;
                                if (iw >= 0 && iw < s.width) plane[ih * s.width + iw] += g;
                            }
                        }
                    }
                for (int64_t i = 0; i < HW; ++i) plane[i] *= inv;
            },
            [&](int64_t q, int64_t ih, int64_t iw) {
                return pool_grad_at<IO>(nullptr, dy, q, s, Ho, Wo, ih, iw, false) * inv;
            });
    });
}

}  // namespace ckpt::cpu
