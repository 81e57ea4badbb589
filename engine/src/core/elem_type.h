// Element types of tensors and the rounding between them. bf16 and f16 are storage formats:
// every kernel computes in f32 (accumulating in f32 or double) and rounds its result once, to
// nearest even, with the same bit-level conversion on every device (CUDA's __float2bfloat16_rn
// and __float2half_rn round the same way), so a rounded value is the same bits everywhere.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define CKPT_ET_HD __host__ __device__ __forceinline__
#else
#define CKPT_ET_HD inline
#endif

namespace ckpt {

enum class ElemType : uint8_t { f32, u8, i64, bf16, f16 };

CKPT_ET_HD int64_t elem_size(ElemType t) {
    switch (t) {
    case ElemType::f32: return 4;
    case ElemType::u8: return 1;
    case ElemType::i64: return 8;
    default: return 2;
    }
}

inline bool is_low_precision(ElemType t) { return t == ElemType::bf16 || t == ElemType::f16; }

// f32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

inline float bf16_to_f32(uint16_t h) {
    const uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// f32 -> IEEE half bits, round to nearest even, with subnormals, overflow to infinity and NaN.
inline uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
    if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: infinity
    if (mag < 0x38800000u) {                                  // below 2^-14: subnormal or zero
        if (mag < 0x33000000u) return uint16_t(sign);        // below half the smallest subnormal
        const uint32_t exp = mag >> 23;
        const uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exp;                     // 14 - (exp - 127) + 13 - 1
        const uint32_t half = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        const uint32_t r = half + (rem > mid || (rem == mid && (half & 1u)));
        return uint16_t(sign | r);
    }
    mag += 0xc8000000u;  // rebias the exponent from 127 to 15
    const uint32_t r = (mag + 0xfffu + ((mag >> 13) & 1u)) >> 13;
    return uint16_t(sign | r);
}

inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: normalise
            exp = 113;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --exp;
            }
            u = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else {
        u = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Rounds an f32 value through a low-precision type and back (what storing it there keeps).
inline float round_to(ElemType t, float v) {
    if (t == ElemType::bf16) return bf16_to_f32(f32_to_bf16(v));
    if (t == ElemType::f16) return f16_to_f32(f32_to_f16(v));
    return v;
}

}  // namespace ckpt
