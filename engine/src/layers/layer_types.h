// The constructors of the layer types, one translation unit each (layers/*.cpp); make_layer()
// picks one by LayerType.
#pragma once

#include "layers/layer.h"

namespace ckpt {

std::unique_ptr<Layer> make_linear(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream);
std::unique_ptr<Layer> make_elementwise(const LayerSpec& s);
std::unique_ptr<Layer> make_layernorm(const LayerSpec& s, OpContext& ctx, const std::string& name);
std::unique_ptr<Layer> make_dropout(const LayerSpec& s);
std::unique_ptr<Layer> make_embedding(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream);
std::unique_ptr<Layer> make_attention(const LayerSpec& s);
std::unique_ptr<Layer> make_rmsnorm(const LayerSpec& s, OpContext& ctx, const std::string& name);
std::unique_ptr<Layer> make_swiglu(const LayerSpec& s);
std::unique_ptr<Layer> make_conv2d(const LayerSpec& s, OpContext& ctx, const std::string& name, uint64_t stream);
std::unique_ptr<Layer> make_batchnorm2d(const LayerSpec& s, OpContext& ctx, const std::string& name);
std::unique_ptr<Layer> make_pooling(const LayerSpec& s);  // maxpool2d, avgpool2d, global_avgpool
std::unique_ptr<Layer> make_flatten(const LayerSpec& s);

}  // namespace ckpt
