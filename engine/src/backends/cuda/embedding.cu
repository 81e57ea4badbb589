// Token embedding. The backward is a scatter-add that must be deterministic without atomics:
// each block owns a slice of the vocabulary, zeroes its rows of the table gradient, then walks
// the batch rows in order and adds those whose token falls in its slice; a thread owns columns,
// so repeated tokens add up in row order, exactly as on the CPU.
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

__global__ void embedding_forward_k(const int64_t* tokens, const float* table, const float* positions, float* out,
                                    int64_t rows, int64_t seq, int64_t dim) {
    CKPT_GRID_STRIDE(i, rows * dim) {
        const int64_t r = i / dim, c = i % dim;
        const float v = table[tokens[r] * dim + c];
        out[i] = positions ? v + positions[(r % seq) * dim + c] : v;
    }
}

__global__ void embedding_table_grad_k(const int64_t* tokens, const float* dout, float* dtable, int64_t rows,
                                       int64_t vocab, int64_t dim, int64_t slice) {
    __shared__ int64_t matched[kThreads];
    __shared__ int warp_counts[kThreads / 32];
    const int64_t v0 = int64_t(blockIdx.x) * slice, v1 = min(vocab, v0 + slice);
    for (int64_t i = threadIdx.x; i < (v1 - v0) * dim; i += blockDim.x) dtable[v0 * dim + i] = 0.0f;
    __syncthreads();
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t base = 0; base < rows; base += blockDim.x) {
        // Compact this chunk's matching rows, keeping their order.
        const int64_t r = base + threadIdx.x;
        const bool match = r < rows && tokens[r] >= v0 && tokens[r] < v1;
        const unsigned ballot = __ballot_sync(0xffffffffu, match);
        if (lane == 0) warp_counts[warp] = __popc(ballot);
        __syncthreads();
        int offset = 0, total = 0;
        for (int w = 0; w < kThreads / 32; ++w) {
            if (w < warp) offset += warp_counts[w];
            total += warp_counts[w];
        }
        if (match) matched[offset + __popc(ballot & ((1u << lane) - 1u))] = r;
        __syncthreads();
        for (int k = 0; k < total; ++k) {
            const int64_t row = matched[k];
            float* t = dtable + tokens[row] * dim;
            const float* d = dout + row * dim;
            for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) t[c] += d[c];
        }
        __syncthreads();
    }
}

// dpositions[t, c] = sum over batch elements b, in order, of dout[b * seq + t, c].
__global__ void embedding_position_grad_k(const float* dout, float* dpos, int64_t rows, int64_t seq, int64_t dim) {
    CKPT_GRID_STRIDE(i, seq * dim) {
        const int64_t t = i / dim, c = i % dim;
        float s = 0.0f;
        for (int64_t r = t; r < rows; r += seq) s += dout[r * dim + c];
        dpos[i] = s;
    }
}

}  // namespace

void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out, int64_t rows,
                       int64_t seq, int64_t dim, cudaStream_t s) {
    if (rows * dim > 0)
        embedding_forward_k<<<grid_for(rows * dim), kThreads, 0, s>>>(tokens, table, positions, out, rows, seq, dim);
}

void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions, int64_t rows,
                        int64_t seq, int64_t vocab, int64_t dim, cudaStream_t s) {
    if (dim <= 0) return;
    if (dpositions && seq > 0)
        embedding_position_grad_k<<<grid_for(seq * dim), kThreads, 0, s>>>(dout, dpositions, rows, seq, dim);
    if (vocab <= 0) return;
    // About two blocks per multiprocessor; small vocabularies get slices of at least 16 tokens.
    const int64_t slice = std::max<int64_t>(16, (vocab + 263) / 264);
    embedding_table_grad_k<<<unsigned((vocab + slice - 1) / slice), kThreads, 0, s>>>(tokens, dout, dtable, rows,
                                                                                      vocab, dim, slice);
}

}  // namespace ckpt::cuda
