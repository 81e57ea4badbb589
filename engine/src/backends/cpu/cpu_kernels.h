// Pieces of the CPU backend shared by its translation units: typed element access for the
// mixed-precision paths (a kernel is written once and instantiated for f32, bf16 and f16, each
// value read as f32 and written rounded to nearest even), the f32/16-bit matrix product, and
// attention and the image kernels. The f32 paths keep their historical arithmetic exactly.
#pragma once

#include <cstdint>
#include <cstring>

#include "backends/backend.h"
#include "core/elem_type.h"
#include "core/philox.h"

namespace ckpt::cpu {

struct F32 {
    static constexpr ElemType type = ElemType::f32;
    static float load(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
    static void store(void* p, int64_t i, float v) { static_cast<float*>(p)[i] = v; }
};
struct BF16 {
    static constexpr ElemType type = ElemType::bf16;
    static float load(const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); }
    static void store(void* p, int64_t i, float v) { static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); }
};
struct F16 {
    static constexpr ElemType type = ElemType::f16;
    static float load(const void* p, int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(p)[i]); }
    static void store(void* p, int64_t i, float v) { static_cast<uint16_t*>(p)[i] = f32_to_f16(v); }
};

// Calls f(F32{}), f(BF16{}) or f(F16{}) for t.
template <typename Fn>
void dispatch(ElemType t, Fn&& f) {
    switch (t) {
    case ElemType::bf16: f(BF16{}); break;
    case ElemType::f16: f(F16{}); break;
    default: f(F32{}); break;
    }
}

// Element i of a typed buffer, with byte-size arithmetic for pointers into it.
inline const void* offset(const void* p, int64_t elements, ElemType t) {
    return static_cast<const char*>(p) + elements * elem_size(t);
}
inline void* offset(void* p, int64_t elements, ElemType t) { return static_cast<char*>(p) + elements * elem_size(t); }

// Row-major C = alpha op(A) op(B) + beta C; f32 x f32 -> f32 goes to OpenBLAS in pieces run in
// parallel (gemm_pieces), any 16-bit case converts tiles to f32 (exactly), multiplies them with
// OpenBLAS, accumulates in an f32 tile across K and rounds C once.
void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
             const void* B, int64_t ldb, float beta, void* C, int64_t ldc, ElemType ab, ElemType c);

void attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* probs, uint8_t* mask,
                       void* scratch, uint64_t seed, uint64_t stream);
void attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const float* probs, const uint8_t* mask,
                        const void* dout, void* dqkv, void* scratch);

// cpu_flash_attention.cpp: FlashAttention-2 on the CPU (backend.h's flash_attention_*).
void flash_attention_forward(ElemType t, const AttentionShape& a, const void* qkv, void* out, float* lse,
                             void* scratch, uint64_t seed, uint64_t stream);
void flash_attention_backward(ElemType t, const AttentionShape& a, const void* qkv, const void* out, const float* lse,
                              const void* dout, void* dqkv, void* scratch, uint64_t seed, uint64_t stream);
// Rotary embeddings, shared by both attention kernels (cpu_attention.cpp): rotates `heads` head
// vectors of every row (position row % T) from src (row stride lds) to dst (row stride ldd),
// LLaMA's rotate_half; sign -1 rotates back. In place when src is dst.
void rope_rotate(ElemType t, const void* src, int64_t lds, void* dst, int64_t ldd, int64_t rows, int64_t T,
                 int64_t heads, int64_t hd, float theta, float sign);

// cpu_image.cpp: the image kernels of backend.h, one image at a time for conv2d.
void conv2d_forward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* bias, void* y,
                    void* scratch);
void conv2d_backward(ElemType t, const ConvShape& s, const void* x, const void* w, const void* dy, void* dx,
                     float* dw, float* dbias, void* scratch);
void batchnorm_forward(ElemType t, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t n, int64_t c, int64_t hw, float eps, float* running_mean,
                       float* running_var, float momentum);
void batchnorm_backward(ElemType t, const void* x, const float* gamma, const float* mean, const float* rstd,
                        const void* dy, void* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw);
void maxpool_forward(ElemType t, const PoolShape& s, const void* x, void* y);
void maxpool_backward(ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx);
void avgpool_forward(ElemType t, const PoolShape& s, const void* x, void* y);
void avgpool_backward(ElemType t, const PoolShape& s, const void* dy, void* dx);

// Dropout masks: keep[i] = unit(element base + i of the Philox stream) >= p for i in [lo, hi).
// Element e is word e % 4 of block e / 4, so one block serves four elements (philox::word draws
// a whole block for one word): the same bits as word() per element, a quarter of the work.
inline void draw_keep(uint8_t* keep, int64_t lo, int64_t hi, float p, uint64_t base, uint64_t stream, uint64_t seed) {
    for (int64_t i = lo; i < hi;) {
        const uint64_t e = base + uint64_t(i);
        const philox::Block r = philox::philox4x32_10(e / 4, stream, seed);
        for (int k = int(e % 4); k < 4 && i < hi; ++k, ++i) keep[i] = philox::to_unit(r[size_t(k)]) >= p;
    }
}

}  // namespace ckpt::cpu
