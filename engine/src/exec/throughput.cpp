// Measuring what a device sustains (ckpt/timing.h), once per machine, device and thread count,
// and keeping it: in this process, and in a small JSON file the caller names.
//
// On a shared machine every figure is the best of several short tries: an interrupted try is
// slower, never faster, so the best one is the machine's own speed. The kernels are the
// backend's own (its matrix product, its add, its GELU), on buffers outside the tracking
// allocator, so the calibration counts no bytes and the figures are those the executor's
// kernels reach. A CPU calibration allocates with std::vector and takes no lock the steps take;
// a GPU's uses the device's memory and is meant to run before the session's first step.
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "ckpt/timing.h"
#include "io/files.h"

namespace ckpt {
namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

// The fastest of `tries` runs of `body` (each `reps` calls), in seconds per call, stopping early
// once `budget_s` is spent.
template <typename F>
double best_of(Backend& be, int tries, int reps, double budget_s, F body) {
    double best = 1e30;
    const SteadyClock::time_point start = SteadyClock::now();
    for (int t = 0; t < tries; ++t) {
        be.synchronize();
        const SteadyClock::time_point t0 = SteadyClock::now();
        for (int r = 0; r < reps; ++r) body();
        be.synchronize();
        best = std::min(best, seconds_since(t0) / reps);
        if (t >= 2 && seconds_since(start) > budget_s) break;
    }
    return best;
}

// A device buffer of n floats: host memory for the CPU (no lock, no tracking), the device's
// memory otherwise.
class Buffer {
public:
    Buffer(Backend& be, size_t n) : be_(be), bytes_(n * sizeof(float)) {
        if (be.kind() == DeviceKind::cpu) {
            host_.assign(n, 0.5f);
            p_ = host_.data();
        } else {
            p_ = be.allocate(bytes_);
            if (!p_) throw std::bad_alloc();
            be.fill(static_cast<float*>(p_), int64_t(n), 0.5f);
        }
    }
    ~Buffer() {
        if (!host_.empty() || !p_) return;
        be_.release(p_, bytes_);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    float* f() const { return static_cast<float*>(p_); }

private:
    Backend& be_;
    size_t bytes_;
    std::vector<float> host_;
    void* p_ = nullptr;
};

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

std::mutex& memo_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, Throughput>& memo() {
    static std::map<std::string, Throughput> m;
    return m;
}

// 2: with the products' rates by size (a file of format 1 is measured again).
constexpr const char* kFormat = "checkpointlab-throughput 2";

nlohmann::json to_json(const Throughput& t) {
    return {{"key", t.key},          {"gemm_flops", t.gemm_flops}, {"gemm_curve", t.gemm_curve}, {"bandwidth", t.bandwidth},
            {"elementwise", t.elementwise}, {"call_ns", t.call_ns}, {"measured", t.measured}};
}

// The entries of a cache file; a missing, unreadable or foreign file is an empty cache.
nlohmann::json read_cache(const std::string& path) {
    Result<std::string> text = read_text_file(path, 1 << 20, "throughput cache");
    if (!text) return nlohmann::json::array();
    nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
    if (!doc.is_object() || doc.value("format", "") != kFormat || !doc.contains("machines") || !doc["machines"].is_array())
        return nlohmann::json::array();
    return doc["machines"];
}

// Rising call sizes, positive finite rates below any machine's (a damaged file is no curve).
bool gemm_curve_valid(const std::vector<std::array<double, 2>>& c) {
    for (size_t i = 0; i < c.size(); ++i) {
        if (!(c[i][0] > 0) || !(c[i][1] > 0) || !(c[i][1] < 1e17) || !std::isfinite(c[i][0])) return false;
        if (i > 0 && !(c[i][0] > c[i - 1][0])) return false;
    }
    return true;
}

bool from_json(const nlohmann::json& j, Throughput* t) {
    if (!j.is_object()) return false;
    try {
        t->key = j.at("key").get<std::string>();
        t->gemm_flops = j.at("gemm_flops").get<double>();
        t->gemm_curve = j.at("gemm_curve").get<std::vector<std::array<double, 2>>>();
        t->bandwidth = j.at("bandwidth").get<double>();
        t->elementwise = j.at("elementwise").get<double>();
        t->call_ns = j.at("call_ns").get<double>();
        t->measured = j.value("measured", "");
    } catch (const nlohmann::json::exception&) {
        return false;
    }
    // Figures no machine reaches are a damaged file, not a throughput.
    return t->valid() && t->gemm_flops < 1e17 && t->bandwidth < 1e15 && t->elementwise < 1e15 && t->call_ns < 1e7 &&
           gemm_curve_valid(t->gemm_curve);
}

}  // namespace

Result<std::string> throughput_key(const std::string& device, int threads) {
    Result<DeviceInfo> dev = find_device(device);
    if (!dev) return dev.error();
    Result<Backend*> be = backend_for(device);
    if (!be) return be.error();
    (*be)->set_threads(threads);
    return dev->id() + " | " + dev->name + " | " + (*be)->name();
}

double Throughput::gemm_rate(double flops) const {
    if (gemm_curve.empty()) return gemm_flops;
    if (flops <= gemm_curve.front()[0]) return gemm_curve.front()[1];
    if (flops >= gemm_curve.back()[0]) return gemm_curve.back()[1];
    size_t i = 1;
    while (gemm_curve[i][0] < flops) ++i;
    const auto &lo = gemm_curve[i - 1], &hi = gemm_curve[i];
    const double w = std::log(flops / lo[0]) / std::log(hi[0] / lo[0]);
    return std::exp(std::log(lo[1]) + w * (std::log(hi[1]) - std::log(lo[1])));
}

Result<Throughput> measure_throughput(const std::string& device, int threads) {
    Result<std::string> key = throughput_key(device, threads);
    if (!key) return key.error();
    Backend& be = **backend_for(device);
    Throughput t;
    t.key = *key;
    t.measured = utc_now();
    try {
        // A matrix product big enough to run at the BLAS's full speed on every thread (about
        // 3 ms on two cores of a 2020s CPU).
        const int64_t n = 512;
        Buffer a(be, size_t(n * n)), b(be, size_t(n * n)), c(be, size_t(n * n));
        const double gemm_s = best_of(be, 40, 1, 0.15, [&] { be.gemm(false, false, n, n, n, 1.0f, a.f(), n, b.f(), n, 0.0f, c.f(), n); });
        t.gemm_flops = 2.0 * double(n * n * n) / gemm_s;
        // Smaller products, as a step of a small model runs them (lesson 1's are 1024 x 256 x 64:
        // at the large product's rate their time was predicted at 0.6-0.7x the measurement).
        for (const int64_t s : {32, 64, 128, 256}) {
            const double sec = best_of(be, 40, std::max<int>(1, int(4096 / s)), 0.05,
                                       [&] { be.gemm(false, false, s, s, s, 1.0f, a.f(), s, b.f(), s, 0.0f, c.f(), s); });
            const double f = 2.0 * double(s * s * s);
            t.gemm_curve.push_back({f, f / sec});
        }
        t.gemm_curve.push_back({2.0 * double(n * n * n), t.gemm_flops});
        // One small call: what a kernel costs however little it does (thread wake-up, launch).
        const int64_t s = 8;
        t.call_ns = 1e9 * best_of(be, 30, 20, 0.03, [&] { be.gemm(false, false, s, s, s, 1.0f, a.f(), s, b.f(), s, 0.0f, c.f(), s); });
        // A stream past any cache: y = x + z over 3 x 32 MiB.
        const int64_t m = int64_t(8) << 20;
        Buffer x(be, size_t(m)), z(be, size_t(m)), y(be, size_t(m));
        const double add_s = best_of(be, 8, 1, 0.2, [&] { be.add(x.f(), ElemType::f32, z.f(), ElemType::f32, y.f(), ElemType::f32, m); });
        t.bandwidth = 12.0 * double(m) / add_s;
        // GELU: the heaviest of the elementwise kernels a step runs often (a tanh per element).
        const int64_t e = int64_t(2) << 20;
        const double gelu_s = best_of(be, 8, 1, 0.1, [&] { be.activation_forward(Act::gelu, ElemType::f32, x.f(), y.f(), e); });
        t.elementwise = double(e) / gelu_s;
    } catch (const std::bad_alloc&) {
        return Error{"measuring " + device + ": not enough memory for the calibration's buffers", ErrorKind::out_of_memory};
    } catch (const DeviceError& err) {
        return Error{"measuring " + device + ": " + err.what(), ErrorKind::device};
    }
    // The buffers went back to the device's pool: give them to the system, so that a session's
    // reserved bytes are its own.
    if (be.kind() != DeviceKind::cpu) be.trim();
    if (!t.valid()) return Error{"measuring " + device + ": the clock gave no usable time", ErrorKind::device};
    return t;
}

Result<Throughput> cached_throughput(const std::string& device, int threads, const std::string& cache_path) {
    Result<std::string> key = throughput_key(device, threads);
    if (!key) return key.error();
    std::lock_guard<std::mutex> lock(memo_mutex());
    if (auto it = memo().find(*key); it != memo().end()) return it->second;
    nlohmann::json entries = cache_path.empty() ? nlohmann::json::array() : read_cache(cache_path);
    for (const nlohmann::json& j : entries) {
        Throughput t;
        if (from_json(j, &t) && t.key == *key) {
            t.from_cache = true;
            memo()[*key] = t;
            return t;
        }
    }
    Result<Throughput> measured = measure_throughput(device, threads);
    if (!measured) return measured.error();
    memo()[*key] = *measured;
    if (!cache_path.empty()) {
        nlohmann::json kept = nlohmann::json::array();
        for (const nlohmann::json& j : entries) {
            Throughput other;
            if (from_json(j, &other) && other.key != *key) kept.push_back(j);
        }
        kept.push_back(to_json(*measured));
        std::error_code ec;
        const std::filesystem::path dir = std::filesystem::path(cache_path).parent_path();
        if (!dir.empty()) std::filesystem::create_directories(dir, ec);
        // A cache that cannot be written costs a calibration next time, nothing else.
        (void)write_file_atomic(cache_path, nlohmann::json{{"format", kFormat}, {"machines", kept}}.dump(2) + "\n");
    }
    return *measured;
}

void forget_throughputs() {
    std::lock_guard<std::mutex> lock(memo_mutex());
    memo().clear();
}

}  // namespace ckpt
