// Launchers of the CUDA backend's own kernels, one .cu file per family (elementwise, rng,
// reduce, norm, loss, embedding, attention, flash attention, optimizer, image). Plain C++ signatures, so the backend
// class (cuda_backend.cpp) is compiled by the host compiler. Every launcher queues work on
// `s` and returns; none allocates: scratch comes from the caller (the tracking allocator or
// the backend's fixed workspace, see Workspace).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/elem_type.h"

namespace ckpt::cuda {

// The backend's fixed device workspace for reductions: partial sums and digests. Its size
// does not depend on the model, so it is accounted once as `workspace`, like cuBLAS's.
struct Workspace {
    float* floats = nullptr;  // kWorkspaceFloats
    double* doubles = nullptr;  // kWorkspaceDoubles
    unsigned long long* words = nullptr;  // kWorkspaceWords
};
inline constexpr int64_t kWorkspaceFloats = int64_t(4) << 20;   // 16 MiB
inline constexpr int64_t kWorkspaceDoubles = int64_t(1) << 16;  // 512 KiB
inline constexpr int64_t kWorkspaceWords = int64_t(1) << 16;    // 512 KiB

// elementwise.cu (and optimizer.cu: the optimizer steps). Typed tensors (f32, bf16, f16) are
// read as f32 and written rounded to nearest even.
void fill(float* x, int64_t n, float v, cudaStream_t s);
void cast(const void* x, ElemType from, void* y, ElemType to, int64_t n, cudaStream_t s);
void broadcast_rows(void* y, const void* b, int64_t rows, int64_t cols, ElemType t, cudaStream_t s);
enum class Act { relu, gelu, tanh, silu };
void activation_forward(Act a, ElemType t, const void* x, void* y, int64_t n, cudaStream_t s);
// `saved` is the output for relu/tanh, the input for gelu/silu.
void activation_backward(Act a, ElemType t, const void* saved, const void* dy, void* dx, int64_t n, cudaStream_t s);
void add(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n, cudaStream_t s);
void dropout_backward(ElemType t, const void* dy, const uint8_t* mask, void* dx, int64_t n, float scale, cudaStream_t s);
void mse_backward(const float* pred, const float* target, float* d, int64_t n, cudaStream_t s);
// SwiGLU: x (rows, 2f) = [gate | up] -> y (rows, f) = silu(gate) * up, and its gradient.
void swiglu_forward(ElemType t, const void* x, void* y, int64_t rows, int64_t f, cudaStream_t s);
void swiglu_backward(ElemType t, const void* x, const void* dy, void* dx, int64_t rows, int64_t f, cudaStream_t s);
void scale(float* x, int64_t n, float v, cudaStream_t s);
void sgd_step(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first,
              cudaStream_t s);
void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
                float wd, float c1, float c2, cudaStream_t s);

// rng.cu: the same Philox streams as the CPU (core/philox.h), so masks and uniform fills are
// equal bit for bit; normal fills go through the device's log/cos (equal to a few ulp).
void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream, cudaStream_t s);
void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream, cudaStream_t s);
void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream, cudaStream_t s);
// Draws mask[base + i] for i < n and writes y (type tout) = keep ? x (type tin) * scale : 0
// (y null: the mask alone).
void dropout_forward(ElemType tin, const void* x, void* y, ElemType tout, uint8_t* mask, int64_t n, float p,
                     float scale, uint64_t base, uint64_t seed, uint64_t stream, cudaStream_t s);

// reduce.cu: deterministic reductions (fixed split, fixed order).
void column_sum(float* out, const void* x, ElemType t, int64_t rows, int64_t cols, const Workspace& w,
                cudaStream_t s);
// w.words[0] = 1 when any of x is not finite (the caller zeroes it first).
void flag_nonfinite(const float* x, int64_t n, const Workspace& w, cudaStream_t s);
// Mean squared error in double into w.doubles[0].
void mse_sum(const float* pred, const float* target, int64_t n, const Workspace& w, cudaStream_t s);
// The digest of backend.h: hash, sum and abs sum into w.words[0], w.doubles[0], w.doubles[1].
void digest(const float* x, int64_t n, const Workspace& w, cudaStream_t s);

// norm.cu
void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols, float eps,
                     cudaStream_t s);
void rmsnorm_backward(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx, float* dgamma,
                      int64_t rows, int64_t cols, const Workspace& w, cudaStream_t s);
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps, cudaStream_t s);
void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, const Workspace& w,
                        cudaStream_t s);

// loss.cu: softmax cross-entropy; the summed loss in double into w.doubles[0].
void softmax_xent_forward(const float* logits, const int64_t* target, float* probs, int64_t rows, int64_t cols,
                          const Workspace& w, cudaStream_t s);
void softmax_xent_backward(const float* probs, const int64_t* target, float* d, int64_t rows, int64_t cols,
                           cudaStream_t s);

// embedding.cu
void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out, int64_t rows,
                       int64_t seq, int64_t dim, cudaStream_t s);
void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions, int64_t rows,
                        int64_t seq, int64_t vocab, int64_t dim, cudaStream_t s);

// attention.cu: the row-wise parts of attention (the matrix products are cuBLAS calls).
// Softmax of `rows` rows of length T from scores S (type t) into P (f32); with `causal`, row
// r % T sees columns <= r % T. In place when S is P (f32).
void attention_softmax(const void* S, ElemType t, float* P, int64_t rows, int64_t T, bool causal, cudaStream_t s);
// dS = scale * P * (dA' - rowsum(dA' * P)), dA' = dA (type t) masked and scaled by dropout (mask
// may be null); dS is written over dA, in type t.
void attention_softmax_backward(void* dA, ElemType t, const float* P, const uint8_t* mask, int64_t rows, int64_t T,
                                float scale, float keep_scale, cudaStream_t s);
// Rotary embeddings: rotates `heads` head vectors of every row (position row % T) from src (row
// stride lds) to dst (row stride ldd), LLaMA's rotate_half; sign -1 rotates back. In place ok.
void rope_rotate(const void* src, int64_t lds, void* dst, int64_t ldd, ElemType t, int64_t rows, int64_t T,
                 int64_t heads, int64_t hd, float theta, float sign, cudaStream_t s);
// A (type t) = mask ? P * keep_scale : 0, or P itself (rounded) without a mask.
void apply_mask(const float* P, const uint8_t* mask, void* A, ElemType t, int64_t n, float keep_scale, cudaStream_t s);

// flash_attention.cu: fused (flash) attention, FlashAttention-2's algorithm (backend.h's
// flash_attention_*). Row r = b T + t; Q head h and K head j in qk (row stride ldqk: the input, or
// its rotated copy), V head j in qkv (row stride W), the output and its gradient (row stride d),
// the input's gradient (row stride W). Pointers unused by a call stay null.
struct FlashArgs {
    const void* qk = nullptr;
    const void* qkv = nullptr;
    void* o = nullptr;          // forward: the output
    float* lse_out = nullptr;   // forward: (B, H, T) log-sum-exp
    const void* out = nullptr;  // backward: the forward's output, its gradient, lse and D
    const void* dout = nullptr;
    const float* lse = nullptr;
    const float* D = nullptr;
    void* dqkv = nullptr;
    int64_t T = 0, H = 0, Hk = 0, hd = 0, group = 1, ldqk = 0, W = 0, d = 0;
    float scale = 1.0f, p = 0.0f, keep_scale = 1.0f;
    bool causal = false;
    uint64_t seed = 0, stream = 0;
};
void flash_attention_forward(ElemType t, const FlashArgs& g, int64_t batch, cudaStream_t s);
// D: (B, H, T) f32 scratch for rowsum(dO * O).
void flash_attention_backward(ElemType t, const FlashArgs& g, int64_t batch, float* D, cudaStream_t s);

// image.cu: the image kernels (conv2d's products are cuBLAS calls in the backend).
// One convolution's geometry, passed to kernels by value.
struct ConvGeometry {
    int64_t in_channels, group_in, height, width, kernel, stride, padding, out_h, out_w;
};
// im2col of `chunk` images from image n0, one group's channels: cols (chunk, K, Ho * Wo), K =
// group_in * k * k; col2im gathers a columns' gradient back into those images' dx.
void im2col(ElemType t, const void* x, void* cols, const ConvGeometry& g, int64_t n0, int64_t chunk, int64_t group,
            cudaStream_t s);
void col2im(ElemType t, const void* dcols, void* dx, const ConvGeometry& g, int64_t n0, int64_t chunk, int64_t group,
            cudaStream_t s);
// y (batch, channels, pixels) = bias[channel]; out[channel] = the sum of dy over batch and pixels.
void channel_fill(ElemType t, void* y, const void* bias, int64_t batch, int64_t channels, int64_t pixels, cudaStream_t s);
void channel_sum(ElemType t, const void* dy, float* out, int64_t batch, int64_t channels, int64_t pixels, cudaStream_t s);
void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean, float* running_var,
                       float momentum, cudaStream_t s);
void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                        const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw,
                        cudaStream_t s);
struct PoolGeometry {
    int64_t planes, height, width, kernel_h, kernel_w, stride_h, stride_w, padding, out_h, out_w;
};
void maxpool_forward(ElemType t, const PoolGeometry& g, const void* x, void* y, cudaStream_t s);
void maxpool_backward(ElemType t, const PoolGeometry& g, const void* x, const void* dy, void* dx, cudaStream_t s);
void avgpool_forward(ElemType t, const PoolGeometry& g, const void* x, void* y, cudaStream_t s);
void avgpool_backward(ElemType t, const PoolGeometry& g, const void* dy, void* dx, cudaStream_t s);

}  // namespace ckpt::cuda
