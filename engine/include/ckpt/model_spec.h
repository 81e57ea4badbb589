// The model spec: the JSON document the GUI saves and the CLI reads. Loading validates every
// field and returns an error naming the first bad one; nothing here allocates tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/result.h"

namespace ckpt {

enum class LayerType { linear, relu, gelu, tanh, layernorm, dropout };
enum class LossType { mse, cross_entropy };
enum class OptimizerType { none, sgd, adamw };
enum class DType { f32 };

struct LayerSpec {
    LayerType type = LayerType::relu;
    int64_t in = 0, out = 0;  // linear
    bool bias = true;         // linear, layernorm (affine)
    int64_t dim = 0;          // layernorm
    double eps = 1e-5;        // layernorm
    double p = 0.0;           // dropout probability
};

struct BlockSpec {
    std::string name;
    std::vector<LayerSpec> layers;
    bool residual = false;    // y = x + layers(x)
    bool checkpoint = false;  // keep only the block input, recompute in backward
};

struct OptimizerSpec {
    OptimizerType type = OptimizerType::sgd;
    double lr = 1e-3;
    double momentum = 0.0;                 // sgd
    double beta1 = 0.9, beta2 = 0.999;     // adamw
    double eps = 1e-8;                     // adamw
    double weight_decay = 0.0;             // adamw (decoupled), sgd (L2)
};

struct ModelSpec {
    std::string name;
    std::vector<int64_t> input_shape;  // (B, features) or (B, T, features); rows = all but last
    DType dtype = DType::f32;
    std::vector<BlockSpec> blocks;
    LossType loss = LossType::mse;
    OptimizerSpec optimizer;
    uint64_t seed = 0;
    bool preserve_rng = true;  // recompute replays the same dropout masks

    int64_t rows() const;          // product of input_shape[:-1]
    int64_t input_features() const;
    int64_t output_features() const;  // features after the last block
};

std::string_view layer_type_name(LayerType t);
std::string_view loss_name(LossType t);
std::string_view optimizer_name(OptimizerType t);

// Parse and validate. The error names the field path and the reason in one line.
Result<ModelSpec> parse_model_spec(const std::string& json_text);
Result<ModelSpec> load_model_spec(const std::string& path);
// Shape check of an in-memory spec (the GUI edits one): same rules and messages as parsing.
Status validate_model_spec(const ModelSpec& spec);
// The canonical JSON of a spec (what the GUI saves); parse_model_spec(to_json(s)) == s.
std::string to_json(const ModelSpec& spec);

// "none", "all", "sqrt", "every:K" or a comma list of block indices ("0,3,5").
Result<std::vector<bool>> parse_checkpoint_policy(const std::string& text, int block_count);
void apply_checkpoint_policy(ModelSpec& spec, const std::vector<bool>& checkpoint);

}  // namespace ckpt
