// The Hugging Face variant of the PyTorch export (torch_export.h, hf_plan_script): for a model
// imported from a config.json (or built from the GPT-2 or LLaMA template), a few lines that apply
// the same plan to the Hugging Face model the user already has. CheckpointLab splits decoder
// layer i into two blocks, "h<i>.attn" and "h<i>.mlp" (LLaMA, Mistral, Qwen2: "l<i>.…"); a layer
// whose two blocks are both checkpointed is wrapped whole, as Hugging Face's own gradient
// checkpointing does, and a layer with one of them only has that submodule wrapped.
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ckpt/printable.h"
#include "ckpt/torch_export.h"
#include "io/files.h"

namespace ckpt {

Result<std::string> hf_plan_script(const ModelSpec& spec, const TorchExportOptions& opt) {
    static const std::regex name(R"(^(h|l)(\d+)\.(attn|mlp)$)");
    std::string family;
    std::map<int, std::set<std::string>> checked;  // decoder layer -> its checkpointed parts
    std::set<int> layers;
    std::vector<std::string> outside;  // checkpointed blocks that are no decoder layer's
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
        std::smatch m;
        const BlockSpec& bs = spec.blocks[b];
        if (!std::regex_match(bs.name, m, name)) {
            if (bs.checkpoint) outside.push_back("block " + std::to_string(b) + " \"" + printable(bs.name, 100) + "\"");
            continue;
        }
        if (!family.empty() && family != m[1].str())
            return Error{"export-torch --hf: blocks of two families (" + family + "0.attn and " + m[1].str() + "0.attn)"};
        family = m[1].str();
        const int layer = std::stoi(m[2].str());
        layers.insert(layer);
        if (bs.checkpoint) checked[layer].insert(m[3].str());
        if (bs.checkpoint && bs.policy != BlockSpec::Policy::full)
            return Error{"export-torch --hf: block " + std::to_string(b) + " \"" + printable(bs.name, 100) + "\" has the selective policy " +
                         std::string(policy_name(bs.policy)) + ", which Hugging Face's checkpointing cannot express (use --policy full)"};
    }
    if (family.empty())
        return Error{"export-torch --hf: the model has no decoder-layer blocks (h0.attn, h0.mlp, ... or l0.attn, ...): "
                     "import it from a Hugging Face config.json (checkpointlab import) first"};
    const bool gpt2 = family == "h";
    const std::string attn = gpt2 ? "attn" : "self_attn";
    std::string whole, parts;
    bool all = true;
    for (int l : layers) {
        const auto it = checked.find(l);
        const size_t n = it == checked.end() ? 0 : it->second.size();
        if (n != 2) all = false;
        if (n == 2) whole += std::to_string(l) + ", ";
        if (n == 1) parts += std::to_string(l) + ": \"" + (*it->second.begin() == "attn" ? attn : std::string("mlp")) + "\", ";
    }
    if (whole.empty() && parts.empty()) all = false;

    const std::string module = printable(opt.script_name.empty() ? std::string("this_file") : opt.script_name.substr(0, opt.script_name.rfind('.')), 200);
    std::ostringstream o;
    o << "# " << printable(spec.name, 200) << ": CheckpointLab's checkpoint plan for the Hugging Face model you already have.\n"
      << "# Written by CheckpointLab " << opt.version << " (checkpointlab export-torch --hf).\n#\n"
      << "# Plan: --checkpoint " << printable(opt.checkpoint_arg.empty() ? std::string("(the model's own)") : opt.checkpoint_arg, 400)
      << ". CheckpointLab splits decoder layer i into two blocks, " << family << "<i>.attn and " << family << "<i>.mlp;\n"
      << "# a layer with both checkpointed is wrapped whole (as gradient_checkpointing_enable does), a layer with one\n"
      << "# has that submodule wrapped (model." << (gpt2 ? "transformer.h" : "model.layers") << "[i]." << attn << " or .mlp).\n"
      << "# Not exactly CheckpointLab's block: the submodule leaves the norm before it outside the checkpoint, so\n"
      << "# PyTorch keeps the norm's output (B*T*d values) where CheckpointLab keeps the block's input.\n";
    for (const std::string& b : outside)
        o << "# Not applied: " << b << " is checkpointed in CheckpointLab but is no decoder layer's block.\n";
    o << "#\n# Use:\n#   from transformers import AutoModelForCausalLM\n#   model = AutoModelForCausalLM.from_pretrained(...)\n"
      << "#   import " << module << "\n#   " << module << ".apply_plan(model)\n\n"
      << "import functools\n\n"
      << "ALL = " << (all ? "True" : "False") << "  # every decoder layer checkpointed: Hugging Face's own switch\n"
      << "WHOLE_LAYERS = [" << whole << "]  # decoder layers wrapped whole\n"
      << "PARTS = {" << parts << "}  # decoder layer -> the one submodule wrapped\n\n\n"
      << "def decoder_layers(model):\n"
      << "    \"\"\"The decoder layers of a " << (gpt2 ? "GPT-2 (GPT2LMHeadModel or GPT2Model)" : "LLaMA, Mistral or Qwen2 (…ForCausalLM or …Model)")
      << ".\"\"\"\n"
      << "    for path in " << (gpt2 ? "(\"transformer.h\", \"h\")" : "(\"model.layers\", \"layers\")") << ":\n"
      << "        m = model\n"
      << "        for part in path.split(\".\"):\n"
      << "            m = getattr(m, part, None)\n"
      << "        if m is not None:\n"
      << "            return m\n"
      << "    raise SystemExit(\"apply_plan: this model has no " << (gpt2 ? "transformer.h" : "model.layers") << ": not the architecture the plan was made for\")\n\n\n"
      << "def apply_plan(model):\n"
      << "    \"\"\"Wraps the decoder layers (or their submodules) that CheckpointLab's plan checkpoints.\"\"\"\n"
      << "    layers = decoder_layers(model)\n"
      << "    if ALL and hasattr(model, \"gradient_checkpointing_enable\"):\n"
      << "        try:\n"
      << "            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={\"use_reentrant\": False})\n"
      << "        except TypeError:  # transformers before 4.35 takes no kwargs\n"
      << "            model.gradient_checkpointing_enable()\n"
      << "        return\n"
      << "    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointImpl, checkpoint_wrapper\n"
      << "    targets = {id(layers[i]) for i in WHOLE_LAYERS} | {id(getattr(layers[i], part)) for i, part in PARTS.items()}\n"
      << "    wrapper = functools.partial(checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT)\n"
      << "    try:\n"
      << "        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing\n"
      << "        apply_activation_checkpointing(model, checkpoint_wrapper_fn=wrapper, check_fn=lambda m: id(m) in targets)\n"
      << "    except (ImportError, ValueError):\n"
      << "        # Where FSDP cannot be imported (Debian's PyTorch 1.13 on Python 3.11), the same wrapping by hand.\n"
      << "        for parent in list(model.modules()):\n"
      << "            for name, child in list(parent.named_children()):\n"
      << "                if id(child) in targets:\n"
      << "                    setattr(parent, name, wrapper(child))\n";
    return o.str();
}

Status export_hf_plan(const ModelSpec& spec, const std::string& path, TorchExportOptions options) {
    const size_t slash = path.find_last_of('/');
    options.script_name = slash == std::string::npos ? path : path.substr(slash + 1);
    Result<std::string> text = hf_plan_script(spec, options);
    if (!text) return Status{text.error()};
    return write_file_atomic(path, *text);
}

}  // namespace ckpt
