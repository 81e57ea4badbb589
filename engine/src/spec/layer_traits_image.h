// The image layers' rows of the layer-traits table (convolution, batch norm, pooling, flatten),
// kept apart from the flat layers' rows in layer_traits.cpp, which appends them.
#pragma once

#include <vector>

#include "ckpt/layer_traits.h"

namespace ckpt {

void add_image_layer_traits(std::vector<LayerTraits>& table);

}  // namespace ckpt
