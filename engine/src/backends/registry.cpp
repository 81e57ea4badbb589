// Which devices this build can run on. The CPU is always there; CUDA devices appear when the
// CUDA backend is compiled in and a driver answers.
#include <unistd.h>

#include <fstream>
#include <string>

#include "ckpt/session.h"

namespace ckpt {

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

std::vector<DeviceInfo> available_devices() {
    return {cpu_info()};
}

Result<DeviceInfo> find_device(const std::string& id) {
    if (id == "cpu") return cpu_info();
    if (id == "cuda" || id.rfind("cuda:", 0) == 0) {
        return Error{"no CUDA device for \"" + id +
                     "\": this build has no CUDA backend (CheckpointLab runs on the CPU only for now)"};
    }
    return Error{"unknown device \"" + id + "\" (expected cpu, cuda or cuda:N)"};
}

}  // namespace ckpt
