// LayerNorm forward and backward. One warp per row, statistics accumulated in double like the
// CPU reference; the parameter gradients are column sums over rows done in the same fixed
// two-stage split as column_sum (reduce.cu), so they are deterministic.
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

constexpr int kWarps = kThreads / 32;

__global__ void layernorm_forward_k(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                    float* rstd, int64_t rows, int64_t cols, float eps) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    double s = 0.0;
    for (int64_t c = lane; c < cols; c += 32) s += xr[c];
    const float m = float(warp_sum(s) / double(cols));
    double v = 0.0;
    for (int64_t c = lane; c < cols; c += 32) {
        const double d = double(xr[c] - m);
        v += d * d;
    }
    const float rs = float(1.0 / sqrt(warp_sum(v) / double(cols) + double(eps)));
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = rs;
    }
    for (int64_t c = lane; c < cols; c += 32) {
        const float n = (xr[c] - m) * rs;
        yr[c] = gamma ? n * gamma[c] + beta[c] : n;
    }
}

__global__ void layernorm_dx_k(const float* x, const float* gamma, const float* mean, const float* rstd,
                               const float* dy, float* dx, int64_t rows, int64_t cols) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* xr = x + row * cols;
    const float* dyr = dy + row * cols;
    float* dxr = dx + row * cols;
    const float m = mean[row], rs = rstd[row];
    double sg = 0.0, sgx = 0.0;
    for (int64_t c = lane; c < cols; c += 32) {
        const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
        sg += g;
        sgx += double(g) * double((xr[c] - m) * rs);
    }
    const float mg = float(warp_sum(sg) / double(cols)), mgx = float(warp_sum(sgx) / double(cols));
    for (int64_t c = lane; c < cols; c += 32) {
        const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
        dxr[c] = rs * (g - mg - (xr[c] - m) * rs * mgx);
    }
}

constexpr int kColTile = 32, kRowLanes = 8;

// dgamma = sum_r dy * xhat, dbeta = sum_r dy over the rows of chunk blockIdx.y.
__global__ void layernorm_dparams_k(const float* x, const float* mean, const float* rstd, const float* dy,
                                    float* dgamma, float* dbeta, int64_t rows, int64_t cols, int64_t per) {
    __shared__ float pg[kRowLanes][kColTile], pb[kRowLanes][kColTile];
    const int64_t c = int64_t(blockIdx.x) * kColTile + threadIdx.x;
    const int64_t r0 = int64_t(blockIdx.y) * per, r1 = min(rows, r0 + per);
    float sg = 0.0f, sb = 0.0f;
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
            const float d = dy[r * cols + c];
            sg += d * ((x[r * cols + c] - mean[r]) * rstd[r]);
            sb += d;
        }
    pg[threadIdx.y][threadIdx.x] = sg;
    pb[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float tg = 0.0f, tb = 0.0f;
        for (int k = 0; k < kRowLanes; ++k) {
            tg += pg[k][threadIdx.x];
            tb += pb[k][threadIdx.x];
        }
        dgamma[int64_t(blockIdx.y) * cols + c] = tg;
        dbeta[int64_t(blockIdx.y) * cols + c] = tb;
    }
}

__global__ void rmsnorm_forward_k(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols,
                                  float eps) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    double ss = 0.0;
    for (int64_t c = lane; c < cols; c += 32) ss += double(xr[c]) * double(xr[c]);
    const float rs = float(1.0 / sqrt(warp_sum(ss) / double(cols) + double(eps)));
    if (lane == 0) rstd[row] = rs;
    for (int64_t c = lane; c < cols; c += 32) yr[c] = xr[c] * rs * gamma[c];
}

__global__ void rmsnorm_dx_k(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx,
                             int64_t rows, int64_t cols) {
    const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* xr = x + row * cols;
    const float* dyr = dy + row * cols;
    float* dxr = dx + row * cols;
    const float rs = rstd[row];
    double s = 0.0;
    for (int64_t c = lane; c < cols; c += 32) s += double(dyr[c] * gamma[c]) * double(xr[c] * rs);
    const float m = float(warp_sum(s) / double(cols));
    // Unfused, in the CPU reference's order: dy*gamma and xhat*m nearly cancel when a row is
    // short (one column: dx is about eps/x^2 of either term), and a fused multiply-add rounds
    // differently there (an H200 run saw a relative difference of 5e-3 at 1 x 1).
    for (int64_t c = lane; c < cols; c += 32)
        dxr[c] = __fmul_rn(rs, __fsub_rn(__fmul_rn(dyr[c], gamma[c]), __fmul_rn(__fmul_rn(xr[c], rs), m)));
}

// dgamma = sum_r dy * x * rstd over the rows of chunk blockIdx.y.
__global__ void rmsnorm_dgamma_k(const float* x, const float* rstd, const float* dy, float* out, int64_t rows,
                                 int64_t cols, int64_t per) {
    __shared__ float pg[kRowLanes][kColTile];
    const int64_t c = int64_t(blockIdx.x) * kColTile + threadIdx.x;
    const int64_t r0 = int64_t(blockIdx.y) * per, r1 = min(rows, r0 + per);
    float sg = 0.0f;
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) sg += dy[r * cols + c] * (x[r * cols + c] * rstd[r]);
    pg[threadIdx.y][threadIdx.x] = sg;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float t = 0.0f;
        for (int k = 0; k < kRowLanes; ++k) t += pg[k][threadIdx.x];
        out[int64_t(blockIdx.y) * cols + c] = t;
    }
}

__global__ void combine1_k(float* a, const float* pa, int64_t chunks, int64_t cols) {
    CKPT_GRID_STRIDE(c, cols) {
        float t = 0.0f;
        for (int64_t k = 0; k < chunks; ++k) t += pa[k * cols + c];
        a[c] = t;
    }
}

__global__ void combine2_k(float* a, float* b, const float* pa, const float* pb, int64_t chunks, int64_t cols) {
    CKPT_GRID_STRIDE(c, cols) {
        float ta = 0.0f, tb = 0.0f;
        for (int64_t k = 0; k < chunks; ++k) {
            ta += pa[k * cols + c];
            tb += pb[k * cols + c];
        }
        a[c] = ta;
        b[c] = tb;
    }
}

}  // namespace

void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols, float eps,
                     cudaStream_t s) {
    if (rows <= 0 || cols <= 0) return;
    rmsnorm_forward_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(x, gamma, y, rstd, rows, cols, eps);
}

void rmsnorm_backward(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx, float* dgamma,
                      int64_t rows, int64_t cols, const Workspace& w, cudaStream_t s) {
    if (rows <= 0 || cols <= 0) return;
    rmsnorm_dx_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(x, gamma, rstd, dy, dx, rows, cols);
    int64_t chunks = std::min<int64_t>({64, std::max<int64_t>(1, kWorkspaceFloats / cols), (rows + 255) / 256});
    chunks = std::max<int64_t>(1, chunks);
    const int64_t per = (rows + chunks - 1) / chunks;
    const dim3 grid(unsigned((cols + kColTile - 1) / kColTile), unsigned(chunks)), block(kColTile, kRowLanes);
    if (chunks == 1) {
        rmsnorm_dgamma_k<<<grid, block, 0, s>>>(x, rstd, dy, dgamma, rows, cols, per);
        return;
    }
    rmsnorm_dgamma_k<<<grid, block, 0, s>>>(x, rstd, dy, w.floats, rows, cols, per);
    combine1_k<<<grid_for(cols), kThreads, 0, s>>>(dgamma, w.floats, chunks, cols);
}

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps, cudaStream_t s) {
    if (rows <= 0) return;
    layernorm_forward_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(x, gamma, beta, y, mean, rstd,
                                                                                     rows, cols, eps);
}

void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, const Workspace& w,
                        cudaStream_t s) {
    if (rows <= 0 || cols <= 0) return;
    layernorm_dx_k<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(x, gamma, mean, rstd, dy, dx, rows,
                                                                                cols);
    if (!dgamma || cols <= 0) return;
    int64_t chunks = std::min<int64_t>({64, std::max<int64_t>(1, kWorkspaceFloats / (2 * cols)), (rows + 255) / 256});
    chunks = std::max<int64_t>(1, chunks);
    const int64_t per = (rows + chunks - 1) / chunks;
    const dim3 grid(unsigned((cols + kColTile - 1) / kColTile), unsigned(chunks)), block(kColTile, kRowLanes);
    if (chunks == 1) {
        layernorm_dparams_k<<<grid, block, 0, s>>>(x, mean, rstd, dy, dgamma, dbeta, rows, cols, per);
        return;
    }
    float* pa = w.floats;
    float* pb = w.floats + chunks * cols;
    layernorm_dparams_k<<<grid, block, 0, s>>>(x, mean, rstd, dy, pa, pb, rows, cols, per);
    combine2_k<<<grid_for(cols), kThreads, 0, s>>>(dgamma, dbeta, pa, pb, chunks, cols);
}

}  // namespace ckpt::cuda
