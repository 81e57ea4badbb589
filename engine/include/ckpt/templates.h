// Models people train, one call away: parametrised templates (an MLP, a residual MLP, GPT-2 and
// LLaMA-style decoders) and a reader for Hugging Face-style config.json files of GPT-2 and
// LLaMA, Mistral and Qwen2 architectures. Both produce an ordinary model spec; the GUI's
// File > New from template and File > Import config and `checkpointlab import` call them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/result.h"

namespace ckpt {

enum class TemplateKind { mlp, residual_mlp, gpt2, llama, resnet };

// The knobs of a template; each template reads the ones that apply to it.
struct TemplateKnobs {
    int64_t batch = 8;
    int64_t seq = 256;        // token models
    int64_t depth = 4;        // blocks (MLPs), transformer layers or ResNet basic blocks per stage
    int64_t width = 512;      // features (MLPs), the hidden size d or a ResNet's first-stage channels
    int64_t heads = 8;
    int64_t kv_heads = 8;     // LLaMA: grouped-query when fewer than heads
    int64_t ffn = 0;          // LLaMA: the SwiGLU width f (0: 8/3 d rounded up to a multiple of 64)
    int64_t vocab = 32000;
    int64_t image = 32;       // ResNet: the side of its square RGB input images
    double dropout = 0.0;
    bool tied = false;        // the LM head shares the embedding table
    Precision precision = Precision::f32;
    // GPT-2 and LLaMA: the attention kernel (flash, as Hugging Face's default sdpa).
    AttentionImpl attention = AttentionImpl::flash;
};

std::string_view template_name(TemplateKind k);  // "mlp", "residual_mlp", "gpt2", "llama", "resnet"
Result<TemplateKind> parse_template(const std::string& name);
// The template with its knobs (validated; an impossible combination is a one-line error).
Result<ModelSpec> make_template(TemplateKind kind, const TemplateKnobs& knobs);

// A model spec from a Hugging Face-style config.json: GPT-2 (n_embd, n_layer, n_head,
// vocab_size, n_positions, n_inner, layer_norm_epsilon, tie_word_embeddings) or LLaMA,
// Mistral, Qwen2 (hidden_size, intermediate_size, num_attention_heads, num_key_value_heads,
// num_hidden_layers, vocab_size, tie_word_embeddings, rms_norm_eps, rope_theta, head_dim,
// attention_bias, mlp_bias; Qwen2's query/key/value projections carry a bias), at `batch`
// sequences of `seq` tokens, on the flash attention kernel (Hugging Face's default is sdpa, a fused
// kernel). The parameter count equals the published one. An unknown architecture or a missing
// field is a one-line error naming it.
Result<ModelSpec> import_hf_config(const std::string& json_text, int64_t batch, int64_t seq);
Result<ModelSpec> import_hf_config_file(const std::string& path, int64_t batch, int64_t seq);

// Puts every attention layer of `spec` on kernel `impl`.
void set_attention_impl(ModelSpec& spec, AttentionImpl impl);

// Parameters of a spec, as the engine allocates them (a tied head counted once).
int64_t parameter_count(const ModelSpec& spec);

}  // namespace ckpt
