// Templates and Hugging Face config import (templates.h). Both build an ordinary ModelSpec and
// pass it through validate_model_spec, so a template or a config that cannot work gets the same
// one-line errors as a hand-written file. The block layout is the one the presets use: a
// transformer layer is an attention sub-block and an MLP sub-block, each residual, grouped as
// one segment, so checkpointing a layer keeps one tensor (Korthikanti et al.'s "full
// recomputation") while a plan can still pick either block; the importer's layout is checked
// against published parameter counts (tests/data/configs), which catch a missing bias or an
// untied head to the parameter.
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/layer_traits.h"
#include "ckpt/printable.h"
#include "ckpt/templates.h"
#include "ckpt/units.h"
#include "io/files.h"
#include "spec/json_reader.h"

namespace ckpt {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxConfigBytes = size_t(4) << 20;  // configs are a few KiB
constexpr JsonLimits kConfigJsonLimits{kMaxJsonDepth, 100000, "config files"};

LayerSpec linear(int64_t in, int64_t out, bool bias = true) {
    LayerSpec l;
    l.type = LayerType::linear;
    l.in = in;
    l.out = out;
    l.bias = bias;
    return l;
}
LayerSpec of_type(LayerType t) {
    LayerSpec l;
    l.type = t;
    return l;
}
LayerSpec norm(LayerType t, int64_t dim, double eps) {
    LayerSpec l;
    l.type = t;
    l.dim = dim;
    l.eps = eps;
    return l;
}
LayerSpec dropout(double p) {
    LayerSpec l;
    l.type = LayerType::dropout;
    l.p = p;
    return l;
}
LayerSpec embedding(int64_t vocab, int64_t dim, int64_t max_len) {
    LayerSpec l;
    l.type = LayerType::embedding;
    l.vocab = vocab;
    l.dim = dim;
    l.max_len = max_len;
    return l;
}
LayerSpec conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    LayerSpec l;
    l.type = LayerType::conv2d;
    l.in = in;
    l.out = out;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    l.bias = false;  // a batch norm follows: a bias would have nothing to learn
    return l;
}
LayerSpec batchnorm(int64_t channels) {
    LayerSpec l;
    l.type = LayerType::batchnorm2d;
    l.dim = channels;
    return l;
}

BlockSpec block(std::string name, std::vector<LayerSpec> layers, bool residual) {
    BlockSpec b;
    b.name = std::move(name);
    b.layers = std::move(layers);
    b.residual = residual;
    return b;
}

// "h3.attn". Built by appending: GCC 12 warns falsely (-Wrestrict, its bug 105651) on
// "h" + std::to_string(i) + ".attn".
std::string numbered(const char* prefix, int64_t i, const char* suffix = "") {
    std::string s = prefix;
    s += std::to_string(i);
    s += suffix;
    return s;
}

// The segment of the transformer layer whose two blocks come next in `s`.
BlockRange layer_segment(const ModelSpec& s) {
    const int first = int(s.blocks.size());
    return {first, first + 1};
}

// The shape of a GPT-2 model, from the template's knobs or from a config.json.
struct Gpt2Shape {
    int64_t vocab, positions, d, layers, heads, inner;
    double eps, dropout;
    bool tied;
    AttentionImpl attention = AttentionImpl::flash;
};

ModelSpec gpt2_spec(const Gpt2Shape& g, int64_t batch, int64_t seq) {
    ModelSpec s;
    s.input_shape = {batch, seq};
    s.loss = LossType::cross_entropy;
    s.optimizer.type = OptimizerType::adamw;
    s.optimizer.lr = 3e-4;
    s.optimizer.beta2 = 0.95;
    s.optimizer.weight_decay = 0.1;
    // GPT-2 adds learned positions to the token rows, then drops out (embd_pdrop).
    std::vector<LayerSpec> embed = {embedding(g.vocab, g.d, g.positions)};
    if (g.dropout > 0) embed.push_back(dropout(g.dropout));
    s.blocks.push_back(block("embed", embed, false));
    for (int64_t i = 0; i < g.layers; ++i) {
        LayerSpec attn = of_type(LayerType::attention);
        attn.heads = g.heads;
        attn.causal = true;
        attn.p = g.dropout;
        attn.impl = g.attention;
        std::vector<LayerSpec> a = {norm(LayerType::layernorm, g.d, g.eps), linear(g.d, 3 * g.d), attn,
                                    linear(g.d, g.d)};
        std::vector<LayerSpec> m = {norm(LayerType::layernorm, g.d, g.eps), linear(g.d, g.inner),
                                    of_type(LayerType::gelu), linear(g.inner, g.d)};
        if (g.dropout > 0) {
            a.push_back(dropout(g.dropout));
            m.push_back(dropout(g.dropout));
        }
        s.segments.push_back(layer_segment(s));
        s.blocks.push_back(block(numbered("h", i, ".attn"), a, true));
        s.blocks.push_back(block(numbered("h", i, ".mlp"), m, true));
    }
    LayerSpec head = linear(g.d, g.vocab, false);
    head.tied = g.tied;
    s.blocks.push_back(block("head", {norm(LayerType::layernorm, g.d, g.eps), head}, false));
    return s;
}

// The shape of a LLaMA-family decoder (LLaMA, Mistral, Qwen2).
struct LlamaShape {
    int64_t vocab, d, layers, heads, kv_heads, head_dim, ffn;
    double eps, rope_theta;
    bool qkv_bias, out_bias, mlp_bias, tied;
    AttentionImpl attention = AttentionImpl::flash;
};

ModelSpec llama_spec(const LlamaShape& g, int64_t batch, int64_t seq) {
    ModelSpec s;
    s.input_shape = {batch, seq};
    s.loss = LossType::cross_entropy;
    s.optimizer.type = OptimizerType::adamw;
    s.optimizer.lr = 3e-4;
    s.optimizer.beta2 = 0.95;
    s.optimizer.weight_decay = 0.1;
    s.blocks.push_back(block("embed", {embedding(g.vocab, g.d, 0)}, false));
    for (int64_t i = 0; i < g.layers; ++i) {
        LayerSpec attn = of_type(LayerType::attention);
        attn.heads = g.heads;
        attn.kv_heads = g.kv_heads;
        attn.causal = true;
        attn.rope_theta = g.rope_theta;
        attn.impl = g.attention;
        // q, k and v projections as one fused linear: (heads + 2 kv_heads) head_dim features.
        const int64_t qkv = (g.heads + 2 * g.kv_heads) * g.head_dim;
        s.segments.push_back(layer_segment(s));
        s.blocks.push_back(block(numbered("l", i, ".attn"),
                                 {norm(LayerType::rmsnorm, g.d, g.eps), linear(g.d, qkv, g.qkv_bias), attn,
                                  linear(g.heads * g.head_dim, g.d, g.out_bias)},
                                 true));
        // gate and up projections as one fused linear [gate | up] of 2 ffn features.
        s.blocks.push_back(block(numbered("l", i, ".mlp"),
                                 {norm(LayerType::rmsnorm, g.d, g.eps), linear(g.d, 2 * g.ffn, g.mlp_bias),
                                  of_type(LayerType::swiglu), linear(g.ffn, g.d, g.mlp_bias)},
                                 true));
    }
    LayerSpec head = linear(g.d, g.vocab, false);
    head.tied = g.tied;
    s.blocks.push_back(block("head", {norm(LayerType::rmsnorm, g.d, g.eps), head}, false));
    return s;
}

Result<ModelSpec> validated(ModelSpec s, const std::string& what) {
    Status st = validate_model_spec(s);
    if (!st) return Error{what + ": " + st.message()};
    return s;
}

std::string knob_error(const std::string& what, const std::string& reason) { return what + ": " + reason; }

}  // namespace

std::string_view template_name(TemplateKind k) {
    switch (k) {
        case TemplateKind::mlp: return "mlp";
        case TemplateKind::residual_mlp: return "residual_mlp";
        case TemplateKind::gpt2: return "gpt2";
        case TemplateKind::llama: return "llama";
        case TemplateKind::resnet: return "resnet";
    }
    return "?";
}

Result<TemplateKind> parse_template(const std::string& name) {
    for (TemplateKind k : {TemplateKind::mlp, TemplateKind::residual_mlp, TemplateKind::gpt2, TemplateKind::llama,
                           TemplateKind::resnet})
        if (template_name(k) == name) return k;
    return Error{"unknown template '" + name + "' (one of: mlp, residual_mlp, gpt2, llama, resnet)"};
}

Result<ModelSpec> make_template(TemplateKind kind, const TemplateKnobs& k) {
    const std::string what = "template " + std::string(template_name(kind));
    auto positive = [&](int64_t v, const char* name) -> std::string {
        return v >= 1 ? "" : knob_error(what, std::string(name) + " must be at least 1, got " + std::to_string(v));
    };
    for (auto [v, name] : {std::pair{k.batch, "batch"}, {k.depth, "depth"}, {k.width, "width"}})
        if (auto e = positive(v, name); !e.empty()) return Error{e};
    if (!(k.dropout >= 0 && k.dropout < 1))
        return Error{knob_error(what, "dropout must be in [0, 1), got " + std::to_string(k.dropout))};
    const bool tokens = kind == TemplateKind::gpt2 || kind == TemplateKind::llama;
    if (tokens) {
        for (auto [v, name] : {std::pair{k.seq, "seq"}, {k.heads, "heads"}, {k.vocab, "vocab"}})
            if (auto e = positive(v, name); !e.empty()) return Error{e};
        if (k.width % k.heads != 0)
            return Error{knob_error(what, "width " + std::to_string(k.width) + " is not a multiple of heads " +
                                              std::to_string(k.heads))};
    }

    ModelSpec s;
    switch (kind) {
        case TemplateKind::mlp: {
            // The textbook classifier: depth hidden layers of Linear + ReLU, 10 classes.
            s.input_shape = {k.batch, k.width};
            s.loss = LossType::cross_entropy;
            s.optimizer.type = OptimizerType::sgd;
            s.optimizer.lr = 0.01;
            s.optimizer.momentum = 0.9;
            for (int64_t i = 0; i < k.depth; ++i) {
                std::vector<LayerSpec> layers = {linear(k.width, k.width), of_type(LayerType::relu)};
                if (k.dropout > 0) layers.push_back(dropout(k.dropout));
                s.blocks.push_back(block(numbered("fc", i), layers, false));
            }
            s.blocks.push_back(block("classifier", {linear(k.width, 10)}, false));
            s.description = std::to_string(k.depth) + " hidden layers of " + std::to_string(k.width) +
                            " units (Linear + ReLU) and a 10-class classifier, SGD with momentum.";
            break;
        }
        case TemplateKind::residual_mlp: {
            // Pre-norm residual blocks x + Linear(GELU(Linear(LayerNorm(x)))) with a 4x hidden width.
            s.input_shape = {k.batch, k.width};
            s.loss = LossType::mse;
            s.optimizer.type = OptimizerType::adamw;
            s.optimizer.weight_decay = 0.01;
            for (int64_t i = 0; i < k.depth; ++i) {
                std::vector<LayerSpec> layers = {norm(LayerType::layernorm, k.width, 1e-5), linear(k.width, 4 * k.width),
                                                 of_type(LayerType::gelu), linear(4 * k.width, k.width)};
                if (k.dropout > 0) layers.push_back(dropout(k.dropout));
                s.blocks.push_back(block(numbered("block", i), layers, true));
            }
            s.description = std::to_string(k.depth) + " pre-norm residual MLP blocks of width " +
                            std::to_string(k.width) + " (4x hidden), MSE loss, AdamW.";
            break;
        }
        case TemplateKind::gpt2: {
            s = gpt2_spec({k.vocab, k.seq, k.width, k.depth, k.heads, 4 * k.width, 1e-5, k.dropout, k.tied, k.attention},
                          k.batch, k.seq);
            s.description = "GPT-2-style decoder: " + std::to_string(k.depth) + " layers, d " + std::to_string(k.width) +
                            ", " + std::to_string(k.heads) + " heads, vocabulary " + std::to_string(k.vocab) +
                            ", learned positions, " + (k.tied ? "head tied to the embedding" : "untied head") + ", " +
                            std::string(attention_impl_name(k.attention)) + " attention.";
            break;
        }
        case TemplateKind::llama: {
            if (auto e = positive(k.kv_heads, "kv_heads"); !e.empty()) return Error{e};
            if (k.heads % k.kv_heads != 0)
                return Error{knob_error(what, "heads " + std::to_string(k.heads) + " is not a multiple of kv_heads " +
                                                  std::to_string(k.kv_heads))};
            if (k.ffn < 0) return Error{knob_error(what, "ffn must be at least 0, got " + std::to_string(k.ffn))};
            // LLaMA's hidden width: 2/3 of 4d, rounded up to a multiple of 64.
            const int64_t ffn = k.ffn > 0 ? k.ffn : (8 * k.width / 3 + 63) / 64 * 64;
            s = llama_spec({k.vocab, k.width, k.depth, k.heads, k.kv_heads, k.width / k.heads, ffn, 1e-5, 10000.0,
                            false, false, false, k.tied, k.attention},
                           k.batch, k.seq);
            s.description = "LLaMA-style decoder: " + std::to_string(k.depth) + " layers, d " + std::to_string(k.width) +
                            ", " + std::to_string(k.heads) + " heads (" + std::to_string(k.kv_heads) +
                            " key/value heads), SwiGLU width " + std::to_string(ffn) + ", rotary positions, " +
                            (k.tied ? "head tied to the embedding" : "untied head") + ", " +
                            std::string(attention_impl_name(k.attention)) + " attention.";
            break;
        }
        case TemplateKind::resnet: {
            // A CIFAR-style ResNet (He et al. 2016): a 3x3 stem, three stages of `depth` basic
            // blocks at width, 2 width and 4 width channels, each later stage starting at stride
            // 2 with a [1x1 conv, batch norm] projection shortcut; global pooling, 10 classes.
            if (auto e = positive(k.image, "image"); !e.empty()) return Error{e};
            s.input_shape = {k.batch, 3, k.image, k.image};
            s.loss = LossType::cross_entropy;
            s.optimizer.type = OptimizerType::sgd;
            s.optimizer.lr = 0.1;
            s.optimizer.momentum = 0.9;
            const LayerSpec relu = of_type(LayerType::relu);
            s.blocks.push_back(block("stem", {conv(3, k.width, 3, 1, 1), batchnorm(k.width), relu}, false));
            int64_t c = k.width;
            for (int64_t stage = 0; stage < 3; ++stage) {
                const int64_t w = k.width << stage;
                for (int64_t i = 0; i < k.depth; ++i) {
                    const int64_t stride = stage > 0 && i == 0 ? 2 : 1;
                    BlockSpec b = block(numbered("s", stage + 1, (".b" + std::to_string(i)).c_str()),
                                        {conv(c, w, 3, stride, 1), batchnorm(w), relu, conv(w, w, 3, 1, 1), batchnorm(w)},
                                        true);
                    if (stride != 1 || c != w) b.shortcut = {conv(c, w, 1, stride, 0), batchnorm(w)};
                    b.post = {relu};
                    s.blocks.push_back(std::move(b));
                    c = w;
                }
            }
            s.blocks.push_back(
                block("head", {of_type(LayerType::global_avgpool), of_type(LayerType::flatten), linear(c, 10)}, false));
            s.description = "ResNet-" + std::to_string(6 * k.depth + 2) + " for " + std::to_string(k.image) + "x" +
                            std::to_string(k.image) + " images: three stages of " + std::to_string(k.depth) +
                            " basic blocks at " + std::to_string(k.width) + ", " + std::to_string(2 * k.width) + " and " +
                            std::to_string(4 * k.width) + " channels with batch norm, a 10-class head, SGD with momentum.";
            break;
        }
    }
    s.name = std::string(template_name(kind));
    s.precision = k.precision;
    return validated(std::move(s), what);
}

namespace {

// Field access for config.json, each failure a one-line error naming the key.
struct Config {
    const json& j;
    std::string arch;

    const json* find(const char* key) const {
        auto it = j.find(key);
        return it == j.end() || it->is_null() ? nullptr : &*it;
    }
    int64_t integer(const char* key) const {
        const json* v = find(key);
        if (!v) throw Error{"config.json (" + printable(arch) + "): missing field \"" + key + "\""};
        if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > 2147483647)
            throw Error{"config.json: \"" + std::string(key) + "\" must be a positive integer, got " + json_shown(*v)};
        return v->get<int64_t>();
    }
    int64_t integer_or(const char* key, int64_t fallback) const { return find(key) ? integer(key) : fallback; }
    double number_or(const char* key, double fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>()))
            throw Error{"config.json: \"" + std::string(key) + "\" must be a positive number, got " + json_shown(*v)};
        return v->get<double>();
    }
    double probability_or(const char* key, double fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number() || !(v->get<double>() >= 0 && v->get<double>() < 1))
            throw Error{"config.json: \"" + std::string(key) + "\" must be a probability in [0, 1), got " + json_shown(*v)};
        return v->get<double>();
    }
    bool flag_or(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) throw Error{"config.json: \"" + std::string(key) + "\" must be true or false, got " + json_shown(*v)};
        return v->get<bool>();
    }
    std::string text_or(const char* key, const std::string& fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_string()) throw Error{"config.json: \"" + std::string(key) + "\" must be a string, got " + json_shown(*v)};
        return v->get<std::string>();
    }
};

// The architecture named by "model_type", or failing that by "architectures"[0].
std::string architecture_of(const json& j) {
    if (auto it = j.find("model_type"); it != j.end() && it->is_string()) return it->get<std::string>();
    if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
        const std::string a = (*it)[0].get<std::string>();
        if (a == "GPT2LMHeadModel") return "gpt2";
        if (a == "LlamaForCausalLM") return "llama";
        if (a == "MistralForCausalLM") return "mistral";
        if (a == "Qwen2ForCausalLM") return "qwen2";
        return a;
    }
    throw Error{"config.json: no \"model_type\" or \"architectures\" says which architecture this is"};
}

ModelSpec import_gpt2(const Config& c, int64_t batch, int64_t seq, std::string* note) {
    const std::string act = c.text_or("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu")
        throw Error{"config.json: activation_function \"" + printable(act) + "\" is not supported (gelu_new)"};
    if (act == "gelu") *note += " activation_function gelu (erf) computed with the tanh approximation;";
    Gpt2Shape g;
    g.vocab = c.integer("vocab_size");
    g.d = c.integer("n_embd");
    g.layers = c.integer("n_layer");
    g.heads = c.integer("n_head");
    g.positions = c.integer_or("n_positions", 1024);
    g.inner = c.integer_or("n_inner", 4 * g.d);
    g.eps = c.number_or("layer_norm_epsilon", 1e-5);
    // One dropout probability for all three sites; they differ in no published GPT-2 config.
    g.dropout = c.probability_or("resid_pdrop", 0.1);
    const double embd = c.probability_or("embd_pdrop", g.dropout), attn = c.probability_or("attn_pdrop", g.dropout);
    if (embd != g.dropout || attn != g.dropout)
        throw Error{"config.json: resid_pdrop, embd_pdrop and attn_pdrop differ; one dropout probability is supported"};
    g.tied = c.flag_or("tie_word_embeddings", true);
    if (g.d % g.heads != 0)
        throw Error{"config.json: n_embd " + std::to_string(g.d) + " is not a multiple of n_head " + std::to_string(g.heads)};
    if (seq > g.positions)
        throw Error{"--seq " + std::to_string(seq) + " exceeds the model's n_positions " + std::to_string(g.positions)};
    return gpt2_spec(g, batch, seq);
}

ModelSpec import_llama(const Config& c, int64_t batch, int64_t seq, std::string* note) {
    const std::string act = c.text_or("hidden_act", "silu");
    if (act != "silu") throw Error{"config.json: hidden_act \"" + printable(act) + "\" is not supported (silu, for SwiGLU)"};
    LlamaShape g;
    g.vocab = c.integer("vocab_size");
    g.d = c.integer("hidden_size");
    g.layers = c.integer("num_hidden_layers");
    g.heads = c.integer("num_attention_heads");
    g.kv_heads = c.integer_or("num_key_value_heads", g.heads);
    g.ffn = c.integer("intermediate_size");
    g.head_dim = c.integer_or("head_dim", 0);
    if (g.head_dim == 0) {
        if (g.d % g.heads != 0)
            throw Error{"config.json: hidden_size " + std::to_string(g.d) + " is not a multiple of num_attention_heads " +
                        std::to_string(g.heads)};
        g.head_dim = g.d / g.heads;
    }
    if (g.heads % g.kv_heads != 0)
        throw Error{"config.json: num_attention_heads " + std::to_string(g.heads) +
                    " is not a multiple of num_key_value_heads " + std::to_string(g.kv_heads)};
    g.eps = c.number_or("rms_norm_eps", 1e-6);
    g.rope_theta = c.number_or("rope_theta", 10000.0);
    g.tied = c.flag_or("tie_word_embeddings", false);
    // Qwen2 puts a bias on the q, k and v projections; LLaMA's attention_bias puts one on all four.
    const bool attention_bias = c.flag_or("attention_bias", false);
    g.qkv_bias = c.arch == "qwen2" || attention_bias;
    g.out_bias = attention_bias;
    g.mlp_bias = c.flag_or("mlp_bias", false);
    if (c.find("rope_scaling"))
        *note += " rope_scaling not modelled (plain rotary positions; memory and time are the same);";
    // A sliding window changes which tokens attend, not what a dense attention keeps; it matters
    // only when the sequence is longer than the window.
    const bool sliding = c.arch == "mistral" ? c.find("sliding_window") != nullptr
                                             : c.flag_or("use_sliding_window", false) && c.find("sliding_window");
    if (sliding && seq > c.integer("sliding_window"))
        throw Error{"--seq " + std::to_string(seq) + " exceeds the model's sliding_window " +
                    std::to_string(c.integer("sliding_window")) + "; sliding-window attention is not supported"};
    const int64_t positions = c.integer_or("max_position_embeddings", 0);
    if (positions > 0 && seq > positions)
        *note += " --seq exceeds max_position_embeddings " + std::to_string(positions) + ";";
    return llama_spec(g, batch, seq);
}

}  // namespace

Result<ModelSpec> import_hf_config(const std::string& json_text, int64_t batch, int64_t seq) {
    if (batch < 1) return Error{"--batch must be at least 1, got " + std::to_string(batch)};
    if (seq < 1) return Error{"--seq must be at least 1, got " + std::to_string(seq)};
    // Read within bounds (nesting, values, duplicate keys): a value nested a million deep must
    // not reach a recursive walk, and nothing is echoed unbounded or unprintable.
    Result<json> parsed = read_json(json_text, kConfigJsonLimits);
    if (!parsed) {
        const std::string& m = parsed.error().message;  // "invalid JSON at line 1, ..." or a limit
        if (m.rfind("invalid JSON", 0) == 0)
            return Error{"config.json: not valid JSON (" + m.substr(m.find_first_not_of(" :", 12)) + ")"};
        return Error{"config.json: " + m, parsed.error().kind};
    }
    const JsonRelease release(*parsed);
    const json& j = *parsed;
    if (!j.is_object()) return Error{"config.json: the top level must be an object"};
    try {
        Config c{j, architecture_of(j)};
        std::string note;
        ModelSpec s;
        if (c.arch == "gpt2") {
            s = import_gpt2(c, batch, seq, &note);
        } else if (c.arch == "llama" || c.arch == "mistral" || c.arch == "qwen2") {
            s = import_llama(c, batch, seq, &note);
        } else {
            return Error{"config.json: architecture \"" + printable(c.arch) +
                         "\" is not supported (gpt2, llama, mistral, qwen2)"};
        }
        s.name = c.text_or("_name_or_path", c.arch);
        if (s.name.empty()) s.name = c.arch;
        // Validated before counting: the shape checks bound every tensor, so the count cannot
        // overflow (UBSan caught 6e9 x 2e9 when the count came first).
        Result<ModelSpec> v = validated(std::move(s), "config.json");
        if (!v) return v;
        v->description = "Imported from a " + c.arch + " config.json: " + format_count(parameter_count(*v)) +
                         " parameters, batch " + std::to_string(batch) + " x " + std::to_string(seq) +
                         " tokens, flash attention (as Hugging Face's sdpa)." +
                         (note.empty() ? "" : " Note:" + note.substr(0, note.size() - 1) + ".");
        return v;
    } catch (const Error& e) {
        return e;
    } catch (const json::exception& e) {
        return Error{"config.json: " + json_error_reason(e)};
    }
}

Result<ModelSpec> import_hf_config_file(const std::string& path, int64_t batch, int64_t seq) {
    auto text = read_text_file(path, kMaxConfigBytes, "config");
    if (!text) return text.error();
    auto r = import_hf_config(*text, batch, seq);
    if (!r) return Error{path + ": " + r.error().message, r.error().kind};
    return r;
}

void set_attention_impl(ModelSpec& spec, AttentionImpl impl) {
    for (BlockSpec& b : spec.blocks)
        for (size_t l = 0; l < b.layer_count(); ++l)
            if (b.layer(l).type == LayerType::attention) b.layer(l).impl = impl;
}

int64_t parameter_count(const ModelSpec& spec) {
    int64_t n = 0;
    for (const auto& b : spec.blocks)
        for (size_t l = 0; l < b.layer_count(); ++l) n += parameter_count(b.layer(l));
    return n;
}

}  // namespace ckpt
