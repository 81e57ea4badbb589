// Deterministic reductions: the split of the work depends only on the shape, and partial
// results are combined in a fixed order, so a reduction gives the same bits every time (a
// recomputed block reproduces its forward exactly). No atomics on floats anywhere.
#include "backends/digest.h"
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"
#include "backends/cuda/typed.cuh"

namespace ckpt::cuda {
namespace {

constexpr int kColTile = 32, kRowLanes = 8;

// Block (32, 8) sums column tile blockIdx.x over the rows of chunk blockIdx.y.
template <typename IO>
__global__ void column_partial_k(float* out, const void* x, int64_t rows, int64_t cols, int64_t rows_per_chunk) {
    __shared__ float part[kRowLanes][kColTile];
    const int64_t c = int64_t(blockIdx.x) * kColTile + threadIdx.x;
    const int64_t r0 = int64_t(blockIdx.y) * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
    float s = 0.0f;
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) s += IO::load(x, r * cols + c);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float t = 0.0f;
        for (int k = 0; k < kRowLanes; ++k) t += part[k][threadIdx.x];
        out[int64_t(blockIdx.y) * cols + c] = t;
    }
}

__global__ void column_combine_k(float* out, const float* part, int64_t chunks, int64_t cols) {
    CKPT_GRID_STRIDE(c, cols) {
        float t = 0.0f;
        for (int64_t k = 0; k < chunks; ++k) t += part[k * cols + c];
        out[c] = t;
    }
}

constexpr int kSumBlocks = 256;

// Block-wide sum of one double per thread, in a fixed tree; thread 0 gets the result.
__device__ double block_sum(double v) {
    __shared__ double warps[kThreads / 32];
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = v;
    __syncthreads();
    double t = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < kThreads / 32; ++w) t += warps[w];
    return t;
}

__global__ void mse_partial_k(const float* pred, const float* target, int64_t n, double* part) {
    double s = 0.0;
    CKPT_GRID_STRIDE(i, n) {
        const double d = double(pred[i]) - double(target[i]);
        s += d * d;
    }
    const double t = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = t;
}

__global__ void flag_nonfinite_k(const float* x, int64_t n, unsigned long long* flag) {
    CKPT_GRID_STRIDE(i, n) if (!isfinite(x[i])) *flag = 1ull;  // every writer writes the same value
}

__global__ void sum_partials_k(const double* part, int n, double* out) {
    const double t = block_sum(threadIdx.x < n ? part[threadIdx.x] : 0.0);
    if (threadIdx.x == 0) *out = t;
}

// One thread per chunk of kDigestChunkWords 64-bit words, as the CPU backend defines the digest.
__global__ void digest_chunks_k(const float* x, int64_t n, int64_t first, int64_t count,
                                unsigned long long* hashes, double* sums) {
    const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (k >= count) return;
    const int64_t words = (n + 1) / 2, w0 = (first + k) * kDigestChunkWords;
    const int64_t w1 = min(words, w0 + kDigestChunkWords);
    unsigned long long h = kFnvBasis;
    double s = 0.0, a = 0.0;
    for (int64_t w = w0; w < w1; ++w) {
        const unsigned long long lo = __float_as_uint(x[2 * w]);
        const unsigned long long hi = 2 * w + 1 < n ? __float_as_uint(x[2 * w + 1]) : 0u;
        h = (h ^ (lo | hi << 32)) * kFnvPrime;
        s += double(x[2 * w]);
        a += fabs(double(x[2 * w]));
        if (2 * w + 1 < n) {
            s += double(x[2 * w + 1]);
            a += fabs(double(x[2 * w + 1]));
        }
    }
    hashes[k] = h;
    sums[2 * k] = s;
    sums[2 * k + 1] = a;
}

// Folds `count` chunk results into the running digest at hash[0], sums[0..1], in order.
__global__ void digest_fold_k(int64_t count, bool init, unsigned long long* hash, double* sums) {
    unsigned long long h = init ? kFnvBasis : hash[0];
    double s = init ? 0.0 : sums[0], a = init ? 0.0 : sums[1];
    for (int64_t k = 0; k < count; ++k) {
        h = (h ^ hash[1 + k]) * kFnvPrime;
        s += sums[2 + 2 * k];
        a += sums[3 + 2 * k];
    }
    hash[0] = h;
    sums[0] = s;
    sums[1] = a;
}

}  // namespace

void column_sum(float* out, const void* x, ElemType t, int64_t rows, int64_t cols, const Workspace& w,
                cudaStream_t s) {
    if (cols <= 0) return;
    if (rows <= 0) {
        fill(out, cols, 0.0f, s);
        return;
    }
    // Enough row chunks to fill the device, as many as the workspace holds partials for.
    int64_t chunks = std::min<int64_t>({64, std::max<int64_t>(1, kWorkspaceFloats / cols), (rows + 255) / 256});
    chunks = std::max<int64_t>(1, chunks);
    const int64_t per = (rows + chunks - 1) / chunks;
    const dim3 grid(unsigned((cols + kColTile - 1) / kColTile), unsigned(chunks)), block(kColTile, kRowLanes);
    dispatch_type(t, [&](auto io) {
        using IO = decltype(io);
        if (chunks == 1) {
            column_partial_k<IO><<<grid, block, 0, s>>>(out, x, rows, cols, per);
            return;
        }
        column_partial_k<IO><<<grid, block, 0, s>>>(w.floats, x, rows, cols, per);
        column_combine_k<<<grid_for(cols), kThreads, 0, s>>>(out, w.floats, chunks, cols);
    });
}

void flag_nonfinite(const float* x, int64_t n, const Workspace& w, cudaStream_t s) {
    if (n > 0) flag_nonfinite_k<<<grid_for(n), kThreads, 0, s>>>(x, n, w.words);
}

void mse_sum(const float* pred, const float* target, int64_t n, const Workspace& w, cudaStream_t s) {
    mse_partial_k<<<kSumBlocks, kThreads, 0, s>>>(pred, target, n, w.doubles + 1);
    sum_partials_k<<<1, kThreads, 0, s>>>(w.doubles + 1, kSumBlocks, w.doubles);
}

void digest(const float* x, int64_t n, const Workspace& w, cudaStream_t s) {
    const int64_t words = (n + 1) / 2, chunks = (words + kDigestChunkWords - 1) / kDigestChunkWords;
    // 1024 chunks (8M floats) per launch: a big tensor takes several, folded in order.
    const int64_t batch = std::min<int64_t>({1024, kWorkspaceWords - 1, (kWorkspaceDoubles - 2) / 2});
    if (chunks == 0) digest_fold_k<<<1, 1, 0, s>>>(0, true, w.words, w.doubles);
    for (int64_t first = 0; first < chunks; first += batch) {
        const int64_t count = std::min(batch, chunks - first);
        digest_chunks_k<<<unsigned((count + 127) / 128), 128, 0, s>>>(x, n, first, count, w.words + 1, w.doubles + 2);
        digest_fold_k<<<1, 1, 0, s>>>(count, first == 0, w.words, w.doubles);
    }
}

}  // namespace ckpt::cuda
