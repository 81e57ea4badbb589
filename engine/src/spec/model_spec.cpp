// Selective checkpointing policies and the input helpers of ModelSpec: which layers of a
// checkpointed block are saved rather than recomputed, a block's layers across its paths, how
// token and image models shape their input, and saving a spec to a file.
#include "ckpt/model_spec.h"
#include "io/files.h"

#include <utility>

namespace ckpt {

bool BlockSpec::saves(size_t i) const {
    if (i >= layer_count()) return false;
    const LayerType t = layer(i).type;
    switch (policy) {
    case Policy::full: return false;
    // A convolution is a matrix product too (im2col + GEMM).
    case Policy::save_matmuls: return t == LayerType::linear || t == LayerType::conv2d || t == LayerType::attention;
    case Policy::attention_core: return t != LayerType::attention;
    case Policy::custom: return layer(i).save;
    }
    return false;
}

const LayerSpec& BlockSpec::layer(size_t i) const {
    if (i < layers.size()) return layers[i];
    i -= layers.size();
    return i < shortcut.size() ? shortcut[i] : post[i - shortcut.size()];
}

LayerSpec& BlockSpec::layer(size_t i) { return const_cast<LayerSpec&>(std::as_const(*this).layer(i)); }

BlockSpec::Part BlockSpec::part(size_t i) const {
    if (i < layers.size()) return Part::main;
    return i < layers.size() + shortcut.size() ? Part::shortcut : Part::post;
}

std::string Features::text() const {
    if (!is_image()) return std::to_string(c);
    // Built by appending: GCC 12 warns falsely (-Wrestrict, its bug 105651) on "(" + ... chains.
    std::string s = "(";
    s += std::to_string(c);
    s += ", ";
    s += std::to_string(h);
    s += ", ";
    s += std::to_string(w);
    s += ")";
    return s;
}

bool ModelSpec::token_input() const {
    return !blocks.empty() && !blocks[0].layers.empty() && blocks[0].layers[0].type == LayerType::embedding;
}

bool ModelSpec::image_input() const { return input_shape.size() == 4 && !token_input(); }

int64_t ModelSpec::sequence_length() const {
    if (token_input()) return input_shape.size() >= 2 ? input_shape[1] : 1;
    if (image_input()) return 1;
    return input_shape.size() >= 3 ? input_shape[1] : 1;
}

Features ModelSpec::input_shape_features() const {
    if (token_input()) return Features::flat(1);  // a token id per row
    if (image_input()) return Features::image(input_shape[1], input_shape[2], input_shape[3]);
    return Features::flat(input_features());
}

Status save_model_spec(const std::string& path, const ModelSpec& spec) {
    return write_file_atomic(path, to_json(spec));
}

}  // namespace ckpt
