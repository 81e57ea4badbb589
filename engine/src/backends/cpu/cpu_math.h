// exp and tanh for the CPU's elementwise loops, written so that the compiler vectorizes them.
// glibc's expf and tanhf are scalar calls unless the whole build uses -ffast-math, and GELU's
// tanh was the largest cost after the GEMMs and AdamW in a deep MLP step (about 14 % of it,
// paid again by every recomputation). These are Cephes's single-precision algorithms: a
// Cody-Waite reduction and a degree-6 polynomial for exp, an odd polynomial below 0.625 and
// 1 - 2 / (exp(2x) + 1) above for tanh; within 2 ulp of glibc (tst_ops sweeps them), with no
// branch that a vector lane could disagree on, and the same result however the loop is split.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace ckpt::cpu {

// e^x for x in about [-87.3, 88.3] (clamped there: 2^-126 and 2^127 are the scales reachable).
inline float vexp(float x) {
    x = std::min(std::max(x, -87.3f), 88.3f);
    // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22, no rounding mode call).
    const float shifter = 12582912.0f;
    const float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693359375f;  // ln 2 in two parts, so r is exact
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * std::bit_cast<float>((int32_t(n) + 127) << 23);
}

// tanh(x); exactly +-1 from |x| >= 10, as tanhf (the true value rounds to 1 from about 9.01).
inline float vtanh(float x) {
    const float a = std::fabs(x);
    const float z = x * x;
    const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                          1.33314422036e-1f) * z - 3.33332819422e-1f) * z * a + a;
    const float big = 1.0f - 2.0f / (vexp(2.0f * std::min(a, 10.0f)) + 1.0f);
    return std::copysign(a < 0.625f ? small : big, x);
}

}  // namespace ckpt::cpu
