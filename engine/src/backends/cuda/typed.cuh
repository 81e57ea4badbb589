// Typed element access in kernels: f32, bf16 and f16 tensors read as f32 and written rounded to
// nearest even (the same rounding as core/elem_type.h on the host). A template parameter where
// a kernel is instantiated per type, a run-time switch (uniform across the warp) where the
// combinations of operand types would multiply the instantiations.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "core/elem_type.h"

namespace ckpt::cuda {

struct TF32 {
    using T = float;
    __device__ static float load(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
    __device__ static void store(void* p, int64_t i, float v) { static_cast<float*>(p)[i] = v; }
};
struct TBF16 {
    __device__ static float load(const void* p, int64_t i) { return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]); }
    __device__ static void store(void* p, int64_t i, float v) { static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); }
};
struct TF16 {
    __device__ static float load(const void* p, int64_t i) { return __half2float(static_cast<const __half*>(p)[i]); }
    __device__ static void store(void* p, int64_t i, float v) { static_cast<__half*>(p)[i] = __float2half_rn(v); }
};

__device__ __forceinline__ float load_as(const void* p, ElemType t, int64_t i) {
    switch (t) {
    case ElemType::bf16: return TBF16::load(p, i);
    case ElemType::f16: return TF16::load(p, i);
    default: return TF32::load(p, i);
    }
}
__device__ __forceinline__ void store_as(void* p, ElemType t, int64_t i, float v) {
    switch (t) {
    case ElemType::bf16: TBF16::store(p, i, v); break;
    case ElemType::f16: TF16::store(p, i, v); break;
    default: TF32::store(p, i, v); break;
    }
}

// Launches k<TF32>, k<TBF16> or k<TF16> through f.
template <typename Fn>
void dispatch_type(ElemType t, Fn&& f) {
    switch (t) {
    case ElemType::bf16: f(TBF16{}); break;
    case ElemType::f16: f(TF16{}); break;
    default: f(TF32{}); break;
    }
}

}  // namespace ckpt::cuda
