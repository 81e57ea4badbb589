// Image kernels: conv2d's im2col and its inverse gather, its bias and the bias's gradient,
// batch norm, and pooling (the convolutions' products are cuBLAS calls in cuda_backend.cpp).
// Typed tensors are read as f32 and written rounded once (typed.cuh). Reductions are fixed
// trees (one block per channel), and every backward that scatters in principle gathers here,
// per input element, in the CPU reference's order, so a recomputed step repeats the forward's
// bits and the pooling kernels agree with the CPU's bit for bit.
#include "backends/cuda/common.cuh"
#include "backends/image_windows.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/typed.cuh"

namespace ckpt::cuda {
namespace {

// The first and last output index (inclusive) along one side whose window covers input i.
// Block-wide sum in a fixed tree; every thread gets the result.
template <typename T>
__device__ T block_total(T v) {
    __shared__ T part[kThreads / 32];
    __shared__ T total;
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        T t = 0;
        for (int w = 0; w < kThreads / 32; ++w) t += part[w];
        total = t;
    }
    __syncthreads();
    const T r = total;
    __syncthreads();  // `part` and `total` may be reused by the next call
    return r;
}

// cols[j] (chunk images x K rows x P columns) from the group's channels of images n0...
template <typename IO>
__global__ void im2col_k(const void* x, void* cols, ConvGeometry g, int64_t n0, int64_t chunk, int64_t group) {
    const int64_t k = g.kernel, P = g.out_h * g.out_w, K = g.group_in * k * k;
    CKPT_GRID_STRIDE(j, chunk * K * P) {
        const int64_t n = n0 + j / (K * P), r = (j / P) % K, q = j % P;
        const int64_t c = r / (k * k), kh = (r / k) % k, kw = r % k;
        const int64_t ih = (q / g.out_w) * g.stride - g.padding + kh, iw = (q % g.out_w) * g.stride - g.padding + kw;
        const bool in = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
        const int64_t at = ((n * g.in_channels + group * g.group_in + c) * g.height + ih) * g.width + iw;
        IO::store(cols, j, in ? IO::load(x, at) : 0.0f);
    }
}

// dx of the group's channels of images n0... from the columns' gradient, in the CPU's order.
template <typename IO>
__global__ void col2im_k(const void* dcols, void* dx, ConvGeometry g, int64_t n0, int64_t chunk, int64_t group) {
    const int64_t k = g.kernel, P = g.out_h * g.out_w, K = g.group_in * k * k, HW = g.height * g.width;
    CKPT_GRID_STRIDE(j, chunk * g.group_in * HW) {
        const int64_t n = j / (g.group_in * HW), c = (j / HW) % g.group_in, ih = (j % HW) / g.width, iw = j % g.width;
        int64_t oh0, oh1, ow0, ow1;
        covering(ih, k, g.stride, g.padding, g.out_h, &oh0, &oh1);
        covering(iw, k, g.stride, g.padding, g.out_w, &ow0, &ow1);
        float acc = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; ++oh) {
            const int64_t kh = ih + g.padding - oh * g.stride;
            for (int64_t ow = ow0; ow <= ow1; ++ow) {
                const int64_t kw = iw + g.padding - ow * g.stride;
                acc += IO::load(dcols, n * K * P + ((c * k + kh) * k + kw) * P + oh * g.out_w + ow);
            }
        }
        IO::store(dx, ((n0 + n) * g.in_channels + group * g.group_in + c) * HW + ih * g.width + iw, acc);
    }
}

template <typename IO>
__global__ void channel_fill_k(void* y, const void* bias, int64_t batch, int64_t channels, int64_t P) {
    CKPT_GRID_STRIDE(i, batch * channels * P) IO::store(y, i, IO::load(bias, (i / P) % channels));
}

// One block per channel: the sum of dy over (image, pixel).
template <typename IO>
__global__ void channel_sum_k(const void* dy, float* out, int64_t batch, int64_t channels, int64_t P) {
    const int64_t ch = blockIdx.x;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < batch * P; j += blockDim.x) s += IO::load(dy, ((j / P) * channels + ch) * P + j % P);
    s = block_total(s);
    if (threadIdx.x == 0) out[ch] = s;
}

template <typename IO>
__global__ void batchnorm_forward_k(const void* x, const float* gamma, const float* beta, void* y, float* mean,
                                    float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                                    float* running_var, float momentum) {
    const int64_t ch = blockIdx.x, M = n * hw;
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) s += IO::load(x, ((j / hw) * c + ch) * hw + j % hw);
    const float m = float(block_total(s) / double(M));
    double v = 0.0;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const double d = double(IO::load(x, ((j / hw) * c + ch) * hw + j % hw) - m);
        v += d * d;
    }
    v = block_total(v);
    const float rs = float(1.0 / sqrt(v / double(M) + double(eps)));
    const float g = gamma ? gamma[ch] : 1.0f, b = gamma ? beta[ch] : 0.0f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t at = ((j / hw) * c + ch) * hw + j % hw;
        IO::store(y, at, __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(IO::load(x, at), m), rs), g), b));
    }
    if (threadIdx.x == 0) {
        mean[ch] = m;
        rstd[ch] = rs;
        if (running_mean) {
            running_mean[ch] = __fadd_rn(__fmul_rn(1.0f - momentum, running_mean[ch]), __fmul_rn(momentum, m));
            running_var[ch] =
                __fadd_rn(__fmul_rn(1.0f - momentum, running_var[ch]), __fmul_rn(momentum, float(v / double(M - 1))));
        }
    }
}

template <typename IO>
__global__ void batchnorm_backward_k(const void* x, const float* gamma, const float* mean, const float* rstd,
                                     const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                                     int64_t hw) {
    const int64_t ch = blockIdx.x, M = n * hw;
    const float m = mean[ch], rs = rstd[ch];
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t at = ((j / hw) * c + ch) * hw + j % hw;
        const float d = IO::load(dy, at);
        sdy += d;
        sdyx += double(d) * double((IO::load(x, at) - m) * rs);
    }
    sdy = block_total(sdy);
    sdyx = block_total(sdyx);
    if (threadIdx.x == 0 && dgamma) {
        dgamma[ch] = float(sdyx);
        dbeta[ch] = float(sdy);
    }
    const float g = gamma ? gamma[ch] : 1.0f, mdy = float(sdy / double(M)), mdyx = float(sdyx / double(M));
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t at = ((j / hw) * c + ch) * hw + j % hw;
        const float xhat = (IO::load(x, at) - m) * rs;
        IO::store(dx, at, g * rs * (IO::load(dy, at) - mdy - xhat * mdyx));
    }
}

// The flat index (in one plane) of the first maximum of output (oh, ow)'s window.
template <typename IO>
__global__ void maxpool_forward_k(const void* x, void* y, PoolGeometry s) {
    const int64_t Ho = s.out_h, Wo = s.out_w, HW = s.height * s.width;
    CKPT_GRID_STRIDE(i, s.planes * Ho * Wo) {
        const int64_t q = i / (Ho * Wo), oh = (i / Wo) % Ho, ow = i % Wo;
        IO::store(y, i, IO::load(x, q * HW + window_argmax<IO>(x, q * HW, s, oh, ow)));
    }
}

template <typename IO>
__global__ void maxpool_backward_k(const void* x, const void* dy, void* dx, PoolGeometry s) {
    const int64_t Ho = s.out_h, Wo = s.out_w, HW = s.height * s.width;
    CKPT_GRID_STRIDE(i, s.planes * HW) {
        const int64_t q = i / HW, ih = (i % HW) / s.width, iw = i % s.width;
        IO::store(dx, i, pool_grad_at<IO>(x, dy, q, s, Ho, Wo, ih, iw, true));
    }
}

template <typename IO>
__global__ void avgpool_forward_k(const void* x, void* y, PoolGeometry s, float inv) {
    const int64_t Ho = s.out_h, Wo = s.out_w;
    CKPT_GRID_STRIDE(i, s.planes * Ho * Wo) {
        const int64_t q = i / (Ho * Wo), oh = (i / Wo) % Ho, ow = i % Wo;
        IO::store(y, i, __fmul_rn(window_sum<IO>(x, q * s.height * s.width, s, oh, ow), inv));
    }
}

template <typename IO>
__global__ void avgpool_backward_k(const void* dy, void* dx, PoolGeometry s, float inv) {
    const int64_t Ho = s.out_h, Wo = s.out_w, HW = s.height * s.width;
    CKPT_GRID_STRIDE(i, s.planes * HW) {
        const int64_t q = i / HW, ih = (i % HW) / s.width, iw = i % s.width;
        IO::store(dx, i, __fmul_rn(pool_grad_at<IO>(nullptr, dy, q, s, Ho, Wo, ih, iw, false), inv));
    }
}

}  // namespace

void im2col(ElemType t, const void* x, void* cols, const ConvGeometry& g, int64_t n0, int64_t chunk, int64_t group,
            cudaStream_t s) {
    const int64_t n = chunk * g.group_in * g.kernel * g.kernel * g.out_h * g.out_w;
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) { im2col_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(x, cols, g, n0, chunk, group); });
}

void col2im(ElemType t, const void* dcols, void* dx, const ConvGeometry& g, int64_t n0, int64_t chunk, int64_t group,
            cudaStream_t s) {
    const int64_t n = chunk * g.group_in * g.height * g.width;
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) { col2im_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(dcols, dx, g, n0, chunk, group); });
}

void channel_fill(ElemType t, void* y, const void* bias, int64_t batch, int64_t channels, int64_t pixels, cudaStream_t s) {
    const int64_t n = batch * channels * pixels;
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) {
        channel_fill_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(y, bias, batch, channels, pixels);
    });
}

void channel_sum(ElemType t, const void* dy, float* out, int64_t batch, int64_t channels, int64_t pixels, cudaStream_t s) {
    if (channels <= 0) return;
    dispatch_type(t, [&](auto io) {
        channel_sum_k<decltype(io)><<<unsigned(channels), kThreads, 0, s>>>(dy, out, batch, channels, pixels);
    });
}

void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean, float* running_var,
                       float momentum, cudaStream_t s) {
    if (c <= 0) return;
    dispatch_type(t, [&](auto io) {
        batchnorm_forward_k<decltype(io)><<<unsigned(c), kThreads, 0, s>>>(x, gamma, beta, y, mean, rstd, n, c, hw, eps,
                                                                          running_mean, running_var, momentum);
    });
}

void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                        const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw,
                        cudaStream_t s) {
    if (c <= 0) return;
    dispatch_type(t, [&](auto io) {
        batchnorm_backward_k<decltype(io)><<<unsigned(c), kThreads, 0, s>>>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta,
                                                                           n, c, hw);
    });
}

void maxpool_forward(ElemType t, const PoolGeometry& g, const void* x, void* y, cudaStream_t s) {
    const int64_t n = g.planes * g.out_h * g.out_w;
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) { maxpool_forward_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(x, y, g); });
}

void maxpool_backward(ElemType t, const PoolGeometry& g, const void* x, const void* dy, void* dx, cudaStream_t s) {
    const int64_t n = g.planes * g.height * g.width;
    if (n <= 0) return;
    dispatch_type(t, [&](auto io) { maxpool_backward_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(x, dy, dx, g); });
}

void avgpool_forward(ElemType t, const PoolGeometry& g, const void* x, void* y, cudaStream_t s) {
    const int64_t n = g.planes * g.out_h * g.out_w;
    if (n <= 0) return;
    const float inv = 1.0f / float(g.kernel_h * g.kernel_w);
    dispatch_type(t, [&](auto io) { avgpool_forward_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(x, y, g, inv); });
}

void avgpool_backward(ElemType t, const PoolGeometry& g, const void* dy, void* dx, cudaStream_t s) {
    const int64_t n = g.planes * g.height * g.width;
    if (n <= 0) return;
    const float inv = 1.0f / float(g.kernel_h * g.kernel_w);
    dispatch_type(t, [&](auto io) { avgpool_backward_k<decltype(io)><<<grid_for(n), kThreads, 0, s>>>(dy, dx, g, inv); });
}

}  // namespace ckpt::cuda
