// The CUDA backend: cuBLAS for every matrix product (TF32 off unless asked, so results track
// the f32 CPU reference; loaded at run time, cublas_loader.h), the kernels of kernels.h for everything else, a PyTorch-style caching
// allocator for tensors, CUDA events on the stream for time stamps. Everything runs on one
// non-blocking stream per device (the stream contract of backend.h); host values (losses,
// digests, copies) are the only points that wait for it.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/caching_allocator.h"
#include "backends/cuda/cublas_loader.h"
#include "backends/cuda/kernels.h"
#include "backends/scratch.h"

namespace ckpt {
namespace {

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw DeviceError(std::string(what) + ": " + cudaGetErrorString(e));
}

// cuBLAS's functions; loaded before any backend starts (CudaBackend), so never null here.
const cuda::Cublas& blas() { return *cuda::cublas(nullptr); }

void check(cublasStatus_t e, const char* what) {
    if (e != CUBLAS_STATUS_SUCCESS) throw DeviceError(std::string(what) + ": " + blas().status_string(e));
}


// The runtime's current device is per host thread; this remembers which one this thread set.
thread_local int t_current_device = -1;

class CudaClock final : public Clock {
public:
    // Coalescing (Clock): the backend marks every launch with worked(), and a stamp with no
    // work queued since the last marks the same point of the stream, so the memory events
    // between two kernels record no event.
    explicit CudaClock(cudaStream_t s) : Clock(true), stream_(s) {}
    ~CudaClock() override {
        for (cudaEvent_t e : events_) cudaEventDestroy(e);
    }
    bool ready(int64_t s) override {
        const cudaError_t e = cudaEventQuery(events_[size_t(s)]);
        if (e == cudaErrorNotReady) {
            cudaGetLastError();  // "not ready" is recorded as the last error: clear it
            return false;
        }
        check(e, "cudaEventQuery");
        return true;
    }
    // Every stamp is measured from stamp 0 (and cached), and an excluded stretch is the
    // difference of two such times, so elapsed_ns is monotone in the stamp.
    int64_t elapsed_ns(int64_t s) override {
        int64_t ns = since_start(s);
        for (const auto& [a, b] : excluded_)
            if (b <= s) ns -= since_start(b) - since_start(a);
        return ns < 0 ? 0 : ns;
    }
    void exclude(int64_t from, int64_t to) override { excluded_.push_back({from, to}); }

protected:
    void restart() override {
        used_ = 0;
        excluded_.clear();
        times_.clear();
        stamp();  // stamp 0: time zero (start() marked work, so this records an event)
    }
    int64_t read() override {
        if (used_ == events_.size()) {
            cudaEvent_t e;
            check(cudaEventCreate(&e), "cudaEventCreate");
            events_.push_back(e);
        }
        check(cudaEventRecord(events_[used_], stream_), "cudaEventRecord");
        return int64_t(used_++);
    }

private:
    int64_t since_start(int64_t s) {
        if (times_.size() < used_) times_.resize(used_, -1);
        int64_t& t = times_[size_t(s)];
        if (t < 0) {
            check(cudaEventSynchronize(events_[size_t(s)]), "cudaEventSynchronize");
            float ms = 0.0f;
            check(cudaEventElapsedTime(&ms, events_[0], events_[size_t(s)]), "cudaEventElapsedTime");
            t = int64_t(std::llround(double(ms) * 1e6));
        }
        return t;
    }

    cudaStream_t stream_;
    std::vector<cudaEvent_t> events_;  // reused from step to step
    size_t used_ = 0;
    std::vector<int64_t> times_;       // ns since stamp 0, -1 until read
    std::vector<std::pair<int64_t, int64_t>> excluded_;
};

// The caching allocator's heap: cudaMalloc, with only a lack of memory reported as nullptr; any
// other failure (a fault an earlier kernel left behind) is a device error.
void* cuda_malloc(size_t bytes, void*) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    cudaGetLastError();  // an allocation failure is not sticky: clear it
    if (e == cudaErrorMemoryAllocation) return nullptr;
    throw DeviceError(std::string("cudaMalloc: ") + cudaGetErrorString(e));
}
void cuda_free(void* p, void*) { cudaFree(p); }

cudaDataType_t cuda_type(ElemType t) {
    switch (t) {
    case ElemType::bf16: return CUDA_R_16BF;
    case ElemType::f16: return CUDA_R_16F;
    default: return CUDA_R_32F;
    }
}

constexpr size_t kCublasWorkspace = size_t(32) << 20;  // what cuBLAS asks for on Hopper

class CudaBackend final : public Backend {
public:
    CudaBackend(int index, const std::string& device_name) : index_(index), device_name_(device_name) {
        std::string why;
        if (!cuda::cublas(&why)) throw DeviceError(why);
        check(cudaSetDevice(index), "cudaSetDevice");
        t_current_device = index;
        check(cudaFree(nullptr), "creating the CUDA context");
        size_t free = 0, total = 0;
        check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
        context_ = int64_t(total - free);
        total_ = int64_t(total);
        check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        clock_ = std::make_unique<CudaClock>(stream_);
        check(blas().create(&cublas_), "cublasCreate");
        check(blas().set_stream(cublas_, stream_), "cublasSetStream");
        // A fixed workspace keeps cuBLAS deterministic and its memory visible.
        check(cudaMalloc(&cublas_ws_, kCublasWorkspace), "cudaMalloc (cuBLAS workspace)");
        check(blas().set_workspace(cublas_, cublas_ws_, kCublasWorkspace), "cublasSetWorkspace");
        set_tf32(false);
        const size_t ws = size_t(cuda::kWorkspaceFloats) * 4 + size_t(cuda::kWorkspaceDoubles) * 8 +
                          size_t(cuda::kWorkspaceWords) * 8;
        void* base = nullptr;
        check(cudaMalloc(&base, ws), "cudaMalloc (reduction workspace)");
        char* p = static_cast<char*>(base);
        ws_.floats = reinterpret_cast<float*>(p);
        ws_.doubles = reinterpret_cast<double*>(p + cuda::kWorkspaceFloats * 4);
        ws_.words = reinterpret_cast<unsigned long long*>(p + cuda::kWorkspaceFloats * 4 + cuda::kWorkspaceDoubles * 8);
        workspace_ = int64_t(kCublasWorkspace + ws);
    }
    // Backends live until the process ends (the runtime may be gone by static destruction).

    std::string name() const override { return "cuda:" + std::to_string(index_) + " (" + device_name_ + ")"; }
    DeviceKind kind() const override { return DeviceKind::cuda; }
    Clock& clock() override {
        use();
        return *clock_;
    }

    void* allocate(size_t bytes) override {
        use();
        return pool_.allocate(bytes);
    }
    void release(void* p, size_t) override { pool_.release(p); }
    void to_host(void* dst, const void* src, size_t bytes) override {
        use();
        check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy to host");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }
    void from_host(void* dst, const void* src, size_t bytes) override {
        use();
        check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpy to device");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        clock_->worked();
    }
    void synchronize() override {
        use();
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }
    void trim() override {
        use();
        cudaStreamSynchronize(stream_);
        pool_.trim();
    }
    DeviceMemory memory() const override {
        use();
        DeviceMemory m;
        m.reserved = pool_.reserved();
        m.reserved_peak = pool_.reserved_peak();
        m.workspace = workspace_;
        m.context = context_;
        m.total = total_;
        size_t free = 0, total = 0;
        if (cudaMemGetInfo(&free, &total) == cudaSuccess) m.free = int64_t(free);
        else cudaGetLastError();
        return m;
    }
    void reset_peak() override { pool_.reset_peak(); }
    void set_tf32(bool on) override {
        tf32_ = on;
        check(blas().set_math_mode(cublas_, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    }
    bool tf32() const override { return tf32_; }

    Digest digest(const float* x, int64_t n) override {
        use();
        cuda::digest(x, n, ws_, stream_);
        launched("digest");
        Digest d;
        unsigned long long h = 0;
        double sums[2] = {0.0, 0.0};
        check(cudaMemcpyAsync(&h, ws_.words, 8, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy");
        check(cudaMemcpyAsync(sums, ws_.doubles, 16, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        d.hash = h;
        d.sum = sums[0];
        d.abs_sum = sums[1];
        return d;
    }

    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands. f32
    // uses cublasSgemm (which honours the TF32 setting); 16-bit operands use cublasGemmEx with
    // f32 accumulation.
    void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
                 const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab, ElemType c) override {
        if (M <= 0 || N <= 0) return;
        use();
        const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        if (ab == ElemType::f32 && c == ElemType::f32)
            check(blas().sgemm(cublas_, ob, oa, N, M, K, &alpha, static_cast<const float*>(B), ldb,
                                 static_cast<const float*>(A), lda, &beta, static_cast<float*>(C), ldc),
                  "cublasSgemm");
        else
            check(blas().gemm_ex(cublas_, ob, oa, N, M, K, &alpha, B, cuda_type(ab), ldb, A, cuda_type(ab), lda, &beta,
                                  C, cuda_type(c), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                  "cublasGemmEx");
        clock_->worked();
    }
    void gemm_strided(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
                      int64_t sa, const void* B, int64_t ldb, int64_t sb, float beta, void* C, int64_t ldc,
                      int64_t sc, int64_t batch, ElemType t) {
        if (M <= 0 || N <= 0 || batch <= 0) return;
        const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        if (t == ElemType::f32)
            check(blas().sgemm_strided_batched(cublas_, ob, oa, N, M, K, &alpha, static_cast<const float*>(B), ldb, sb,
                                               static_cast<const float*>(A), lda, sa, &beta, static_cast<float*>(C),
                                               ldc, sc, batch),
                  "cublasSgemmStridedBatched");
        else
            check(blas().gemm_strided_batched_ex(cublas_, ob, oa, N, M, K, &alpha, B, cuda_type(t), ldb, sb, A,
                                                cuda_type(t), lda, sa, &beta, C, cuda_type(t), ldc, sc, batch,
                                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                  "cublasGemmStridedBatchedEx");
        clock_->worked();
    }
    void cast(const void* x, ElemType from, void* y, ElemType to, int64_t n) override {
        use();
        cuda::cast(x, from, y, to, n, stream_);
        launched("cast");
    }

    void fill(float* x, int64_t n, float v) override {
        use();
        cuda::fill(x, n, v, stream_);
        launched("fill");
    }
    void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream) override {
        use();
        cuda::fill_uniform(x, n, lo, hi, seed, stream, stream_);
        launched("fill_uniform");
    }
    void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) override {
        use();
        cuda::fill_normal(x, n, stddev, seed, stream, stream_);
        launched("fill_normal");
    }
    void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream) override {
        use();
        cuda::fill_classes(t, n, classes, seed, stream, stream_);
        launched("fill_classes");
    }
    void broadcast_rows(void* y, const void* b, int64_t rows, int64_t cols, ElemType t) override {
        use();
        cuda::broadcast_rows(y, b, rows, cols, t, stream_);
        launched("broadcast_rows");
    }
    void column_sum(float* out, const void* x, int64_t rows, int64_t cols, ElemType t) override {
        use();
        cuda::column_sum(out, x, t, rows, cols, ws_, stream_);
        launched("column_sum");
    }
    void activation_forward(Act a, ElemType t, const void* x, void* y, int64_t n) override {
        use();
        cuda::activation_forward(cuda::Act(int(a)), t, x, y, n, stream_);
        launched("activation_forward");
    }
    void activation_backward(Act a, ElemType t, const void* saved, const void* dy, void* dx, int64_t n) override {
        use();
        cuda::activation_backward(cuda::Act(int(a)), t, saved, dy, dx, n, stream_);
        launched("activation_backward");
    }
    void add(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n) override {
        use();
        cuda::add(a, ta, b, tb, y, ty, n, stream_);
        launched("add");
    }

    void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                           int64_t rows, int64_t cols, float eps) override {
        use();
        cuda::layernorm_forward(x, gamma, beta, y, mean, rstd, rows, cols, eps, stream_);
        launched("layernorm_forward");
    }
    void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                            float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols) override {
        use();
        cuda::layernorm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols, ws_, stream_);
        launched("layernorm_backward");
    }

    void dropout_forward(ElemType t, const void* x, void* y, uint8_t* mask, int64_t n, float p, uint64_t seed,
                         uint64_t stream) override {
        use();
        cuda::dropout_forward(t, x, y, t, mask, n, p, 1.0f / (1.0f - p), 0, seed, stream, stream_);
        launched("dropout_forward");
    }
    void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t stream) override {
        use();
        cuda::dropout_forward(ElemType::f32, nullptr, nullptr, ElemType::f32, mask, n, p, 1.0f, 0, seed, stream, stream_);
        launched("dropout_mask");
    }
    void dropout_backward(ElemType t, const void* dy, const uint8_t* mask, void* dx, int64_t n, float p) override {
        use();
        cuda::dropout_backward(t, dy, mask, dx, n, 1.0f / (1.0f - p), stream_);
        launched("dropout_backward");
    }

    double mse_forward(const float* pred, const float* target, int64_t n) override {
        use();
        cuda::mse_sum(pred, target, n, ws_, stream_);
        launched("mse_forward");
        return read_double() / double(n);
    }
    void mse_backward(const float* pred, const float* target, float* dpred, int64_t n) override {
        use();
        cuda::mse_backward(pred, target, dpred, n, stream_);
        launched("mse_backward");
    }
    double softmax_xent_forward(const float* logits, const int64_t* target, float* probs, int64_t rows,
                                int64_t cols) override {
        use();
        cuda::softmax_xent_forward(logits, target, probs, rows, cols, ws_, stream_);
        launched("softmax_xent_forward");
        return read_double() / double(rows);
    }
    void softmax_xent_backward(const float* probs, const int64_t* target, float* dlogits, int64_t rows,
                               int64_t cols) override {
        use();
        cuda::softmax_xent_backward(probs, target, dlogits, rows, cols, stream_);
        launched("softmax_xent_backward");
    }

    void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out, int64_t rows,
                           int64_t seq, int64_t dim) override {
        use();
        cuda::embedding_forward(tokens, table, positions, out, rows, seq, dim, stream_);
        launched("embedding_forward");
    }
    void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions, int64_t rows,
                            int64_t seq, int64_t vocab, int64_t dim) override {
        use();
        cuda::embedding_backward(tokens, dout, dtable, dpositions, rows, seq, vocab, dim, stream_);
        launched("embedding_backward");
    }

    // Where the products read Q and K, and where the rest of the scratch starts: with rotary
    // positions, Q and K rotated into the scratch's first part; without, the QKV input in place.
    struct QkView {
        const char* qk;
        int64_t ldqk;
        char* work;
    };
    QkView rotated_qk(ElemType t, const AttentionShape& a, const void* qkv, void* scratch) {
        if (a.rope_theta <= 0.0f) return {static_cast<const char*>(qkv), a.width(), static_cast<char*>(scratch)};
        const int64_t rows = a.batch * a.seq, heads = a.heads + a.kv_heads, ld = heads * a.head_dim;
        cuda::rope_rotate(qkv, a.width(), scratch, ld, t, rows, a.seq, heads, a.head_dim, a.rope_theta, 1.0f, stream_);
        return {static_cast<const char*>(scratch), ld, static_cast<char*>(scratch) + rows * ld * elem_size(t)};
    }

    // Per batch element: the scores of the heads in one strided-batched product (for grouped
    // heads, one product per position k in the group, batched over the kv_heads groups, the
    // key/value head shared through its stride), the softmax (and dropout) over all of them,
    // then the heads' outputs. f32 puts the scores straight into the kept probabilities; 16-bit
    // runs score into the scratch (heads, T, T) and feeds P V the probabilities rounded to 16
    // bits (dropped out first), as autocast does. Rotary embeddings rotate Q and K into the
    // scratch's first part first.
    void attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* probs,
                           uint8_t* mask, void* scratch, uint64_t seed, uint64_t stream) override {
        use();
        const int64_t B = a.batch, T = a.seq, H = a.heads, Hk = a.kv_heads, hd = a.head_dim, g = a.group();
        const int64_t W = a.width(), d = a.out(), TT = T * T, es = elem_size(t);
        const float scale = 1.0f / std::sqrt(float(hd)), keep_scale = 1.0f / (1.0f - a.p);
        const bool f32 = t == ElemType::f32;
        const auto [qk, ldqk, work] = rotated_qk(t, a, qkv, scratch);
        for (int64_t b = 0; b < B; ++b) {
            const char* Qb = qk + b * T * ldqk * es;
            const char* Vb = static_cast<const char*>(qkv) + (b * T * W + (H + Hk) * hd) * es;
            float* P = probs + b * H * TT;
            uint8_t* M = a.p > 0.0f ? mask + b * H * TT : nullptr;
            char* S = f32 ? reinterpret_cast<char*>(P) : work;
            const int64_t ses = f32 ? 4 : es;  // bytes per score element
            for (int64_t k = 0; k < g; ++k)
                gemm_strided(false, true, T, T, hd, scale, Qb + k * hd * es, ldqk, g * hd, Qb + H * hd * es, ldqk, hd,
                             0.0f, S + k * TT * ses, T, g * TT, Hk, t);
            cuda::attention_softmax(S, t, P, H * T, T, a.causal, stream_);
            const char* A = reinterpret_cast<const char*>(P);
            int64_t aes = 4;
            if (M) {
                cuda::dropout_forward(ElemType::f32, P, work, t, M, H * TT, a.p, keep_scale, uint64_t(b * H * TT), seed,
                                      stream, stream_);
                A = work;
                aes = es;
            } else if (!f32) {
                cuda::apply_mask(P, nullptr, work, t, H * TT, 1.0f, stream_);
                A = work;
                aes = es;
            }
            char* O = static_cast<char*>(out) + b * T * d * es;
            for (int64_t k = 0; k < g; ++k)
                gemm_strided(false, false, T, hd, T, 1.0f, A + k * TT * aes, T, g * TT, Vb, W, hd, 0.0f,
                             O + k * hd * es, d, g * hd, Hk, t);
        }
        launched("attention_forward");
    }
    // Scratch: the rotated Q and K with rotary embeddings, then f32: dS (heads, T, T), and the
    // dropped-out probabilities with dropout; 16-bit: the probabilities as the products read
    // them, then dS. The gradient of a shared key/value head adds up over its group in order k.
    void attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const float* probs,
                            const uint8_t* mask, const void* dout, void* dqkv, void* scratch) override {
        use();
        const int64_t B = a.batch, T = a.seq, H = a.heads, Hk = a.kv_heads, hd = a.head_dim, g = a.group();
        const int64_t W = a.width(), d = a.out(), TT = T * T, es = elem_size(t), rows = B * T;
        const float scale = 1.0f / std::sqrt(float(hd)), keep_scale = 1.0f / (1.0f - a.p);
        const bool f32 = t == ElemType::f32, rope = a.rope_theta > 0.0f;
        const auto [qk, ldqk, work] = rotated_qk(t, a, qkv, scratch);
        const int64_t ses = f32 ? 4 : es;
        char* dS = f32 ? work : work + H * TT * es;
        char* Abuf = f32 ? work + H * TT * 4 : work;
        for (int64_t b = 0; b < B; ++b) {
            const char* Qb = qk + b * T * ldqk * es;
            const char* Vb = static_cast<const char*>(qkv) + (b * T * W + (H + Hk) * hd) * es;
            const float* P = probs + b * H * TT;
            const uint8_t* M = a.p > 0.0f && mask ? mask + b * H * TT : nullptr;
            const char* dO = static_cast<const char*>(dout) + b * T * d * es;
            char* dQb = static_cast<char*>(dqkv) + b * T * W * es;
            const char* A = reinterpret_cast<const char*>(P);
            int64_t aes = 4;
            if (M || !f32) {
                cuda::apply_mask(P, M, Abuf, t, H * TT, keep_scale, stream_);
                A = Abuf;
                aes = es;
            }
            for (int64_t k = 0; k < g; ++k) {
                const float beta = k == 0 ? 0.0f : 1.0f;
                gemm_strided(true, false, T, hd, T, 1.0f, A + k * TT * aes, T, g * TT, dO + k * hd * es, d, g * hd, beta,
                             dQb + (H + Hk) * hd * es, W, hd, Hk, t);  // dV (+)= A^T dO
                gemm_strided(false, true, T, T, hd, 1.0f, dO + k * hd * es, d, g * hd, Vb, W, hd, 0.0f,
                             dS + k * TT * ses, T, g * TT, Hk, t);  // dA = dO V^T
            }
            cuda::attention_softmax_backward(dS, t, P, M, H * T, T, scale, keep_scale, stream_);
            for (int64_t k = 0; k < g; ++k) {
                const float beta = k == 0 ? 0.0f : 1.0f;
                gemm_strided(false, false, T, hd, T, 1.0f, dS + k * TT * ses, T, g * TT, Qb + H * hd * es, ldqk, hd, 0.0f,
                             dQb + k * hd * es, W, g * hd, Hk, t);  // dQ = dS K
                gemm_strided(true, false, T, hd, T, 1.0f, dS + k * TT * ses, T, g * TT, Qb + k * hd * es, ldqk, g * hd,
                             beta, dQb + H * hd * es, W, hd, Hk, t);  // dK (+)= dS^T Q
            }
        }
        if (rope) cuda::rope_rotate(dqkv, W, dqkv, W, t, rows, T, H + Hk, hd, a.rope_theta, -1.0f, stream_);
        launched("attention_backward");
    }

    // Flash attention (flash_attention.cu): Q and K rotated into the scratch's first part with
    // rotary positions, as for eager; backward's D after it (scratch.h's flash_scratch).
    cuda::FlashArgs flash_args(const AttentionShape& a, const void* qk, int64_t ldqk, const void* qkv, uint64_t seed,
                               uint64_t stream) const {
        cuda::FlashArgs g;
        g.qk = qk;
        g.qkv = qkv;
        g.T = a.seq;
        g.H = a.heads;
        g.Hk = a.kv_heads;
        g.hd = a.head_dim;
        g.group = a.group();
        g.ldqk = ldqk;
        g.W = a.width();
        g.d = a.out();
        g.scale = 1.0f / std::sqrt(float(a.head_dim));
        g.p = a.p;
        g.keep_scale = 1.0f / (1.0f - a.p);
        g.causal = a.causal;
        g.seed = seed;
        g.stream = stream;
        return g;
    }
    void flash_attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* lse,
                                 void* scratch, uint64_t seed, uint64_t stream) override {
        use();
        const auto [qk, ldqk, work] = rotated_qk(t, a, qkv, scratch);
        cuda::FlashArgs g = flash_args(a, qk, ldqk, qkv, seed, stream);
        g.o = out;
        g.lse_out = lse;
        cuda::flash_attention_forward(t, g, a.batch, stream_);
        launched("flash_attention_forward");
    }
    void flash_attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const void* out,
                                  const float* lse, const void* dout, void* dqkv, void* scratch, uint64_t seed,
                                  uint64_t stream) override {
        use();
        const auto [qk, ldqk, work] = rotated_qk(t, a, qkv, scratch);
        const FlashScratch fs = flash_scratch(DeviceKind::cuda, a.batch, a.seq, a.heads, a.kv_heads, a.head_dim,
                                              a.rope_theta > 0.0f, a.p > 0.0f, t, false);
        cuda::FlashArgs g = flash_args(a, qk, ldqk, qkv, seed, stream);
        g.out = out;
        g.dout = dout;
        g.lse = lse;
        g.dqkv = dqkv;
        cuda::flash_attention_backward(t, g, a.batch, reinterpret_cast<float*>(static_cast<char*>(scratch) + fs.d_at),
                                       stream_);
        // The kernels gave dQ and dK in the rotated frame: rotate them back, in place.
        if (a.rope_theta > 0.0f)
            cuda::rope_rotate(dqkv, a.width(), dqkv, a.width(), t, a.batch * a.seq, a.seq, a.heads + a.kv_heads,
                              a.head_dim, a.rope_theta, -1.0f, stream_);
        launched("flash_attention_backward");
    }

    void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols,
                         float eps) override {
        use();
        cuda::rmsnorm_forward(x, gamma, y, rstd, rows, cols, eps, stream_);
        launched("rmsnorm_forward");
    }
    void rmsnorm_backward(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx,
                          float* dgamma, int64_t rows, int64_t cols) override {
        use();
        cuda::rmsnorm_backward(x, gamma, rstd, dy, dx, dgamma, rows, cols, ws_, stream_);
        launched("rmsnorm_backward");
    }
    void swiglu_forward(ElemType t, const void* x, void* y, int64_t rows, int64_t f) override {
        use();
        cuda::swiglu_forward(t, x, y, rows, f, stream_);
        launched("swiglu_forward");
    }
    void swiglu_backward(ElemType t, const void* x, const void* dy, void* dx, int64_t rows, int64_t f) override {
        use();
        cuda::swiglu_backward(t, x, dy, dx, rows, f, stream_);
        launched("swiglu_backward");
    }

    // conv2d: im2col of as many images as scratch.h's chunk allows, then per group one
    // strided-batched product over the chunk (the weight shared through a zero stride), written
    // straight into NCHW. A pointwise convolution reads its input as the columns. Backward:
    // the weight's gradient adds image by image in f32 (a fixed order), the columns' gradient
    // is one batched product per group, gathered back by col2im.
    void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias, void* y,
                        void* scratch) override {
        use();
        const int64_t G = s.groups, Cin = s.in_channels / G, Cout = s.out_channels / G, K = s.col_rows();
        const int64_t HW = s.height * s.width, P = s.out_h() * s.out_w(), es = elem_size(t);
        const cuda::ConvGeometry g = geometry(s);
        if (bias) cuda::channel_fill(t, y, bias, s.batch, s.out_channels, P, stream_);
        const int64_t chunk = conv_chunk(DeviceKind::cuda, s.batch, K * P * es);
        for (int64_t n0 = 0; n0 < s.batch; n0 += chunk) {
            const int64_t m = std::min(chunk, s.batch - n0);
            for (int64_t gi = 0; gi < G; ++gi) {
                const char* cols = static_cast<const char*>(x) + ((n0 * s.in_channels + gi * Cin) * HW) * es;
                int64_t stride_cols = s.in_channels * HW;
                if (!s.pointwise()) {
                    cuda::im2col(t, x, scratch, g, n0, m, gi, stream_);
                    cols = static_cast<const char*>(scratch);
                    stride_cols = K * P;
                }
                gemm_strided(false, false, Cout, P, K, 1.0f, static_cast<const char*>(w) + gi * Cout * K * es, K, 0, cols,
                             P, stride_cols, bias ? 1.0f : 0.0f,
                             static_cast<char*>(y) + ((n0 * s.out_channels + gi * Cout) * P) * es, P, s.out_channels * P, m,
                             t);
            }
        }
        launched("conv2d_forward");
    }
    void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                         float* dw, float* dbias, void* scratch) override {
        use();
        const int64_t G = s.groups, Cin = s.in_channels / G, Cout = s.out_channels / G, K = s.col_rows();
        const int64_t HW = s.height * s.width, P = s.out_h() * s.out_w(), es = elem_size(t);
        const cuda::ConvGeometry g = geometry(s);
        const int64_t chunk = conv_chunk(DeviceKind::cuda, s.batch, K * P * es);
        char* cols_buf = static_cast<char*>(scratch);
        char* dcols_buf = s.pointwise() ? nullptr : cols_buf + chunk * K * P * es;
        for (int64_t n0 = 0; n0 < s.batch; n0 += chunk) {
            const int64_t m = std::min(chunk, s.batch - n0);
            for (int64_t gi = 0; gi < G; ++gi) {
                const char* cols = static_cast<const char*>(x) + ((n0 * s.in_channels + gi * Cin) * HW) * es;
                int64_t stride_cols = s.in_channels * HW;
                if (!s.pointwise()) {
                    cuda::im2col(t, x, cols_buf, g, n0, m, gi, stream_);
                    cols = cols_buf;
                    stride_cols = K * P;
                }
                const char* dyg = static_cast<const char*>(dy) + ((n0 * s.out_channels + gi * Cout) * P) * es;
                for (int64_t i = 0; i < m; ++i)  // dW_g (+)= dY cols^T, image after image
                    gemm_ex(false, true, Cout, K, P, 1.0f, dyg + i * s.out_channels * P * es, P, cols + i * stride_cols * es,
                            P, n0 + i == 0 ? 0.0f : 1.0f, dw + gi * Cout * K, K, t, ElemType::f32);
                if (!dx) continue;
                char* dcols = s.pointwise() ? static_cast<char*>(dx) + ((n0 * s.in_channels + gi * Cin) * HW) * es : dcols_buf;
                gemm_strided(true, false, K, P, Cout, 1.0f, static_cast<const char*>(w) + gi * Cout * K * es, K, 0, dyg, P,
                             s.out_channels * P, 0.0f, dcols, P, s.pointwise() ? s.in_channels * HW : K * P, m, t);
                if (!s.pointwise()) cuda::col2im(t, dcols, dx, g, n0, m, gi, stream_);
            }
        }
        if (dbias) cuda::channel_sum(t, dy, dbias, s.batch, s.out_channels, P, stream_);
        launched("conv2d_backward");
    }
    void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                           float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                           float* running_var, float momentum) override {
        use();
        cuda::batchnorm_forward(t, x, gamma, beta, y, mean, rstd, n, c, hw, eps, running_mean, running_var, momentum,
                                stream_);
        launched("batchnorm_forward");
    }
    void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                            const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                            int64_t hw) override {
        use();
        cuda::batchnorm_backward(t, x, gamma, mean, rstd, dy, dx, dgamma, dbeta, n, c, hw, stream_);
        launched("batchnorm_backward");
    }
    void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) override {
        use();
        cuda::maxpool_forward(t, geometry(s), x, y, stream_);
        launched("maxpool_forward");
    }
    void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx) override {
        use();
        cuda::maxpool_backward(t, geometry(s), x, dy, dx, stream_);
        launched("maxpool_backward");
    }
    void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) override {
        use();
        cuda::avgpool_forward(t, geometry(s), x, y, stream_);
        launched("avgpool_forward");
    }
    void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx) override {
        use();
        cuda::avgpool_backward(t, geometry(s), dy, dx, stream_);
        launched("avgpool_backward");
    }

    bool all_finite(const float* x, int64_t n) override {
        use();
        check(cudaMemsetAsync(ws_.words, 0, 8, stream_), "cudaMemset");
        cuda::flag_nonfinite(x, n, ws_, stream_);
        launched("all_finite");
        unsigned long long flag = 0;
        check(cudaMemcpyAsync(&flag, ws_.words, 8, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        return flag == 0;
    }
    void scale(float* x, int64_t n, float s) override {
        use();
        cuda::scale(x, n, s, stream_);
        launched("scale");
    }

    void sgd_step(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                  bool first) override {
        use();
        cuda::sgd_step(w, g, buf, n, lr, momentum, wd, first, stream_);
        launched("sgd_step");
    }
    void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
                    float wd, int64_t step) override {
        use();
        // The bias corrections exactly as the CPU computes them.
        const float c1 = 1.0f / (1.0f - std::pow(b1, float(step)));
        const float c2 = 1.0f / (1.0f - std::pow(b2, float(step)));
        cuda::adamw_step(w, g, m, v, n, lr, b1, b2, eps, wd, c1, c2, stream_);
        launched("adamw_step");
    }

private:
    // Kernel launches report configuration errors at once and faults at the next synchronising
    // call; cudaGetLastError also clears a non-sticky error, so one failure does not poison later
    // calls. The clock learns that the stream has new work.
    void launched(const char* what) {
        check(cudaGetLastError(), what);
        clock_->worked();
    }
    // The runtime's current device is per host thread: a session may be driven from a worker.
    void use() const {
        if (t_current_device != index_) {
            check(cudaSetDevice(index_), "cudaSetDevice");
            t_current_device = index_;
        }
    }
    static cuda::ConvGeometry geometry(const ConvShape& s) {
        return {s.in_channels, s.in_channels / s.groups, s.height, s.width, s.kernel, s.stride, s.padding, s.out_h(),
                s.out_w()};
    }
    static cuda::PoolGeometry geometry(const PoolShape& s) {
        return {s.batch * s.channels, s.height, s.width, s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.padding,
                s.out_h(), s.out_w()};
    }
    double read_double() {
        double v = 0.0;
        check(cudaMemcpyAsync(&v, ws_.doubles, 8, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        return v;
    }

    int index_;
    std::string device_name_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    void* cublas_ws_ = nullptr;
    cuda::Workspace ws_;
    std::unique_ptr<CudaClock> clock_;
    CachingAllocator pool_{Heap{&cuda_malloc, &cuda_free, nullptr}};
    int64_t context_ = 0, total_ = 0, workspace_ = 0;
    bool tf32_ = false;
};

std::string no_device_reason(cudaError_t e) {
    switch (e) {
    case cudaErrorNoDevice: return "no CUDA-capable GPU was found";
    case cudaErrorInsufficientDriver:
        return "no NVIDIA driver was found, or it is older than this build's CUDA runtime needs";
    default: return std::string("the CUDA runtime reports: ") + cudaGetErrorString(e);
    }
}

}  // namespace

// "runtime 12.4, driver 12.8": the runtime linked in and the driver installed (registry.cpp).
std::string cuda_version_text() {
    auto text = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
    int driver = 0;
    const bool have_driver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0;
    cudaGetLastError();
    return "runtime " + text(CUDART_VERSION) + (have_driver ? ", driver " + text(driver) : std::string(", no driver"));
}

std::vector<DeviceInfo> cuda_device_list(std::string* why_none) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        if (why_none) *why_none = no_device_reason(e == cudaSuccess ? cudaErrorNoDevice : e);
        return {};
    }
    std::vector<DeviceInfo> out;
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
            cudaGetLastError();
            continue;
        }
        DeviceInfo d;
        d.kind = DeviceKind::cuda;
        d.index = i;
        d.name = prop.name;
        d.total_bytes = int64_t(prop.totalGlobalMem);
        out.push_back(d);
    }
    if (out.empty() && why_none) *why_none = "the CUDA runtime lists devices but describes none";
    return out;
}

Result<Backend*> cuda_backend(int index) {
    static std::mutex mutex;
    static std::map<int, CudaBackend*> backends;  // never destroyed: see CudaBackend
    std::lock_guard<std::mutex> lock(mutex);
    auto it = backends.find(index);
    if (it != backends.end()) return it->second;
    const std::vector<DeviceInfo> devices = cuda_device_list(nullptr);
    if (index < 0 || index >= int(devices.size())) return Error{"no CUDA device " + std::to_string(index), ErrorKind::device};
    try {
        auto* be = new CudaBackend(index, devices[size_t(index)].name);
        backends[index] = be;
        return be;
    } catch (const DeviceError& err) {
        return Error{"cannot start CUDA device " + std::to_string(index) + ": " + err.what(), ErrorKind::device};
    }
}

}  // namespace ckpt
