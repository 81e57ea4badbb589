// Layers (ops with parameters or saved state), losses and optimizer steps. A layer's forward
// returns, when asked, a typed state that its backward takes (tiny-cuda-nn's forward context):
// each layer type names what it keeps, and the executor sees only the list of tensors, to
// count their bytes and to free them. Without a state pointer forward keeps nothing, which is
// how a checkpointed block runs. Kept tensors move from `temporary` to the context's keep
// category (activation, or recomputed during recomputation).
//
// What each layer keeps, per row of the batch (the table the hand counts in tests follow), in
// f32; in a mixed-precision run a kept tensor has the type the layer computed it in (16 bits
// for what a matrix product made, f32 after LayerNorm, softmax and the losses), and a linear
// also keeps the 16-bit copy of its weight (category weight_cast):
//   linear     its input x                          (in floats)
//   relu, tanh its output y                         (features floats)
//   gelu, silu its input x                          (features floats)
//   layernorm  its input x, mean and rstd           (features + 2 floats)
//   dropout    its mask                             (features bytes)
//   embedding  nothing (the token ids are `input`)
//   attention  its input (the fused QKV, 3d floats), the softmax output (heads * T floats) and,
//              with dropout, its mask (heads * T bytes)
//   conv2d     its input x                          (C * H * W floats)
//   batchnorm2d its input x                         (C * H * W floats), and the batch's mean
//              and 1/std of each channel (2C floats in all, not per row)
//   maxpool2d  its input x                          (C * H * W floats)
//   avgpool2d, global_avgpool, flatten: nothing (backward needs only shapes; flatten is a view)
// Tensors shared between layers (a ReLU's output is the next linear's input) count once. Image
// tensors have the shape (batch, C, H, W); a layer on flat features sees (rows, features).
// Batch norm's running statistics are buffers (category buffer): made with the layer, updated
// by every forward except a recomputation's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ckpt/layer_traits.h"
#include "ckpt/model_spec.h"
#include "core/tensor.h"

namespace ckpt {

struct Param {
    std::string name;  // "blocks.3.1.weight"
    Tensor value;
    Tensor grad;       // allocated in backward, freed when the step ends
    Tensor state[2];   // optimizer moments, allocated at the first optimizer step
};

// What one forward kept for its backward. Each layer derives its own with named members.
struct LayerState {
    virtual ~LayerState() = default;
    virtual std::vector<const Tensor*> tensors() const = 0;
};
using StatePtr = std::unique_ptr<LayerState>;

struct OpContext {
    Allocator& alloc;
    Backend& be;
    uint64_t seed = 0;
    uint64_t dropout_stream = 0;  // next dropout call's Philox stream; restored for recompute
    Category keep_category = Category::activation;
    int64_t seq = 1;  // sequence length: rows are (batch, position) pairs for attention/positions
    // The type matrix products run in: f32, or bf16/f16 in a mixed-precision run (autocast's).
    ElemType compute = ElemType::f32;
    // Whether the layer's input will want a gradient: false for the model's first layer (its
    // input is the batch), which then keeps only what its parameters' gradients need.
    bool input_needs_grad = true;
    // A checkpointed block's forward run again in backward: batch norm recomputes the same
    // batch statistics but must not move its running statistics a second time.
    bool recomputing = false;

    Tensor make(std::vector<int64_t> shape, Category c = Category::temporary, ElemType t = ElemType::f32) {
        return Tensor::make(alloc, std::move(shape), c, t);
    }
    // x as type t: x itself when it already is, else a new tensor of category c (autocast's casts).
    Tensor cast_to(const Tensor& x, ElemType t, Category c = Category::temporary) {
        if (x.type == t) return x;
        Tensor y = make(x.shape, c, t);
        be.cast(x.data(), x.type, y.data(), t, x.numel());
        return y;
    }
    // Sequence parallelism's collectives (LayerSpec::sp_gather, sp_scatter) on one rank's dry
    // step: the whole sequence's rows gathered from t splits into a `communication` buffer, and a
    // product over the whole sequence reduce-scattered into this rank's split. The other ranks'
    // rows do not exist here, so only the buffers are made (Executor refuses a computing backend).
    Tensor all_gather_rows(const Tensor& split, int t) {
        return make({split.rows() * t, split.cols()}, Category::communication, split.type);
    }
    Tensor reduce_scatter_rows(const Tensor& whole, int t) {
        return make({whole.rows() / t, whole.cols()}, Category::temporary, whole.type);
    }
    // Marks a tensor as kept for backward: a transient one moves to the keep category.
    const Tensor& keep(const Tensor& t) {
        if (t.storage->tag.category == Category::temporary) alloc.retag(*t.storage, keep_category);
        return t;
    }
};

class Layer {
public:
    explicit Layer(const LayerSpec& spec) : spec_(spec) {}
    virtual ~Layer() = default;
    const LayerSpec& spec() const { return spec_; }
    std::vector<Param>& params() { return params_; }
    // State kept across steps that is not trained (batch norm's running statistics): no
    // gradient, no optimizer state; only `value` is used.
    std::vector<Param>& buffers() { return buffers_; }

    // x: (rows, in), or (batch, C, H, W) for an image. Returns (rows, out) or an image. With
    // `state`, *state receives what backward needs.
    virtual Tensor forward(OpContext& ctx, const Tensor& x, StatePtr* state) = 0;
    // dx is skipped (empty) when need_dx is false: nothing upstream wants it.
    virtual Tensor backward(OpContext& ctx, LayerState& state, const Tensor& dy, bool need_dx) = 0;
    // Random streams one forward draws: recomputation that skips a layer advances by this.
    int rng_calls() const { return layer_traits(spec_.type).rng_draws(spec_); }

    // Whether backward's state can be put together from the layer's input or output alone, or
    // from its random stream, so that a layer need not run again when its block is recomputed
    // (the traits table says: a linear needs only its input, ReLU/Tanh only their output,
    // dropout only its stream). rebuild() makes that state, keeping the tensor; layers that
    // cannot are never asked.
    using Rebuild = LayerTraits::Rebuild;
    Rebuild rebuild_kind() const { return layer_traits(spec_.type).rebuild; }
    virtual StatePtr rebuild(OpContext& ctx, const Tensor& input, const Tensor& output) { return nullptr; }
    // A tied LM head shares the embedding's table: the executor hands it that parameter.
    virtual void tie(Param* shared) {}

protected:
    LayerSpec spec_;
    std::vector<Param> params_;
    std::vector<Param> buffers_;
};

// A state of one tensor (the common case): a linear's input, an activation's input or output,
// a dropout mask, an embedding's token ids.
struct OneTensorState final : LayerState {
    Tensor kept;
    explicit OneTensorState(Tensor t) : kept(std::move(t)) {}
    std::vector<const Tensor*> tensors() const override { return {&kept}; }
};

// Creates a layer, allocating (and, on a computing backend, initialising) its parameters.
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, OpContext& ctx, const std::string& name,
                                  uint64_t param_stream);

class Loss {
public:
    explicit Loss(LossType type) : type_(type) {}
    // Keeps what backward needs in *state; returns the mean loss (0 in dry runs).
    double forward(OpContext& ctx, const Tensor& out, const Tensor& target, StatePtr* state);
    // grad_scale multiplies the gradient (fp16 loss scaling; 1 otherwise).
    Tensor backward(OpContext& ctx, LayerState& state, float grad_scale = 1.0f);
    LossType type() const { return type_; }

private:
    LossType type_;
};

// One optimizer step over every parameter with a gradient; state is created on first use.
void optimizer_step(OpContext& ctx, const OptimizerSpec& spec, std::vector<Param*>& params, int64_t step);

}  // namespace ckpt
