// cuBLAS, loaded when the first CUDA device starts rather than linked: the CUDA runtime is
// linked statically and finds the NVIDIA driver itself, so cuBLAS is the one CUDA library a
// build with the CUDA backend would otherwise need on every machine, GPU or not. Loaded at run
// time, a program built with CUDA starts and runs on the CPU where neither the driver nor the
// toolkit is installed (the Debian package), and `--device cuda` says which one is missing.
#pragma once

#include <cublas_v2.h>

#include <string>

namespace ckpt::cuda {

// The cuBLAS functions the backend calls, with the signatures of cublas_v2.h (whose macros
// name the _v2 entry points).
struct Cublas {
    decltype(&::cublasCreate) create;
    decltype(&::cublasSetStream) set_stream;
    decltype(&::cublasSetWorkspace) set_workspace;
    decltype(&::cublasSetMathMode) set_math_mode;
    decltype(&::cublasGetStatusString) status_string;
    decltype(&::cublasSgemm_64) sgemm;
    decltype(&::cublasGemmEx_64) gemm_ex;
    decltype(&::cublasSgemmStridedBatched_64) sgemm_strided_batched;
    decltype(&::cublasGemmStridedBatchedEx_64) gemm_strided_batched_ex;
};

// cuBLAS of this build's major version (libcublas.so.N from the loader's path, else from the
// toolkit the build used), loaded once; null with `why` saying what is missing.
const Cublas* cublas(std::string* why);

}  // namespace ckpt::cuda
