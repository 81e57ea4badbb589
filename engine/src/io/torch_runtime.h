// The fixed Python of an exported PyTorch script (torch_runtime.cpp): the layer modules, the
// block, the saved-bytes meter (kTorchRuntimeLayers), then after the generated model, main()
// (kTorchRuntimeMain).
#pragma once

namespace ckpt {

extern const char* const kTorchRuntimeLayers;
extern const char* const kTorchRuntimeMain;

}  // namespace ckpt
