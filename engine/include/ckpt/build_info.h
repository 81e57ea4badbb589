// What this engine was built with and runs on, in words, for an About dialog and bug reports:
// the BLAS library's own description of itself and the CUDA runtime and driver, or "none" when
// the build has no CUDA backend.
#pragma once

#include <string>

namespace ckpt {

struct LibraryVersions {
    std::string blas;  // "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
    std::string cuda;  // "runtime 12.4, driver 12.8", "runtime 12.4, no driver" or "none"
};

LibraryVersions library_versions();

}  // namespace ckpt
