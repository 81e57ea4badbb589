// Softmax cross-entropy. Forward: one block per row at a time (a fixed number of blocks walking
// the rows in order), writing the probabilities the backward needs and adding up the per-row
// losses in double; the per-block partial losses are then summed in a fixed order.
#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

constexpr int kLossBlocks = 1024;  // enough rows in flight to fill the device
constexpr int kWarps = kThreads / 32;

__device__ float block_max(float v, float* scratch) {
    v = warp_max(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    float m = scratch[0];
    for (int w = 1; w < kWarps; ++w) m = fmaxf(m, scratch[w]);
    __syncthreads();
    return m;
}

__device__ double block_sum_all(double v, double* scratch) {
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    double t = 0.0;
    for (int w = 0; w < kWarps; ++w) t += scratch[w];
    __syncthreads();
    return t;
}

__global__ void xent_forward_k(const float* logits, const int64_t* target, float* probs, int64_t rows, int64_t cols,
                               double* part) {
    __shared__ float fs[kWarps];
    __shared__ double ds[kWarps];
    double acc = 0.0;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* lr = logits + r * cols;
        float* pr = probs + r * cols;
        float mx = -FLT_MAX;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) mx = fmaxf(mx, lr[c]);
        mx = block_max(mx, fs);
        double s = 0.0;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            const float e = expf(lr[c] - mx);
            pr[c] = e;
            s += e;
        }
        s = block_sum_all(s, ds);
        const float inv = float(1.0 / s);
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) pr[c] *= inv;
        if (threadIdx.x == 0) acc += log(s) + double(mx) - double(lr[target[r]]);
    }
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

__global__ void sum_in_order_k(const double* part, int n, double* out) {
    double t = 0.0;
    for (int i = 0; i < n; ++i) t += part[i];
    *out = t;
}

__global__ void xent_backward_k(const float* probs, const int64_t* target, float* d, int64_t rows, int64_t cols,
                                float k) {
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const int64_t t = target[r];
        for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
            const float v = __fmul_rn(k, probs[r * cols + c]);
            d[r * cols + c] = c == t ? __fsub_rn(v, k) : v;
        }
    }
}

}  // namespace

void softmax_xent_forward(const float* logits, const int64_t* target, float* probs, int64_t rows, int64_t cols,
                          const Workspace& w, cudaStream_t s) {
    const int blocks = int(std::min<int64_t>(kLossBlocks, std::max<int64_t>(1, rows)));
    xent_forward_k<<<blocks, kThreads, 0, s>>>(logits, target, probs, rows, cols, w.doubles + 1);
    sum_in_order_k<<<1, 1, 0, s>>>(w.doubles + 1, blocks, w.doubles);
}

void softmax_xent_backward(const float* probs, const int64_t* target, float* d, int64_t rows, int64_t cols,
                           cudaStream_t s) {
    if (rows <= 0 || cols <= 0) return;
    const dim3 grid(unsigned(std::min<int64_t>((cols + kThreads - 1) / kThreads, 64)),
                    unsigned(std::min<int64_t>(rows, 65535)));
    xent_backward_k<<<grid, kThreads, 0, s>>>(probs, target, d, rows, cols, 1.0f / float(rows));
}

}  // namespace ckpt::cuda
