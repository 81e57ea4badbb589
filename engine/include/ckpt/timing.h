// Predicted time, the way bytes are predicted: before any run, each layer's matrix-product FLOPs
// and the bytes its other kernels move are turned into time with throughputs measured once on
// this machine and device (a short calibration: matrix products of several sizes, a stream that goes past
// the caches, an elementwise kernel with a transcendental, and the cost of one small call), so
// every block and every plan has a predicted step time beside the measured one. Unlike the bytes,
// the prediction is a model, not an exact count: it is meant to land within a quarter of a quiet
// machine's measurement on layers whose time the matrix products decide (README, Performance).
//
// The engine does not know where a desktop keeps its caches: the caller names the file the
// throughputs are kept in (the GUI's cache folder, the CLI's XDG cache), or none (kept for the
// process only).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/result.h"

namespace ckpt {

// What one machine and device sustain, measured by measure_throughput.
struct Throughput {
    std::string key;          // what was measured: device, its name, the backend and its threads
    double gemm_flops = 0;    // FLOP/s of a large f32 matrix product
    // Smaller products run slower (less work per thread, per cache tile): the FLOP/s measured at
    // several sizes, {FLOPs of one call, FLOP/s}, smallest first. Empty: gemm_flops for every size.
    std::vector<std::array<double, 2>> gemm_curve;
    double bandwidth = 0;     // bytes/s (reads plus writes) of an elementwise add over arrays past the caches
    double elementwise = 0;   // elements/s of the elementwise kernel with a transcendental (GELU's tanh)
    double call_ns = 0;       // the fixed cost of one small kernel call (a tiny product)
    std::string measured;     // when, UTC, "2026-12-01 09:30"
    bool from_cache = false;  // read from the cache file rather than measured by this process

    bool valid() const { return gemm_flops > 0 && bandwidth > 0 && elementwise > 0 && call_ns >= 0; }
    // The FLOP/s of one product of `flops` FLOPs: gemm_curve interpolated on log-log axes, its
    // ends held flat beyond it.
    double gemm_rate(double flops) const;
};

// The key a device and thread count are cached under ("cpu | Intel Xeon ... | cpu (2 threads,
// OpenBLAS, one OpenMP pool)"); an error for a device that does not exist here.
Result<std::string> throughput_key(const std::string& device, int threads = 0);
// Measures on `device` ("cpu", "cuda:0") with `threads` (0: the BLAS default), in about half a
// second; each figure is the best of several short tries, so that a busy machine's interruptions
// fall outside it.
Result<Throughput> measure_throughput(const std::string& device, int threads = 0);
// The throughput of that device and thread count: from this process's memory, else from the
// JSON file `cache_path` ("" for none), else measured now and written there (a cache that cannot
// be written is no error: the figures are kept for the process). Thread-safe.
Result<Throughput> cached_throughput(const std::string& device, int threads, const std::string& cache_path);
// Forgets this process's figures (the next call reads the file or measures again).
void forget_throughputs();

// A predicted time and what it is made of.
struct PredictedTime {
    int64_t ns = 0;
    double flops = 0;  // matrix-product FLOPs
    double bytes = 0;  // bytes the other kernels move
    PredictedTime& operator+=(const PredictedTime& o) {
        ns += o.ns;
        flops += o.flops;
        bytes += o.bytes;
        return *this;
    }
};

struct LayerTimePrediction {
    PredictedTime forward, backward;
    PredictedTime recompute;  // what this layer costs in its block's recomputation (0: not run again)
};

struct BlockTimePrediction {
    PredictedTime forward, backward;
    PredictedTime recompute;         // as the block is: 0 unless checkpointed
    PredictedTime recompute_if_checkpointed;  // under its policy, whether or not it is checkpointed
    // The same inside a checkpointed run of blocks, not its last: the next block's recomputation
    // takes this block's output, so layers rebuilt from their input alone run again too.
    PredictedTime recompute_if_inner;
    std::vector<LayerTimePrediction> layers;  // BlockSpec::layer() order
};

struct TimePrediction {
    int64_t step_ns = 0;  // everything below
    int64_t forward_ns = 0, loss_ns = 0, backward_ns = 0, recompute_ns = 0, optimizer_ns = 0;
    int64_t batch_ns = 0;  // drawing the batch, part of forward as the executor times it
    std::vector<BlockTimePrediction> blocks;
    Throughput throughput;  // what it was predicted with

    // The step's predicted time with `runs` (recompute_segments: the runs backward recomputes as
    // one, a block checkpointed alone a run of one) instead of the spec's own flags (a plan).
    int64_t step_ns_with(const std::vector<BlockRange>& runs) const;
};

// The step of `spec` on a device with throughput `t`: each layer's forward and backward (and,
// for a checkpointed block, the layers its policy runs again, as the last block of its run or
// inside it), the loss, the optimizer.
TimePrediction predict_times(const ModelSpec& spec, const Throughput& t);

}  // namespace ckpt
