// The CPU backend's threads: a pool of its own, which every parallel loop and every matrix
// product of the backend runs on (OpenBLAS is called single-threaded, on the pool's threads, for
// pieces of a product that the backend cuts; cpu_gemm.cpp). Why not OpenMP's fork-join: a
// parallel region ends at a barrier that waits for every thread of the team, including one that
// has not even started because another process holds its core. On a shared machine every region
// then costs a scheduling delay of the operating system (milliseconds), and a training step has
// hundreds of regions: a ResNet-20 step on two busy cores took 2 to 20 s against 0.4 s on one.
// Here the calling thread works through the pieces itself, threads that are awake take pieces
// from a shared counter, and the call returns when every piece is done: it waits only for a
// piece that another thread has started, never for a thread that is not running. Idle threads
// spin for a few microseconds (the gap between two ops) and then sleep on a futex, so they do
// not burn cores that other processes need. The OpenMP and OpenBLAS wait policies cannot be set
// by a program once their libraries are loaded (they read the environment when loaded), and
// none of their threads run here: OpenBLAS runs with one thread.
//
// Results never depend on the thread count: a loop's pieces are fixed by its size alone, and
// reductions combine per-piece partial results in piece order.
#pragma once

#include <cstdint>

namespace ckpt::cpu {

// The threads a loop may use, the caller's included: 0 (or less) for the default, which is
// OMP_NUM_THREADS or OPENBLAS_NUM_THREADS when set, else the cores this process may run on.
void set_pool_threads(int threads);
int pool_threads();

using PoolBody = void (*)(const void* ctx, int64_t i);
void pool_run(int64_t n, PoolBody body, const void* ctx);

// body(i) for every i in [0, n), on the caller and any idle pool thread; returns when all are
// done. Nested inside another loop's body, or while another thread's loop holds the pool, or
// when `parallel` is false, it runs on the caller alone, in order.
template <typename F>
void parallel_for(int64_t n, const F& body, bool parallel = true) {
    if (n <= 0) return;
    if (!parallel || n == 1) {
        for (int64_t i = 0; i < n; ++i) body(i);
        return;
    }
    pool_run(n, [](const void* c, int64_t i) { (*static_cast<const F*>(c))(i); }, &body);
}

// body(lo, hi) over [0, n) cut into pieces of `grain` (the last one shorter), in parallel when
// there is more than one piece and `parallel`.
template <typename F>
void parallel_ranges(int64_t n, int64_t grain, const F& body, bool parallel = true) {
    if (n <= 0) return;
    const int64_t pieces = (n + grain - 1) / grain;
    parallel_for(pieces, [&](int64_t p) { body(p * grain, p + 1 == pieces ? n : (p + 1) * grain); }, parallel);
}

// What the pool did since the last reset, for the benchmarks (where a step waits): loops run
// on the pool, pieces run by the caller and by other threads, and the caller's time waiting
// for pieces another thread had started, in ns.
struct PoolStats {
    int64_t loops = 0, serial_loops = 0;
    int64_t caller_pieces = 0, helper_pieces = 0;
    int64_t wait_ns = 0;
};
PoolStats pool_stats();
void reset_pool_stats();

}  // namespace ckpt::cpu
