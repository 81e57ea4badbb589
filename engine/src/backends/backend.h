// The kernel interface every device implements, and the clock that times a step on it. Ops
// (layers/, the losses and optimizers) call these on raw device pointers; the CPU backend is
// the reference the others are tested against (tst_backend_ops). Kernels never allocate
// tensors: every buffer an op needs comes from the tracking allocator, so byte counts stay
// exact, and scratch space is a query (scratch.h) so a dry run predicts any device's bytes.
//
// Stream contract: a backend runs its kernels on ONE in-order stream. A kernel may still be
// running when its call returns (CUDA), but every later kernel starts after it, so the
// tracking allocator may hand a freed buffer to the next op at once: whatever reads the old
// contents was queued before whatever writes the new ones. Calls that return host values
// (to_host, the loss values, digest) wait for the stream.
//
// The dry backend computes nothing and owns no memory: the executor runs unchanged on it, and
// its byte counts, which depend only on shapes, are the prediction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/digest.h"
#include "core/elem_type.h"
#include "ckpt/session.h"

namespace ckpt {

// A device failure that is not a lack of memory (a CUDA error, a failed library call): the
// executor turns it into a failed step with this message.
struct DeviceError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Time stamps of a step, taken in the order work is queued. On the CPU a stamp is the host
// clock; on a GPU it is an event recorded on the stream, whose time is known only once the
// device has passed it, so stamps are opaque and read back afterwards.
class Clock {
public:
    // `coalesce`: the backend calls worked() whenever it has done work (the CPU, in every op)
    // or queued it (CUDA, at every launch), and a stamp with none since the last one returns
    // the last one: the memory events and span ends between two ops are one instant and cost
    // one read (one event record on CUDA).
    explicit Clock(bool coalesce) : coalesce_(coalesce) {}
    virtual ~Clock() = default;
    void start() {  // time zero; earlier stamps become invalid
        work_ = true;
        restart();
    }
    // A mark at this point of the stream. Not virtual, and inline: a step takes hundreds (one
    // per memory event and span end), most of them coalesced, and the call would cost more
    // than the check.
    int64_t stamp() {
        if (coalesce_ && !work_) return last_;
        work_ = false;
        return last_ = read();
    }
    void worked() { work_ = true; }
    virtual bool ready(int64_t stamp) = 0;        // its time is known without waiting
    virtual int64_t elapsed_ns(int64_t stamp) = 0;  // ns since start(); waits for the device
    // Leaves the work between two stamps out of every later time (verification the step itself
    // does not need, such as the gradient checksum).
    virtual void exclude(int64_t from, int64_t to) = 0;
    // Whether a stamp is its own elapsed_ns() (the host clocks), so that a step's stamps need
    // no conversion.
    virtual bool stamps_in_ns() const { return false; }

protected:
    virtual void restart() = 0;  // start()'s own part
    virtual int64_t read() = 0;  // a new stamp

private:
    bool coalesce_ = false, work_ = true;
    int64_t last_ = 0;
};


// The elementwise activations (the layer types relu, gelu, tanh, silu).
enum class Act : uint8_t { relu, gelu, tanh, silu };

// An attention call's shape. The fused input has (heads + 2 kv_heads) parts of head_dim: Q's
// heads, then K's and V's kv_heads; query head h reads key/value head h / (heads / kv_heads).
struct AttentionShape {
    int64_t batch = 1, seq = 1, heads = 1, kv_heads = 1, head_dim = 1;
    bool causal = false;
    float p = 0.0f;           // dropout on the softmax output
    float rope_theta = 0.0f;  // rotary position embedding base (0: none)
    int64_t width() const { return (heads + 2 * kv_heads) * head_dim; }  // features in
    int64_t out() const { return heads * head_dim; }                     // features out
    int64_t group() const { return heads / kv_heads; }
};

// A conv2d call's shape: a batch of images (batch, in_channels, height, width), NCHW, a square
// kernel with stride, zero padding and groups, giving (batch, out_channels, out_h, out_w).
struct ConvShape {
    int64_t batch = 1, in_channels = 1, out_channels = 1, height = 1, width = 1;
    int64_t kernel = 1, stride = 1, padding = 0, groups = 1;
    int64_t out_h() const { return (height + 2 * padding - kernel) / stride + 1; }
    int64_t out_w() const { return (width + 2 * padding - kernel) / stride + 1; }
    // Rows of one group's im2col matrix: the inputs one output reads.
    int64_t col_rows() const { return in_channels / groups * kernel * kernel; }
    // A 1x1 convolution with stride 1 and no padding reads its input as the im2col matrix.
    bool pointwise() const { return kernel == 1 && stride == 1 && padding == 0; }
};

// A pooling call's shape: windows of kernel_h x kernel_w moved by stride_h, stride_w over each
// channel of (batch, channels, height, width), padded by `padding` on each side.
struct PoolShape {
    int64_t batch = 1, channels = 1, height = 1, width = 1;
    int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, padding = 0;
    int64_t out_h() const { return (height + 2 * padding - kernel_h) / stride_h + 1; }
    int64_t out_w() const { return (width + 2 * padding - kernel_w) / stride_w + 1; }
};

// What a device's memory holds besides the tensors the tracking allocator counts.
struct DeviceMemory {
    int64_t reserved = 0;       // held from the system by the backend's pool (live + cached)
    int64_t reserved_peak = 0;  // highest `reserved` since reset_peak()
    int64_t workspace = 0;      // library workspaces (cuBLAS), held for the session's life
    int64_t context = 0;        // used on the device before the backend took any (CUDA context)
    int64_t free = 0;           // what the device reports free now (0: not known)
    int64_t total = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual DeviceKind kind() const = 0;          // the dry backend answers for the device it predicts
    virtual bool computes() const { return true; }  // false for the dry backend
    virtual Clock& clock() = 0;

    // Raw memory; nullptr when the device is out of memory.
    virtual void* allocate(size_t bytes) = 0;
    virtual void release(void* p, size_t bytes) = 0;
    virtual void to_host(void* dst, const void* src, size_t bytes) = 0;
    virtual void from_host(void* dst, const void* src, size_t bytes) = 0;
    virtual void synchronize() {}
    // Returns cached, unused buffers to the system.
    virtual void trim() {}
    virtual DeviceMemory memory() const { return {}; }
    virtual void reset_peak() {}
    virtual void set_threads(int threads) {}
    // TF32 tensor-core GEMMs (CUDA). Off by default so results track the f32 CPU reference.
    virtual void set_tf32(bool on) {}
    virtual bool tf32() const { return false; }

    virtual Digest digest(const float* x, int64_t n) = 0;

    // Row-major C(M,N) = alpha * op(A) op(B) + beta * C, op = transpose when trans is set. A and
    // B are of type `ab` (f32, bf16 or f16) and C of type `c` (f32, or `ab`); products are
    // accumulated in f32 and C is rounded once (mixed precision: autocast's matmul).
    virtual void gemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
                         int64_t lda, const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab,
                         ElemType c) = 0;
    void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
        gemm_ex(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ElemType::f32, ElemType::f32);
    }
    // y = x converted between f32 and bf16/f16 (either way), rounding to nearest even.
    virtual void cast(const void* x, ElemType from, void* y, ElemType to, int64_t n) = 0;

    virtual void fill(float* x, int64_t n, float value) = 0;
    virtual void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream) = 0;
    virtual void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) = 0;
    virtual void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream) = 0;

    // The elementwise ops below take and return tensors of type t (f32, bf16 or f16), compute
    // in f32 and round their result once.
    virtual void broadcast_rows(void* y, const void* b, int64_t rows, int64_t cols, ElemType t) = 0;  // y[r,:] = b
    // out (f32) = sum over rows of x (type t), accumulated in f32.
    virtual void column_sum(float* out, const void* x, int64_t rows, int64_t cols, ElemType t) = 0;

    // `saved` is what the activation keeps: its output for ReLU and Tanh, its input for GELU and
    // SiLU (the layer-traits table's Rebuild says which).
    virtual void activation_forward(Act a, ElemType t, const void* x, void* y, int64_t n) = 0;
    virtual void activation_backward(Act a, ElemType t, const void* saved, const void* dy, void* dx, int64_t n) = 0;
    // y = a + b with each operand of its own type (a residual add promotes, as PyTorch does).
    virtual void add(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n) = 0;

    // gamma/beta may be null (no affine). mean/rstd: (rows). f32 only: autocast runs it in f32.
    virtual void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                   float* mean, float* rstd, int64_t rows, int64_t cols, float eps) = 0;
    // dgamma/dbeta are overwritten (may be null).
    virtual void layernorm_backward(const float* x, const float* gamma, const float* mean,
                                    const float* rstd, const float* dy, float* dx, float* dgamma,
                                    float* dbeta, int64_t rows, int64_t cols) = 0;

    // mask[i] = 1 keeps x[i] (scaled by 1/(1-p)); drawn from Philox(seed, stream).
    virtual void dropout_forward(ElemType t, const void* x, void* y, uint8_t* mask, int64_t n, float p,
                                 uint64_t seed, uint64_t stream) = 0;
    virtual void dropout_backward(ElemType t, const void* dy, const uint8_t* mask, void* dx, int64_t n, float p) = 0;
    // The mask dropout_forward draws from the same (seed, stream), alone: a recomputation
    // rebuilds dropout's state with it instead of running the layers before it again.
    virtual void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t stream) = 0;

    // The losses run in f32 (autocast casts their inputs up).
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
    // dtable (vocab, dim) and dpositions (seq, dim) are overwritten; repeated tokens add up in
    // row order on every device.
    virtual void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions,
                                    int64_t rows, int64_t seq, int64_t vocab, int64_t dim) = 0;

    // Scaled dot-product attention over a fused projection. qkv: (batch*seq, a.width()) of type
    // t, laid out [Q | K | V], head h in columns h*hd..; out: (batch*seq, a.out()) of type t.
    // With rope_theta, Q and K are rotated by their position (LLaMA's rotate_half) on the way
    // in. The two products run in t (f32 accumulation); the softmax runs in f32 and probs
    // (batch, heads, seq, seq) receives its f32 output (kept for backward); mask (same shape,
    // bytes) the dropout mask when p > 0; scratch as scratch.h sizes it for this device and t.
    virtual void attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* probs,
                                   uint8_t* mask, void* scratch, uint64_t seed, uint64_t stream) = 0;
    // dqkv (type t) is overwritten.
    virtual void attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const float* probs,
                                    const uint8_t* mask, const void* dout, void* dqkv, void* scratch) = 0;

    // Fused (flash) attention, FlashAttention-2's algorithm on the same fused input, shapes and
    // rotary positions as attention_forward, with no (T, T) buffer: query and key tiles with an
    // online softmax. lse (batch, heads, seq) receives each row's f32 log-sum-exp of the scaled
    // scores; lse and out (type t) are what backward needs besides qkv. Products take 16-bit
    // inputs with f32 accumulation, the softmax runs in f32 and the probabilities enter P V
    // rounded to t. With p > 0 the keep decision of (b, h, q, k) is element ((b * heads + h) *
    // seq + q) * seq + k of Philox(seed, stream), the element attention_forward's mask holds
    // there: both kernels drop the same elements. Scratch as scratch.h's flash_scratch sizes it.
    virtual void flash_attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* lse,
                                         void* scratch, uint64_t seed, uint64_t stream) = 0;
    // Rebuilds the probabilities tile by tile from Q, K and lse, the keep decisions from (seed,
    // stream), and overwrites dqkv (type t). The gradients add up in a fixed order (no atomics),
    // so a recomputed step is bitwise the same.
    virtual void flash_attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const void* out,
                                          const float* lse, const void* dout, void* dqkv, void* scratch, uint64_t seed,
                                          uint64_t stream) = 0;

    // RMSNorm in f32 (LLaMA's norm): y = x * rstd * gamma, rstd = 1 / sqrt(mean(x^2) + eps);
    // rstd (rows) is kept for backward; dgamma is overwritten.
    virtual void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols,
                                 float eps) = 0;
    virtual void rmsnorm_backward(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx,
                                  float* dgamma, int64_t rows, int64_t cols) = 0;
    // SwiGLU: x (rows, 2f) = [gate | up] -> y (rows, f) = silu(gate) * up, type t.
    virtual void swiglu_forward(ElemType t, const void* x, void* y, int64_t rows, int64_t f) = 0;
    virtual void swiglu_backward(ElemType t, const void* x, const void* dy, void* dx, int64_t rows, int64_t f) = 0;

    // conv2d by im2col and matrix products, type t (f32, bf16, f16: products accumulate in f32).
    // x (batch, in, H, W), w (out, in / groups, k, k), bias (out) or null, y (batch, out, Ho, Wo);
    // scratch as scratch.h sizes it for this device and t.
    virtual void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias,
                                void* y, void* scratch) = 0;
    // dw (f32, the weight's shape) and dbias (f32, or null) are overwritten with sums over the
    // batch accumulated in f32; dx (type t) is skipped when null.
    virtual void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                                 float* dw, float* dbias, void* scratch) = 0;

    // Batch norm in train mode over (n, c, hw) of type t, statistics in f32 (accumulated in
    // double): y = (x - mean_c) * rstd_c * gamma_c + beta_c, gamma/beta null without affine;
    // mean and rstd (c) are kept for backward. With running_mean/running_var (buffers) set,
    // they move towards the batch's mean and unbiased variance by `momentum` (PyTorch's rule);
    // null leaves them alone (a recomputation).
    virtual void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y,
                                   float* mean, float* rstd, int64_t n, int64_t c, int64_t hw, float eps,
                                   float* running_mean, float* running_var, float momentum) = 0;
    // dx (type t) and, when not null, dgamma and dbeta (f32, overwritten).
    virtual void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                                    const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                                    int64_t hw) = 0;

    // Pooling over (batch, channels, H, W) of type t. Max pooling's backward finds each window's
    // first maximum again from x and routes the gradient there; average pooling divides by the
    // whole window (padding counts as zeros). Backward gathers per input element, so every
    // device adds the same terms in the same order.
    virtual void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) = 0;
    virtual void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx) = 0;
    virtual void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) = 0;
    virtual void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx) = 0;

    // Loss scaling (fp16): whether every value is finite, and x *= s.
    virtual bool all_finite(const float* x, int64_t n) = 0;
    virtual void scale(float* x, int64_t n, float s) = 0;

    virtual void sgd_step(float* w, const float* g, float* momentum_buf, int64_t n, float lr,
                          float momentum, float weight_decay, bool first) = 0;
    virtual void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float weight_decay, int64_t step) = 0;
};

// The backend for a device id: "cpu", "cuda", "cuda:N"; an error names what is missing.
Result<Backend*> backend_for(const std::string& device);
Backend& cpu_backend();
// A backend that computes nothing and predicts the bytes of a device of `kind`.
Backend& dry_backend(DeviceKind kind = DeviceKind::cpu);

// Every CUDA device a driver reports (empty without the CUDA backend or a driver), and the
// reason when there are none.
std::vector<DeviceInfo> cuda_devices(std::string* why_none = nullptr);

}  // namespace ckpt
