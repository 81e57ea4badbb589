// The CPU backend's thread pool (cpu_pool.h). One loop runs at a time. Its pieces are handed out
// by a single 64-bit word, generation (24 bits) | pieces (20) | next piece (20), so that a thread
// that read the word of a finished loop cannot take a piece of the next one (its compare-and-swap
// fails on the generation), and the caller publishes a loop by storing that word. A loop of more
// than 2^20 - 1 pieces runs as several.
#include "backends/cpu/cpu_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CKPT_PAUSE() _mm_pause()
#else
#define CKPT_PAUSE() std::this_thread::yield()
#endif

namespace ckpt::cpu {
namespace {

constexpr uint64_t kBits = 20, kMask = (uint64_t(1) << kBits) - 1, kGenMask = (uint64_t(1) << 24) - 1;
constexpr int64_t kMaxPieces = int64_t(kMask);
// How long an idle thread spins for the next loop, and the caller for pieces others started,
// before sleeping: about the gap between two ops of a step, short enough that a thread does not
// hold a core that another process is waiting for.
constexpr int64_t kSpinNs = 20'000;

thread_local bool t_in_body = false;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Spins until ready() or kSpinNs have passed; whether ready() came true.
template <typename Ready>
bool spin(const Ready& ready) {
    int64_t start = -1;
    for (int i = 0;; ++i) {
        if (ready()) return true;
        CKPT_PAUSE();
        if ((i & 63) == 63) {
            const int64_t t = now_ns();
            if (start < 0) start = t;
            else if (t - start > kSpinNs) return false;
        }
    }
}

int default_threads() {
    for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
        const char* v = std::getenv(name);
        if (v && std::atoi(v) > 0) return std::atoi(v);
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return std::max(1, int(std::thread::hardware_concurrency()));
}

class Pool {
public:
    Pool() { resize(default_threads()); }
    ~Pool() { stop_helpers(); }

    int threads() const { return helper_count_.load(std::memory_order_relaxed) + 1; }

    void resize(int threads) {
        threads = std::clamp(threads, 1, 256);
        std::lock_guard<std::mutex> own(busy_);
        if (threads == this->threads()) return;
        stop_helpers();
        stop_.store(false);
        // A helper starts from the bell as it is now: one that first runs after a later ring (a
        // stop, when the pool is resized at once) must see that ring rather than wait for the next.
        const uint32_t bell = bell_.load(std::memory_order_acquire);
        for (int i = 1; i < threads; ++i) helpers_.emplace_back([this, bell] { helper(bell); });
        helper_count_.store(threads - 1);
    }

    void run(int64_t n, PoolBody body, const void* ctx) {
        if (t_in_body || helper_count_.load(std::memory_order_relaxed) == 0 || !busy_.try_lock()) {
            serial_loops_.fetch_add(1, std::memory_order_relaxed);
            for (int64_t i = 0; i < n; ++i) body(ctx, i);
            return;
        }
        std::lock_guard<std::mutex> own(busy_, std::adopt_lock);
        for (int64_t base = 0; base < n; base += kMaxPieces) {
            const int64_t m = std::min(kMaxPieces, n - base);
            if (base == 0) {
                round(m, body, ctx);
            } else {  // pieces past the first 2^20 - 1: a body that adds the offset
                struct Shifted {
                    PoolBody body;
                    const void* ctx;
                    int64_t base;
                } s{body, ctx, base};
                round(m, [](const void* c, int64_t i) {
                    const auto* sh = static_cast<const Shifted*>(c);
                    sh->body(sh->ctx, sh->base + i);
                }, &s);
            }
        }
    }

    PoolStats stats() const {
        PoolStats s;
        s.loops = loops_.load();
        s.serial_loops = serial_loops_.load();
        s.caller_pieces = caller_pieces_.load();
        s.helper_pieces = helper_pieces_.load();
        s.wait_ns = wait_ns_.load();
        return s;
    }
    void reset_stats() {
        loops_ = serial_loops_ = caller_pieces_ = helper_pieces_ = wait_ns_ = 0;
    }

private:
    // One loop of n <= kMaxPieces pieces, the caller holding busy_.
    void round(int64_t n, PoolBody body, const void* ctx) {
        loops_.fetch_add(1, std::memory_order_relaxed);
        body_ = body;
        ctx_ = ctx;
        done_.store(0, std::memory_order_relaxed);
        gen_ = (gen_ + 1) & kGenMask;
        claim_.store(gen_ << (2 * kBits) | uint64_t(n) << kBits, std::memory_order_release);
        bell_.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_seq_cst) > 0) bell_.notify_all();
        caller_pieces_.fetch_add(take_pieces(), std::memory_order_relaxed);
        const uint32_t all = uint32_t(n);
        if (done_.load(std::memory_order_acquire) == all) return;
        // Pieces that other threads took are still running: wait for them (spin, then sleep).
        const int64_t t0 = now_ns();
        if (!spin([&] { return done_.load(std::memory_order_acquire) == all; })) {
            caller_sleeping_.store(true, std::memory_order_seq_cst);
            for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != all;) done_.wait(d, std::memory_order_seq_cst);
            caller_sleeping_.store(false, std::memory_order_relaxed);
        }
        wait_ns_.fetch_add(now_ns() - t0, std::memory_order_relaxed);
    }

    // Takes and runs pieces of the published loop until none is left; how many it ran.
    int64_t take_pieces() {
        int64_t ran = 0;
        t_in_body = true;
        uint64_t w = claim_.load(std::memory_order_acquire);
        for (;;) {
            const uint64_t next = w & kMask, n = (w >> kBits) & kMask;
            if (next >= n) break;
            if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
            // The piece is ours, so the loop cannot end (nor body_ change) before it is done.
            body_(ctx_, int64_t(next));
            ++ran;
            if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == uint32_t(n) &&
                caller_sleeping_.load(std::memory_order_seq_cst))
                done_.notify_one();
            w = claim_.load(std::memory_order_acquire);
        }
        t_in_body = false;
        return ran;
    }

    void helper(uint32_t seen) {
        for (;;) {
            if (!spin([&] { return bell_.load(std::memory_order_acquire) != seen; })) {
                sleeping_.fetch_add(1, std::memory_order_seq_cst);
                bell_.wait(seen, std::memory_order_seq_cst);
                sleeping_.fetch_sub(1, std::memory_order_seq_cst);
            }
            seen = bell_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_acquire)) return;
            helper_pieces_.fetch_add(take_pieces(), std::memory_order_relaxed);
        }
    }

    void stop_helpers() {
        stop_.store(true, std::memory_order_seq_cst);
        bell_.fetch_add(1, std::memory_order_seq_cst);
        bell_.notify_all();
        for (std::thread& t : helpers_) t.join();
        helpers_.clear();
        helper_count_.store(0);
    }

    std::mutex busy_;  // held by the thread whose loop is running (and by resize)
    std::vector<std::thread> helpers_;
    std::atomic<int> helper_count_{0};
    std::atomic<uint64_t> claim_{0};
    uint64_t gen_ = 0;
    PoolBody body_ = nullptr;
    const void* ctx_ = nullptr;
    std::atomic<uint32_t> done_{0};
    std::atomic<uint32_t> bell_{0};  // rung when a loop is published or the helpers must stop
    std::atomic<int> sleeping_{0};
    std::atomic<bool> caller_sleeping_{false}, stop_{false};
    std::atomic<int64_t> loops_{0}, serial_loops_{0}, caller_pieces_{0}, helper_pieces_{0}, wait_ns_{0};
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void set_pool_threads(int threads) { pool().resize(threads > 0 ? threads : default_threads()); }
int pool_threads() { return pool().threads(); }
void pool_run(int64_t n, PoolBody body, const void* ctx) {
    if (n > 0) pool().run(n, body, ctx);
}
PoolStats pool_stats() { return pool().stats(); }
void reset_pool_stats() { pool().reset_stats(); }

}  // namespace ckpt::cpu
