// Selective checkpointing policies and the token-input helpers of ModelSpec: which layers of a
// checkpointed block are saved rather than recomputed, how token models shape their input, and
// saving a spec to a file.
#include "ckpt/model_spec.h"
#include "io/files.h"

namespace ckpt {

bool BlockSpec::saves(size_t layer) const {
    if (layer >= layers.size()) return false;
    const LayerType t = layers[layer].type;
    switch (policy) {
    case Policy::full: return false;
    case Policy::save_matmuls: return t == LayerType::linear || t == LayerType::attention;
    case Policy::attention_core: return t != LayerType::attention;
    case Policy::custom: return layers[layer].save;
    }
    return false;
}

bool ModelSpec::token_input() const {
    return !blocks.empty() && !blocks[0].layers.empty() && blocks[0].layers[0].type == LayerType::embedding;
}

int64_t ModelSpec::sequence_length() const {
    if (token_input()) return input_shape.size() >= 2 ? input_shape[1] : 1;
    return input_shape.size() >= 3 ? input_shape[1] : 1;
}

Status save_model_spec(const std::string& path, const ModelSpec& spec) {
    return write_file_atomic(path, to_json(spec));
}

}  // namespace ckpt
