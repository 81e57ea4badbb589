// The model spec: the JSON document the GUI saves and the CLI reads. Loading validates every
// field and returns an error naming the first bad one; nothing here allocates tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/result.h"

namespace ckpt {

// The sizes a model or experiment file may reach. Each is checked before the work it bounds
// grows (reading stops at the first value past a limit; "repeat" is multiplied out only after
// the product is checked), and each has a one-line error naming the limit and the field.
inline constexpr size_t kMaxModelFileBytes = size_t(64) << 20;  // the file itself
inline constexpr size_t kMaxJsonDepth = 64;          // arrays and objects nested in each other
inline constexpr size_t kMaxJsonValues = 4000000;    // values of any kind in one file
inline constexpr int kMaxRepeat = 100000;            // a block's "repeat"
inline constexpr size_t kMaxBlocks = 100000;         // blocks after "repeat" is multiplied out
inline constexpr size_t kMaxLayers = 1000000;        // layers after "repeat" is multiplied out

enum class LayerType { linear, relu, gelu, tanh, silu, layernorm, rmsnorm, dropout, embedding, attention, swiglu };
enum class LossType { mse, cross_entropy };
enum class OptimizerType { none, sgd, adamw };
enum class DType { f32 };
// How a step computes (what PyTorch calls autocast): f32 throughout, or mixed precision with an
// f32 optimizer: parameters, gradients and optimizer state in f32, matrix products in bf16 or
// f16 with f32 accumulation, LayerNorm, softmax and the losses in f32; fp16 adds dynamic loss
// scaling.
enum class Precision { f32, bf16_mixed, fp16_mixed };

struct LayerSpec {
    LayerType type = LayerType::relu;
    int64_t in = 0, out = 0;  // linear
    bool bias = true;         // linear, layernorm (affine)
    bool tied = false;        // linear: its weight is the model's embedding table (a tied LM head)
    int64_t dim = 0;          // layernorm, rmsnorm
    double eps = 1e-5;        // layernorm, rmsnorm
    double p = 0.0;           // dropout probability (dropout; attention: on the softmax output)
    int64_t vocab = 0;        // embedding: token ids in [0, vocab) -> rows of a (vocab, dim) table
    int64_t max_len = 0;      // embedding: learned positions for up to max_len tokens (0: none)
    // attention: a fused [Q | K | V] input of (heads + 2 kv_heads) * head size features in,
    // heads * head size out; kv_heads < heads is grouped-query attention (0: as many as heads)
    int64_t heads = 0;
    int64_t kv_heads = 0;
    bool causal = false;      // attention: token t attends to tokens <= t
    double rope_theta = 0.0;  // attention: rotary position embedding base (0: none; LLaMA 10000, Llama 3 500000)
    // Selective checkpointing: inside a checkpointed block, a saved layer keeps what its
    // backward needs and its output, so recomputation skips it (BlockSpec::policy custom).
    bool save = false;

    bool operator==(const LayerSpec&) const = default;
};

struct BlockSpec {
    std::string name;
    std::vector<LayerSpec> layers;
    bool residual = false;    // y = x + layers(x)
    bool checkpoint = false;  // keep only the block input, recompute in backward
    // Which layers of a checkpointed block are saved rather than recomputed:
    //   full            none (recompute the whole block)
    //   save_matmuls    linear and attention layers (their matmul outputs; JAX's dots_saveable)
    //   attention_core  all but the attention layers (Megatron-LM's selective recomputation)
    //   custom          each layer's `save` flag
    enum class Policy { full, save_matmuls, attention_core, custom } policy = Policy::full;
    bool saves(size_t layer) const;  // the effective flag for one layer

    bool operator==(const BlockSpec&) const = default;
};

struct OptimizerSpec {
    OptimizerType type = OptimizerType::sgd;
    double lr = 1e-3;
    double momentum = 0.0;                 // sgd
    double beta1 = 0.9, beta2 = 0.999;     // adamw
    double eps = 1e-8;                     // adamw
    double weight_decay = 0.0;             // adamw (decoupled), sgd (L2)

    bool operator==(const OptimizerSpec&) const = default;
};

struct ModelSpec {
    std::string name;
    std::vector<int64_t> input_shape;  // (B, features) or (B, T, features); rows = all but last
    DType dtype = DType::f32;
    Precision precision = Precision::f32;
    std::vector<BlockSpec> blocks;
    LossType loss = LossType::mse;
    OptimizerSpec optimizer;
    uint64_t seed = 0;
    bool preserve_rng = true;  // recompute replays the same dropout masks
    std::string description;   // optional free text shown by the GUI and the CLI

    bool operator==(const ModelSpec&) const = default;

    // Token models start with an embedding: the input is (B, T) token ids and rows = B * T.
    bool token_input() const;
    int64_t rows() const;          // product of input_shape[:-1] (of input_shape for tokens)
    int64_t sequence_length() const;  // T of (B, T, F) or of token input (B, T); else 1
    int64_t input_features() const;
    int64_t output_features() const;  // features after the last block
};

std::string_view layer_type_name(LayerType t);
std::string_view policy_name(BlockSpec::Policy p);
std::string_view loss_name(LossType t);
std::string_view precision_name(Precision p);  // "f32", "bf16-mixed", "fp16-mixed"
std::string_view optimizer_name(OptimizerType t);

// Parse and validate. The error names the field path and the reason in one line.
Result<ModelSpec> parse_model_spec(const std::string& json_text);
Result<ModelSpec> load_model_spec(const std::string& path);
// Shape check of an in-memory spec (the GUI edits one): same rules and messages as parsing.
Status validate_model_spec(const ModelSpec& spec);
// The canonical JSON of a spec (what the GUI saves); parse_model_spec(to_json(s)) == s.
std::string to_json(const ModelSpec& spec);
// Writes to_json(spec) to `path` atomically (a failed write leaves the old file whole).
Status save_model_spec(const std::string& path, const ModelSpec& spec);

// "none", "all", "sqrt", "every:K" or a comma list of block indices ("0,3,5").
Result<std::vector<bool>> parse_checkpoint_set(const std::string& text, int block_count);
// The block-list form of a set, which parse_checkpoint_set reads back: "0-3,7,9", "none".
std::string format_checkpoint_set(const std::vector<bool>& checkpoint);
void apply_checkpoint_set(ModelSpec& spec, const std::vector<bool>& checkpoint);

}  // namespace ckpt
