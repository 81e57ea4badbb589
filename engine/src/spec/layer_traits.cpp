// The layer-traits table (ckpt/layer_traits.h): the layers on flat features here, the image
// layers (convolution, batch norm, pooling, flatten) in layer_traits_image.cpp. Sizes are in
// f32 (4 bytes) and masks in bytes.
#include "ckpt/layer_traits.h"
#include "ckpt/names.h"
#include "spec/layer_traits_image.h"

namespace ckpt {
namespace {

using Field = LayerField;
using K = LayerField::Kind;
using R = LayerTraits::Rebuild;
using Range = LayerField::Range;

Features same_width(const LayerSpec&, const Features& in) { return in; }
void no_input(LayerSpec&, const Features&) {}
std::vector<std::vector<int64_t>> no_params(const LayerSpec&) { return {}; }
int no_draws(const LayerSpec&) { return 0; }

// Attention's input is (heads + 2 kv_heads) head-sized parts.
int64_t attention_width_units(const LayerSpec& l) { return l.heads + 2 * (l.kv_heads > 0 ? l.kv_heads : l.heads); }

// Attention's kernel, a choice by name (model_spec.h's AttentionImpl).
LayerField attention_impl_field() {
    Field f{K::choice, "impl", false, nullptr, nullptr, nullptr,
            "the kernel: eager (the T x T softmax output kept for backward, as PyTorch's explicit attention) or "
            "flash (fused, FlashAttention-2: a log-sum-exp per row kept, the rest recomputed; default eager)"};
    for (const EnumName<AttentionImpl>& e : enum_names<AttentionImpl>()) f.choices.push_back(e.name);
    f.get_choice = [](const LayerSpec& l) { return int(l.impl); };
    f.set_choice = [](LayerSpec& l, int i) { l.impl = AttentionImpl(i); };
    return f;
}

// Elementwise activations: differ only in name, what they keep and their cost per element.
LayerTraits activation(LayerType t, const char* name, const char* summary, R rebuild, double flops_per_element) {
    LayerTraits a{t, name, summary, {}, rebuild,
                  rebuild == R::from_output ? "its output (features floats per row)" : "its input (features floats per row)",
                  same_width, no_input, no_params,
                  [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * in.size() * 4; },
                  nullptr, no_draws};
    a.takes = LayerTraits::Takes::any;  // elementwise: any layout
    // Captureless lambdas cannot close over the per-type cost: one function per cost.
    if (flops_per_element == 1.0)
        a.forward_flops = [](const LayerSpec&, double rows, double, const Features& in) { return rows * double(in.size()); };
    else
        a.forward_flops = [](const LayerSpec&, double rows, double, const Features& in) {
            return 20.0 * rows * double(in.size());
        };
    return a;
}

std::vector<LayerTraits> make_table() {
    std::vector<LayerTraits> t;
    t.push_back({LayerType::linear, "linear", "y = x W^T + b: a matrix product and a bias",
                 {Field{K::dim, "in", true, &LayerSpec::in, nullptr, nullptr, "input features"},
                  Field{K::dim, "out", true, &LayerSpec::out, nullptr, nullptr, "output features"},
                  Field{K::flag, "bias", false, nullptr, nullptr, &LayerSpec::bias, "add a bias (default true)"},
                  Field{K::flag, "tied", false, nullptr, nullptr, &LayerSpec::tied,
                        "the weight is the model's embedding table (a tied LM head: one parameter, counted once)"}},
                 R::from_input, "its input (in floats per row)",
                 [](const LayerSpec& l, const Features&) { return Features::flat(l.out); },
                 [](LayerSpec& l, const Features& in) { l.in = in.size(); },
                 [](const LayerSpec& l) {
                     std::vector<std::vector<int64_t>> p;
                     if (!l.tied) p.push_back({l.out, l.in});
                     if (l.bias) p.push_back({l.out});
                     return p;
                 },
                 [](const LayerSpec& l, int64_t rows, int64_t, const Features&) { return rows * l.in * 4; },
                 [](const LayerSpec& l, double rows, double, const Features&) {
                     return 2.0 * rows * double(l.in) * double(l.out);
                 },
                 no_draws, "in",
                 [](const LayerSpec& l, const LayerPlace& at, std::string* field) -> std::string {
                     if (!l.tied) return {};
                     *field = "tied";
                     if (!at.embedding) return "a tied linear needs the model to start with an embedding";
                     if (at.embedding->vocab != l.out || at.embedding->dim != l.in)
                         return "a tied linear must map the embedding's dim " + std::to_string(at.embedding->dim) +
                                " to its vocab " + std::to_string(at.embedding->vocab) + ", got " + std::to_string(l.in) +
                                " -> " + std::to_string(l.out);
                     if (l.bias) return "a tied linear has no bias (set \"bias\": false)";
                     return {};
                 },
                 {"weight", "bias"}});
    t.push_back(activation(LayerType::relu, "relu", "max(x, 0)", R::from_output, 1.0));
    t.push_back(activation(LayerType::gelu, "gelu", "GELU, tanh approximation", R::from_input, 20.0));
    t.push_back(activation(LayerType::tanh, "tanh", "tanh(x)", R::from_output, 20.0));
    t.push_back(activation(LayerType::silu, "silu", "SiLU (swish): x * sigmoid(x)", R::from_input, 20.0));
    t.push_back({LayerType::layernorm, "layernorm", "normalise each row to zero mean and unit variance, then scale and shift",
                 {Field{K::dim, "dim", true, &LayerSpec::dim, nullptr, nullptr, "features (must match the input)"},
                  Field{K::number, "eps", false, nullptr, &LayerSpec::eps, nullptr, "added to the variance (default 1e-5)",
                        Range::positive},
                  Field{K::flag, "affine", false, nullptr, nullptr, &LayerSpec::bias, "learned scale and shift (default true)"}},
                 R::no, "its input, and the mean and 1/std of each row (features + 2 floats per row)",
                 same_width, [](LayerSpec& l, const Features& in) { l.dim = in.size(); },
                 [](const LayerSpec& l) {
                     return l.bias ? std::vector<std::vector<int64_t>>{{l.dim}, {l.dim}} : std::vector<std::vector<int64_t>>{};
                 },
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * (in.size() + 2) * 4; },
                 [](const LayerSpec&, double rows, double, const Features& in) { return 8.0 * rows * double(in.size()); },
                 no_draws, "dim",
                 nullptr, {"weight", "bias"}});
    t.push_back({LayerType::dropout, "dropout", "zero each element with probability p, scale the rest by 1/(1-p)",
                 {Field{K::number, "p", true, nullptr, &LayerSpec::p, nullptr, "drop probability in [0, 1)", Range::probability}},
                 R::from_stream, "its mask (features bytes per row; nothing when p = 0)", same_width, no_input, no_params,
                 [](const LayerSpec& l, int64_t rows, int64_t, const Features& in) { return l.p > 0 ? rows * in.size() : int64_t(0); },
                 [](const LayerSpec& l, double rows, double, const Features& in) {
                     return l.p > 0 ? 3.0 * rows * double(in.size()) : 0.0;
                 },
                 [](const LayerSpec& l) { return l.p > 0 ? 1 : 0; }});
    t.back().takes = LayerTraits::Takes::any;
    t.push_back({LayerType::embedding, "embedding", "token ids to rows of a learned table, plus learned positions",
                 {Field{K::dim, "vocab", true, &LayerSpec::vocab, nullptr, nullptr, "table rows (token ids 0..vocab-1)"},
                  Field{K::dim, "dim", true, &LayerSpec::dim, nullptr, nullptr, "features per token"},
                  Field{K::dim, "max_len", false, &LayerSpec::max_len, nullptr, nullptr,
                        "learned positions for up to max_len tokens (default none)"}},
                 R::no, "the token ids (counted as input, not activation)",
                 [](const LayerSpec& l, const Features&) { return Features::flat(l.dim); }, no_input,
                 [](const LayerSpec& l) {
                     std::vector<std::vector<int64_t>> p{{l.vocab, l.dim}};
                     if (l.max_len > 0) p.push_back({l.max_len, l.dim});
                     return p;
                 },
                 [](const LayerSpec&, int64_t, int64_t, const Features&) { return int64_t(0); },
                 [](const LayerSpec& l, double rows, double, const Features&) { return 2.0 * rows * double(l.dim); }, no_draws,
                 nullptr,
                 [](const LayerSpec& l, const LayerPlace& at, std::string* field) -> std::string {
                     *field = "type";
                     if (!at.first_in_model) return "an embedding must be the model's first layer (it reads token ids)";
                     *field = "max_len";
                     if (l.max_len > 0 && l.max_len < at.seq)
                         return "is " + std::to_string(l.max_len) + " but the sequence has " + std::to_string(at.seq) +
                                " tokens";
                     return {};
                 },
                 {"table", "position table"}});
    t.push_back({LayerType::attention, "attention",
                 "multi-head scaled dot-product attention on a fused [Q | K | V] input; grouped-query with "
                 "kv_heads < heads; rotary positions with rope_theta",
                 {Field{K::dim, "heads", true, &LayerSpec::heads, nullptr, nullptr, "query heads"},
                  Field{K::dim, "kv_heads", false, &LayerSpec::kv_heads, nullptr, nullptr,
                        "key/value heads, dividing heads (default: as many as heads)"},
                  Field{K::flag, "causal", false, nullptr, nullptr, &LayerSpec::causal, "token t sees tokens <= t (default false)"},
                  Field{K::number, "p", false, nullptr, &LayerSpec::p, nullptr, "dropout on the softmax output (default 0)",
                        Range::probability},
                  Field{K::number, "rope_theta", false, nullptr, &LayerSpec::rope_theta, nullptr,
                        "rotary position embedding base, e.g. 10000 (default 0: none)", Range::non_negative},
                  attention_impl_field()},
                 R::no, "eager: its QKV input ((heads + 2 kv_heads) x head size per row), the softmax output (heads "
                        "x T floats per row) and, with dropout, its mask (heads x T bytes per row); flash: its QKV "
                        "input, its output (heads x head size per row) and a log-sum-exp (heads floats per row)",
                 [](const LayerSpec& l, const Features& in) {
                     return Features::flat(l.heads * (in.size() / attention_width_units(l)));
                 },
                 no_input, no_params,
                 [](const LayerSpec& l, int64_t rows, int64_t seq, const Features& in) {
                     if (l.impl == AttentionImpl::flash)  // the output is shared with a layer after it that keeps it
                         return rows * in.size() * 4 + rows * l.heads * (in.size() / attention_width_units(l)) * 4 +
                                rows * l.heads * 4;
                     return rows * in.size() * 4 + rows * l.heads * seq * 4 + (l.p > 0 ? rows * l.heads * seq : 0);
                 },
                 [](const LayerSpec& l, double rows, double seq, const Features& in) {
                     // QK^T and PV: 2 * 2 * rows * T * (heads x head size), plus the softmax.
                     const double d = double(l.heads * (in.size() / attention_width_units(l)));
                     return 4.0 * rows * seq * d + 5.0 * rows * double(l.heads) * seq;
                 },
                 [](const LayerSpec&) { return 1; }, nullptr,
                 [](const LayerSpec& l, const LayerPlace& at, std::string* field) -> std::string {
                     const int64_t kv = l.kv_heads > 0 ? l.kv_heads : l.heads, units = l.heads + 2 * kv;
                     const int64_t in = at.in.size();
                     if (kv == l.heads) {  // plain multi-head attention: the messages people know
                         *field = "type";
                         if (in % 3 != 0)
                             return "attention takes a fused QKV input of 3 * hidden features, got " +
                                    std::to_string(in) + " (not a multiple of 3)";
                         *field = "heads";
                         if ((in / 3) % l.heads != 0)
                             return std::to_string(l.heads) + " heads do not divide the hidden size " +
                                    std::to_string(in / 3);
                     } else {
                         *field = "kv_heads";
                         if (l.heads % kv != 0)
                             return std::to_string(kv) + " key/value heads do not divide " + std::to_string(l.heads) +
                                    " query heads";
                         *field = "type";
                         if (in % units != 0)
                             return "grouped-query attention takes (heads + 2 kv_heads) = " + std::to_string(units) +
                                    " head-sized parts, got " + std::to_string(in) + " features (not a multiple)";
                     }
                     *field = "rope_theta";
                     if (l.rope_theta > 0 && (in / units) % 2 != 0)
                         return "rotary embeddings need an even head size, got " + std::to_string(in / units);
                     *field = "impl";
                     if (l.impl == AttentionImpl::flash && in / units > kMaxFlashHeadSize)
                         return "flash attention supports head sizes up to " + std::to_string(kMaxFlashHeadSize) +
                                " (FlashAttention-2's limit), got " + std::to_string(in / units) + "; use \"eager\"";
                     // The scores (rows x heads x T) must stay within the element cap like any tensor.
                     *field = "";
                     const int64_t cap = int64_t(1) << 40;
                     if (at.rows > cap / l.heads || at.rows * l.heads > cap / at.seq)
                         return "attention scores of " + std::to_string(at.rows) + " x " + std::to_string(l.heads) + " x " +
                                std::to_string(at.seq) + " elements exceed the limit of 2^40 elements per tensor";
                     return {};
                 }});
    t.push_back({LayerType::rmsnorm, "rmsnorm", "x / sqrt(mean(x^2) + eps) times a learned scale (LLaMA's norm)",
                 {Field{K::dim, "dim", true, &LayerSpec::dim, nullptr, nullptr, "features (must match the input)"},
                  Field{K::number, "eps", false, nullptr, &LayerSpec::eps, nullptr, "added to the mean square (default 1e-5)",
                        Range::positive}},
                 R::no, "its input and the 1/rms of each row (features + 1 floats per row)", same_width,
                 [](LayerSpec& l, const Features& in) { l.dim = in.size(); },
                 [](const LayerSpec& l) { return std::vector<std::vector<int64_t>>{{l.dim}}; },
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * (in.size() + 1) * 4; },
                 [](const LayerSpec&, double rows, double, const Features& in) { return 5.0 * rows * double(in.size()); },
                 no_draws, "dim",
                 nullptr, {"weight"}});
    t.push_back({LayerType::swiglu, "swiglu", "SwiGLU: a [gate | up] input of 2f features to silu(gate) * up, f features",
                 {}, R::from_input, "its [gate | up] input (2f per row)",
                 [](const LayerSpec&, const Features& in) { return Features::flat(in.size() / 2); }, no_input, no_params,
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * in.size() * 4; },
                 [](const LayerSpec&, double rows, double, const Features& in) { return 12.0 * rows * double(in.size()); },
                 no_draws,
                 nullptr,
                 [](const LayerSpec&, const LayerPlace& at, std::string* field) -> std::string {
                     *field = "type";
                     if (at.in.size() % 2 != 0)
                         return "swiglu takes a [gate | up] input of 2f features, got " + std::to_string(at.in.size()) +
                                " (not even)";
                     return {};
                 }});
    add_image_layer_traits(t);
    return t;
}

}  // namespace

const std::vector<LayerTraits>& all_layer_traits() {
    static const std::vector<LayerTraits> table = make_table();
    return table;
}

const LayerTraits& layer_traits(LayerType type) {
    for (const LayerTraits& t : all_layer_traits())
        if (t.type == type) return t;
    return all_layer_traits().front();  // unreachable for a valid LayerType
}

const LayerTraits* find_layer_traits(std::string_view name) {
    for (const LayerTraits& t : all_layer_traits())
        if (name == t.name) return &t;
    return nullptr;
}

std::string layer_type_list() {
    const auto& all = all_layer_traits();
    std::string s;
    for (size_t i = 0; i < all.size(); ++i) s += std::string(i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + all[i].name;
    return s;
}

std::string layer_kind_phrase(const LayerTraits& t) {
    const char c = t.name[0];
    const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
    return std::string(vowel ? "an " : "a ") + t.name + " layer";
}

namespace {
int64_t elements(const std::vector<std::vector<int64_t>>& shapes) {
    int64_t n = 0;
    for (const auto& shape : shapes) {
        int64_t k = 1;
        for (int64_t d : shape) k *= d;
        n += k;
    }
    return n;
}
}  // namespace

int64_t parameter_count(const LayerSpec& l) { return elements(layer_traits(l.type).params(l)); }

int64_t buffer_count(const LayerSpec& l) {
    const LayerTraits& t = layer_traits(l.type);
    return t.buffers ? elements(t.buffers(l)) : 0;
}

Features layer_output(const LayerSpec& l, const Features& in) { return layer_traits(l.type).out_features(l, in); }

bool recomputed_sum_needed(const BlockSpec& b, bool output_consumed) {
    if (!b.residual) return false;
    const size_t first_post = b.layers.size() + b.shortcut.size();
    if (b.post.empty()) return output_consumed;  // the sum is the block's output
    return !b.saves(first_post) || layer_traits(b.layer(first_post).type).rebuild == LayerTraits::Rebuild::from_input;
}

std::vector<bool> recomputed_layers(const BlockSpec& b, bool output_consumed) {
    // Each path walked from its end, knowing whether its output is consumed; the two paths of a
    // residual add feed post's first layer (or the block's output, without post).
    std::vector<bool> run(b.layer_count(), true);
    auto plan = [&](size_t begin, size_t end, bool consumed) {
        for (size_t l = end; l-- > begin;) {
            const LayerTraits::Rebuild kind = layer_traits(b.layer(l).type).rebuild;
            const bool without_output = kind == LayerTraits::Rebuild::from_input || kind == LayerTraits::Rebuild::from_stream;
            run[l] = !b.saves(l) && !(without_output && !consumed);
            consumed = run[l] || kind == LayerTraits::Rebuild::from_input;
        }
    };
    const size_t main_end = b.layers.size(), side_end = main_end + b.shortcut.size();
    const bool sum = b.residual ? recomputed_sum_needed(b, output_consumed) : output_consumed;
    plan(side_end, b.layer_count(), output_consumed);
    plan(0, main_end, sum);
    plan(main_end, side_end, sum);
    return run;
}

std::string policy_note(const BlockSpec& b) {
    if (b.policy != BlockSpec::Policy::attention_core) return {};
    int attention = 0, flash = 0;
    for (size_t l = 0; l < b.layer_count(); ++l) {
        attention += b.layer(l).type == LayerType::attention;
        flash += b.layer(l).type == LayerType::attention && b.layer(l).impl == AttentionImpl::flash;
    }
    if (attention == 0) return "attention_core saves nothing here: the block has no attention layer, so every layer is saved";
    if (flash == attention)
        return "attention_core saves little here: flash attention keeps no T x T tensors, so recomputing the attention "
               "core avoids only its output and log-sum-exp";
    return {};
}

std::vector<std::string> policy_notes(const ModelSpec& spec, bool checkpointed_only) {
    std::vector<std::string> notes;
    std::vector<std::vector<bool>> blocks;
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
        if (checkpointed_only && !spec.blocks[b].checkpoint) continue;
        const std::string note = policy_note(spec.blocks[b]);
        if (note.empty()) continue;
        size_t i = 0;
        while (i < notes.size() && notes[i] != note) ++i;
        if (i == notes.size()) {
            notes.push_back(note);
            blocks.emplace_back(spec.blocks.size(), false);
        }
        blocks[i][b] = true;
    }
    for (size_t i = 0; i < notes.size(); ++i) {
        int n = 0;
        for (bool on : blocks[i]) n += on;
        notes[i] = (n == 1 ? "block " : "blocks ") + format_checkpoint_set(blocks[i]) +
                   (n > 1 ? " (" + std::to_string(n) + " blocks)" : std::string()) + ": " + notes[i];
    }
    return notes;
}

Features block_output(const BlockSpec& b, const Features& in) {
    Features f = in;
    for (const LayerSpec& l : b.layers) f = layer_output(l, f);
    for (const LayerSpec& l : b.post) f = layer_output(l, f);
    return f;
}

}  // namespace ckpt
