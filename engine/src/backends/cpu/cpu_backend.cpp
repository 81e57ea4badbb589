// The CPU backend and reference: OpenBLAS for GEMM, OpenMP loops for everything else. Every
// kernel is deterministic for a given thread count (reductions split the same way each time),
// which is what lets a recomputed block reproduce its forward bit for bit.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "backends/backend.h"
#include "backends/host_clock.h"
#include "core/philox.h"

namespace ckpt {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, threading costs more than it saves
constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

// Row-wise softmax of a (T, T) score matrix in place; with `causal`, entries above the
// diagonal are excluded (probability 0).
void softmax_rows(float* S, int64_t T, bool causal) {
#pragma omp parallel for if (T * T > kParallelMin)
    for (int64_t i = 0; i < T; ++i) {
        float* row = S + i * T;
        const int64_t n = causal ? i + 1 : T;
        float mx = row[0];
        for (int64_t j = 1; j < n; ++j) mx = std::max(mx, row[j]);
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) { row[j] = std::exp(row[j] - mx); sum += row[j]; }
        const float inv = float(1.0 / sum);
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
        for (int64_t j = n; j < T; ++j) row[j] = 0.0f;
    }
}

class CpuBackend final : public Backend {
public:
    std::string name() const override {
        return "cpu (" + std::to_string(openblas_get_num_threads()) + " threads, OpenBLAS)";
    }
    DeviceKind kind() const override { return DeviceKind::cpu; }
    Clock& clock() override { return clock_; }

    // Freed buffers are kept by exact size and handed out again: a training step asks for the
    // same sizes every time, so after the first step no page is faulted in or zeroed again
    // (the system allocator returns large blocks to the kernel on every free). Live bytes are
    // counted by the tracking allocator above this; the cache only changes reserved bytes.
    void* allocate(size_t bytes) override {
        const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);  // 64-byte aligned
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = cache_.find(rounded);
            if (it != cache_.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                cached_ -= rounded;
                return p;
            }
        }
        void* p = std::aligned_alloc(64, rounded);
        if (!p) {
            trim();
            p = std::aligned_alloc(64, rounded);
        }
        if (p) {
            const size_t now = reserved_ += rounded;
            if (now > reserved_peak_) reserved_peak_ = now;
        }
        return p;
    }
    void release(void* p, size_t bytes) override {
        const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
        std::lock_guard<std::mutex> lock(mutex_);
        cache_[rounded].push_back(p);
        cached_ += rounded;
    }
    void trim() override {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [size, blocks] : cache_) {
            for (void* p : blocks) std::free(p);
            reserved_ -= size * blocks.size();
        }
        cache_.clear();
        cached_ = 0;
    }
    DeviceMemory memory() const override {
        DeviceMemory m;
        m.reserved = int64_t(reserved_.load());
        m.reserved_peak = int64_t(reserved_peak_.load());
        return m;
    }
    void reset_peak() override { reserved_peak_ = reserved_.load(); }
    void to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void set_threads(int threads) override {
        if (threads <= 0) return;
        openblas_set_num_threads(threads);
        omp_set_num_threads(threads);
    }

    Digest digest(const float* x, int64_t n) override {
        // Chunks hashed in parallel, combined in order (backend.h defines the hash).
        const int64_t words = (n + 1) / 2, chunks = (words + kDigestChunkWords - 1) / kDigestChunkWords;
        std::vector<uint64_t> hashes(size_t(chunks), 0);
        std::vector<double> sums(size_t(chunks), 0.0), abs_sums(size_t(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
        for (int64_t c = 0; c < chunks; ++c) {
            const int64_t w0 = c * kDigestChunkWords, w1 = std::min(words, w0 + kDigestChunkWords);
            uint64_t h = kFnvBasis;
            double s = 0.0, a = 0.0;
            for (int64_t w = w0; w < w1; ++w) {
                uint32_t lo = 0, hi = 0;
                std::memcpy(&lo, x + 2 * w, 4);
                if (2 * w + 1 < n) std::memcpy(&hi, x + 2 * w + 1, 4);
                h = (h ^ (uint64_t(lo) | uint64_t(hi) << 32)) * kFnvPrime;
                for (int64_t i = 2 * w; i < std::min(n, 2 * w + 2); ++i) {
                    s += x[i];
                    a += std::fabs(x[i]);
                }
            }
            hashes[size_t(c)] = h;
            sums[size_t(c)] = s;
            abs_sums[size_t(c)] = a;
        }
        Digest d;
        for (int64_t c = 0; c < chunks; ++c) {
            d.hash = (d.hash ^ hashes[size_t(c)]) * kFnvPrime;
            d.sum += sums[size_t(c)];
            d.abs_sum += abs_sums[size_t(c)];
        }
        return d;
    }

    void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) override {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    blasint(M), blasint(N), blasint(K), alpha, A, blasint(lda), B, blasint(ldb), beta,
                    C, blasint(ldc));
    }

    void fill(float* x, int64_t n, float v) override {
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) x[i] = v;
    }
    void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream) override {
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) x[i] = lo + (hi - lo) * philox::to_unit(philox::word(uint64_t(i), stream, seed));
    }
    void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) override {
        // Box-Muller on the two halves of each Philox block: element i uses block i / 2.
        const int64_t pairs = (n + 1) / 2;
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t j = 0; j < pairs; ++j) {
            const philox::Block r = philox::philox4x32_10(uint64_t(j), stream, seed);
            for (int64_t i = 2 * j; i < std::min(n, 2 * j + 2); ++i) {
                const int h = int(i % 2) * 2;
                const float u1 = (float(r[h] >> 8) + 1.0f) * (1.0f / 16777217.0f);  // (0, 1]
                const float u2 = philox::to_unit(r[h + 1]);
                x[i] = stddev * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795865f * u2);
            }
        }
    }
    void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream) override {
        for (int64_t i = 0; i < n; ++i) t[i] = int64_t(philox::word(uint64_t(i), stream, seed) % uint64_t(classes));
    }

    void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols) override {
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * cols, b, size_t(cols) * sizeof(float));
    }
    void column_sum(float* out, const float* x, int64_t rows, int64_t cols) override {
        // Each thread owns a slice of columns and walks every row: no shared partial sums, and
        // the summation order is fixed whatever the thread count.
        constexpr int64_t kSlice = 256;
        const int64_t slices = (cols + kSlice - 1) / kSlice;
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t s = 0; s < slices; ++s) {
            const int64_t c0 = s * kSlice, c1 = std::min(cols, c0 + kSlice);
            for (int64_t c = c0; c < c1; ++c) out[c] = 0.0f;
            for (int64_t r = 0; r < rows; ++r) {
                const float* xr = x + r * cols;
                for (int64_t c = c0; c < c1; ++c) out[c] += xr[c];
            }
        }
    }

    void relu_forward(const float* x, float* y, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
    void relu_backward(const float* y, const float* dy, float* dx, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
    void gelu_forward(const float* x, float* y, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + std::tanh(kGeluK * (v + kGeluC * v * v * v)));
        }
    }
    void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            float v = x[i];
            float t = std::tanh(kGeluK * (v + kGeluC * v * v * v));
            float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluK * (1.0f + 3.0f * kGeluC * v * v);
            dx[i] = dy[i] * d;
        }
    }
    void tanh_forward(const float* x, float* y, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
    }
    void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    }
    void silu_forward(const float* x, float* y, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
    }
    void silu_backward(const float* x, const float* dy, float* dx, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const float s = 1.0f / (1.0f + std::exp(-x[i]));
            dx[i] = dy[i] * (s + x[i] * s * (1.0f - s));
        }
    }
    void add(const float* a, const float* b, float* y, int64_t n) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
    }

    void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                           float* rstd, int64_t rows, int64_t cols, float eps) override {
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * cols;
            float* yr = y + r * cols;
            double s = 0.0;
            for (int64_t c = 0; c < cols; ++c) s += xr[c];
            const float m = float(s / double(cols));
            double v = 0.0;
            for (int64_t c = 0; c < cols; ++c) { double d = double(xr[c] - m); v += d * d; }
            const float rs = float(1.0 / std::sqrt(v / double(cols) + double(eps)));
            mean[r] = m;
            rstd[r] = rs;
            if (gamma) {
                for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rs * gamma[c] + beta[c];
            } else {
                for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rs;
            }
        }
    }
    void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd,
                            const float* dy, float* dx, float* dgamma, float* dbeta, int64_t rows,
                            int64_t cols) override {
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * cols;
            const float* dyr = dy + r * cols;
            float* dxr = dx + r * cols;
            const float m = mean[r], rs = rstd[r];
            double sum_g = 0.0, sum_gx = 0.0;
            for (int64_t c = 0; c < cols; ++c) {
                const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
                sum_g += g;
                sum_gx += double(g) * double((xr[c] - m) * rs);
            }
            const float mg = float(sum_g / double(cols)), mgx = float(sum_gx / double(cols));
            for (int64_t c = 0; c < cols; ++c) {
                const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
                dxr[c] = rs * (g - mg - (xr[c] - m) * rs * mgx);
            }
        }
        if (!dgamma) return;
        constexpr int64_t kSlice = 256;
        const int64_t slices = (cols + kSlice - 1) / kSlice;
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t s = 0; s < slices; ++s) {
            const int64_t c0 = s * kSlice, c1 = std::min(cols, c0 + kSlice);
            for (int64_t c = c0; c < c1; ++c) dgamma[c] = dbeta[c] = 0.0f;
            for (int64_t r = 0; r < rows; ++r) {
                const float* xr = x + r * cols;
                const float* dyr = dy + r * cols;
                const float m = mean[r], rs = rstd[r];
                for (int64_t c = c0; c < c1; ++c) {
                    dgamma[c] += dyr[c] * ((xr[c] - m) * rs);
                    dbeta[c] += dyr[c];
                }
            }
        }
    }

    void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed,
                         uint64_t stream) override {
        const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const uint8_t keep = philox::to_unit(philox::word(uint64_t(i), stream, seed)) >= p;
            mask[i] = keep;
            y[i] = keep ? x[i] * scale : 0.0f;
        }
    }
    void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) override {
        const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
    }

    double mse_forward(const float* pred, const float* target, int64_t n) override {
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) { double d = double(pred[i]) - double(target[i]); s += d * d; }
        return s / double(n);
    }
    void mse_backward(const float* pred, const float* target, float* dpred, int64_t n) override {
        const float k = 2.0f / float(n);
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) dpred[i] = k * (pred[i] - target[i]);
    }
    double softmax_xent_forward(const float* logits, const int64_t* target, float* probs, int64_t rows,
                                int64_t cols) override {
        double loss = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
            const float* lr = logits + r * cols;
            float* pr = probs + r * cols;
            float mx = lr[0];
            for (int64_t c = 1; c < cols; ++c) mx = std::max(mx, lr[c]);
            double s = 0.0;
            for (int64_t c = 0; c < cols; ++c) { pr[c] = std::exp(lr[c] - mx); s += pr[c]; }
            const float inv = float(1.0 / s);
            for (int64_t c = 0; c < cols; ++c) pr[c] *= inv;
            loss += std::log(s) + double(mx) - double(lr[target[r]]);
        }
        return loss / double(rows);
    }
    void softmax_xent_backward(const float* probs, const int64_t* target, float* dlogits, int64_t rows,
                               int64_t cols) override {
        const float k = 1.0f / float(rows);
#pragma omp parallel for if (rows * cols > kParallelMin)
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) dlogits[r * cols + c] = k * probs[r * cols + c];
            dlogits[r * cols + target[r]] -= k;
        }
    }

    void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out,
                           int64_t rows, int64_t seq, int64_t dim) override {
#pragma omp parallel for if (rows * dim > kParallelMin)
        for (int64_t r = 0; r < rows; ++r) {
            const float* t = table + tokens[r] * dim;
            float* o = out + r * dim;
            if (positions) {
                const float* pos = positions + (r % seq) * dim;
                for (int64_t c = 0; c < dim; ++c) o[c] = t[c] + pos[c];
            } else {
                std::memcpy(o, t, size_t(dim) * sizeof(float));
            }
        }
    }
    void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions,
                            int64_t rows, int64_t seq, int64_t vocab, int64_t dim) override {
        // Scatter-add by column slices: each thread owns columns and walks the rows in order,
        // so repeated tokens accumulate in a fixed order (deterministic, no atomics).
        constexpr int64_t kSlice = 64;
        const int64_t slices = (dim + kSlice - 1) / kSlice;
#pragma omp parallel for if (rows * dim > kParallelMin)
        for (int64_t s = 0; s < slices; ++s) {
            const int64_t c0 = s * kSlice, c1 = std::min(dim, c0 + kSlice);
            for (int64_t v = 0; v < vocab; ++v)
                for (int64_t c = c0; c < c1; ++c) dtable[v * dim + c] = 0.0f;
            if (dpositions)
                for (int64_t t = 0; t < seq; ++t)
                    for (int64_t c = c0; c < c1; ++c) dpositions[t * dim + c] = 0.0f;
            for (int64_t r = 0; r < rows; ++r) {
                const float* d = dout + r * dim;
                float* t = dtable + tokens[r] * dim;
                for (int64_t c = c0; c < c1; ++c) t[c] += d[c];
                if (dpositions) {
                    float* pos = dpositions + (r % seq) * dim;
                    for (int64_t c = c0; c < c1; ++c) pos[c] += d[c];
                }
            }
        }
    }

    void attention_forward(const float* qkv, float* out, float* probs, uint8_t* mask, float* scratch, int64_t B,
                           int64_t T, int64_t H, int64_t hd, bool causal, float p, uint64_t seed,
                           uint64_t stream) override {
        const int64_t d = H * hd, ld = 3 * d;
        const float scale = 1.0f / std::sqrt(float(hd)), keep_scale = 1.0f / (1.0f - p);
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t h = 0; h < H; ++h) {
                const float* Q = qkv + b * T * ld + h * hd;
                const float* K = Q + d;
                const float* V = Q + 2 * d;
                float* P = probs + (b * H + h) * T * T;  // (T, T)
                gemm(false, true, T, T, hd, scale, Q, ld, K, ld, 0.0f, P, T);
                softmax_rows(P, T, causal);
                const float* A = P;
                if (p > 0.0f) {
                    uint8_t* M = mask + (b * H + h) * T * T;
                    const uint64_t base = uint64_t((b * H + h) * T * T);
                    for (int64_t i = 0; i < T * T; ++i) {
                        M[i] = philox::to_unit(philox::word(base + uint64_t(i), stream, seed)) >= p;
                        scratch[i] = M[i] ? P[i] * keep_scale : 0.0f;
                    }
                    A = scratch;
                }
                gemm(false, false, T, hd, T, 1.0f, A, T, V, ld, 0.0f, out + b * T * d + h * hd, d);
            }
        }
    }
    void attention_backward(const float* qkv, const float* probs, const uint8_t* mask, const float* dout,
                            float* dqkv, float* scratch, int64_t B, int64_t T, int64_t H, int64_t hd, bool causal,
                            float p) override {
        const int64_t d = H * hd, ld = 3 * d;
        const float scale = 1.0f / std::sqrt(float(hd)), keep_scale = 1.0f / (1.0f - p);
        float* dP = scratch;          // (T, T)
        float* A = scratch + T * T;   // (T, T): the dropped-out probabilities forward used
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t h = 0; h < H; ++h) {
                const float* Q = qkv + b * T * ld + h * hd;
                const float* K = Q + d;
                const float* V = Q + 2 * d;
                float* dQ = dqkv + b * T * ld + h * hd;
                float* dK = dQ + d;
                float* dV = dQ + 2 * d;
                const float* P = probs + (b * H + h) * T * T;
                const uint8_t* M = p > 0.0f ? mask + (b * H + h) * T * T : nullptr;
                const float* dO = dout + b * T * d + h * hd;
                const float* Ause = P;
                if (M) {
                    for (int64_t i = 0; i < T * T; ++i) A[i] = M[i] ? P[i] * keep_scale : 0.0f;
                    Ause = A;
                }
                gemm(true, false, T, hd, T, 1.0f, Ause, T, dO, d, 0.0f, dV, ld);   // dV = A^T dO
                gemm(false, true, T, T, hd, 1.0f, dO, d, V, ld, 0.0f, dP, T);      // dA = dO V^T
                for (int64_t i = 0; i < T; ++i) {
                    float* g = dP + i * T;
                    const float* pr = P + i * T;
                    if (M)
                        for (int64_t j = 0; j < T; ++j) g[j] = M[i * T + j] ? g[j] * keep_scale : 0.0f;
                    double dot = 0.0;
                    for (int64_t j = 0; j < T; ++j) dot += double(g[j]) * double(pr[j]);
                    const float fdot = float(dot);
                    for (int64_t j = 0; j < T; ++j) g[j] = scale * pr[j] * (g[j] - fdot);  // dS
                }
                gemm(false, false, T, hd, T, 1.0f, dP, T, K, ld, 0.0f, dQ, ld);    // dQ = dS K
                gemm(true, false, T, hd, T, 1.0f, dP, T, Q, ld, 0.0f, dK, ld);     // dK = dS^T Q
            }
        }
    }

    void sgd_step(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                  bool first) override {
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            float d = g[i] + wd * w[i];
            if (buf) { d = first ? d : momentum * buf[i] + d; buf[i] = d; }
            w[i] -= lr * d;
        }
    }
    void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2,
                    float eps, float wd, int64_t step) override {
        const float c1 = 1.0f / (1.0f - std::pow(b1, float(step)));
        const float c2 = 1.0f / (1.0f - std::pow(b2, float(step)));
#pragma omp parallel for simd if (n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            w[i] -= lr * wd * w[i];
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
        }
    }

private:
    std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> cache_;
    size_t cached_ = 0;
    std::atomic<size_t> reserved_{0}, reserved_peak_{0};
    HostClock clock_;
};

}  // namespace

Backend& cpu_backend() {
    static CpuBackend backend;
    return backend;
}

}  // namespace ckpt
