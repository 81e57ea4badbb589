// The CPU backend's matrix product (cpu_kernels.h). 16-bit operands are widened to f32 one tile
// at a time (exact: every bf16 and f16 value is an f32 value), multiplied by OpenBLAS's sgemm
// into an f32 accumulator that spans all of K, and C is written once, rounded to its type: f32
// accumulation, as autocast's matmul does, in a fixed workspace of tiles rather than buffers
// that grow with the operands.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_kernels.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kTileM = 256, kTileN = 256, kTileK = 512;

}  // namespace

void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
             const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab, ElemType c) {
    if (M <= 0 || N <= 0) return;
    if (ab == ElemType::f32 && c == ElemType::f32) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(M),
                    blasint(N), blasint(K), alpha, static_cast<const float*>(A), blasint(lda),
                    static_cast<const float*>(B), blasint(ldb), beta, static_cast<float*>(C), blasint(ldc));
        return;
    }
    thread_local std::vector<float> a, b, acc;
    a.resize(size_t(kTileM * kTileK));
    b.resize(size_t(kTileK * kTileN));
    acc.resize(size_t(kTileM * kTileN));
    dispatch(ab, [&](auto in) {
        using In = decltype(in);
        dispatch(c, [&](auto out) {
            using Out = decltype(out);
            for (int64_t m0 = 0; m0 < M; m0 += kTileM) {
                const int64_t mh = std::min(kTileM, M - m0);
                for (int64_t n0 = 0; n0 < N; n0 += kTileN) {
                    const int64_t nh = std::min(kTileN, N - n0);
                    std::fill(acc.begin(), acc.begin() + mh * kTileN, 0.0f);
                    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
                        const int64_t kh = std::min(kTileK, K - k0);
                        // op(A)[i][k] and op(B)[k][j], widened to f32.
                        for (int64_t i = 0; i < mh; ++i)
                            for (int64_t k = 0; k < kh; ++k)
                                a[size_t(i * kTileK + k)] =
                                    In::load(A, ta ? (k0 + k) * lda + (m0 + i) : (m0 + i) * lda + (k0 + k));
                        for (int64_t k = 0; k < kh; ++k)
                            for (int64_t j = 0; j < nh; ++j)
                                b[size_t(k * kTileN + j)] =
                                    In::load(B, tb ? (n0 + j) * ldb + (k0 + k) : (k0 + k) * ldb + (n0 + j));
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(mh), blasint(nh), blasint(kh),
                                    1.0f, a.data(), blasint(kTileK), b.data(), blasint(kTileN), 1.0f, acc.data(),
                                    blasint(kTileN));
                    }
                    for (int64_t i = 0; i < mh; ++i)
                        for (int64_t j = 0; j < nh; ++j) {
                            const int64_t at = (m0 + i) * ldc + (n0 + j);
                            float v = alpha * acc[size_t(i * kTileN + j)];
                            if (beta != 0.0f) v += beta * Out::load(C, at);
                            Out::store(C, at, v);
                        }
                }
            }
        });
    });
}

}  // namespace ckpt::cpu
