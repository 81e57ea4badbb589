// A model and its checkpoint plan as a standalone PyTorch script (`checkpointlab export-torch`,
// File > Export as PyTorch script...): the same layers as an nn.Module, the plan written as a
// PyTorch user writes it (torch.utils.checkpoint.checkpoint around each checkpointed block,
// torch.autocast for mixed precision), training steps, and PyTorch's own figures printed beside
// the ones CheckpointLab predicts for the same step. The parameters and the batch CheckpointLab
// initialised go into a safetensors file beside the script, so both start from the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"

namespace ckpt {

// Above this many bytes of parameters and batch the tensors file is not written (unless asked
// for): the script then starts from PyTorch's own initialisation, and says so.
inline constexpr int64_t kTorchExportTensorsLimit = int64_t(2) << 30;

struct TorchExportOptions {
    int steps = 3;               // training steps the script runs by default
    std::string device;          // the script's default device: "cpu", "cuda"; empty: cuda when available
    std::string tensors_file;    // the safetensors file's name beside the script; empty: none
    std::string version;         // the CheckpointLab version named in the header
    std::string checkpoint_arg;  // the plan as `--checkpoint` takes it, for the header ("1,3")
    std::string script_name;     // the script's file name, for the header's "Run:" line
    std::string run_command;     // the `checkpointlab run ...` of the same steps, which the script names
};

// The figures a script prints beside PyTorch's, per block: CheckpointLab's kept bytes under the
// plan, and what PyTorch's autograd saves besides (unchecked blocks only; a checkpointed block
// keeps its input on both sides), each term named.
struct TorchExtra {
    int64_t bytes = 0;
    std::string what;  // "the causal mask (T*T bools)"
};
std::vector<std::vector<TorchExtra>> torch_saved_extras(const ModelSpec& spec);

// The script's text. `predicted_cpu` and `predicted_cuda` are predict()'s reports of the same
// step (their kept bytes per block and peaks go into the script). Fails, naming the feature,
// for what the script cannot express.
Result<std::string> torch_script(const ModelSpec& spec, const StepReport& predicted_cpu, const StepReport& predicted_cuda,
                                 const TorchExportOptions& options);

struct TorchExportFiles {
    std::string script;   // the path written
    std::string tensors;  // the tensors file written beside it; empty when none was
    int64_t tensor_bytes = 0;
};

// Writes the script to `script_path` and, unless `with_tensors` is false or they pass
// kTorchExportTensorsLimit (and `force_tensors` is false), the initial parameters and the batch
// beside it (SCRIPT without ".py" + ".safetensors"), computed on the CPU from the spec's seed.
Result<TorchExportFiles> export_torch(const ModelSpec& spec, const std::string& script_path, TorchExportOptions options,
                                      bool with_tensors = true, bool force_tensors = false);

// The Hugging Face variant, for a model imported from a config.json (blocks "h<i>.attn" and
// "h<i>.mlp", or "l<i>.…"): a Python module whose apply_plan(model) applies the plan to the
// user's transformers model: gradient_checkpointing_enable() when every decoder layer is
// checkpointed, else apply_activation_checkpointing with a check_fn that picks the decoder
// layers (both blocks checkpointed) and the attention or MLP submodules (one of them). Fails,
// naming the reason, for a model without decoder-layer blocks or with a selective policy.
Result<std::string> hf_plan_script(const ModelSpec& spec, const TorchExportOptions& options);
Status export_hf_plan(const ModelSpec& spec, const std::string& path, TorchExportOptions options);

}  // namespace ckpt
