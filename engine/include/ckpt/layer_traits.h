// Every fact about a layer type that is not its arithmetic, in one table: its JSON name and
// fields, its width after the layer, its parameters, what it keeps for backward, its FLOPs and
// random draws, how a recomputation can rebuild its state. The parser, the validator, the JSON
// writer, the planner's cost model, the GUI's stack model and the CLI's help all read this
// table; a new layer type is one entry here plus its kernels and its layer class.
//
// (The tests' hand counts of kept bytes stay written out independently: they are the oracle
// the table and the executor are checked against.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/model_spec.h"

namespace ckpt {

// A JSON field a layer type reads besides "type" and "save".
struct LayerField {
    enum class Kind { dim, number, flag, choice } kind;
    const char* key;   // "in", "eps", "bias", ...
    bool required;
    int64_t LayerSpec::*dim = nullptr;  // the member the field sets, by kind
    double LayerSpec::*number = nullptr;
    bool LayerSpec::*flag = nullptr;
    const char* help = "";
    // What the validator accepts. A required dim is in [1, 2^31 - 1], an optional one may be 0
    // ("none"); a number is finite and positive, or a probability in [0, 1).
    // A fraction is in [0, 1] (batchnorm2d's momentum).
    enum class Range { any, positive, non_negative, probability, fraction } range = Range::any;
    // A choice among names (attention's "impl"): the names in the order the GUI offers them (the
    // first is the default), and the spec's value as an index into them.
    std::vector<std::string_view> choices = {};
    int (*get_choice)(const LayerSpec&) = nullptr;
    void (*set_choice)(LayerSpec&, int) = nullptr;
};

// What the validator knows about a layer's place in the model, for the checks a type adds.
struct LayerPlace {
    bool first_in_model;  // the model's first layer (an embedding must be)
    int64_t rows, seq;    // rows of the batch, sequence length
    Features in;          // features coming in (flat, or an image)
    const LayerSpec* embedding = nullptr;  // the model's first layer when it is an embedding
};

// Where a layer's input width comes from for a given spec: what the layer's own fields say it
// takes, so the validator can check it and the GUI can keep it in step when widths change.
struct LayerTraits {
    LayerType type;
    const char* name;     // the JSON "type"
    const char* summary;  // one line for help texts and tooltips
    std::vector<LayerField> fields;
    // Recomputation: a layer whose backward needs only its input (or only its output) can
    // rebuild its backward state from that tensor without running again; dropout's mask comes
    // from its random stream alone (from_stream), so it needs neither.
    enum class Rebuild { no, from_input, from_output, from_stream } rebuild;
    const char* keeps;    // what it keeps for backward, in words (the table of layers/layer.h)

    // Features after the layer for `in` coming in (attention: a fused QKV of 3d -> d; conv2d:
    // an image of out channels at the strided size).
    Features (*out_features)(const LayerSpec& l, const Features& in);
    // Sets the fields that must equal the incoming width (linear "in", layernorm "dim",
    // conv2d "in_channels").
    void (*take_input)(LayerSpec& l, const Features& in);
    // Parameter shapes, row-major, in the order the layer creates them.
    std::vector<std::vector<int64_t>> (*params)(const LayerSpec& l);
    // Bytes this layer keeps for backward when it is not checkpointed, before tensors shared
    // with the neighbouring layer are counted once (rows of the batch, T, features in).
    int64_t (*kept_bytes)(const LayerSpec& l, int64_t rows, int64_t seq, const Features& in);
    // Forward FLOPs (rows, T, features in); the backward costs about twice this for matrix
    // products and about as much for elementwise layers.
    double (*forward_flops)(const LayerSpec& l, double rows, double seq, const Features& in);
    // Random streams one forward draws (dropout masks).
    int (*rng_draws)(const LayerSpec& l);
    // The field that must equal the features coming in ("in", "dim"), or null.
    const char* input_field = nullptr;
    // The checks a type needs beyond its fields' ranges, the input width and the sizes of its
    // parameters and output: sets *field (a key, or "type") and returns the reason, or "".
    std::string (*check)(const LayerSpec& l, const LayerPlace& at, std::string* field) = nullptr;
    // How a parameter is named in size errors ("weight", "table"), by position.
    std::vector<const char*> param_names = {};
    // What comes in: flat features (a linear), an image (a convolution), or either (ReLU).
    enum class Takes { flat, image, any } takes = Takes::flat;
    // Buffers: state a layer keeps across steps that is not trained (batch norm's running
    // statistics), shapes in the order the layer creates them; they count as `buffer` bytes.
    std::vector<std::vector<int64_t>> (*buffers)(const LayerSpec& l) = nullptr;
};

// The largest head size the flash kernel takes (FlashAttention-2's; its GPU tiles are sized by it).
inline constexpr int64_t kMaxFlashHeadSize = 256;

const std::vector<LayerTraits>& all_layer_traits();
const LayerTraits& layer_traits(LayerType type);
// The traits of the JSON name `name`, or null.
const LayerTraits* find_layer_traits(std::string_view name);
// "linear, relu, gelu, tanh, silu, layernorm, dropout, embedding or attention".
std::string layer_type_list();
int64_t parameter_count(const LayerSpec& l);
int64_t buffer_count(const LayerSpec& l);  // elements of its buffers
// The features after one layer, and after a whole block (its main path, then post; a residual
// block's shortcut ends where its main path does).
Features layer_output(const LayerSpec& l, const Features& in);
Features block_output(const BlockSpec& b, const Features& in);
// Whether a checkpointed block's residual sum is needed again in its recomputation (post's first
// layer runs again, or rebuilds from its input; without post, when the block's output is
// consumed). `output_consumed`: the block is not the last of its checkpointed run, so the next
// block's recomputation takes its output.
bool recomputed_sum_needed(const BlockSpec& b, bool output_consumed = false);
// Which layers (layer() order) a checkpointed block runs again when it is recomputed: not the
// saved ones, and not one whose backward state can be rebuilt without its output (from its
// input, or dropout's from its random stream) when nothing after it consumes that output (the
// last block of a run: its output only ever fed the next run or the loss). The executor runs
// exactly these; the planner's recompute FLOPs count exactly these.
std::vector<bool> recomputed_layers(const BlockSpec& b, bool output_consumed = false);
// Why a block's selective policy, when the block is checkpointed, avoids little or nothing, in
// one sentence that starts with what ("attention_core saves nothing here: ..."), or "" when it
// avoids what it is meant to. attention_core on a block without attention saves every layer;
// on a block whose attention layers are all fused (flash) it recomputes the attention core to
// avoid only the core's output and log-sum-exp, the kernel keeping no T x T tensors anyway.
std::string policy_note(const BlockSpec& b);
// The notes of a model's blocks (of its checkpointed ones, or of all), each sentence once with the
// blocks it concerns: "blocks 1,3,5 (3 blocks): attention_core saves little here: ...".
std::vector<std::string> policy_notes(const ModelSpec& spec, bool checkpointed_only);
// conv2d's and pooling's effective stride (a stride of 0 is the layer's default).
int64_t effective_stride(const LayerSpec& l);
// The output size of a convolution or pooling window along one side: (n + 2p - k) / s + 1.
int64_t window_output(int64_t n, int64_t kernel, int64_t stride, int64_t padding);
// "a linear layer", "an embedding layer": how messages name a layer of this type.
std::string layer_kind_phrase(const LayerTraits& t);

}  // namespace ckpt
