// Names of memory categories and step phases, shared by every writer and front end.
#include "ckpt/memory.h"

namespace ckpt {

std::string_view category_name(Category c) {
    switch (c) {
    case Category::parameter: return "parameter";
    case Category::gradient: return "gradient";
    case Category::optimizer_state: return "optimizer_state";
    case Category::input: return "input";
    case Category::activation: return "activation";
    case Category::recomputed: return "recomputed";
    case Category::temporary: return "temporary";
    }
    return "unknown";
}

std::string_view phase_name(Phase p) {
    switch (p) {
    case Phase::setup: return "setup";
    case Phase::forward: return "forward";
    case Phase::loss: return "loss";
    case Phase::backward: return "backward";
    case Phase::recompute: return "recompute";
    case Phase::optimizer: return "optimizer";
    }
    return "unknown";
}

}  // namespace ckpt
