// Reading, checking and writing the model spec (model_spec.h). Parsing is strict on purpose:
// a typo in a key would otherwise silently fall back to a default and the app would measure a
// model the user did not ask for. Every error is one line that starts with the field's path
// ("blocks[2].layers[0].in: ..."). Semantic checks (shapes, ranges, size caps) live in one
// place and serve both parse_model_spec and validate_model_spec, so the GUI's in-memory specs
// and the CLI's files are judged by the same rules and messages.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/layer_traits.h"
#include "ckpt/model_spec.h"
#include "ckpt/names.h"
#include "ckpt/printable.h"
#include "io/files.h"
#include "spec/json_reader.h"

namespace ckpt {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

// Caps that keep every size computation far from int64 overflow: a dim fits in int32 and no
// tensor may have more than 2^40 elements (4 TiB of f32), so rows * features never overflows.
constexpr int64_t kMaxDim = 2147483647;           // 2^31 - 1
constexpr int64_t kMaxElements = int64_t(1) << 40;
constexpr size_t kMaxInputDims = 8;

struct SpecError {
    std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
    throw SpecError{path.empty() ? reason : path + ": " + reason};
}

// The shortest form that reads back to the same double, so messages show what the user wrote.
std::string num(double v) {
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::string shown(const json& v) { return json_shown(v); }

// Product a * b, or -1 when it would pass kMaxElements (a, b >= 0).
int64_t capped_product(int64_t a, int64_t b) {
    if (a == 0 || b == 0) return 0;
    if (a > kMaxElements / b) return -1;
    return a * b;
}

// ---- semantic checks, shared by parsing and validate_model_spec --------------------------

void check_dim(int64_t v, const std::string& path) {
    if (v <= 0) fail(path, "must be positive, got " + std::to_string(v));
    if (v > kMaxDim) fail(path, "must be at most " + std::to_string(kMaxDim) + ", got " + std::to_string(v));
}

void check_elements(int64_t a, int64_t b, const std::string& path, const std::string& what) {
    if (capped_product(a, b) < 0)
        fail(path, what + " of " + std::to_string(a) + " x " + std::to_string(b) +
                       " elements exceeds the limit of 2^40 elements per tensor");
}

void check_finite(double v, const std::string& path) {
    if (!std::isfinite(v)) fail(path, "must be a finite number, got " + num(v));
}

void check_input(const ModelSpec& s) {
    if (s.input_shape.size() < 2)
        fail("input.shape", "needs at least 2 dims, (batch, features) or (batch, seq, features), got " +
                                std::to_string(s.input_shape.size()));
    if (s.input_shape.size() > kMaxInputDims)
        fail("input.shape", "has " + std::to_string(s.input_shape.size()) + " dims, at most " +
                                std::to_string(kMaxInputDims) + " are supported");
    int64_t n = 1;
    for (size_t i = 0; i < s.input_shape.size(); ++i) {
        check_dim(s.input_shape[i], "input.shape[" + std::to_string(i) + "]");
        n = capped_product(n, s.input_shape[i]);
        if (n < 0) fail("input.shape", "the input tensor has more than 2^40 elements");
    }
}

void check_optimizer(const OptimizerSpec& o) {
    if (o.type == OptimizerType::none) return;
    check_finite(o.lr, "optimizer.lr");
    if (o.lr < 0) fail("optimizer.lr", "must not be negative, got " + num(o.lr));
    check_finite(o.weight_decay, "optimizer.weight_decay");
    if (o.weight_decay < 0) fail("optimizer.weight_decay", "must not be negative, got " + num(o.weight_decay));
    if (o.type == OptimizerType::sgd) {
        check_finite(o.momentum, "optimizer.momentum");
        if (o.momentum < 0) fail("optimizer.momentum", "must not be negative, got " + num(o.momentum));
    } else {
        const double betas[2] = {o.beta1, o.beta2};
        for (int i = 0; i < 2; ++i) {
            const std::string path = "optimizer.betas[" + std::to_string(i) + "]";
            check_finite(betas[i], path);
            if (betas[i] < 0 || betas[i] >= 1) fail(path, "must be in [0, 1), got " + num(betas[i]));
        }
        check_finite(o.eps, "optimizer.eps");
        if (o.eps < 0) fail("optimizer.eps", "must not be negative, got " + num(o.eps));
    }
}

// Checks one layer's fields against the ranges the traits table gives them.
void check_fields(const LayerSpec& l, const LayerTraits& t, const std::string& lp) {
    for (const LayerField& f : t.fields) {
        const std::string fp = lp + "." + f.key;
        if (f.kind == LayerField::Kind::dim) {
            const int64_t v = l.*f.dim;
            if (f.required) check_dim(v, fp);
            else if (v < 0) fail(fp, "must not be negative, got " + std::to_string(v));
            else if (v > kMaxDim) fail(fp, "must be at most " + std::to_string(kMaxDim) + ", got " + std::to_string(v));
        } else if (f.kind == LayerField::Kind::number) {
            const double v = l.*f.number;
            if (f.range == LayerField::Range::probability && !(v >= 0 && v < 1))
                fail(fp, "must be in [0, 1), got " + num(v));
            if (f.range == LayerField::Range::fraction && !(v >= 0 && v <= 1))
                fail(fp, "must be in [0, 1], got " + num(v));
            if (f.range == LayerField::Range::positive) {
                check_finite(v, fp);
                if (v <= 0) fail(fp, "must be positive, got " + num(v));
            }
            if (f.range == LayerField::Range::non_negative) {
                check_finite(v, fp);
                if (v < 0) fail(fp, "must not be negative, got " + num(v));
            }
        } else if (f.kind == LayerField::Kind::choice) {
            const int i = f.get_choice(l);  // an in-memory spec may hold any value
            if (i < 0 || size_t(i) >= f.choices.size()) fail(fp, "unknown value " + std::to_string(i));
        }
    }
}

// "an image (64, 8, 8)" or "512 flat features": what comes into a layer, for messages.
std::string described(const Features& f) {
    return f.is_image() ? "an image " + f.text() : std::to_string(f.c) + " flat features";
}

// Checks one layer against the features flowing in; returns the features flowing out. Every
// rule comes from the layer-traits table: field ranges, the layout it takes, the field that
// must match the incoming width, parameter and output sizes, and the checks a type adds.
Features check_layer(const LayerSpec& l, int64_t rows, int64_t seq, const Features& in, bool first_in_model,
                     const LayerSpec* embedding, const std::string& lp) {
    const LayerTraits* t = nullptr;
    for (const LayerTraits& c : all_layer_traits())
        if (c.type == l.type) t = &c;
    if (!t) fail(lp + ".type", "unknown layer type " + std::to_string(int(l.type)));
    check_fields(l, *t, lp);
    if (t->takes == LayerTraits::Takes::flat && in.is_image())
        fail(lp + ".type", layer_kind_phrase(*t) + " takes flat features, but " + described(in) +
                               " comes in (add a flatten before it)");
    if (t->takes == LayerTraits::Takes::image && !in.is_image())
        fail(lp + ".type", layer_kind_phrase(*t) + " takes an image (C, H, W), but " + described(in) +
                               " come in (the input is (batch, channels, height, width))");
    if (t->input_field) {
        // Flat layers match the features, image layers the channels.
        const int64_t want = in.c;
        for (const LayerField& f : t->fields)
            if (f.key == std::string_view(t->input_field) && l.*f.dim != want)
                fail(lp + "." + f.key, "expected " + std::to_string(want) +
                                           (in.is_image() ? " (the channels coming in), got " : " (the features coming in), got ") +
                                           std::to_string(l.*f.dim));
    }
    const std::vector<std::vector<int64_t>> params = t->params(l);
    for (size_t k = 0; k < params.size(); ++k) {
        // Sizes are named as the user writes them (in x out for a linear's weight).
        const std::vector<int64_t>& shape = params[k];
        const char* what = k < t->param_names.size() ? t->param_names[k] : "parameter";
        if (shape.size() == 2) check_elements(shape[1], shape[0], lp, what);
        if (shape.size() > 2) {
            int64_t n = 1;
            std::string dims;
            for (int64_t d : shape) {
                n = n < 0 ? -1 : capped_product(n, d);
                dims += (dims.empty() ? "" : " x ") + std::to_string(d);
            }
            if (n < 0) fail(lp, std::string(what) + " of " + dims + " elements exceeds the limit of 2^40 elements per tensor");
        }
    }
    if (t->check) {
        std::string field;
        const std::string reason = t->check(l, LayerPlace{first_in_model, rows, seq, in, embedding}, &field);
        if (!reason.empty()) fail(field.empty() ? lp : lp + "." + field, reason);
    }
    const Features out = t->out_features(l, in);
    if (out.is_image()) {
        if (out.h > kMaxDim || out.w > kMaxDim) fail(lp, "output image of " + out.text() + " is too large");
        const int64_t per_row = capped_product(capped_product(out.c, out.h), out.w);
        if (per_row < 0) fail(lp, "output image of " + out.text() + " exceeds the limit of 2^40 elements per tensor");
        check_elements(rows, per_row, lp, "output");
    } else {
        check_elements(rows, out.c, lp, "output");
    }
    return out;
}

// Checks one path of a block (its layers, shortcut or post) from `in`; returns what comes out.
Features check_path(const std::vector<LayerSpec>& layers, const char* key, int64_t rows, int64_t seq, Features f,
                    bool first_block, const LayerSpec* embedding, const std::string& path) {
    for (size_t i = 0; i < layers.size(); ++i)
        f = check_layer(layers[i], rows, seq, f, first_block && i == 0 && std::string_view(key) == "layers", embedding,
                        path + "." + key + "[" + std::to_string(i) + "]");
    return f;
}

// Checks one block against the features flowing in; returns the features flowing out. The
// block's own rules: at least one layer, and a residual's two paths meet in one shape (the
// shortcut, or the identity, against the layers) before post runs on their sum.
Features check_block(const BlockSpec& b, int64_t rows, int64_t seq, const Features& in, bool first_block,
                     const LayerSpec* embedding, const std::string& path) {
    if (b.layers.empty()) fail(path + ".layers", "a block needs at least one layer");
    if (!b.residual && !b.shortcut.empty())
        fail(path + ".shortcut", "a shortcut needs \"residual\": true (it is the other path of the residual add)");
    if (!b.residual && !b.post.empty())
        fail(path + ".post", "post layers need \"residual\": true (they run after the residual add)");
    const Features main = check_path(b.layers, "layers", rows, seq, in, first_block, embedding, path);
    if (!b.residual) return main;
    const Features side = check_path(b.shortcut, "shortcut", rows, seq, in, false, embedding, path);
    if (main != side) {
        if (b.shortcut.empty())
            fail(path + ".residual", "output features " + main.text() + " differ from input features " + in.text() +
                                         " (a residual block must keep the shape, or have a shortcut)");
        fail(path + ".shortcut", "ends in " + side.text() + " but the layers end in " + main.text() +
                                     " (the two paths of the residual add must meet in one shape)");
    }
    return check_path(b.post, "post", rows, seq, main, false, embedding, path);
}

// All semantic checks. block_path maps an (expanded) block index to the path to report.
void check_spec(const ModelSpec& s, const std::function<std::string(size_t)>& block_path) {
    if (s.dtype != DType::f32) fail("input.dtype", "expected f32");
    check_input(s);
    if (s.blocks.empty()) fail("blocks", "needs at least one block");
    if (s.blocks.size() > kMaxBlocks)
        fail("blocks", std::to_string(s.blocks.size()) + " blocks, at most " + std::to_string(kMaxBlocks) +
                           " are supported");
    size_t layers = 0;
    for (const BlockSpec& b : s.blocks) layers += b.layers.size();
    if (layers > kMaxLayers)
        fail("blocks", std::to_string(layers) + " layers, at most " + std::to_string(kMaxLayers) + " are supported");
    if (s.loss != LossType::mse && s.loss != LossType::cross_entropy) fail("loss", "unknown loss");
    if (enum_name(s.precision) == "unknown") fail("precision", "unknown precision");
    const OptimizerType ot = s.optimizer.type;
    if (ot != OptimizerType::none && ot != OptimizerType::sgd && ot != OptimizerType::adamw)
        fail("optimizer.type", "unknown optimizer");
    check_optimizer(s.optimizer);
    const int64_t rows = s.rows();
    if (rows < 0) fail("input.shape", "the input tensor has more than 2^40 elements");
    Features features = s.input_shape_features();  // a token id per row, flat features or an image
    const LayerSpec* embedding = s.token_input() ? &s.blocks[0].layers[0] : nullptr;
    for (size_t b = 0; b < s.blocks.size(); ++b)
        features = check_block(s.blocks[b], rows, s.sequence_length(), features, b == 0, embedding, block_path(b));
    if (std::string bad = check_segments(s.segments, int(s.blocks.size())); !bad.empty()) fail("", bad);
    if (features.is_image())
        fail("loss", "the model ends in an image " + features.text() +
                         "; the loss takes flat features (end with a flatten, or global_avgpool then flatten)");
}

// ---- JSON reading -------------------------------------------------------------------------

const char* type_word(const json& v) {
    switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::binary: return "binary data";
    case json::value_t::discarded: return "nothing";
    default: return "a number";
    }
}

void expect_object(const json& v, const std::string& path) {
    if (!v.is_object()) fail(path, std::string("expected an object, got ") + type_word(v));
}

// Rejects keys outside `allowed`; `what` names the object kind for the message.
void check_keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed,
                const std::string& what) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool ok = false;
        for (const std::string& a : allowed) ok |= a == it.key();
        if (ok) continue;
        std::string list;
        for (size_t i = 0; i < allowed.size(); ++i) list += (i ? ", " : "") + allowed[i];
        fail((path.empty() ? "" : path + ".") + printable(it.key()), "unknown key in " + what + " (expected " + list + ")");
    }
}

const json* find(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

const json& require(const json& obj, const std::string& path, const char* key) {
    const json* v = find(obj, key);
    if (!v) fail(path.empty() ? key : path + "." + key, "required field is missing");
    return *v;
}

std::string get_string(const json& v, const std::string& path) {
    if (!v.is_string()) fail(path, std::string("expected a string, got ") + type_word(v) + " " + shown(v));
    return v.get<std::string>();
}

bool get_bool(const json& v, const std::string& path) {
    if (!v.is_boolean()) fail(path, std::string("expected true or false, got ") + shown(v));
    return v.get<bool>();
}

double get_number(const json& v, const std::string& path) {
    if (!v.is_number()) fail(path, std::string("expected a number, got ") + type_word(v) + " " + shown(v));
    return v.get<double>();
}

// A choice field's value: one of its names, as an index into them.
int get_choice(const json& v, const LayerField& f, const std::string& path) {
    const std::string name = get_string(v, path);
    std::string list;
    for (size_t i = 0; i < f.choices.size(); ++i) {
        if (f.choices[i] == name) return int(i);
        list += std::string(i == 0 ? "" : i + 1 == f.choices.size() ? " or " : ", ") + std::string(f.choices[i]);
    }
    fail(path, "unknown value " + shown(v) + " (expected " + list + ")");
}

// A dimension: a JSON integer in [1, 2^31 - 1]. Floats like 1024.0 are refused too: a size
// written as a float is usually a computed value that went wrong.
int64_t get_dim(const json& v, const std::string& path) {
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > uint64_t(kMaxDim)) fail(path, "must be at most " + std::to_string(kMaxDim) + ", got " + std::to_string(u));
        return int64_t(u);
    }
    if (v.is_number_integer()) {
        const int64_t i = v.get<int64_t>();
        check_dim(i, path);
        return i;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && d > double(kMaxDim))
            fail(path, "must be at most " + std::to_string(kMaxDim) + ", got " + num(d));
        fail(path, "must be an integer, got " + shown(v));
    }
    fail(path, std::string("must be an integer, got ") + type_word(v) + " " + shown(v));
}

// A layer: its type names a row of the layer-traits table, which lists the keys it reads. An
// optional dimension may be 0, meaning none (an embedding without learned positions).
LayerSpec parse_layer(const json& j, const std::string& path) {
    expect_object(j, path);
    LayerSpec l;
    const std::string type = get_string(require(j, path, "type"), path + ".type");
    const LayerTraits* t = find_layer_traits(type);
    if (!t) fail(path + ".type", "unknown layer type " + shown(j.at("type")) + " (expected " + layer_type_list() + ")");
    l.type = t->type;
    std::vector<std::string> allowed{"type"};
    for (const LayerField& f : t->fields) allowed.push_back(f.key);
    allowed.push_back("save");
    check_keys(j, path, allowed, layer_kind_phrase(*t));
    for (const LayerField& f : t->fields) {
        const json* v = f.required ? &require(j, path, f.key) : find(j, f.key);
        if (!v) continue;
        const std::string fp = path + "." + f.key;
        switch (f.kind) {
        case LayerField::Kind::dim:
            l.*f.dim = !f.required && v->is_number_integer() && v->get<int64_t>() == 0 ? 0 : get_dim(*v, fp);
            break;
        case LayerField::Kind::number: l.*f.number = get_number(*v, fp); break;
        case LayerField::Kind::flag: l.*f.flag = get_bool(*v, fp); break;
        case LayerField::Kind::choice: f.set_choice(l, get_choice(*v, f, fp)); break;
        }
    }
    if (const json* v = find(j, "save")) l.save = get_bool(*v, path + ".save");
    return l;
}

OptimizerSpec parse_optimizer(const json& j) {
    const std::string path = "optimizer";
    expect_object(j, path);
    OptimizerSpec o;
    const std::string type = get_string(require(j, path, "type"), path + ".type");
    const std::optional<OptimizerType> known = enum_from_name<OptimizerType>(type);
    if (!known)
        fail(path + ".type", "unknown optimizer " + shown(j.at("type")) + " (expected " + enum_choices<OptimizerType>() + ")");
    o.type = *known;
    if (o.type == OptimizerType::none) {
        check_keys(j, path, {"type"}, "optimizer none");
        return o;
    }
    if (o.type == OptimizerType::sgd) {
        check_keys(j, path, {"type", "lr", "momentum", "weight_decay"}, "optimizer sgd");
        if (const json* v = find(j, "momentum")) o.momentum = get_number(*v, path + ".momentum");
    } else {
        check_keys(j, path, {"type", "lr", "betas", "eps", "weight_decay"}, "optimizer adamw");
        if (const json* v = find(j, "betas")) {
            if (!v->is_array() || v->size() != 2) fail(path + ".betas", "expected two numbers [beta1, beta2], got " + shown(*v));
            o.beta1 = get_number((*v)[0], path + ".betas[0]");
            o.beta2 = get_number((*v)[1], path + ".betas[1]");
        }
        if (const json* v = find(j, "eps")) o.eps = get_number(*v, path + ".eps");
    }
    if (const json* v = find(j, "lr")) o.lr = get_number(*v, path + ".lr");
    if (const json* v = find(j, "weight_decay")) o.weight_decay = get_number(*v, path + ".weight_decay");
    return o;
}

ModelSpec parse_document(const json& root) {
    expect_object(root, "model file");
    check_keys(root, "",
               {"name", "description", "input", "precision", "seed", "preserve_rng", "loss", "optimizer", "segments",
                "blocks"},
               "the model");
    ModelSpec s;
    if (const json* v = find(root, "name")) s.name = get_string(*v, "name");
    if (const json* v = find(root, "description")) s.description = get_string(*v, "description");

    const json& input = require(root, "", "input");
    expect_object(input, "input");
    check_keys(input, "input", {"shape", "dtype"}, "input");
    const json& shape = require(input, "input", "shape");
    if (!shape.is_array()) fail("input.shape", std::string("expected an array of sizes, got ") + type_word(shape));
    if (shape.size() < 2)
        fail("input.shape", "needs at least 2 dims, (batch, features) or (batch, seq, features), got " +
                                std::to_string(shape.size()));
    for (size_t i = 0; i < shape.size(); ++i)
        s.input_shape.push_back(get_dim(shape[i], "input.shape[" + std::to_string(i) + "]"));
    if (const json* v = find(input, "dtype")) {
        const std::string dt = get_string(*v, "input.dtype");
        if (dt != "f32") fail("input.dtype", "expected f32, got " + shown(*v) + " (only f32 is supported for now)");
    }

    if (const json* v = find(root, "seed")) {
        if (v->is_number_unsigned()) s.seed = v->get<uint64_t>();
        else if (v->is_number_integer()) fail("seed", "must not be negative, got " + shown(*v));
        else fail("seed", "must be a non-negative integer, got " + shown(*v));
    }
    if (const json* v = find(root, "preserve_rng")) s.preserve_rng = get_bool(*v, "preserve_rng");
    if (const json* v = find(root, "precision")) {
        const std::optional<Precision> p = enum_from_name<Precision>(get_string(*v, "precision"));
        if (!p) fail("precision", "unknown precision " + shown(*v) + " (expected " + enum_choices<Precision>() + ")");
        s.precision = *p;
    }
    if (const json* v = find(root, "loss")) {
        const std::optional<LossType> loss = enum_from_name<LossType>(get_string(*v, "loss"));
        if (!loss) fail("loss", "unknown loss " + shown(*v) + " (expected " + enum_choices<LossType>() + ")");
        s.loss = *loss;
    }
    if (const json* v = find(root, "optimizer")) s.optimizer = parse_optimizer(*v);
    // Segments name blocks after "repeat": they are checked with the rest once blocks are read.
    if (const json* v = find(root, "segments")) {
        if (!v->is_array())
            fail("segments", std::string("expected an array of block ranges like [\"1-2\", \"3-4\"], got ") + type_word(*v));
        for (size_t i = 0; i < v->size(); ++i) {
            const std::string path = "segments[" + std::to_string(i) + "]";
            Result<BlockRange> r = parse_block_range(get_string((*v)[i], path));
            if (!r) fail(path, r.error().message);
            s.segments.push_back(*r);
        }
    }

    const json& blocks = require(root, "", "blocks");
    if (!blocks.is_array()) fail("blocks", std::string("expected an array of blocks, got ") + type_word(blocks));
    if (blocks.empty()) fail("blocks", "needs at least one block");
    // Expanded block index -> (JSON index, copy) so shape errors point into the file.
    std::vector<std::pair<size_t, int>> origin;
    size_t layer_total = 0;  // after "repeat", checked before a block is copied
    for (size_t bi = 0; bi < blocks.size(); ++bi) {
        const std::string path = "blocks[" + std::to_string(bi) + "]";
        const json& bj = blocks[bi];
        expect_object(bj, path);
        check_keys(bj, path, {"name", "checkpoint", "residual", "repeat", "policy", "layers", "shortcut", "post"},
                   "a block");
        BlockSpec b;
        b.name = "block" + std::to_string(bi);
        if (const json* v = find(bj, "name")) b.name = get_string(*v, path + ".name");
        if (const json* v = find(bj, "checkpoint")) b.checkpoint = get_bool(*v, path + ".checkpoint");
        if (const json* v = find(bj, "residual")) b.residual = get_bool(*v, path + ".residual");
        if (const json* v = find(bj, "policy")) {
            const std::optional<BlockSpec::Policy> pol = enum_from_name<BlockSpec::Policy>(get_string(*v, path + ".policy"));
            if (!pol)
                fail(path + ".policy", "unknown policy " + shown(*v) + " (expected " + enum_choices<BlockSpec::Policy>() + ")");
            b.policy = *pol;
        }
        int64_t repeat = 1;
        if (const json* v = find(bj, "repeat")) {
            if (!v->is_number_integer() && !v->is_number_unsigned())
                fail(path + ".repeat", "must be an integer, got " + shown(*v));
            if (v->is_number_unsigned() ? v->get<uint64_t>() > uint64_t(kMaxRepeat) : v->get<int64_t>() > kMaxRepeat)
                fail(path + ".repeat", "must be at most " + std::to_string(kMaxRepeat) + ", got " + shown(*v));
            repeat = v->get<int64_t>();
            if (repeat < 1) fail(path + ".repeat", "must be at least 1, got " + std::to_string(repeat));
        }
        const json& layers = require(bj, path, "layers");
        if (!layers.is_array()) fail(path + ".layers", std::string("expected an array of layers, got ") + type_word(layers));
        if (layers.empty()) fail(path + ".layers", "a block needs at least one layer");
        // A residual block's shortcut path and the layers after its add: optional, maybe empty.
        const json* shortcut = find(bj, "shortcut");
        const json* post = find(bj, "post");
        for (auto [key, v] : {std::pair{"shortcut", shortcut}, {"post", post}})
            if (v && !v->is_array())
                fail(path + "." + key, std::string("expected an array of layers, got ") + type_word(*v));
        // The copies are counted before a layer is read or a block copied.
        if (s.blocks.size() + size_t(repeat) > kMaxBlocks)
            fail(path + ".repeat", "the model expands to more than " + std::to_string(kMaxBlocks) + " blocks");
        const size_t per_copy = layers.size() + (shortcut ? shortcut->size() : 0) + (post ? post->size() : 0);
        layer_total += per_copy * size_t(repeat);  // layers < 4 * 10^6 values, repeat <= 10^5: no overflow
        if (layer_total > kMaxLayers)
            fail(repeat > 1 ? path + ".repeat" : path + ".layers",
                 "the model expands to " + std::to_string(layer_total) + " layers by this block, more than the limit of " +
                     std::to_string(kMaxLayers));
        for (size_t li = 0; li < layers.size(); ++li)
            b.layers.push_back(parse_layer(layers[li], path + ".layers[" + std::to_string(li) + "]"));
        for (auto [key, v, into] : {std::tuple{"shortcut", shortcut, &b.shortcut}, {"post", post, &b.post}})
            for (size_t li = 0; v && li < v->size(); ++li)
                into->push_back(parse_layer((*v)[li], path + "." + key + "[" + std::to_string(li) + "]"));
        for (int64_t r = 0; r < repeat; ++r) {
            BlockSpec copy = b;
            if (repeat > 1) copy.name += "." + std::to_string(r);
            s.blocks.push_back(std::move(copy));
            origin.emplace_back(bi, int(r));
        }
    }

    check_spec(s, [&](size_t b) {
        const auto [bi, copy] = origin[b];
        std::string p = "blocks[" + std::to_string(bi) + "]";
        // A repeated block that fails only in a later copy (its output cannot feed its input).
        if (copy > 0) p += " (repeat copy " + std::to_string(copy) + ")";
        return p;
    });
    return s;
}

}  // namespace

// ---- public API ---------------------------------------------------------------------------

int64_t ModelSpec::rows() const {
    // Token ids (B, T) are one row per token; an image batch (B, C, H, W) one row per image;
    // other float inputs keep their last dim as features.
    const size_t dims = token_input() ? input_shape.size() : image_input() ? 1 : input_shape.size() - 1;
    int64_t r = 1;
    for (size_t i = 0; i < dims && !input_shape.empty(); ++i) r = capped_product(r, input_shape[i]);
    return input_shape.empty() ? 0 : r;
}

int64_t ModelSpec::input_features() const {
    if (image_input()) return capped_product(capped_product(input_shape[1], input_shape[2]), input_shape[3]);
    return input_shape.empty() ? 0 : input_shape.back();
}

Features ModelSpec::output_shape_features() const {
    Features f = input_shape_features();
    for (const BlockSpec& b : blocks) f = block_output(b, f);
    return f;
}

int64_t ModelSpec::output_features() const { return output_shape_features().size(); }

Result<ModelSpec> parse_model_spec(const std::string& json_text) {
    Result<json> root = read_json(json_text, kModelJsonLimits);
    if (!root) return root.error();
    const JsonRelease release(*root);
    try {
        return parse_document(*root);
    } catch (const SpecError& e) {
        return Error{e.message};
    } catch (const json::exception& e) {
        return Error{"invalid model: " + json_error_reason(e)};
    } catch (const std::bad_alloc&) {
        return Error{"out of memory while reading the model", ErrorKind::out_of_memory};
    }
}

Result<ModelSpec> load_model_spec(const std::string& path) {
    Result<std::string> text = read_text_file(path, kMaxModelFileBytes, "model file");
    if (!text) return text.error();
    Result<ModelSpec> spec = parse_model_spec(*text);
    if (!spec) return Error{path + ": " + spec.error().message, spec.error().kind};
    return spec;
}

Status validate_model_spec(const ModelSpec& spec) {
    try {
        check_spec(spec, [](size_t b) { return "blocks[" + std::to_string(b) + "]"; });
    } catch (const SpecError& e) {
        return Status::failure(e.message);
    }
    return Status::success();
}

namespace {

ordered_json layers_json(const std::vector<LayerSpec>& layers) {
    ordered_json out = ordered_json::array();
    for (const LayerSpec& l : layers) {
        ordered_json lj;
        const LayerTraits& t = layer_traits(l.type);
        lj["type"] = t.name;
        for (const LayerField& f : t.fields) {
            switch (f.kind) {
            case LayerField::Kind::dim: lj[f.key] = l.*f.dim; break;
            case LayerField::Kind::number: lj[f.key] = l.*f.number; break;
            case LayerField::Kind::flag: lj[f.key] = l.*f.flag; break;
            case LayerField::Kind::choice: {
                const int i = f.get_choice(l);  // a value outside the names reads back as an error naming the field
                lj[f.key] = i >= 0 && size_t(i) < f.choices.size() ? std::string(f.choices[size_t(i)]) : "unknown";
                break;
            }
            }
        }
        if (l.save) lj["save"] = true;
        out.push_back(std::move(lj));
    }
    return out;
}

}  // namespace

// Every field is written except those the layer or optimizer type does not read (a linear layer
// has no "eps"), because the parser refuses keys a type does not use; so the round trip is exact
// for specs whose unused fields hold their defaults, which is every spec the parser produces.
std::string to_json(const ModelSpec& spec) {
    ordered_json root;
    root["name"] = spec.name;
    if (!spec.description.empty()) root["description"] = spec.description;
    root["input"]["shape"] = spec.input_shape;
    root["input"]["dtype"] = "f32";
    root["precision"] = std::string(enum_name(spec.precision));
    root["seed"] = spec.seed;
    root["preserve_rng"] = spec.preserve_rng;
    root["loss"] = std::string(loss_name(spec.loss));
    // The optimizer writes the fields its type reads; the others keep their defaults on reload.
    const OptimizerSpec& o = spec.optimizer;
    ordered_json opt;
    opt["type"] = std::string(optimizer_name(o.type));
    if (o.type == OptimizerType::sgd) {
        opt["lr"] = o.lr;
        opt["momentum"] = o.momentum;
        opt["weight_decay"] = o.weight_decay;
    } else if (o.type == OptimizerType::adamw) {
        opt["lr"] = o.lr;
        opt["betas"] = {o.beta1, o.beta2};
        opt["eps"] = o.eps;
        opt["weight_decay"] = o.weight_decay;
    }
    root["optimizer"] = opt;
    // Written only when present, so files without segments stay as they were.
    if (!spec.segments.empty()) {
        ordered_json segments = ordered_json::array();
        for (const BlockRange& r : spec.segments) segments.push_back(format_block_range(r));
        root["segments"] = std::move(segments);
    }
    ordered_json blocks = ordered_json::array();
    for (const BlockSpec& b : spec.blocks) {
        ordered_json bj;
        bj["name"] = b.name;
        bj["checkpoint"] = b.checkpoint;
        bj["residual"] = b.residual;
        bj["repeat"] = 1;
        bj["policy"] = std::string(policy_name(b.policy));
        bj["layers"] = layers_json(b.layers);
        // Written only when present, so files of plain residual blocks stay as they were.
        if (!b.shortcut.empty()) bj["shortcut"] = layers_json(b.shortcut);
        if (!b.post.empty()) bj["post"] = layers_json(b.post);
        blocks.push_back(std::move(bj));
    }
    root["blocks"] = std::move(blocks);
    return root.dump(2) + "\n";
}

}  // namespace ckpt
