// The optimizer steps, one fused kernel per parameter tensor: SGD (momentum, L2 weight decay)
// and AdamW (decoupled weight decay, bias corrections computed on the host as the CPU does).
// Every product and sum is written as __fmul_rn/__fadd_rn, never fused, in the CPU reference's
// order, so a step on equal inputs gives the CPU's bits (tst_backend_ops checks it).
#include "backends/cuda/common.cuh"
#include "backends/cuda/kernels.h"

namespace ckpt::cuda {
namespace {

__global__ void sgd_k(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first) {
    CKPT_GRID_STRIDE(i, n) {
        float d = __fadd_rn(g[i], __fmul_rn(wd, w[i]));
        if (buf) {
            d = first ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), d);
            buf[i] = d;
        }
        w[i] = __fsub_rn(w[i], __fmul_rn(lr, d));
    }
}

__global__ void adamw_k(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2,
                        float eps, float wd, float c1, float c2) {
    CKPT_GRID_STRIDE(i, n) {
        float wi = w[i];
        const float gi = g[i];
        wi = __fsub_rn(wi, __fmul_rn(__fmul_rn(lr, wd), wi));
        const float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(1.0f - b1, gi));
        const float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(__fmul_rn(1.0f - b2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        const float num = __fmul_rn(lr, __fmul_rn(mi, c1));
        const float den = __fadd_rn(__fsqrt_rn(__fmul_rn(vi, c2)), eps);
        w[i] = __fsub_rn(wi, __fdiv_rn(num, den));
    }
}

}  // namespace

void sgd_step(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first,
              cudaStream_t s) {
    if (n > 0) sgd_k<<<grid_for(n), kThreads, 0, s>>>(w, g, buf, n, lr, momentum, wd, first);
}

void adamw_step(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
                float wd, float c1, float c2, cudaStream_t s) {
    if (n > 0) adamw_k<<<grid_for(n), kThreads, 0, s>>>(w, g, m, v, n, lr, b1, b2, eps, wd, c1, c2);
}

}  // namespace ckpt::cuda
