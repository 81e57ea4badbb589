// The kernel interface every device implements. Ops (layers.cpp, losses.cpp, optimizers.cpp)
// call these on raw device pointers; the CPU backend is the reference the CUDA backend is
// tested against. Kernels never allocate tensors: every buffer an op needs comes from the
// tracking allocator, so the byte counts stay exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ckpt {

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;

    // Raw memory; nullptr when the device is out of memory.
    virtual void* allocate(size_t bytes) = 0;
    virtual void release(void* p, size_t bytes) = 0;
    virtual void to_host(void* dst, const void* src, size_t bytes) = 0;
    virtual void from_host(void* dst, const void* src, size_t bytes) = 0;
    virtual void synchronize() {}
    // Returns cached, unused buffers to the system.
    virtual void trim() {}
    // Bytes held from the system: live buffers plus the backend's cache.
    virtual int64_t reserved_bytes() const { return 0; }
    virtual void set_threads(int threads) {}

    // Row-major C(M,N) = alpha * op(A) op(B) + beta * C, op = transpose when trans is set.
    virtual void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                      int64_t ldc) = 0;

    virtual void fill(float* x, int64_t n, float value) = 0;
    virtual void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream) = 0;
    virtual void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) = 0;
    virtual void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream) = 0;

    virtual void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols) = 0;  // y[r,:] = b
    virtual void column_sum(float* out, const float* x, int64_t rows, int64_t cols) = 0;    // out = sum_r x[r,:]

    virtual void relu_forward(const float* x, float* y, int64_t n) = 0;
    virtual void relu_backward(const float* y, const float* dy, float* dx, int64_t n) = 0;
    virtual void gelu_forward(const float* x, float* y, int64_t n) = 0;
    virtual void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) = 0;
    virtual void tanh_forward(const float* x, float* y, int64_t n) = 0;
    virtual void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) = 0;
    virtual void add(const float* a, const float* b, float* y, int64_t n) = 0;

    // gamma/beta may be null (no affine). mean/rstd: (rows).
    virtual void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                   float* mean, float* rstd, int64_t rows, int64_t cols, float eps) = 0;
    // dgamma/dbeta are overwritten (may be null).
    virtual void layernorm_backward(const float* x, const float* gamma, const float* mean,
                                    const float* rstd, const float* dy, float* dx, float* dgamma,
                                    float* dbeta, int64_t rows, int64_t cols) = 0;

    // mask[i] = 1 keeps x[i] (scaled by 1/(1-p)); drawn from Philox(seed, stream).
    virtual void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p,
                                 uint64_t seed, uint64_t stream) = 0;
    virtual void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) = 0;

    virtual double mse_forward(const float* pred, const float* target, int64_t n) = 0;
    virtual void mse_backward(const float* pred, const float* target, float* dpred, int64_t n) = 0;
    // probs = softmax(logits); returns mean cross-entropy.
    virtual double softmax_xent_forward(const float* logits, const int64_t* target, float* probs,
                                        int64_t rows, int64_t cols) = 0;
    virtual void softmax_xent_backward(const float* probs, const int64_t* target, float* dlogits,
                                       int64_t rows, int64_t cols) = 0;

    // Token embedding: out[r] = table[tokens[r]] (+ positions[r % seq] when positions is set).
    virtual void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out,
                                   int64_t rows, int64_t seq, int64_t dim) = 0;
    // dtable (vocab, dim) and dpositions (seq, dim) are overwritten.
    virtual void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions,
                                    int64_t rows, int64_t seq, int64_t vocab, int64_t dim) = 0;

    // Scaled dot-product attention over a fused QKV projection. qkv: (batch*seq, 3*heads*hd),
    // laid out [Q | K | V], head h in columns h*hd..; out: (batch*seq, heads*hd). probs
    // (batch, heads, seq, seq) receives the softmax output (kept for backward); mask (same
    // shape, bytes) the dropout mask when p > 0; scratch holds seq*seq floats.
    virtual void attention_forward(const float* qkv, float* out, float* probs, uint8_t* mask, float* scratch,
                                   int64_t batch, int64_t seq, int64_t heads, int64_t hd, bool causal, float p,
                                   uint64_t seed, uint64_t stream) = 0;
    // dqkv is overwritten; scratch holds 2*seq*seq floats.
    virtual void attention_backward(const float* qkv, const float* probs, const uint8_t* mask, const float* dout,
                                    float* dqkv, float* scratch, int64_t batch, int64_t seq, int64_t heads,
                                    int64_t hd, bool causal, float p) = 0;

    virtual void sgd_step(float* w, const float* g, float* momentum_buf, int64_t n, float lr,
                          float momentum, float weight_decay, bool first) = 0;
    virtual void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float weight_decay, int64_t step) = 0;
};

Backend& cpu_backend();

}  // namespace ckpt
