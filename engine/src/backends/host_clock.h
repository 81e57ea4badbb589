// The host's monotonic clock as a step Clock (backend.h): a stamp is already the time, in ns
// since start() with excluded stretches taken out. The CPU and dry backends use it.
#pragma once

#include <chrono>

#include "backends/backend.h"

namespace ckpt {

class HostClock final : public Clock {
public:
    void start() override {
        t0_ = std::chrono::steady_clock::now();
        excluded_ = 0;
    }
    int64_t stamp() override {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count() -
               excluded_;
    }
    bool ready(int64_t) override { return true; }
    int64_t elapsed_ns(int64_t stamp) override { return stamp; }
    void exclude(int64_t from, int64_t to) override { excluded_ += to - from; }

private:
    std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
    int64_t excluded_ = 0;
};

}  // namespace ckpt
