// make_layer: the one place a LayerType becomes a layer object.
#include "layers/layer_types.h"

namespace ckpt {

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, OpContext& ctx, const std::string& name,
                                  uint64_t param_stream) {
    switch (spec.type) {
    case LayerType::linear: return make_linear(spec, ctx, name, param_stream);
    case LayerType::layernorm: return make_layernorm(spec, ctx, name);
    case LayerType::dropout: return make_dropout(spec);
    case LayerType::embedding: return make_embedding(spec, ctx, name, param_stream);
    case LayerType::attention: return make_attention(spec);
    case LayerType::rmsnorm: return make_rmsnorm(spec, ctx, name);
    case LayerType::swiglu: return make_swiglu(spec);
    case LayerType::conv2d: return make_conv2d(spec, ctx, name, param_stream);
    case LayerType::batchnorm2d: return make_batchnorm2d(spec, ctx, name);
    case LayerType::maxpool2d:
    case LayerType::avgpool2d:
    case LayerType::global_avgpool: return make_pooling(spec);
    case LayerType::flatten: return make_flatten(spec);
    case LayerType::relu:
    case LayerType::gelu:
    case LayerType::silu:
    case LayerType::tanh: return make_elementwise(spec);
    }
    return nullptr;
}

}  // namespace ckpt
