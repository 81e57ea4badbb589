// The CPU backend's matrix product (cpu_kernels.h), cut into pieces that the backend's pool runs
// (cpu_pool.h), each an OpenBLAS call on one thread. A product's pieces are fixed by its shape
// alone: blocks of C's columns, or of its rows when it has more rows than columns (each piece
// packs the whole of the other operand again, so the larger side is cut), so the result is the
// same for any thread count: every element of C comes from the same call on the same operands.
// 16-bit operands are widened to f32 one tile at a time (exact: every bf16 and f16 value is an
// f32 value), multiplied by OpenBLAS's sgemm into an f32 accumulator that spans all of K, and C
// is written once, rounded to its type: f32 accumulation, as autocast's matmul does, in a fixed
// workspace of tiles rather than buffers that grow with the operands; the tiles of C run in
// parallel.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_pool.h"

namespace ckpt::cpu {
namespace {

constexpr int64_t kTileM = 256, kTileN = 256, kTileK = 512;
// A piece of at least this many flops (about 0.2 ms on one core), and at most kMaxPieces of
// them, each at least kMinSide wide: smaller pieces spend more of their time packing operands.
constexpr double kPieceFlops = 32e6;
constexpr int64_t kMaxPieces = 16, kMinSide = 64;

// OpenBLAS's OpenMP build sizes its team by the calling thread's omp_get_max_threads(), not by
// openblas_set_num_threads: a pool thread (whose OpenMP default is every core) would start a team
// of its own inside a piece. One thread for the call, then the caller's setting back.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    const int omp_threads = omp_get_max_threads();
    if (omp_threads != 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(M), blasint(N),
                blasint(K), alpha, A, blasint(lda), B, blasint(ldb), beta, C, blasint(ldc));
    if (omp_threads != 1) omp_set_num_threads(omp_threads);
}

// How a product is cut: fixed by its shape alone.
struct GemmPieces {
    bool by_rows = false;  // blocks of C's rows, else of its columns
    int64_t step = 0;      // rows or columns a piece
    int64_t count = 0;
};

GemmPieces gemm_pieces(int64_t M, int64_t N, int64_t K) {
    GemmPieces p;
    p.by_rows = M > N;
    const int64_t side = p.by_rows ? M : N;
    const double flops = 2.0 * double(M) * double(N) * double(K);
    int64_t want = std::min<int64_t>({int64_t(flops / kPieceFlops), kMaxPieces, side / kMinSide});
    want = std::max<int64_t>(want, 1);
    p.step = (side + want - 1) / want;
    if (want > 1) p.step = (p.step + 15) / 16 * 16;  // whole register blocks of the kernels
    p.count = (side + p.step - 1) / p.step;
    return p;
}

}  // namespace

void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
             const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab, ElemType c) {
    if (M <= 0 || N <= 0) return;
    if (ab == ElemType::f32 && c == ElemType::f32) {
        const auto* a = static_cast<const float*>(A);
        const auto* b = static_cast<const float*>(B);
        auto* cc = static_cast<float*>(C);
        const GemmPieces p = gemm_pieces(M, N, K);
        parallel_for(p.count, [&](int64_t i) {
            const int64_t lo = i * p.step, len = std::min(p.step, (p.by_rows ? M : N) - lo);
            if (p.by_rows)  // rows lo.. of op(A) and C
                sgemm(ta, tb, len, N, K, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, cc + lo * ldc, ldc);
            else  // columns lo.. of op(B) and C
                sgemm(ta, tb, M, len, K, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, cc + lo, ldc);
        });
        return;
    }
    const int64_t tiles_m = (M + kTileM - 1) / kTileM, tiles_n = (N + kTileN - 1) / kTileN;
    dispatch(ab, [&](auto in) {
        using In = decltype(in);
        dispatch(c, [&](auto out) {
            using Out = decltype(out);
            parallel_for(tiles_m * tiles_n, [&](int64_t tile) {
                thread_local std::vector<float> a, b, acc;
                a.resize(size_t(kTileM * kTileK));
                b.resize(size_t(kTileK * kTileN));
                acc.resize(size_t(kTileM * kTileN));
                const int64_t m0 = tile / tiles_n * kTileM, n0 = tile % tiles_n * kTileN;
                const int64_t mh = std::min(kTileM, M - m0), nh = std::min(kTileN, N - n0);
                std::fill(acc.begin(), acc.begin() + mh * kTileN, 0.0f);
                for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
                    const int64_t kh = std::min(kTileK, K - k0);
                    // op(A)[i][k] and op(B)[k][j], widened to f32.
                    for (int64_t i = 0; i < mh; ++i)
                        for (int64_t k = 0; k < kh; ++k)
                            a[size_t(i * kTileK + k)] = In::load(A, ta ? (k0 + k) * lda + (m0 + i) : (m0 + i) * lda + (k0 + k));
                    for (int64_t k = 0; k < kh; ++k)
                        for (int64_t j = 0; j < nh; ++j)
                            b[size_t(k * kTileN + j)] = In::load(B, tb ? (n0 + j) * ldb + (k0 + k) : (k0 + k) * ldb + (n0 + j));
                    sgemm(false, false, mh, nh, kh, 1.0f, a.data(), kTileK, b.data(), kTileN, 1.0f, acc.data(), kTileN);
                }
                for (int64_t i = 0; i < mh; ++i)
                    for (int64_t j = 0; j < nh; ++j) {
                        const int64_t at = (m0 + i) * ldc + (n0 + j);
                        float v = alpha * acc[size_t(i * kTileN + j)];
                        if (beta != 0.0f) v += beta * Out::load(C, at);
                        Out::store(C, at, v);
                    }
            });
        });
    });
}

}  // namespace ckpt::cpu
