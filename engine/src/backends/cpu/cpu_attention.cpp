// Attention on the CPU (cpu_kernels.h). For short sequences the heads of one batch element run in
// parallel, one pool thread each (a product inside a parallel loop runs on its thread): at
// GPT-2's 64 x 64 heads a single product is too small to split, and walking heads one at a time
// left all but one core idle. Each head then works in its own (T, T) slot of the scratch, as a
// GPU's kernels do; long sequences walk the heads in turn in one slot, their products split by
// the pool (cpu_attention_slots, scratch.h). The f32 path is the reference: scores straight into
// the kept probabilities, softmax in place, dropout into the head's slot. The 16-bit path follows
// autocast: the products run in 16 bits with f32 accumulation (scores into the slot), the softmax
// reads them and writes its f32 output (kept), and the probabilities enter P V rounded to 16 bits
// (dropped out first). Grouped-query attention reads key/value head h / group for query head h; in
// backward the query heads of one key/value head run in order in one thread, so a shared head's
// gradients add up in head order, as before. Rotary embeddings rotate Q and K into a scratch copy
// before the products (LLaMA's rotate_half); the gradients come out of the products in the rotated
// frame and are rotated back in place.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_pool.h"
#include "backends/scratch.h"
#include "core/philox.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// Row-wise softmax of a (T, T) score matrix S (type In) into P (f32); with `causal`, entries
// above the diagonal are excluded (probability 0). In place when S is P.
template <typename In>
void softmax_rows(const void* S, float* P, int64_t T, bool causal) {
    // In parallel when called alone (long sequences); inside a loop over heads, on its thread.
    parallel_ranges(T, std::max<int64_t>(1, kParallelMin / 4 / T), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            float* row = P + i * T;
            const int64_t n = causal ? i + 1 : T;
            float mx = In::load(S, i * T);
            for (int64_t j = 1; j < n; ++j) mx = std::max(mx, In::load(S, i * T + j));
            double sum = 0.0;
            for (int64_t j = 0; j < n; ++j) {
                row[j] = std::exp(In::load(S, i * T + j) - mx);
                sum += row[j];
            }
            const float inv = float(1.0 / sum);
            for (int64_t j = 0; j < n; ++j) row[j] *= inv;
            for (int64_t j = n; j < T; ++j) row[j] = 0.0f;
        }
    }, T * T > kParallelMin);
}

// The probabilities as P V reads them: dropped out (mask drawn here when `draw`) and stored in
// type Out. Element i of head (b, h) is element base + i of the Philox stream.
template <typename Out>
void dropped(const float* P, uint8_t* M, void* A, int64_t n, float p, bool draw, uint64_t base, uint64_t seed,
             uint64_t stream) {
    const float keep_scale = 1.0f / (1.0f - p);
    if (p > 0.0f && draw) draw_keep(M, 0, n, p, base, stream, seed);
    for (int64_t i = 0; i < n; ++i) Out::store(A, i, p > 0.0f ? (M[i] ? P[i] * keep_scale : 0.0f) : P[i]);
}

// Rotates head vectors of `heads` consecutive parts of every row (position = row % T) by the
// rotary angles, from src (row stride lds) to dst (row stride ldd); `sign` -1 rotates back.
template <typename IO>
void rotate(const void* src, int64_t lds, void* dst, int64_t ldd, int64_t rows, int64_t T, int64_t heads, int64_t hd,
            float theta, float sign) {
    const int64_t half = hd / 2;
    std::vector<float> inv(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) inv[size_t(i)] = 1.0f / std::pow(theta, float(2 * i) / float(hd));
    parallel_for(rows, [&](int64_t r) {
        const float pos = float(r % T);
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t s0 = r * lds + h * hd, d0 = r * ldd + h * hd;
            for (int64_t i = 0; i < half; ++i) {
                const float angle = pos * inv[size_t(i)];
                const float c = std::cos(angle), sn = sign * std::sin(angle);
                const float x1 = IO::load(src, s0 + i), x2 = IO::load(src, s0 + i + half);
                IO::store(dst, d0 + i, x1 * c - x2 * sn);
                IO::store(dst, d0 + i + half, x2 * c + x1 * sn);
            }
        }
    }, rows * heads * hd > kParallelMin);
}

// Where the products read Q and K, and where the rest of the scratch starts: with rotary
// positions, Q and K rotated into the scratch's first part; without, the QKV input in place.
struct QkView {
    const void* qk;
    int64_t ldqk;
    void* work;
};

template <typename IO>
QkView rotated_qk(ElemType t, const AttentionShape& a, const void* qkv, void* scratch) {
    if (a.rope_theta <= 0.0f) return {qkv, a.width(), scratch};
    const int64_t rows = a.batch * a.seq, ld = (a.heads + a.kv_heads) * a.head_dim;
    rotate<IO>(qkv, a.width(), scratch, ld, rows, a.seq, a.heads + a.kv_heads, a.head_dim, a.rope_theta, 1.0f);
    return {scratch, ld, offset(scratch, rows * ld, t)};
}

}  // namespace

void rope_rotate(ElemType t, const void* src, int64_t lds, void* dst, int64_t ldd, int64_t rows, int64_t T,
                 int64_t heads, int64_t hd, float theta, float sign) {
    dispatch(t, [&](auto io) { rotate<decltype(io)>(src, lds, dst, ldd, rows, T, heads, hd, theta, sign); });
}

void attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* probs, uint8_t* mask,
                       void* scratch, uint64_t seed, uint64_t stream) {
    const int64_t B = a.batch, T = a.seq, H = a.heads, Hk = a.kv_heads, hd = a.head_dim, g = a.group();
    const int64_t W = a.width(), d = a.out();
    const float scale = 1.0f / std::sqrt(float(hd)), p = a.p;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        // Plain locals, not structured bindings: C++17 cannot capture a binding in a lambda.
        const QkView view = rotated_qk<IO>(t, a, qkv, scratch);
        const void* qk = view.qk;
        const int64_t ldqk = view.ldqk;
        void* work = view.work;  // null for f32 without dropout: no scratch then
        const bool parallel = cpu_attention_slots(T, H) > 1;
        for (int64_t b = 0; b < B; ++b) {
            parallel_for(H, [&](int64_t h) {
                const int64_t j = h / g;  // its key/value head
                const void* Q = offset(qk, b * T * ldqk + h * hd, t);
                const void* K = offset(qk, b * T * ldqk + (H + j) * hd, t);
                const void* V = offset(qkv, b * T * W + (H + Hk + j) * hd, t);
                float* P = probs + (b * H + h) * T * T;  // (T, T)
                uint8_t* M = p > 0.0f ? mask + (b * H + h) * T * T : nullptr;
                const uint64_t base = uint64_t((b * H + h) * T * T);
                void* O = offset(out, b * T * d + h * hd, t);
                void* slot = work ? offset(work, (parallel ? h : 0) * T * T, t) : nullptr;
                if (t == ElemType::f32) {
                    gemm_ex(false, true, T, T, hd, scale, Q, ldqk, K, ldqk, 0.0f, P, T, t, t);
                    softmax_rows<F32>(P, P, T, a.causal);
                    const float* A = P;
                    if (p > 0.0f) {
                        dropped<F32>(P, M, slot, T * T, p, true, base, seed, stream);
                        A = static_cast<const float*>(slot);
                    }
                    gemm_ex(false, false, T, hd, T, 1.0f, A, T, V, W, 0.0f, O, d, t, t);
                } else {
                    gemm_ex(false, true, T, T, hd, scale, Q, ldqk, K, ldqk, 0.0f, slot, T, t, t);  // scores, 16-bit
                    softmax_rows<IO>(slot, P, T, a.causal);
                    dropped<IO>(P, M, slot, T * T, p, true, base, seed, stream);
                    gemm_ex(false, false, T, hd, T, 1.0f, slot, T, V, W, 0.0f, O, d, t, t);
                }
            }, parallel);
        }
    });
}

void attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const float* probs, const uint8_t* mask,
                        const void* dout, void* dqkv, void* scratch) {
    const int64_t B = a.batch, T = a.seq, H = a.heads, Hk = a.kv_heads, hd = a.head_dim, g = a.group();
    const int64_t W = a.width(), d = a.out(), rows = B * T;
    const float scale = 1.0f / std::sqrt(float(hd)), p = a.p, keep_scale = 1.0f / (1.0f - p);
    const bool rope = a.rope_theta > 0.0f;
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        const QkView view = rotated_qk<IO>(t, a, qkv, scratch);
        const void* qk = view.qk;
        const int64_t ldqk = view.ldqk;
        void* work = view.work;
        const bool parallel = cpu_attention_slots(T, Hk) > 1;
        for (int64_t b = 0; b < B; ++b) {
            // One thread per key/value head, its query heads in order (see the top).
            parallel_for(Hk, [&](int64_t j) {
                thread_local std::vector<float> gbuf;
                gbuf.resize(size_t(T));
                // Its slot: f32: dP then the dropped-out probabilities; 16-bit: those
                // probabilities, then dS.
                void* first = offset(work, 2 * (parallel ? j : 0) * T * T, t);
                void* second = offset(first, T * T, t);
                for (int64_t h = j * g; h < (j + 1) * g; ++h) {
                    const float beta = h % g == 0 ? 0.0f : 1.0f;  // a shared head's gradient adds up in order
                    const void* Q = offset(qk, b * T * ldqk + h * hd, t);
                    const void* K = offset(qk, b * T * ldqk + (H + j) * hd, t);
                    const void* V = offset(qkv, b * T * W + (H + Hk + j) * hd, t);
                    void* dQ = offset(dqkv, b * T * W + h * hd, t);
                    void* dK = offset(dqkv, b * T * W + (H + j) * hd, t);
                    void* dV = offset(dqkv, b * T * W + (H + Hk + j) * hd, t);
                    const float* P = probs + (b * H + h) * T * T;
                    const uint8_t* M = p > 0.0f ? mask + (b * H + h) * T * T : nullptr;
                    const void* dO = offset(dout, b * T * d + h * hd, t);
                    void* dS = t == ElemType::f32 ? first : second;  // (T, T): dA, then dS in place
                    const void* A = P;
                    if (t != ElemType::f32 || M) {
                        void* buf = t == ElemType::f32 ? second : first;
                        dropped<IO>(P, const_cast<uint8_t*>(M), buf, T * T, M ? p : 0.0f, false, 0, 0, 0);
                        A = buf;
                    }
                    gemm_ex(true, false, T, hd, T, 1.0f, A, T, dO, d, beta, dV, W, t, t);  // dV (+)= A^T dO
                    gemm_ex(false, true, T, T, hd, 1.0f, dO, d, V, W, 0.0f, dS, T, t, t);  // dA = dO V^T
                    for (int64_t i = 0; i < T; ++i) {
                        // dA through the dropout, then dS = scale * P * (dA - rowsum(dA * P)).
                        const float* pr = P + i * T;
                        double dot = 0.0;
                        for (int64_t k = 0; k < T; ++k) {
                            float v = IO::load(dS, i * T + k);
                            if (M) v = M[i * T + k] ? v * keep_scale : 0.0f;
                            gbuf[size_t(k)] = v;
                            dot += double(v) * double(pr[k]);
                        }
                        const float fdot = float(dot);
                        for (int64_t k = 0; k < T; ++k)
                            IO::store(dS, i * T + k, scale * pr[k] * (gbuf[size_t(k)] - fdot));
                    }
                    gemm_ex(false, false, T, hd, T, 1.0f, dS, T, K, ldqk, 0.0f, dQ, W, t, t);  // dQ = dS K
                    gemm_ex(true, false, T, hd, T, 1.0f, dS, T, Q, ldqk, beta, dK, W, t, t);   // dK (+)= dS^T Q
                }
            }, parallel);
        }
        // The products gave dQ and dK in the rotated frame: rotate them back, in place.
        if (rope) rotate<IO>(dqkv, W, dqkv, W, rows, T, H + Hk, hd, a.rope_theta, -1.0f);
    });
}

}  // namespace ckpt::cpu
