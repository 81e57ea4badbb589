// Attention on the CPU (cpu_kernels.h), one (batch, head) pair at a time. The f32 path is the
// reference: scores straight into the kept probabilities, softmax in place, dropout into a
// (T, T) scratch. The 16-bit path follows autocast: the products run in 16 bits with f32
// accumulation (scores into a 16-bit scratch), the softmax reads them and writes its f32
// output (kept), and the probabilities enter P V rounded to 16 bits (dropped out first).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/philox.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// Row-wise softmax of a (T, T) score matrix S (type In) into P (f32); with `causal`, entries
// above the diagonal are excluded (probability 0). In place when S is P.
template <typename In>
void softmax_rows(const void* S, float* P, int64_t T, bool causal) {
#pragma omp parallel for if (T * T > kParallelMin)
    for (int64_t i = 0; i < T; ++i) {
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
}

// The probabilities as P V reads them: dropped out (mask drawn here when `draw`) and stored in
// type Out. Element i of head (b, h) is element base + i of the Philox stream.
template <typename Out>
void dropped(const float* P, uint8_t* M, void* A, int64_t n, float p, bool draw, uint64_t base, uint64_t seed,
             uint64_t stream) {
    const float keep_scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; ++i) {
        if (p > 0.0f && draw) M[i] = philox::to_unit(philox::word(base + uint64_t(i), stream, seed)) >= p;
        Out::store(A, i, p > 0.0f ? (M[i] ? P[i] * keep_scale : 0.0f) : P[i]);
    }
}

}  // namespace

void attention_forward(ElemType t, const void* qkv, void* out, float* probs, uint8_t* mask, void* scratch, int64_t B,
                       int64_t T, int64_t H, int64_t hd, bool causal, float p, uint64_t seed, uint64_t stream) {
    const int64_t d = H * hd, ld = 3 * d;
    const float scale = 1.0f / std::sqrt(float(hd));
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t h = 0; h < H; ++h) {
                const void* Q = offset(qkv, b * T * ld + h * hd, t);
                const void* K = offset(Q, d, t);
                const void* V = offset(Q, 2 * d, t);
                float* P = probs + (b * H + h) * T * T;  // (T, T)
                uint8_t* M = p > 0.0f ? mask + (b * H + h) * T * T : nullptr;
                const uint64_t base = uint64_t((b * H + h) * T * T);
                void* O = offset(out, b * T * d + h * hd, t);
                if (t == ElemType::f32) {
                    gemm_ex(false, true, T, T, hd, scale, Q, ld, K, ld, 0.0f, P, T, t, t);
                    softmax_rows<F32>(P, P, T, causal);
                    const float* A = P;
                    if (p > 0.0f) {
                        dropped<F32>(P, M, scratch, T * T, p, true, base, seed, stream);
                        A = static_cast<const float*>(scratch);
                    }
                    gemm_ex(false, false, T, hd, T, 1.0f, A, T, V, ld, 0.0f, O, d, t, t);
                } else {
                    gemm_ex(false, true, T, T, hd, scale, Q, ld, K, ld, 0.0f, scratch, T, t, t);  // scores, 16-bit
                    softmax_rows<IO>(scratch, P, T, causal);
                    dropped<IO>(P, M, scratch, T * T, p, true, base, seed, stream);
                    gemm_ex(false, false, T, hd, T, 1.0f, scratch, T, V, ld, 0.0f, O, d, t, t);
                }
            }
        }
    });
}

void attention_backward(ElemType t, const void* qkv, const float* probs, const uint8_t* mask, const void* dout,
                        void* dqkv, void* scratch, int64_t B, int64_t T, int64_t H, int64_t hd, bool causal, float p) {
    const int64_t d = H * hd, ld = 3 * d;
    const float scale = 1.0f / std::sqrt(float(hd)), keep_scale = 1.0f / (1.0f - p);
    dispatch(t, [&](auto io) {
        using IO = decltype(io);
        // f32: dP then the dropped-out probabilities; 16-bit: those probabilities, then dS.
        void* first = scratch;
        void* second = offset(scratch, T * T, t);
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t h = 0; h < H; ++h) {
                const void* Q = offset(qkv, b * T * ld + h * hd, t);
                const void* K = offset(Q, d, t);
                const void* V = offset(Q, 2 * d, t);
                void* dQ = offset(dqkv, b * T * ld + h * hd, t);
                void* dK = offset(dQ, d, t);
                void* dV = offset(dQ, 2 * d, t);
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
                gemm_ex(true, false, T, hd, T, 1.0f, A, T, dO, d, 0.0f, dV, ld, t, t);   // dV = A^T dO
                gemm_ex(false, true, T, T, hd, 1.0f, dO, d, V, ld, 0.0f, dS, T, t, t);   // dA = dO V^T
                thread_local std::vector<float> g;
                g.resize(size_t(T));
                for (int64_t i = 0; i < T; ++i) {
                    // dA through the dropout, then dS = scale * P * (dA - rowsum(dA * P)).
                    const float* pr = P + i * T;
                    double dot = 0.0;
                    for (int64_t j = 0; j < T; ++j) {
                        float v = IO::load(dS, i * T + j);
                        if (M) v = M[i * T + j] ? v * keep_scale : 0.0f;
                        g[size_t(j)] = v;
                        dot += double(v) * double(pr[j]);
                    }
                    const float fdot = float(dot);
                    for (int64_t j = 0; j < T; ++j) IO::store(dS, i * T + j, scale * pr[j] * (g[size_t(j)] - fdot));
                }
                gemm_ex(false, false, T, hd, T, 1.0f, dS, T, K, ld, 0.0f, dQ, ld, t, t);  // dQ = dS K
                gemm_ex(true, false, T, hd, T, 1.0f, dS, T, Q, ld, 0.0f, dK, ld, t, t);   // dK = dS^T Q
            }
        }
    });
}

}  // namespace ckpt::cpu
