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

enum class LayerType {
    linear, relu, gelu, tanh, silu, layernorm, rmsnorm, dropout, embedding, attention, swiglu,
    conv2d, batchnorm2d, maxpool2d, avgpool2d, global_avgpool, flatten
};
enum class LossType { mse, cross_entropy };
// Which attention kernel a layer runs: eager keeps the (batch, heads, T, T) softmax output (and a
// dropout mask) for backward, as PyTorch's explicit attention does; flash is the fused kernel of
// FlashAttention-2 (PyTorch's scaled_dot_product_attention): it keeps a log-sum-exp per row and
// head and rebuilds the probabilities tile by tile in backward.
enum class AttentionImpl { eager, flash };
enum class OptimizerType { none, sgd, adamw };
enum class DType { f32 };
// How a step computes (what PyTorch calls autocast): f32 throughout, or mixed precision with an
// f32 optimizer: parameters, gradients and optimizer state in f32, matrix products in bf16 or
// f16 with f32 accumulation, LayerNorm, softmax and the losses in f32; fp16 adds dynamic loss
// scaling.
enum class Precision { f32, bf16_mixed, fp16_mixed };

// What one row of the batch (one sample) carries from layer to layer: flat features, or an
// image of (channels, height, width) stored NCHW, row-major per sample, so that its features
// are c * h * w and every layer that does not care about the layout (ReLU, dropout) sees a
// plain row. Convolutions, batch norm and pooling read h and w; linear layers, norms over
// features and attention take flat features only (a flatten turns an image into them).
struct Features {
    int64_t c = 0, h = 0, w = 0;  // an image (c, h, w); flat features c with h = w = 0

    static Features flat(int64_t n) { return {n, 0, 0}; }
    static Features image(int64_t c, int64_t h, int64_t w) { return {c, h, w}; }
    bool is_image() const { return h > 0; }
    int64_t size() const { return is_image() ? c * h * w : c; }  // features per row
    std::string text() const;  // "512" or "(64, 56, 56)"
    bool operator==(const Features&) const = default;
};

struct LayerSpec {
    LayerType type = LayerType::relu;
    int64_t in = 0, out = 0;  // linear: features; conv2d: channels
    bool bias = true;         // linear, conv2d, layernorm and batchnorm2d (affine)
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
    AttentionImpl impl = AttentionImpl::eager;  // attention: the kernel (a file that does not say means eager)
    // conv2d and pooling: a square kernel, its stride (0: the default, 1 for conv2d and the
    // kernel size for pooling, as PyTorch's) and the padding on each side; conv2d's groups.
    int64_t kernel = 0, stride = 0, padding = 0, groups = 1;
    double momentum = 0.1;    // batchnorm2d: running stats += momentum * (batch stat - running)
    // Selective checkpointing: inside a checkpointed block, a saved layer keeps what its
    // backward needs and its output, so recomputation skips it (BlockSpec::policy custom).
    bool save = false;
    // Sequence parallelism, in one rank's model under a parallel layout only (parallel.cpp; never
    // read from or written to a file): outside the tensor-parallel pairs the sequence is split
    // across the tensor ranks. A linear with sp_gather > 1 all-gathers its split input before the
    // product and keeps only its own split for backward (Megatron-LM's column-parallel linear
    // with sequence parallelism); a linear or an embedding with sp_scatter > 1 reduce-scatters its
    // output into the split. Only a dry run counts them: the other ranks' data is not there.
    int sp_gather = 1, sp_scatter = 1;

    bool operator==(const LayerSpec&) const = default;
};

struct BlockSpec {
    std::string name;
    std::vector<LayerSpec> layers;
    bool residual = false;    // y = x + layers(x)
    // Keep only the input in forward, recompute in backward: the block alone, or with the
    // checkpointed blocks next to it in its segment (ModelSpec::segments) as one run.
    bool checkpoint = false;
    // Which layers of a checkpointed block are saved rather than recomputed:
    //   full            none (recompute the whole block)
    //   save_matmuls    linear and attention layers (their matmul outputs; JAX's dots_saveable)
    //   attention_core  all but the attention layers (Megatron-LM's selective recomputation)
    //   custom          each layer's `save` flag
    enum class Policy { full, save_matmuls, attention_core, custom } policy = Policy::full;
    bool saves(size_t layer) const;  // the effective flag for one layer (an index of layer())
    // A residual block's other paths (ResNet's): y = post(shortcut(x) + layers(x)). The
    // shortcut (a projection such as a strided 1x1 conv2d and a batchnorm2d) replaces the
    // identity when the shape changes; post runs on the sum (ResNet's ReLU after the add). Both
    // empty: y = x + layers(x).
    std::vector<LayerSpec> shortcut;
    std::vector<LayerSpec> post;

    // Every layer of the block in the order it runs: layers, then shortcut, then post. Reports,
    // parameter names ("blocks.B.L.weight") and allocation tags number a block's layers so.
    enum class Part { main, shortcut, post };
    size_t layer_count() const { return layers.size() + shortcut.size() + post.size(); }
    const LayerSpec& layer(size_t i) const;
    LayerSpec& layer(size_t i);
    Part part(size_t i) const;

    bool operator==(const BlockSpec&) const = default;
};

// A run of consecutive blocks, first..last inclusive (block indices after "repeat").
struct BlockRange {
    int first = 0, last = 0;
    int size() const { return last - first + 1; }
    bool contains(int b) const { return b >= first && b <= last; }
    bool operator==(const BlockRange&) const = default;
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
    // (B, features) or (B, T, features): rows = all but the last dim; (B, C, H, W): B rows of
    // an image (the first layer takes images); (B, T) token ids for a model that starts with
    // an embedding.
    std::vector<int64_t> input_shape;
    DType dtype = DType::f32;
    Precision precision = Precision::f32;
    std::vector<BlockSpec> blocks;
    // Segments: runs of two or more consecutive blocks that are checkpointed as one (Chen et al.
    // 2016; torch.utils.checkpoint.checkpoint_sequential). The checkpointed blocks of a segment
    // that are next to each other keep only the first one's input in forward and are recomputed
    // together in backward; a block outside every segment is a segment of one. In block order,
    // disjoint; a transformer layer (attention and MLP blocks) is one. JSON: ["1-2", "3-4"].
    std::vector<BlockRange> segments;
    LossType loss = LossType::mse;
    OptimizerSpec optimizer;
    uint64_t seed = 0;
    bool preserve_rng = true;  // recompute replays the same dropout masks
    std::string description;   // optional free text shown by the GUI and the CLI

    bool operator==(const ModelSpec&) const = default;

    // Token models start with an embedding: the input is (B, T) token ids and rows = B * T.
    bool token_input() const;
    // Image models take (B, C, H, W): four dims, and not token ids.
    bool image_input() const;
    int64_t rows() const;          // product of input_shape[:-1] (of input_shape for tokens; B for images)
    int64_t sequence_length() const;  // T of (B, T, F) or of token input (B, T); else 1
    int64_t input_features() const;   // features per row (C * H * W for an image)
    Features input_shape_features() const;  // what the first layer takes: flat, or (C, H, W)
    int64_t output_features() const;  // features after the last block
    Features output_shape_features() const;
};

std::string_view layer_type_name(LayerType t);
std::string_view policy_name(BlockSpec::Policy p);
std::string_view loss_name(LossType t);
std::string_view precision_name(Precision p);  // "f32", "bf16-mixed", "fp16-mixed"
std::string_view attention_impl_name(AttentionImpl i);  // "eager", "flash"
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

// ---- Segments (segments.cpp) ----

// "4-7", or "5" for one block.
std::string format_block_range(const BlockRange& r);
// "4-7" or "5" (spaces ignored); the error says what is wrong with the text, without a path.
Result<BlockRange> parse_block_range(const std::string& text);
// The first problem of a segment list for a model of `block_count` blocks, as a one-line
// error that starts with its path ("segments[1]: ..."), or "" when there is none: an empty
// segment (first after last), one of a single block, a block out of range, segments that
// overlap or are not in block order.
std::string check_segments(const std::vector<BlockRange>& segments, int block_count);
// The units of checkpointing: the spec's segments and every block outside them alone, in
// block order (they cover every block once). "every:K" and "all" count these.
std::vector<BlockRange> checkpoint_units(const ModelSpec& spec);
std::vector<BlockRange> checkpoint_units(int block_count, const std::vector<BlockRange>& segments);

// ---- Checkpoint sets (checkpoint_set.cpp) ----

// Which blocks are checkpointed and how they group into segments: what --checkpoint, a planner
// or the editor puts on a model (apply_checkpoint).
struct CheckpointSet {
    std::vector<bool> checkpoint;      // per block
    std::vector<BlockRange> segments;  // ModelSpec::segments
    bool operator==(const CheckpointSet&) const = default;
};

// "none", "all", "every:K", a comma list of block indices ("0,3,5", "4-12"), "sqrt" or
// "segments:0-3,4-7". All, every:K and sqrt count checkpoint_units; a block list leaves the
// segments as they are; segments: replaces them. sqrt is Chen et al.'s: ceil(sqrt(n)) segments
// of about equal forward FLOPs, all but the last checkpointed (as checkpoint_sequential runs
// its last segment: its recomputation would follow its forward at once).
Result<CheckpointSet> parse_checkpoint(const std::string& text, const ModelSpec& spec);
// The same on a chain known by its block count, its segments and each block's forward FLOPs
// (sqrt's costs; empty: every unit weighs the same).
Result<CheckpointSet> parse_checkpoint(const std::string& text, int block_count,
                                       const std::vector<BlockRange>& segments, const std::vector<double>& block_flops);
// What backward recomputes as one: in each unit, every run of consecutive checkpointed blocks.
std::vector<BlockRange> recompute_segments(const ModelSpec& spec);
std::vector<BlockRange> recompute_segments(const CheckpointSet& set);
// The text parse_checkpoint reads back to the same set on `spec`: a block list ("0-3,7",
// "none") when the segments are the spec's, else "segments:..." listing what is recomputed.
std::string format_checkpoint(const CheckpointSet& set, const ModelSpec& spec);
void apply_checkpoint(ModelSpec& spec, const CheckpointSet& set);
// The set whose recompute_segments are exactly `runs` (in block order, disjoint) on a model of
// `block_count` blocks with `segments`: the runs checkpointed, the model's segments that touch
// no run kept (a transformer layer's grouping outside them).
CheckpointSet checkpoint_from_runs(const std::vector<BlockRange>& runs, int block_count,
                                   const std::vector<BlockRange>& segments);
CheckpointSet checkpoint_of(const ModelSpec& spec);

// The per-block forms, on a model without segments: parse_checkpoint of a spec of
// `block_count` plain blocks; format_checkpoint_set writes a block list ("0-3,7,9", "none").
Result<std::vector<bool>> parse_checkpoint_set(const std::string& text, int block_count);
std::string format_checkpoint_set(const std::vector<bool>& checkpoint);
// Sets the blocks' flags; the segments stay.
void apply_checkpoint_set(ModelSpec& spec, const std::vector<bool>& checkpoint);
// format_checkpoint of the spec's own plan (its flags and segments).
std::string checkpoint_set_of(const ModelSpec& spec);

}  // namespace ckpt
