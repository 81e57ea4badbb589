// The executor: one training step over a chain of blocks with checkpointing by segments. A
// checkpointed run of blocks (recompute_segments: one block alone, or the checkpointed blocks
// next to each other in one of the model's segments) keeps only its first block's input in
// forward (the intermediates are freed as soon as the next op has consumed them); in backward,
// when the gradient reaches its last block, it restores each block's dropout stream, re-runs
// the whole run's forward keeping everything (tagged `recomputed`), then backpropagates block by
// block. Same kernels in the same order, so checkpointed gradients are bitwise identical to
// unchecked ones.
#pragma once

#include <memory>
#include <vector>

#include "ckpt/session.h"
#include "core/recorder.h"
#include "layers/layer.h"

namespace ckpt {

class Executor {
public:
    // Allocates (and on a computing backend initialises) the parameters. Throws OutOfMemoryError.
    Executor(const ModelSpec& spec, Allocator& alloc);

    StepReport step(const StepOptions& options);
    // `repeats` timed repeats of one step from the same state (Session::step, repeats.cpp).
    StepReport step_repeated(const StepOptions& options, int repeats);
    void recycle(StepReport&& done) { recorder_.recycle(std::move(done.events), std::move(done.spans)); }

    // The parameters as they are now and the batch every step trains on, copied to the host.
    std::vector<NamedTensor> initial_tensors();

    // One rank of a parallel layout on the dry backend (a DryRankScope, allocator.h): the
    // buffers its step adds around the blocks, in `communication`, and the pipeline's other
    // microbatches in flight. Set by the constructor from the scope and the executor's own spec.
    struct RankExtras {
        std::vector<int64_t> gathered;  // per block: its parameters gathered to compute it (ZeRO-3), or 0
        std::vector<int64_t> reduced;   // per block: its full gradients until the reduce-scatter (ZeRO-2, 3), or 0
        int64_t in_flight = 0;          // the other microbatches' kept activations (activation, block -1)
        bool accumulating = false;      // gradients allocated at the step's start (earlier microbatches')
    };

    ModelSpec& spec() { return spec_; }
    std::vector<Param*>& params() { return params_; }
    // What each block keeps without checkpointing (filled by the owner from a dry run).
    std::vector<int64_t> kept_unchecked;

    // Live bytes at the start, the highest and at the end of each window of the last step:
    // forward of block b (window b; the loss is window n), the recomputation of block b (in the
    // backward of its run's last block), backward of block b (the loss's backward is n), and
    // what comes before (inputs) and after (optimizer). Windows meet end to start; the
    // recomputation window of an unchecked block stays empty (all zero). The planner's chain
    // model is built from these.
    struct Window {
        int64_t start = 0, peak = 0, end = 0;
        MemoryTag peak_tag;  // the allocation that first reached `peak` in the window
    };
    std::vector<Window> forward_windows, recompute_windows, backward_windows;
    Window before_window, optimizer_window;

private:
    struct BlockState {
        Tensor input;                 // kept by a checkpointed block
        std::vector<StatePtr> state;  // one per layer (BlockSpec::layer's order): what its backward needs
        std::vector<Tensor> outputs;  // outputs of saved layers in a checkpointed block
        uint64_t dropout_stream = 0;  // where the block's dropout draws started
        // The output types of the block's paths: each path's backward starts in its own.
        ElemType out_type = ElemType::f32, shortcut_type = ElemType::f32, post_type = ElemType::f32;
    };
    // A block's layers [begin, end) of one path (its layers, shortcut or post).
    struct Path {
        size_t begin = 0, end = 0;
        bool empty() const { return begin == end; }
    };
    // Clock stamps of a step's stretches, resolved to times once the step is over (-1: not reached).
    struct Stamps {
        int64_t begin = -1, end = -1;
        int64_t ns(Clock& c) const { return begin >= 0 && end >= 0 ? c.elapsed_ns(end) - c.elapsed_ns(begin) : 0; }
    };
    struct BlockStamps { Stamps forward, recompute, backward; };
    struct Stopped {};
    // What a step changes that outlives it, copied to the host: parameters, optimizer state (and
    // whether it exists), buffers, the step counter and the fp16 loss scaling (repeats.cpp).
    struct Snapshot {
        std::vector<std::vector<unsigned char>> tensors;  // params' values and state, then buffers
        std::vector<bool> present;                        // per params' state slot
        int64_t step = 0;
        float loss_scale = 1.0f;
        int good_steps = 0;
    };
    Snapshot take_snapshot();
    // False when the state the snapshot saw has changed shape (optimizer state made since).
    bool restore(const Snapshot& s);

    Tensor forward_block(int b, const Tensor& x, BlockState& st);
    // Block b of a checkpointed run again from its input x, keeping what backward needs; returns
    // its output when the next block of the run needs it (`consumed`), else nothing.
    Tensor recompute_block(int b, Tensor x, BlockState& st, bool consumed, StepReport& rep);
    // The run [first, last] recomputed, block by block, in the backward of its last block.
    void recompute_run(int first, int last, std::vector<BlockState>& states, StepReport& rep);
    Tensor backward_block(int b, const Tensor& dy, BlockState& st, bool need_dx);
    // One path of a block forward from h; the first layer's input wants a gradient or not.
    Tensor forward_path(int b, Path p, Tensor h, BlockState& st, bool input_needs_grad);
    // One path of a checkpointed block again in backward: the layers marked in `run` run, the
    // others rebuild their state or pass on their saved output.
    Tensor recompute_path(int b, Path p, Tensor h, BlockState& st, const std::vector<bool>& run, bool input_needs_grad);
    // One path backward from g; returns the gradient of its input (empty without need_dx).
    Tensor backward_path(int b, Path p, Tensor g, BlockState& st, bool need_dx);
    // The residual add of a block's two paths, promoting as PyTorch does.
    Tensor residual_add(const Tensor& a, const Tensor& b);
    Path main_path(int b) const;
    Path shortcut_path(int b) const;
    Path post_path(int b) const;
    // Whether block b's recomputation needs its residual sum (post's first layer runs again or
    // rebuilds from it, or the sum is the output the next block of its run takes).
    bool sum_needed(int b) const;
    // Whether block b's output feeds the next block's recomputation (b is in a checkpointed run
    // and not its last block).
    bool output_consumed(int b) const { return run_last_[size_t(b)] > b; }
    void run(StepReport& rep, const StepOptions& options);
    void make_batch(Tensor& x, Tensor& target);  // (input shape) and (rows) ids or (rows, out)
    // Closes a span started at stamp `start`; returns its end stamp.
    int64_t span(int block, int layer, Phase phase, int64_t start);
    void check_stop() const;
    void hash_gradients(StepReport& rep, bool capture);
    void resolve_times(StepReport& rep);
    // Whether a saved layer of a checkpointed block must keep its output for recomputation.
    bool output_needed(int b, size_t l) const;
    int64_t stamp() { return clock_.stamp(); }
    void boundary(Window* next);  // closes the open window and opens `next`
    // A rank's gathered units (ZeRO-3): block b's parameters gathered (and `prefetch`'s, the
    // next one in the order of the phase, when >= 0) before it computes; released after.
    void gather(int b, int prefetch, Phase phase);
    void release_gathered(int b, Phase phase);

    ModelSpec spec_;
    Allocator& alloc_;
    OpContext ctx_;
    Clock& clock_;
    Recorder recorder_;
    std::vector<std::vector<std::unique_ptr<Layer>>> blocks_;
    Loss loss_;
    std::vector<Param*> params_;
    std::vector<Param*> buffers_;  // not trained: batch norm's running statistics
    RankExtras extras_;
    std::vector<Tensor> gathered_;  // per block, while gathered
    int64_t sequence_shards_ = 1;  // a rank's split of the sequence (DryRank::sequence_shards)
    int64_t step_ = 0;
    // fp16 loss scaling (PyTorch's GradScaler defaults): the scale, and the steps since it last
    // changed; a step whose gradients overflow is skipped and halves it, 2000 good ones double it.
    float loss_scale_ = 1.0f;
    int good_steps_ = 0;
    const StepOptions* opts_ = nullptr;
    Window* open_window_ = nullptr;
    // Per block: the first and last block of the checkpointed run it belongs to (-1: unchecked),
    // from recompute_segments at the start of each step.
    std::vector<int> run_first_, run_last_;
    std::vector<BlockStamps> block_stamps_;
    Stamps forward_stamps_, loss_stamps_, backward_stamps_, optimizer_stamps_;
};

}  // namespace ckpt
