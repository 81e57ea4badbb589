// The host's clock as a step Clock (backend.h), for the CPU and dry backends. A step stamps
// every memory event and layer boundary, about 75 times in the tutorial MLP's 13 us step, and
// reads the clock for about 15 of them (the others coalesce), so a read must cost little:
// where the processor has an invariant time-stamp counter (x86-64 with CPUID's "invariant TSC"
// bit; the counter Linux itself keeps time with), a read is a counter read (about 9 ns here,
// against 24 ns for steady_clock::now()) and a multiply to ns, done per read rather than per
// stamp so that the step's events need no conversion at its end. The ns-per-tick ratio is
// first that of a 1 ms spin against steady_clock at the process's first reading (good to about
// one part in ten thousand), then that of the last stretch of at least 10 ms between two steps
// (about one in a hundred thousand), as long as it agrees with the first: a stretch across a
// suspend does not. Elsewhere a stamp is steady_clock's ns. Either way a stamp is ns since
// start() with the excluded stretches taken out.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <x86intrin.h>
#define CKPT_HOST_CLOCK_TSC 1
#endif

#include "backends/backend.h"

namespace ckpt {

class HostClock final : public Clock {
public:
    // `coalesce` (Clock): the CPU backend's, whose ops mark their work. The dry backend's does
    // not coalesce: it does no work, and its times are those of the bookkeeping.
    explicit HostClock(bool coalesce = false) : Clock(coalesce) {}

    bool ready(int64_t) override { return true; }
    int64_t elapsed_ns(int64_t stamp) override { return stamp; }
    void exclude(int64_t from, int64_t to) override {
        excluded_ += to - from;
        worked();  // the last stamp belongs to the time before the exclusion
    }
    bool stamps_in_ns() const override { return true; }
    // Whether reads use the time-stamp counter (else steady_clock); for the tests.
    bool uses_counter() const { return tsc_; }

protected:
    void restart() override {
        const Reading now = read_both();
        if (tsc_ && now.ns - window_.ns >= kWindowNs) {
            // The ratio over the stretch since the last window, if it agrees with the startup
            // spin's: a stretch with a suspend in it does not (the counter runs on in
            // suspend-to-idle while steady_clock stops, and some machines reset it on resume).
            if (now.ticks > window_.ticks) {
                const double r = double(now.ns - window_.ns) / double(now.ticks - window_.ticks);
                if (std::abs(r / anchor().ns_per_tick - 1.0) < 0.005) ns_per_tick_ = r;
            }
            window_ = now;
        }
        t0_ = tsc_ ? now.ticks : now.ns;
        excluded_ = 0;
    }
    int64_t read() override {
        const int64_t since = raw() - t0_;
        return (tsc_ ? int64_t(double(since) * ns_per_tick_) : since) - excluded_;
    }

private:
    struct Reading {
        int64_t ns = 0, ticks = 0;
        double ns_per_tick = 0.0;  // 0: no usable counter
    };

    static bool invariant_tsc() {
#ifdef CKPT_HOST_CLOCK_TSC
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (unsigned(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u) return false;
        __get_cpuid(0x80000007u, &a, &b, &c, &d);
        return (d >> 8) & 1u;
#else
        return false;
#endif
    }
    static int64_t steady_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    static int64_t ticks() {
#ifdef CKPT_HOST_CLOCK_TSC
        return int64_t(__rdtsc());
#else
        return 0;
#endif
    }
    // A steady_clock reading and the counter's, taken as close together as two reads allow:
    // the counter on both sides of the steady_clock read, the tightest pair of a few tries
    // (the thread may be preempted in between).
    static Reading read_both() {
        Reading best;
        int64_t gap = -1;
        for (int i = 0; i < 5; ++i) {
            const int64_t t1 = ticks(), ns = steady_ns(), t2 = ticks();
            if (gap < 0 || t2 - t1 < gap) {
                gap = t2 - t1;
                best = {ns, t1 + (t2 - t1) / 2, 0.0};
            }
            if (gap < 400) break;  // about 100 ns at any clock rate in use
        }
        return best;
    }
    // The process's first reading, with the ratio of a 1 ms spin.
    static const Reading& anchor() {
        static const Reading a = [] {
            Reading first = read_both();
            if (!invariant_tsc()) return first;
            Reading later = read_both();
            while (later.ns - first.ns < 1000000) later = read_both();
            first.ns_per_tick = later.ticks > first.ticks ? double(later.ns - first.ns) / double(later.ticks - first.ticks) : 0.0;
            return first;
        }();
        return a;
    }
    int64_t raw() const { return tsc_ ? ticks() : steady_ns(); }

    static constexpr int64_t kWindowNs = 10'000'000;  // 10 ms: reads 100 ns apart give 1e-5

    bool tsc_ = anchor().ns_per_tick > 0.0;
    double ns_per_tick_ = anchor().ns_per_tick;
    Reading window_ = read_both();  // where the current calibration window began
    int64_t t0_ = raw();
    int64_t excluded_ = 0;
};

}  // namespace ckpt
