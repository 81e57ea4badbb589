// Layers (ops with parameters or saved state) and losses. forward() keeps exactly what its
// backward needs in a Saved record (tiny-cuda-nn's context object); with no record it keeps
// nothing, which is how a checkpointed block runs its forward. Kept tensors are retagged from
// `temporary` to the context's keep category (activation, or recomputed during recompute).
//
// What each layer keeps, per row of the batch (the table the hand counts in tests follow):
//   linear     its input x                          (in floats)
//   relu, tanh its output y                         (features floats)
//   gelu       its input x                          (features floats)
//   layernorm  its input x, mean and rstd           (features + 2 floats)
//   dropout    its mask                             (features bytes)
//   embedding  nothing (the token ids are `input`)
//   attention  its input (the fused QKV, 3d floats), the softmax output (heads * T floats) and,
//              with dropout, its mask (heads * T bytes)
// Tensors shared between layers (a ReLU's output is the next linear's input) count once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "core/tensor.h"

namespace ckpt {

struct Param {
    std::string name;  // "blocks.3.1.weight"
    Tensor value;
    Tensor grad;       // allocated in backward, freed when the step ends
    Tensor state[2];   // optimizer moments, allocated at the first optimizer step
};

struct Saved {
    std::vector<Tensor> tensors;
};

struct OpContext {
    Allocator& alloc;
    Backend& be;
    bool dry = false;
    uint64_t seed = 0;
    uint64_t dropout_stream = 0;  // next dropout call's Philox stream; restored for recompute
    Category keep_category = Category::activation;
    int64_t seq = 1;  // sequence length: rows are (batch, position) pairs for attention/positions

    Tensor make(std::vector<int64_t> shape, Category c = Category::temporary, ElemType t = ElemType::f32) {
        return Tensor::make(alloc, std::move(shape), c, t);
    }
    void keep(Saved* saved, const Tensor& t) {
        if (!saved) return;
        if (t.storage->tag.category == Category::temporary) alloc.retag(*t.storage, keep_category);
        saved->tensors.push_back(t);
    }
};

class Layer {
public:
    explicit Layer(const LayerSpec& spec) : spec_(spec) {}
    virtual ~Layer() = default;
    const LayerSpec& spec() const { return spec_; }
    std::vector<Param>& params() { return params_; }

    // x: (rows, in). Returns (rows, out). saved == nullptr keeps nothing.
    virtual Tensor forward(OpContext& ctx, const Tensor& x, Saved* saved) = 0;
    // dx is skipped (empty) when need_dx is false: nothing upstream wants it.
    virtual Tensor backward(OpContext& ctx, Saved& saved, const Tensor& dy, bool need_dx) = 0;
    // Random streams one forward draws: recomputation that skips a saved layer advances by this.
    virtual int rng_calls() const { return 0; }

    // Whether backward's state can be put together from the layer's input or output alone, so
    // a layer saved by a selective policy need not run again when its block is recomputed:
    // a linear needs only its input, ReLU/Tanh only their output. Others keep their state.
    enum class Rebuild { no, from_input, from_output };
    virtual Rebuild rebuild_kind() const { return Rebuild::no; }

protected:
    LayerSpec spec_;
    std::vector<Param> params_;
};

// Creates a layer, allocating (and, outside dry runs, initialising) its parameters.
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, OpContext& ctx, const std::string& name,
                                  uint64_t param_stream);

class Loss {
public:
    explicit Loss(LossType type) : type_(type) {}
    // Keeps what backward needs in `saved`; returns the mean loss (0 in dry runs).
    double forward(OpContext& ctx, const Tensor& out, const Tensor& target, Saved& saved);
    Tensor backward(OpContext& ctx, Saved& saved);
    LossType type() const { return type_; }

private:
    LossType type_;
};

// One optimizer step over every parameter with a gradient; state is created on first use.
void optimizer_step(OpContext& ctx, const OptimizerSpec& spec, std::vector<Param*>& params, int64_t step);

}  // namespace ckpt
