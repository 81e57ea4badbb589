// Which devices this build can run on, and the backend for a device id. The CPU is always
// there; CUDA devices appear when the CUDA backend is compiled in (CKPT_HAVE_CUDA) and a driver
// answers. Nothing else in the engine names a backend directly: sessions, predictions and the
// planner ask here.
#include <unistd.h>

#include <cblas.h>

#include <fstream>
#include <string>

#include "backends/backend.h"
#include "ckpt/build_info.h"

namespace ckpt {

#ifdef CKPT_HAVE_CUDA
// backends/cuda: the CUDA backend of device `index`, created on first use.
Result<Backend*> cuda_backend(int index);
std::vector<DeviceInfo> cuda_device_list(std::string* why_none);
std::string cuda_version_text();
#endif

LibraryVersions library_versions() {
    LibraryVersions v;
    const char* config = openblas_get_config();
    v.blas = config ? config : "OpenBLAS";
    while (!v.blas.empty() && v.blas.back() == ' ') v.blas.pop_back();
#ifdef CKPT_HAVE_CUDA
    v.cuda = cuda_version_text();
#else
    v.cuda = "none";
#endif
    return v;
}

std::string DeviceInfo::id() const {
    return kind == DeviceKind::cpu ? "cpu" : "cuda:" + std::to_string(index);
}

static DeviceInfo cpu_info() {
    DeviceInfo d;
    d.kind = DeviceKind::cpu;
    d.name = "CPU";
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) d.name = line.substr(colon + 2);
            break;
        }
    }
    d.total_bytes = int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
    return d;
}

std::vector<DeviceInfo> cuda_devices(std::string* why_none) {
#ifdef CKPT_HAVE_CUDA
    return cuda_device_list(why_none);
#else
    if (why_none) *why_none = "this build has no CUDA backend (no CUDA toolkit was found when it was built)";
    return {};
#endif
}

std::vector<DeviceInfo> available_devices() {
    std::vector<DeviceInfo> all{cpu_info()};
    for (DeviceInfo& d : cuda_devices()) all.push_back(std::move(d));
    return all;
}

// "cuda" is cuda:0; "cuda:N" needs N to be a plain decimal index.
static int cuda_index(const std::string& id) {
    if (id == "cuda") return 0;
    const std::string n = id.substr(5);
    if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(n);
}

Result<DeviceInfo> find_device(const std::string& id) {
    if (id == "cpu") return cpu_info();
    if (id == "cuda" || id.rfind("cuda:", 0) == 0) {
        const int index = cuda_index(id);
        if (index < 0) return Error{"unknown device \"" + id + "\" (expected cpu, cuda or cuda:N)"};
        std::string why;
        const std::vector<DeviceInfo> gpus = cuda_devices(&why);
        // CUDA is optional (a package built with it runs on machines without a driver): say why
        // there is none, and that everything runs on the CPU without it.
        if (gpus.empty())
            return Error{"no CUDA device for \"" + id + "\": " + why +
                             " (CUDA is optional: every model runs on the CPU, device \"cpu\")",
                         ErrorKind::device};
        if (index >= int(gpus.size()))
            return Error{"no CUDA device " + std::to_string(index) + ": this machine has " +
                         std::to_string(gpus.size()) + " (cuda:0" +
                         (gpus.size() > 1 ? " to cuda:" + std::to_string(gpus.size() - 1) : std::string()) + ")",
                     ErrorKind::device};
        return gpus[size_t(index)];
    }
    return Error{"unknown device \"" + id + "\" (expected cpu, cuda or cuda:N)"};
}

Result<Backend*> backend_for(const std::string& id) {
    Result<DeviceInfo> dev = find_device(id);
    if (!dev) return dev.error();
    if (dev->kind == DeviceKind::cpu) return &cpu_backend();
#ifdef CKPT_HAVE_CUDA
    return cuda_backend(dev->index);
#else
    return Error{"no CUDA device for \"" + id + "\"", ErrorKind::device};
#endif
}

}  // namespace ckpt
