// `checkpointlab export-torch`: the model and its checkpoint plan as a standalone PyTorch
// script (torch_export.h), with the parameters and the batch CheckpointLab initialised beside it.
#include "cli.h"
#include "cli_common.h"

#include <cstdio>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/printable.h"
#include "ckpt/templates.h"
#include "ckpt/torch_export.h"
#include "ckpt/units.h"

namespace cli {

using ckpt::format_bytes;

// `export-torch MODEL [--checkpoint ...] -o model.py`: the model and its plan as a PyTorch
// script, and beside it the parameters and the batch CheckpointLab initialised (torch_export.h).
int cmd_export_torch(std::vector<std::string> argv) {
    for (std::string& arg : argv)
        if (arg == "-o") arg = "--output";
    const Args a = parse_args(argv, {{"checkpoint", true}, {"precision", true}, {"policy", true}, {"no-preserve-rng", false},
                                     {"steps", true}, {"device", true}, {"output", true}, {"no-tensors", false},
                                     {"tensors-always", false}, {"attention", true}, {"hf", false}},
                              "export-torch");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::export_torch).c_str(), stdout);
        return kOk;
    }
    if (a.positional.size() != 1) usage_error("export-torch needs one MODEL (see checkpointlab export-torch --help)");
    if (!a.has("output")) usage_error("export-torch needs -o SCRIPT.py, the file to write");
    ckpt::TorchExportOptions options;
    options.version = CKPT_VERSION;
    if (a.has("steps")) options.steps = int(parse_int(a.value("steps"), "steps", 1, 1000000));
    if (a.has("device")) {
        options.device = a.value("device");
        if (options.device != "cpu" && options.device.rfind("cuda", 0) != 0)
            usage_error("--device: expected cpu or cuda[:N] (the script's default device), got \"" +
                        ckpt::printable(options.device, 200) + "\"");
    }
    const std::optional<ckpt::BlockSpec::Policy> policy = parse_policy(a);
    const std::optional<ckpt::Precision> precision = parse_precision(a);
    const std::optional<ckpt::AttentionImpl> attention = parse_attention(a);
    auto app = make_app(false);  // presets are looked up next to the program
    ckpt::ModelSpec spec = load_model(a.positional[0]).spec;
    if (a.has("checkpoint")) {
        auto set = ckpt::parse_checkpoint(a.value("checkpoint"), spec);
        if (!set) usage_error("--checkpoint: " + set.error().message);
        ckpt::apply_checkpoint(spec, *set);
        options.checkpoint_arg = a.value("checkpoint");
    }
    if (a.has("no-preserve-rng")) spec.preserve_rng = false;
    if (precision) spec.precision = *precision;
    if (policy)
        for (ckpt::BlockSpec& b : spec.blocks) b.policy = *policy;
    if (attention) ckpt::set_attention_impl(spec, *attention);
    // The same plan for `checkpointlab run`, which the script names beside its own figures.
    // (run has no --attention: a model put on another kernel here has no such command.)
    if (!attention) {
        // The --checkpoint given, as given: formatted from the spec it would be read against the
        // spec with its new segments, and `run` reads it against the file's ("segments:0-3" came
        // out as "0-3", four blocks alone). Without one, run uses the file's own plan too.
        options.run_command = "checkpointlab run " + a.positional[0];
        if (a.has("checkpoint")) options.run_command += " --checkpoint " + a.value("checkpoint");
        for (const char* o : {"policy", "precision"})
            if (a.has(o)) options.run_command += std::string(" --") + o + " " + a.value(o);
        if (a.has("no-preserve-rng")) options.run_command += " --no-preserve-rng";
    }
    if (a.has("hf")) {
        if (const ckpt::Status st = ckpt::export_hf_plan(spec, a.value("output"), options); !st) fail(*st.err);
        std::printf("wrote %s: apply_plan(model) for your Hugging Face model\n", ckpt::printable(a.value("output"), 2000).c_str());
        return kOk;
    }
    auto files = ckpt::export_torch(spec, a.value("output"), options, !a.has("no-tensors"), a.has("tensors-always"));
    if (!files) fail(files.error());
    std::printf("wrote %s", ckpt::printable(files->script, 2000).c_str());
    if (!files->tensors.empty())
        std::printf(" and %s (%s of parameters and batch)", ckpt::printable(files->tensors, 2000).c_str(),
                    format_bytes(files->tensor_bytes).c_str());
    else if (!a.has("no-tensors"))
        std::printf(" (no tensors file: parameters and batch past %s; the script starts from PyTorch's initialisation)",
                    format_bytes(ckpt::kTorchExportTensorsLimit).c_str());
    std::printf("\nrun it: python3 %s\n", ckpt::printable(files->script, 2000).c_str());
    return kOk;
}

}  // namespace cli
