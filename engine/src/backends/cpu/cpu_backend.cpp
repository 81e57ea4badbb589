// The CPU backend and reference: OpenBLAS for GEMM, loops on the backend's own thread pool
// (cpu_pool.h) for everything else. Every kernel is deterministic, and gives the same bits for any
// thread count: a loop's pieces are fixed by its size, and reductions combine per-piece partial
// results in piece order, which is what lets a recomputed block reproduce its forward bit for bit.
// Every op starts by telling the clock it worked (clock_.worked()): stamps with no work between
// them are one instant and cost one read (Clock, backend.h). An op without the call would lend the
// stamp before it to what follows; tst_memory's everyCpuLayerSpanTakesTime finds such an op.
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
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_math.h"
#include "backends/cpu/cpu_pool.h"
#include "backends/host_clock.h"
#include "core/philox.h"

// Under AddressSanitizer (CKPT_SANITIZE, the fuzzer) an allocation the system refuses must come
// back as a null pointer, as it does from the C library, so that it is an out-of-memory error
// (exit 3) and not a sanitizer abort (exit 1). ASAN_OPTIONS still overrides this default.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CKPT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CKPT_ASAN 1
#endif
#ifdef CKPT_ASAN
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace ckpt {
namespace {

using cpu::parallel_for;
using cpu::parallel_ranges;

constexpr int64_t kParallelMin = 1 << 15;  // below this, threading costs more than it saves
constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

// y[i] = f(x[i]) (map) and z[i] = f(x[i], y[i]) (map2) in type IO, threaded by chunks with a
// vector loop inside each. The pointers are the chunk loop's own locals: loaded through a
// lambda's captures instead, the compiler must assume each store may change them, and leaves
// the loop scalar. Elementwise, so the result does not depend on the split.
constexpr int64_t kMapChunk = 8192;
// Rows a piece of a row-wise loop: about kMapChunk elements.
inline int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, kMapChunk / std::max<int64_t>(cols, 1)); }

template <typename IO, typename F>
void map(int64_t n, const void* x, void* y, F f) {
    const int64_t chunks = (n + kMapChunk - 1) / kMapChunk;
    parallel_for(chunks, [&](int64_t c) {
        const void* const xs = x;
        void* const ys = y;
        const int64_t end = std::min(n, (c + 1) * kMapChunk);
#pragma omp simd
        for (int64_t i = c * kMapChunk; i < end; ++i) IO::store(ys, i, f(IO::load(xs, i)));
    }, n > kParallelMin);
}

template <typename IO, typename F>
void map2(int64_t n, const void* x, const void* y, void* z, F f) {
    const int64_t chunks = (n + kMapChunk - 1) / kMapChunk;
    parallel_for(chunks, [&](int64_t c) {
        const void* const xs = x;
        const void* const ys = y;
        void* const zs = z;
        const int64_t end = std::min(n, (c + 1) * kMapChunk);
#pragma omp simd
        for (int64_t i = c * kMapChunk; i < end; ++i) IO::store(zs, i, f(IO::load(xs, i), IO::load(ys, i)));
    }, n > kParallelMin);
}

class CpuBackend final : public Backend {
public:
    // The one backend lives until exit; its cache goes back to the system then, so a leak
    // checker sees every buffer freed whether or not a session ever trimmed it.
    CpuBackend() { set_threads(0); }
    ~CpuBackend() override { trim(); }

    std::string name() const override {
        const char* core = openblas_get_corename();
        return "cpu (" + std::to_string(cpu::pool_threads()) + " threads, OpenBLAS" +
               (core ? std::string(" ") + core : std::string()) + " on the engine's pool)";
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
    void to_host(void* dst, const void* src, size_t bytes) override {
        clock_.worked();
        std::memcpy(dst, src, bytes);
    }
    void from_host(void* dst, const void* src, size_t bytes) override {
        clock_.worked();
        std::memcpy(dst, src, bytes);
    }
    // OpenBLAS runs on one thread, on the pool's threads (cpu_gemm.cpp cuts the products); an
    // OpenMP loop, should one run, gets as many threads as the pool has.
    void set_threads(int threads) override {
        cpu::set_pool_threads(threads);
        openblas_set_num_threads(1);
        omp_set_num_threads(cpu::pool_threads());
    }

    Digest digest(const float* x, int64_t n) override {
        clock_.worked();
        // Chunks hashed in parallel, combined in order (backend.h defines the hash).
        const int64_t words = (n + 1) / 2, chunks = (words + kDigestChunkWords - 1) / kDigestChunkWords;
        std::vector<uint64_t> hashes(size_t(chunks), 0);
        std::vector<double> sums(size_t(chunks), 0.0), abs_sums(size_t(chunks), 0.0);
        parallel_for(chunks, [&](int64_t c) {
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
        }, n > kParallelMin);
        Digest d;
        for (int64_t c = 0; c < chunks; ++c) {
            d.hash = (d.hash ^ hashes[size_t(c)]) * kFnvPrime;
            d.sum += sums[size_t(c)];
            d.abs_sum += abs_sums[size_t(c)];
        }
        return d;
    }

    void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
                 const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab, ElemType c) override {
        clock_.worked();
        cpu::gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ab, c);
    }
    void cast(const void* x, ElemType from, void* y, ElemType to, int64_t n) override {
        clock_.worked();
        cpu::dispatch(from, [&](auto in) {
            cpu::dispatch(to, [&](auto out) {
                using In = decltype(in);
                using Out = decltype(out);
                parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
                    for (int64_t i = p0; i < p1; ++i) Out::store(y, i, In::load(x, i));
                }, n > kParallelMin);
            });
        });
    }

    void fill(float* x, int64_t n, float v) override {
        clock_.worked();
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
            for (int64_t i = p0; i < p1; ++i) x[i] = v;
        }, n > kParallelMin);
    }
    void fill_uniform(float* x, int64_t n, float lo, float hi, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
            for (int64_t i = p0; i < p1; ++i) x[i] = lo + (hi - lo) * philox::to_unit(philox::word(uint64_t(i), stream, seed));
        }, n > kParallelMin);
    }
    void fill_normal(float* x, int64_t n, float stddev, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        // Box-Muller on the two halves of each Philox block: element i uses block i / 2.
        const int64_t pairs = (n + 1) / 2;
        parallel_ranges(pairs, kMapChunk, [&](int64_t p0, int64_t p1) {
            for (int64_t j = p0; j < p1; ++j) {
                const philox::Block r = philox::philox4x32_10(uint64_t(j), stream, seed);
                for (int64_t i = 2 * j; i < std::min(n, 2 * j + 2); ++i) {
                    const int h = int(i % 2) * 2;
                    const float u1 = (float(r[h] >> 8) + 1.0f) * (1.0f / 16777217.0f);  // (0, 1]
                    const float u2 = philox::to_unit(r[h + 1]);
                    x[i] = stddev * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795865f * u2);
                }
            }
        }, n > kParallelMin);
    }
    void fill_classes(int64_t* t, int64_t n, int64_t classes, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        for (int64_t i = 0; i < n; ++i) t[i] = int64_t(philox::word(uint64_t(i), stream, seed) % uint64_t(classes));
    }

    void broadcast_rows(void* y, const void* b, int64_t rows, int64_t cols, ElemType t) override {
        clock_.worked();
        const size_t row = size_t(cols * elem_size(t));
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) std::memcpy(static_cast<char*>(y) + size_t(r) * row, b, row);
        }, rows * cols > kParallelMin);
    }
    void column_sum(float* out, const void* x, int64_t rows, int64_t cols, ElemType t) override {
        clock_.worked();
        // Each thread owns a slice of columns and walks every row: no shared partial sums, and
        // the summation order is fixed whatever the thread count.
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            constexpr int64_t kSlice = 256;
            const int64_t slices = (cols + kSlice - 1) / kSlice;
            parallel_for(slices, [&](int64_t s) {
                const int64_t c0 = s * kSlice, c1 = std::min(cols, c0 + kSlice);
                for (int64_t c = c0; c < c1; ++c) out[c] = 0.0f;
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = c0; c < c1; ++c) out[c] += IO::load(x, r * cols + c);
            }, rows * cols > kParallelMin);
        });
    }

    // Elementwise, in f32: 16-bit values are widened, computed the same way and rounded.
    void activation_forward(Act a, ElemType t, const void* x, void* y, int64_t n) override {
        clock_.worked();
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            switch (a) {
            case Act::relu: map<IO>(n, x, y, [](float v) { return v > 0.0f ? v : 0.0f; }); break;
            case Act::gelu:
                map<IO>(n, x, y, [](float v) { return 0.5f * v * (1.0f + cpu::vtanh(kGeluK * (v + kGeluC * v * v * v))); });
                break;
            case Act::tanh: map<IO>(n, x, y, [](float v) { return std::tanh(v); }); break;
            case Act::silu: map<IO>(n, x, y, [](float v) { return v / (1.0f + cpu::vexp(-v)); }); break;
            }
        });
    }
    void activation_backward(Act a, ElemType t, const void* saved, const void* dy, void* dx, int64_t n) override {
        clock_.worked();
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            switch (a) {
            case Act::relu:  // saved: the output
                map2<IO>(n, saved, dy, dx, [](float v, float g) { return v > 0.0f ? g : 0.0f; });
                break;
            case Act::gelu:  // saved: the input
                map2<IO>(n, saved, dy, dx, [](float v, float g) {
                    const float th = cpu::vtanh(kGeluK * (v + kGeluC * v * v * v));
                    return g * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * kGeluK * (1.0f + 3.0f * kGeluC * v * v));
                });
                break;
            case Act::tanh:  // saved: the output
                map2<IO>(n, saved, dy, dx, [](float v, float g) { return g * (1.0f - v * v); });
                break;
            case Act::silu:  // saved: the input
                map2<IO>(n, saved, dy, dx, [](float v, float g) {
                    const float sg = 1.0f / (1.0f + cpu::vexp(-v));
                    return g * (sg + v * sg * (1.0f - sg));
                });
                break;
            }
        });
    }
    void add(const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n) override {
        clock_.worked();
        cpu::dispatch(ta, [&](auto ia) {
            cpu::dispatch(tb, [&](auto ib) {
                cpu::dispatch(ty, [&](auto oy) {
                    using A = decltype(ia);
                    using B = decltype(ib);
                    using Y = decltype(oy);
                    parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
                        for (int64_t i = p0; i < p1; ++i) Y::store(y, i, A::load(a, i) + B::load(b, i));
                    }, n > kParallelMin);
                });
            });
        });
    }

    void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                           float* rstd, int64_t rows, int64_t cols, float eps) override {
        clock_.worked();
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
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
        }, rows * cols > kParallelMin);
    }
    void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd,
                            const float* dy, float* dx, float* dgamma, float* dbeta, int64_t rows,
                            int64_t cols) override {
        clock_.worked();
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
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
        }, rows * cols > kParallelMin);
        if (!dgamma) return;
        constexpr int64_t kSlice = 256;
        const int64_t slices = (cols + kSlice - 1) / kSlice;
        parallel_for(slices, [&](int64_t s) {
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
        }, rows * cols > kParallelMin);
    }

    void dropout_forward(ElemType t, const void* x, void* y, uint8_t* mask, int64_t n, float p, uint64_t seed,
                         uint64_t stream) override {
        clock_.worked();
        const float scale = 1.0f / (1.0f - p);
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            const int64_t chunks = (n + kMapChunk - 1) / kMapChunk;
            parallel_for(chunks, [&](int64_t c) {
                const int64_t lo = c * kMapChunk, hi = std::min(n, lo + kMapChunk);
                cpu::draw_keep(mask, lo, hi, p, 0, stream, seed);
                for (int64_t i = lo; i < hi; ++i) IO::store(y, i, mask[i] ? IO::load(x, i) * scale : 0.0f);
            }, n > kParallelMin);
        });
    }
    void dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) { cpu::draw_keep(mask, p0, p1, p, 0, stream, seed); },
                        n > kParallelMin);
    }
    void dropout_backward(ElemType t, const void* dy, const uint8_t* mask, void* dx, int64_t n, float p) override {
        clock_.worked();
        const float scale = 1.0f / (1.0f - p);
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
                for (int64_t i = p0; i < p1; ++i) IO::store(dx, i, mask[i] ? IO::load(dy, i) * scale : 0.0f);
            }, n > kParallelMin);
        });
    }

    double mse_forward(const float* pred, const float* target, int64_t n) override {
        clock_.worked();
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) { double d = double(pred[i]) - double(target[i]); s += d * d; }
        return s / double(n);
    }
    void mse_backward(const float* pred, const float* target, float* dpred, int64_t n) override {
        clock_.worked();
        const float k = 2.0f / float(n);
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
            for (int64_t i = p0; i < p1; ++i) dpred[i] = k * (pred[i] - target[i]);
        }, n > kParallelMin);
    }
    double softmax_xent_forward(const float* logits, const int64_t* target, float* probs, int64_t rows,
                                int64_t cols) override {
        clock_.worked();
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
        clock_.worked();
        const float k = 1.0f / float(rows);
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
                for (int64_t c = 0; c < cols; ++c) dlogits[r * cols + c] = k * probs[r * cols + c];
                dlogits[r * cols + target[r]] -= k;
            }
        }, rows * cols > kParallelMin);
    }

    void embedding_forward(const int64_t* tokens, const float* table, const float* positions, float* out,
                           int64_t rows, int64_t seq, int64_t dim) override {
        clock_.worked();
        parallel_ranges(rows, row_grain(dim), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
                const float* t = table + tokens[r] * dim;
                float* o = out + r * dim;
                if (positions) {
                    const float* pos = positions + (r % seq) * dim;
                    for (int64_t c = 0; c < dim; ++c) o[c] = t[c] + pos[c];
                } else {
                    std::memcpy(o, t, size_t(dim) * sizeof(float));
                }
            }
        }, rows * dim > kParallelMin);
    }
    void embedding_backward(const int64_t* tokens, const float* dout, float* dtable, float* dpositions,
                            int64_t rows, int64_t seq, int64_t vocab, int64_t dim) override {
        clock_.worked();
        // Scatter-add by column slices: each thread owns columns and walks the rows in order,
        // so repeated tokens accumulate in a fixed order (deterministic, no atomics).
        constexpr int64_t kSlice = 64;
        const int64_t slices = (dim + kSlice - 1) / kSlice;
        parallel_for(slices, [&](int64_t s) {
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
        }, rows * dim > kParallelMin);
    }

    void attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* probs,
                           uint8_t* mask, void* scratch, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        cpu::attention_forward(t, a, qkv, out, probs, mask, scratch, seed, stream);
    }
    void attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const float* probs,
                            const uint8_t* mask, const void* dout, void* dqkv, void* scratch) override {
        clock_.worked();
        cpu::attention_backward(t, a, qkv, probs, mask, dout, dqkv, scratch);
    }

    void flash_attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* lse,
                                 void* scratch, uint64_t seed, uint64_t stream) override {
        clock_.worked();
        cpu::flash_attention_forward(t, a, qkv, out, lse, scratch, seed, stream);
    }
    void flash_attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const void* out,
                                  const float* lse, const void* dout, void* dqkv, void* scratch, uint64_t seed,
                                  uint64_t stream) override {
        clock_.worked();
        cpu::flash_attention_backward(t, a, qkv, out, lse, dout, dqkv, scratch, seed, stream);
    }

    // RMSNorm: statistics in double like LayerNorm's.
    void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, int64_t rows, int64_t cols,
                         float eps) override {
        clock_.worked();
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
                const float* xr = x + r * cols;
                float* yr = y + r * cols;
                double ss = 0.0;
                for (int64_t c = 0; c < cols; ++c) ss += double(xr[c]) * double(xr[c]);
                const float rs = float(1.0 / std::sqrt(ss / double(cols) + double(eps)));
                rstd[r] = rs;
                for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * rs * gamma[c];
            }
        }, rows * cols > kParallelMin);
    }
    void rmsnorm_backward(const float* x, const float* gamma, const float* rstd, const float* dy, float* dx,
                          float* dgamma, int64_t rows, int64_t cols) override {
        clock_.worked();
        // dx = rs * (g - xhat * mean(g * xhat)), g = dy * gamma, xhat = x * rs.
        parallel_ranges(rows, row_grain(cols), [&](int64_t p0, int64_t p1) {
            for (int64_t r = p0; r < p1; ++r) {
                const float* xr = x + r * cols;
                const float* dyr = dy + r * cols;
                float* dxr = dx + r * cols;
                const float rs = rstd[r];
                double s = 0.0;
                for (int64_t c = 0; c < cols; ++c) s += double(dyr[c] * gamma[c]) * double(xr[c] * rs);
                const float m = float(s / double(cols));
                for (int64_t c = 0; c < cols; ++c) dxr[c] = rs * (dyr[c] * gamma[c] - xr[c] * rs * m);
            }
        }, rows * cols > kParallelMin);
        constexpr int64_t kSlice = 256;
        const int64_t slices = (cols + kSlice - 1) / kSlice;
        parallel_for(slices, [&](int64_t sl) {
            const int64_t c0 = sl * kSlice, c1 = std::min(cols, c0 + kSlice);
            for (int64_t c = c0; c < c1; ++c) dgamma[c] = 0.0f;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = c0; c < c1; ++c) dgamma[c] += dy[r * cols + c] * (x[r * cols + c] * rstd[r]);
        }, rows * cols > kParallelMin);
    }
    void swiglu_forward(ElemType t, const void* x, void* y, int64_t rows, int64_t f) override {
        clock_.worked();
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            parallel_ranges(rows, row_grain(f), [&](int64_t p0, int64_t p1) {
                for (int64_t r = p0; r < p1; ++r)
#pragma omp simd
                    for (int64_t c = 0; c < f; ++c) {
                        const float gate = IO::load(x, r * 2 * f + c), up = IO::load(x, r * 2 * f + f + c);
                        IO::store(y, r * f + c, gate / (1.0f + cpu::vexp(-gate)) * up);
                    }
            }, rows * f > kParallelMin);
        });
    }
    void swiglu_backward(ElemType t, const void* x, const void* dy, void* dx, int64_t rows, int64_t f) override {
        clock_.worked();
        cpu::dispatch(t, [&](auto io) {
            using IO = decltype(io);
            parallel_ranges(rows, row_grain(f), [&](int64_t p0, int64_t p1) {
                for (int64_t r = p0; r < p1; ++r)
#pragma omp simd
                    for (int64_t c = 0; c < f; ++c) {
                        const float gate = IO::load(x, r * 2 * f + c), up = IO::load(x, r * 2 * f + f + c);
                        const float g = IO::load(dy, r * f + c);
                        const float sg = 1.0f / (1.0f + cpu::vexp(-gate)), silu = gate * sg;
                        IO::store(dx, r * 2 * f + c, g * up * (sg + gate * sg * (1.0f - sg)));
                        IO::store(dx, r * 2 * f + f + c, g * silu);
                    }
            }, rows * f > kParallelMin);
        });
    }

    void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias, void* y,
                        void* scratch) override {
        clock_.worked();
        cpu::conv2d_forward(t, s, x, w, bias, y, scratch);
    }
    void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                         float* dw, float* dbias, void* scratch) override {
        clock_.worked();
        cpu::conv2d_backward(t, s, x, w, dy, dx, dw, dbias, scratch);
    }
    void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                           float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                           float* running_var, float momentum) override {
        clock_.worked();
        cpu::batchnorm_forward(t, x, gamma, beta, y, mean, rstd, n, c, hw, eps, running_mean, running_var, momentum);
    }
    void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                            const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                            int64_t hw) override {
        clock_.worked();
        cpu::batchnorm_backward(t, x, gamma, mean, rstd, dy, dx, dgamma, dbeta, n, c, hw);
    }
    void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) override {
        clock_.worked();
        cpu::maxpool_forward(t, s, x, y);
    }
    void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx) override {
        clock_.worked();
        cpu::maxpool_backward(t, s, x, dy, dx);
    }
    void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y) override {
        clock_.worked();
        cpu::avgpool_forward(t, s, x, y);
    }
    void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx) override {
        clock_.worked();
        cpu::avgpool_backward(t, s, dy, dx);
    }

    bool all_finite(const float* x, int64_t n) override {
        clock_.worked();
        std::atomic<bool> bad{false};
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
            bool b = false;
            for (int64_t i = p0; i < p1; ++i) b |= !std::isfinite(x[i]);
            if (b) bad.store(true, std::memory_order_relaxed);
        }, n > kParallelMin);
        return !bad.load();
    }
    void scale(float* x, int64_t n, float s) override {
        clock_.worked();
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
            for (int64_t i = p0; i < p1; ++i) x[i] *= s;
        }, n > kParallelMin);
    }

    void sgd_step(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                  bool first) override {
        clock_.worked();
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
            for (int64_t i = p0; i < p1; ++i) {
                float d = g[i] + wd * w[i];
                if (buf) { d = first ? d : momentum * buf[i] + d; buf[i] = d; }
                w[i] -= lr * d;
            }
        }, n > kParallelMin);
    }
    void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2,
                    float eps, float wd, int64_t step) override {
        clock_.worked();
        const float c1 = 1.0f / (1.0f - std::pow(b1, float(step)));
        const float c2 = 1.0f / (1.0f - std::pow(b2, float(step)));
        parallel_ranges(n, kMapChunk, [&](int64_t p0, int64_t p1) {
#pragma omp simd
            for (int64_t i = p0; i < p1; ++i) {
                w[i] -= lr * wd * w[i];
                m[i] = b1 * m[i] + (1.0f - b1) * g[i];
                v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
                w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
            }
        }, n > kParallelMin);
    }

private:
    std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> cache_;
    size_t cached_ = 0;
    std::atomic<size_t> reserved_{0}, reserved_peak_{0};
    HostClock clock_{true};  // coalescing: every op above marks its work (worked())
};

}  // namespace

Backend& cpu_backend() {
    static CpuBackend backend;
    return backend;
}

}  // namespace ckpt
