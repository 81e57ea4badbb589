// The PyTorch export (torch_export.h): the model-specific half of the script (its header, the
// constants CheckpointLab predicted, the model as an nn.Module with the plan written out block
// by block, the loss and the optimizer) around the fixed half in torch_runtime.cpp, plus the
// extras PyTorch's autograd saves beyond the engine's kept bytes, named term by term.
#include "ckpt/torch_export.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ckpt/layer_traits.h"
#include "ckpt/printable.h"
#include "ckpt/session.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"
#include "io/files.h"
#include "io/torch_runtime.h"

namespace ckpt {
namespace {

// A Python string literal: JSON's escapes are Python's.
std::string py_str(const std::string& s) { return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string py_bool(bool b) { return b ? "True" : "False"; }
// The shortest decimal that reads back as `v` (Python's repr): 1e-05, not 1.0000000000000001e-05.
std::string py_num(double v) {
    char buf[40];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}
std::string num(int64_t v) { return std::to_string(v); }

// What PyTorch's autograd saves for one layer beyond the engine's kept bytes, without
// checkpointing (tests/crosscheck/crosscheck_torch.py's torch_extra_bytes, which the cross-check
// holds to the byte). `in` is the features coming in; `input_saved`: another layer keeps them.
void layer_extras(const ModelSpec& spec, const LayerSpec& l, const Features& in, bool input_saved, bool first,
                  std::vector<TorchExtra>& out) {
    const bool half = spec.precision != Precision::f32;
    const int64_t e = half ? 2 : 4, B = spec.image_input() ? spec.rows() : spec.rows() / spec.sequence_length();
    const int64_t T = spec.sequence_length(), rows = spec.rows();
    auto add = [&](int64_t n, std::string what) {
        if (n) out.push_back({n, std::move(what)});
    };
    switch (l.type) {
    case LayerType::maxpool2d:
        add(rows * layer_output(l, in).size() * 8, "max_pool2d: the int64 index of each window's maximum (the engine finds it again from the input)");
        break;
    case LayerType::avgpool2d:
    case LayerType::global_avgpool:
        if (!input_saved) add(rows * in.size() * e, "average pooling keeps its input (the engine's backward needs only shapes)");
        break;
    case LayerType::conv2d:
        if (half && first) add(l.out * (l.in / l.groups) * l.kernel * l.kernel * 2, "conv2d: the weight's 16-bit copy, saved though the batch wants no gradient");
        break;
    case LayerType::embedding:
        if (l.max_len) add(rows * 8, "embedding: the int64 position index of the gather");
        break;
    case LayerType::rmsnorm:
        add(2 * rows * l.dim * 4, "rmsnorm: x**2 and the normalized x before the weight (f32)");
        break;
    case LayerType::swiglu:
        add(rows * (in.size() / 2) * e, "swiglu: silu(gate)");
        break;
    case LayerType::attention: {
        const int64_t H = l.heads, kv = l.kv_heads ? l.kv_heads : l.heads, width = in.size();
        const int64_t hd = width / (H + 2 * kv);
        if (l.impl == AttentionImpl::flash) {
            add(rows * H * hd * e, "attention: the output in the (B, H, T, hd) layout beside the (B*T, H*hd) copy");
        } else {
            add(8, "attention: the divisor 1/sqrt(hd), a 0-dim double");
            if (l.causal) add(T * T, "attention: the causal mask (T*T bools)");
            if (half) add(B * H * T * T * 2, "attention: a @ v's 16-bit copy of the probabilities");
        }
        const bool rope = l.rope_theta != 0.0, gqa = kv != H;
        if (rope) {
            add(2 * T * hd * 4, "rotary: cos and sin (f32)");
            add(B * H * T * hd * e + (gqa ? 0 : B * kv * T * hd * e), "rotary: the rotated q and k instead of views of the projection");
        }
        if (gqa) add(2 * H * 8 + 2 * B * H * T * hd * e, "grouped-query: the repeated k and v and repeat_interleave's int64 indices");
        if (rope && gqa) add(-rows * width * e, "rotary and grouped-query: PyTorch no longer keeps the fused projection");
        break;
    }
    default: break;
    }
}

// Whether PyTorch's saved bytes can be compared with the engine's for a block, and why not.
std::string not_compared(const BlockSpec& b) {
    if (b.checkpoint && b.policy != BlockSpec::Policy::full) return "a selective policy (PyTorch keeps its ops' outputs)";
    for (size_t i = 0; i < b.layer_count(); ++i) {
        const LayerSpec& l = b.layer(i);
        if ((l.type == LayerType::dropout || l.type == LayerType::attention) && l.p > 0 && !b.checkpoint)
            return "dropout (PyTorch keeps its own masks)";
        if (l.type == LayerType::attention && l.impl == AttentionImpl::flash && !b.checkpoint)
            return "flash attention (what SDPA keeps depends on its back end)";
    }
    return {};
}

std::string layer_code(const LayerSpec& l, const Features& in) {
    switch (l.type) {
    case LayerType::linear:
        if (l.tied) return "TiedHead(self.blocks[0][0], " + num(l.out) + (l.bias ? "" : ", bias=False") + ")";
        return "nn.Linear(" + num(l.in) + ", " + num(l.out) + (l.bias ? "" : ", bias=False") + ")";
    case LayerType::relu: return "nn.ReLU()";
    case LayerType::gelu: return "nn.GELU(approximate=\"tanh\")";
    case LayerType::tanh: return "nn.Tanh()";
    case LayerType::silu: return "nn.SiLU()";
    case LayerType::layernorm:
        return "LayerNorm(" + num(l.dim) + ", eps=" + py_num(l.eps) + (l.bias ? "" : ", affine=False") + ")";
    case LayerType::rmsnorm: return "RMSNorm(" + num(l.dim) + ", eps=" + py_num(l.eps) + ")";
    case LayerType::dropout: return "nn.Dropout(" + py_num(l.p) + ")";
    case LayerType::embedding:
        return "TokenEmbedding(" + num(l.vocab) + ", " + num(l.dim) + (l.max_len ? ", max_len=" + num(l.max_len) : "") + ")";
    case LayerType::attention: {
        const int64_t kv = l.kv_heads ? l.kv_heads : l.heads;
        return "Attention(heads=" + num(l.heads) + ", kv_heads=" + num(kv) + ", head_dim=" + num(in.size() / (l.heads + 2 * kv)) +
               (l.causal ? ", causal=True" : "") + (l.rope_theta != 0.0 ? ", rope_theta=" + py_num(l.rope_theta) : "") +
               (l.impl == AttentionImpl::flash ? ", flash=True" : "") + (l.p > 0 ? ", p=" + py_num(l.p) : "") + ")";
    }
    case LayerType::swiglu: return "SwiGLU()";
    case LayerType::conv2d:
        return "nn.Conv2d(" + num(l.in) + ", " + num(l.out) + ", " + num(l.kernel) + ", stride=" + num(effective_stride(l)) +
               ", padding=" + num(l.padding) + (l.groups != 1 ? ", groups=" + num(l.groups) : "") + (l.bias ? "" : ", bias=False") + ")";
    case LayerType::batchnorm2d:
        return "nn.BatchNorm2d(" + num(l.dim) + ", eps=" + py_num(l.eps) + ", momentum=" + py_num(l.momentum) +
               (l.bias ? "" : ", affine=False") + ")";
    case LayerType::maxpool2d:
        return "nn.MaxPool2d(" + num(l.kernel) + ", stride=" + num(effective_stride(l)) + ", padding=" + num(l.padding) + ")";
    case LayerType::avgpool2d:
        return "nn.AvgPool2d(" + num(l.kernel) + ", stride=" + num(effective_stride(l)) + ", padding=" + num(l.padding) + ")";
    case LayerType::global_avgpool: return "GlobalAvgPool()";
    case LayerType::flatten: return "nn.Flatten()";
    }
    return "None";
}

std::string layer_list(const BlockSpec& b, size_t begin, size_t end, Features in, size_t& index) {
    std::string s = "[";
    for (size_t i = begin; i < end; ++i, ++index) {
        const LayerSpec& l = b.layer(i);
        s += "\n            " + layer_code(l, in) + ",  # " + num(int64_t(index)) + " " + std::string(layer_type_name(l.type)) +
             (b.checkpoint && b.policy != BlockSpec::Policy::full && b.saves(i) ? " (kept: the policy saves it)" : "");
        in = layer_output(l, in);
    }
    return s + (begin == end ? "]" : "\n        ]");
}

std::string model_code(const ModelSpec& spec) {
    std::ostringstream o;
    // Names from the model file go into comments (printable: one line) and string literals
    // (py_str), never into a docstring, which a name could close.
    o << "# " << printable(spec.name, 200) << "\nclass Model(nn.Module):\n    \"\"\"The model's " << spec.blocks.size()
      << " blocks, as in CheckpointLab (names, layers and parameter names).\"\"\"\n\n"
      << "    def __init__(self):\n        super().__init__()\n        self.blocks = nn.ModuleList()\n";
    Features width = spec.input_shape_features();
    for (size_t bi = 0; bi < spec.blocks.size(); ++bi) {
        const BlockSpec& b = spec.blocks[bi];
        size_t index = 0;
        const size_t nm = b.layers.size(), ns = b.shortcut.size();
        o << "        # block " << bi << " \"" << printable(b.name, 200) << "\"\n";
        o << "        self.blocks.append(Block(" << py_str(b.name) << ", " << layer_list(b, 0, nm, width, index);
        if (ns) o << ",\n        shortcut=" << layer_list(b, nm, nm + ns, width, index);
        const Features main_out = [&] {
            Features f = width;
            for (const LayerSpec& l : b.layers) f = layer_output(l, f);
            return f;
        }();
        if (!b.post.empty()) o << ",\n        post=" << layer_list(b, nm + ns, b.layer_count(), main_out, index);
        if (b.residual) o << ", residual=True";
        if (b.checkpoint && b.policy != BlockSpec::Policy::full) {
            o << ", saves=[";
            for (size_t i = 0; i < b.layer_count(); ++i) o << (i ? ", " : "") << py_bool(b.saves(i));
            o << "]";
        }
        o << "))\n";
        width = block_output(b, width);
    }
    // What backward recomputes as one: a checkpointed block alone, or a run of checkpointed blocks
    // of one segment, which is one checkpoint() call around them (checkpoint_sequential's way).
    std::vector<int> run_last(spec.blocks.size(), -1);
    for (const BlockRange& r : recompute_segments(spec)) run_last[size_t(r.first)] = r.last;
    o << "\n    def forward(self, x):\n        h = x\n";
    for (size_t bi = 0; bi < spec.blocks.size(); ++bi) {
        const BlockSpec& b = spec.blocks[bi];
        const std::string label = "block " + std::to_string(bi) + " \"" + printable(b.name, 200) + "\"";
        if (!b.checkpoint || run_last[bi] < 0) {
            o << "        with SAVED.block(" << bi << ", h):  # " << label << ": not checkpointed, autograd keeps what it needs\n"
              << "            h = self.blocks[" << bi << "](h)\n";
            continue;
        }
        const size_t last = size_t(run_last[bi]);
        bool selective = false;
        std::string policies;
        for (size_t k = bi; k <= last; ++k)
            if (spec.blocks[k].policy != BlockSpec::Policy::full) {
                selective = true;
                policies += (policies.empty() ? "" : ", ") + std::string(policy_name(spec.blocks[k].policy));
            }
        std::string target = "self.blocks[" + std::to_string(bi) + "]";
        if (last == bi) {
            o << "        # " << label << ": checkpointed. Only its input is kept; its forward runs again in backward";
        } else {
            o << "        # blocks " << bi << "-" << last << " (";
            for (size_t k = bi; k <= last; ++k) o << (k > bi ? ", " : "") << "\"" << printable(spec.blocks[k].name, 100) << "\"";
            o << "): one checkpointed segment, as checkpoint_sequential\n        # runs it. Only block " << bi
              << "'s input is kept; the blocks run again together in backward";
            target = "nn.Sequential(*self.blocks[" + std::to_string(bi) + ":" + std::to_string(last + 1) + "])";
        }
        if (selective) o << ",\n        # keeping the outputs of the layers its policy (" << policies << ") saves";
        o << ".\n        with SAVED.block(" << bi << ", h, checkpointed=True):\n"
          << "            h = checkpoint(" << target << ", h, use_reentrant=False, preserve_rng_state=" << py_bool(spec.preserve_rng)
          << (selective ? ", context_fn=selective_context" : "") << ")\n";
        bi = last;
    }
    o << "        return h\n";
    return o.str();
}

std::string optimizer_code(const OptimizerSpec& o) {
    std::string s = "def make_optimizer(params):\n    ";
    switch (o.type) {
    case OptimizerType::none: return s + "return None  # the model trains without an optimizer step\n";
    case OptimizerType::sgd:
        return s + "return torch.optim.SGD(params, lr=" + py_num(o.lr) + ", momentum=" + py_num(o.momentum) +
               ", weight_decay=" + py_num(o.weight_decay) + ")\n";
    case OptimizerType::adamw:
        return s + "return torch.optim.AdamW(params, lr=" + py_num(o.lr) + ", betas=(" + py_num(o.beta1) + ", " +
               py_num(o.beta2) + "), eps=" + py_num(o.eps) + ", weight_decay=" + py_num(o.weight_decay) + ")\n";
    }
    return s + "return None\n";
}

}  // namespace

std::vector<std::vector<TorchExtra>> torch_saved_extras(const ModelSpec& spec) {
    std::vector<std::vector<TorchExtra>> out(spec.blocks.size());
    Features width = spec.input_shape_features();
    std::optional<LayerType> prev;     // the layer that made the tensor coming in (none: the batch)
    bool prev_kept = true;             // and whether its block keeps its tensors (not checkpointed)
    for (size_t bi = 0; bi < spec.blocks.size(); ++bi) {
        const BlockSpec& b = spec.blocks[bi];
        std::vector<TorchExtra> extras;
        auto walk = [&](const std::vector<LayerSpec>& path, Features w, std::optional<LayerType> p, bool p_kept, bool after_add) {
            bool first = !p && !after_add;
            for (const LayerSpec& l : path) {
                layer_extras(spec, l, w, p == LayerType::relu && p_kept, first, extras);
                w = layer_output(l, w);
                p = l.type;
                p_kept = true;
                first = false;
            }
            return std::make_pair(w, p);
        };
        auto [main_w, main_p] = walk(b.layers, width, prev, prev_kept, false);
        walk(b.shortcut, width, prev, prev_kept, false);
        width = main_w;
        prev = main_p;
        if (!b.post.empty()) {
            auto [pw, pp] = walk(b.post, main_w, LayerType::linear /* the add */, true, true);
            width = pw;
            prev = pp;
        } else if (b.residual) {
            prev = LayerType::linear;  // the residual add, which keeps nothing
        }
        prev_kept = !b.checkpoint;
        if (!b.checkpoint) out[bi] = std::move(extras);
    }
    return out;
}

Result<std::string> torch_script(const ModelSpec& spec, const StepReport& cpu, const StepReport& cuda,
                                 const TorchExportOptions& opt) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    if (cpu.blocks.size() != spec.blocks.size()) return Error{"export-torch: the prediction does not match the model's blocks"};
    std::ostringstream o;
    const std::string name = printable(spec.name, 200);
    std::string ckpt_blocks, selective, flash;
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
        const BlockSpec& bs = spec.blocks[b];
        const std::string label = py_str("block " + std::to_string(b) + " \"" + bs.name + "\"");
        if (bs.checkpoint && bs.policy != BlockSpec::Policy::full)
            selective += "(" + label + ", " + py_str(std::string(policy_name(bs.policy))) + "), ";
        for (size_t i = 0; i < bs.layer_count(); ++i)
            if (bs.layer(i).type == LayerType::attention && bs.layer(i).impl == AttentionImpl::flash) {
                flash += label + ", ";
                break;
            }
    }
    const std::string plan = opt.checkpoint_arg.empty() ? checkpoint_set_of(spec) : opt.checkpoint_arg;

    o << "#!/usr/bin/env python3\n"
      << "# " << name << ": a PyTorch script written by CheckpointLab " << opt.version << " (checkpointlab export-torch).\n#\n"
      << "# It builds the model layer by layer as an nn.Module (blocks named and numbered as in CheckpointLab),\n"
      << "# starts from the parameters and the batch CheckpointLab initialised from seed " << spec.seed << "\n"
      << "# (" << (opt.tensors_file.empty() ? "no tensors file was written: PyTorch's own initialisation" : printable(opt.tensors_file, 200) + ", beside this file")
      << "), applies the checkpoint plan with torch.utils.checkpoint,\n"
      << "# runs training steps and prints PyTorch's own figures beside CheckpointLab's prediction of the same step.\n#\n"
      << "# Plan: --checkpoint " << printable(plan, 400) << " (" << precision_name(spec.precision) << ", preserve_rng_state="
      << py_bool(spec.preserve_rng) << ")\n"
      << "# Run:  python3 " << printable(opt.script_name.empty() ? std::string("this_file.py") : opt.script_name, 200)
      << " [--device cpu|cuda] [--steps N] [--json figures.json] [--dump-grads grads.safetensors]\n"
      << "# Needs: torch (1.13 or later); nothing else. Flash attention needs 2.0, selective policies 2.4.\n\n"
      << "import argparse\nimport contextlib\nimport ctypes\nimport json\nimport os\nimport struct\nimport sys\nimport time\n\n"
      << "try:\n    import torch\n    import torch.nn as nn\n    import torch.nn.functional as F\n"
      << "    import torch.utils.checkpoint\n    from torch.utils.checkpoint import checkpoint\n"
      << "except ImportError:\n    sys.exit(os.path.basename(__file__) + \": PyTorch is not installed (Debian: apt install python3-torch)\")\n\n";

    // The constants: the model's shapes and what CheckpointLab predicted.
    const bool tokens = spec.token_input();
    o << "MODEL = " << py_str(spec.name) << "\nSEED = " << spec.seed << "\nPLAN = " << py_str(plan) << "\nPRECISION = "
      << py_str(std::string(precision_name(spec.precision))) << "\nSTEPS = " << opt.steps << "\nDEVICE = " << py_str(opt.device)
      << "\nTENSORS = " << py_str(opt.tensors_file) << "\nINPUT_SHAPE = [";
    for (size_t i = 0; i < spec.input_shape.size(); ++i) o << (i ? ", " : "") << spec.input_shape[i];
    o << "]\nROWS = " << spec.rows() << "  # rows every layer sees (B*T, or B for an image)\nSEQ = " << spec.sequence_length()
      << "\nIMAGE = " << py_bool(spec.image_input()) << "\nINPUT_CLASSES = " << (tokens ? spec.blocks[0].layers[0].vocab : 0)
      << "  # token ids in [0, vocab); 0: features ~ N(0, 1)\nTARGET_CLASSES = "
      << (spec.loss == LossType::cross_entropy ? spec.output_features() : 0) << "\nOUTPUT_FEATURES = " << spec.output_features()
      << "\nLOSS = " << (spec.loss == LossType::cross_entropy ? "F.cross_entropy" : "F.mse_loss") << "\nSELECTIVE_BLOCKS = ["
      << selective << "]\nFLASH_BLOCKS = [" << flash << "]\n\n";
    o << "# CheckpointLab's prediction of this step (checkpointlab predict): peaks in bytes, and per block what\n"
      << "# it keeps for backward under the plan and what PyTorch's autograd saves besides, each term named.\n"
      << "RUN_COMMAND = " << py_str(opt.run_command) << "  # CheckpointLab's own run of the same steps\n"
      << "PREDICTED = {\"peak_cpu\": " << cpu.peak_total << ", \"peak_cuda\": " << cuda.peak_total << "}\nBLOCKS = [\n";
    const auto extras = torch_saved_extras(spec);
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
        const BlockSpec& bs = spec.blocks[b];
        const std::string why = not_compared(bs);
        o << "    {\"name\": " << py_str(bs.name) << ", \"checkpointed\": " << py_bool(bs.checkpoint) << ", \"kept\": "
          << cpu.blocks[b].kept_bytes + cpu.blocks[b].weight_cast_bytes << ", \"compared\": " << py_bool(why.empty())
          << ", \"why\": " << py_str(why) << ",\n     \"extras\": [";
        for (const TorchExtra& e : extras[b]) o << "(" << e.bytes << ", " << py_str(e.what) << "), ";
        o << "]},\n";
    }
    o << "]\nDIFFERENCES = [\n"
      << "    \"PyTorch's extras: tensors its composites save that the engine's backward does not need (named per block above)\",\n"
      << "    \"a checkpointed block keeps its input on both sides; what it recomputes is not held between forward and backward\",\n"
      << "    \"dropout draws PyTorch's own random masks, not CheckpointLab's (Philox): with dropout the losses differ\",\n"
      << "    \"the step time includes PyTorch's first-call warm-up in step 1; compare later steps with checkpointlab run --steps N\",\n"
      << "    \"on CUDA, max_memory_allocated rounds every allocation up to 512 bytes and counts PyTorch's extras and \"\n"
      << "    \"temporaries; max_memory_reserved adds the caching allocator's free blocks; cuBLAS workspaces and the CUDA \"\n"
      << "    \"context are outside both\",\n]\n";
    o << kTorchRuntimeLayers << "\n\n" << model_code(spec) << "\n\n" << optimizer_code(spec.optimizer) << kTorchRuntimeMain;
    return o.str();
}

Result<TorchExportFiles> export_torch(const ModelSpec& spec, const std::string& script_path, TorchExportOptions options,
                                      bool with_tensors, bool force_tensors) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    Result<StepReport> cpu = predict(spec, 1, DeviceKind::cpu);
    if (!cpu) return cpu.error();
    Result<StepReport> cuda = predict(spec, 1, DeviceKind::cuda);
    if (!cuda) return cuda.error();
    TorchExportFiles files;
    files.script = script_path;
    const size_t slash = script_path.find_last_of('/');
    options.script_name = slash == std::string::npos ? script_path : script_path.substr(slash + 1);
    std::vector<NamedTensor> tensors;
    if (with_tensors) {
        const int64_t bytes = cpu->at_peak[int(Category::parameter)] + cpu->at_peak[int(Category::input)];
        if (bytes <= kTorchExportTensorsLimit || force_tensors) {
            RunSettings settings;
            settings.device = "cpu";
            Result<std::unique_ptr<Session>> session = Session::create(spec, settings);
            if (!session) return session.error();
            tensors = (*session)->tensors();
            std::string stem = script_path;
            if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".py") == 0) stem.resize(stem.size() - 3);
            files.tensors = stem + ".safetensors";
            const size_t cut = files.tensors.find_last_of('/');
            options.tensors_file = cut == std::string::npos ? files.tensors : files.tensors.substr(cut + 1);
            for (const NamedTensor& t : tensors) files.tensor_bytes += int64_t(t.f32.size() * 4 + t.i64.size() * 8);
        }
    }
    if (files.tensors.empty()) options.tensors_file.clear();
    Result<std::string> text = torch_script(spec, *cpu, *cuda, options);
    if (!text) return text.error();
    if (!files.tensors.empty())
        if (Status st = write_safetensors(files.tensors, tensors); !st) return *st.err;
    if (Status st = write_file_atomic(script_path, *text); !st) return *st.err;
    return files;
}

}  // namespace ckpt
