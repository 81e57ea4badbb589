// Loads cuBLAS at run time (see cublas_loader.h).
#include "backends/cuda/cublas_loader.h"

#include <dlfcn.h>

#include <mutex>

// The exported name of an entry point: cublas_v2.h maps cublasCreate to cublasCreate_v2.
#define CKPT_NAME_OF(f) CKPT_STRING_OF(f)
#define CKPT_STRING_OF(f) #f
#define CKPT_MAJOR_STRING CKPT_NAME_OF(CUBLAS_VER_MAJOR)

namespace ckpt::cuda {
namespace {

struct Loaded {
    Cublas api{};
    std::string why;  // empty when loaded
};

template <typename F>
bool find(void* lib, const char* name, F* out, std::string* why) {
    *out = reinterpret_cast<F>(dlsym(lib, name));
    if (!*out && why->empty()) *why = std::string("libcublas.so." CKPT_MAJOR_STRING " has no ") + name;
    return *out != nullptr;
}

Loaded load() {
    Loaded l;
    const char* soname = "libcublas.so." CKPT_MAJOR_STRING;
    dlerror();
    void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
#ifdef CKPT_CUDA_LIBRARY_DIR
    // The toolkit this was built with, for a source build whose loader path does not list it.
    if (!lib) lib = dlopen(CKPT_CUDA_LIBRARY_DIR "/libcublas.so." CKPT_MAJOR_STRING, RTLD_NOW | RTLD_LOCAL);
#endif
    if (!lib) {
        l.why = std::string("cuBLAS ") + CKPT_MAJOR_STRING + " (" + soname +
                ", NVIDIA's CUDA toolkit or its runtime libraries) is not installed";
        return l;
    }
    Cublas& a = l.api;
    std::string* why = &l.why;
    find(lib, CKPT_NAME_OF(cublasCreate), &a.create, why);
    find(lib, CKPT_NAME_OF(cublasSetStream), &a.set_stream, why);
    find(lib, CKPT_NAME_OF(cublasSetWorkspace), &a.set_workspace, why);
    find(lib, CKPT_NAME_OF(cublasSetMathMode), &a.set_math_mode, why);
    find(lib, CKPT_NAME_OF(cublasGetStatusString), &a.status_string, why);
    find(lib, CKPT_NAME_OF(cublasSgemm_64), &a.sgemm, why);
    find(lib, CKPT_NAME_OF(cublasGemmEx_64), &a.gemm_ex, why);
    find(lib, CKPT_NAME_OF(cublasSgemmStridedBatched_64), &a.sgemm_strided_batched, why);
    find(lib, CKPT_NAME_OF(cublasGemmStridedBatchedEx_64), &a.gemm_strided_batched_ex, why);
    return l;  // the library stays loaded for the process's life, as the backends do
}

}  // namespace

const Cublas* cublas(std::string* why) {
    static std::once_flag once;
    static Loaded loaded;
    std::call_once(once, [] { loaded = load(); });
    if (!loaded.why.empty()) {
        if (why) *why = loaded.why;
        return nullptr;
    }
    return &loaded.api;
}

}  // namespace ckpt::cuda
