#!/usr/bin/env python3
"""GPU benchmark: CheckpointLab's CUDA backend against PyTorch eager on the same GPU, side by side.

For each workload (a preset and a checkpoint policy) it times full training steps -- forward,
loss, backward, optimizer -- in the engine (bench_engine --device cuda, one JSON line each) and
in PyTorch built from the same model-spec JSON (tests/bench/torch_model.py: same shapes, f32,
explicit attention, torch.utils.checkpoint, fused AdamW/SGD), in f32 and with TF32 tensor cores.
One line per workload: the step time of each side (median; CUDA events on both sides), their
ratio, each side's checkpoint overhead against its own unchecked step, and the peak memory of
each (the engine's requested bytes against torch.cuda.max_memory_allocated, same model and plan).
These rows run every attention layer on the eager kernel on both sides (explicit attention), as
they were first measured.

Then fused (flash) attention in bf16 against PyTorch's scaled_dot_product_attention (its flash
back end, forced): GPT-2 small at 8 x 1024 in bf16 mixed precision (the preset, on flash), and one
causal attention layer's forward and backward at 512, 2,048 and 8,192 tokens (bench_attention:
engine flash and eager; PyTorch SDPA), time and peak.

  run_gpu_bench.py BUILD_DIR [--steps N] [--device cuda:0] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import training_setup, train_step  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = os.path.join(ROOT, "resources", "presets")
MiB = 1 << 20


def torch_step(spec, policy, steps, device, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.cuda.empty_cache()
    model, x, target, loss_fn, opt, draw = training_setup(spec, policy, device)
    for _ in range(3):  # warm-up: cuBLAS handles, optimizer state, the caching allocator's pools
        train_step(model, x, target, loss_fn, opt)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        train_step(model, x, target, loss_fn, opt)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    peak = torch.cuda.max_memory_allocated()
    del model, x, target, opt
    torch.cuda.empty_cache()
    return statistics.median(times), peak


def torch_library_bytes(device):
    """What PyTorch's caching allocator holds for cuBLAS/cuBLASLt workspaces once a linear layer
    has run forward and backward: counted in max_memory_allocated, but not a tensor of the model
    (the engine reports its own cuBLAS workspace separately, as `workspace`)."""
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated(device)
    lin = torch.nn.Linear(64, 64).to(device)
    x = torch.randn(32, 64, device=device, requires_grad=True)
    lin(x).sum().backward()
    del lin, x
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated(device) - before


def engine_step(build, spec_path, policy, steps, device, tf32, events=True):
    exe = os.path.join(build, "tests", "bench", "bench_engine")
    args = [exe, spec_path, policy, str(steps), "0", "--device", device]
    if tf32:
        args.append("--tf32")
    if not events:
        args.append("--no-events")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def with_attention(spec, impl, precision=None):
    """The spec with every attention layer on kernel `impl` (and the precision given), as a file."""
    spec = json.loads(json.dumps(spec))
    for b in spec["blocks"]:
        for l in b["layers"]:
            if l["type"] == "attention":
                l["impl"] = impl
    if precision:
        spec["precision"] = precision
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(spec, f)
    f.close()
    return spec, f.name


ATTENTION_SHAPES = [(512, 8, 12, 64), (2048, 4, 12, 64), (8192, 1, 32, 128)]  # (T, B, H, head size)


def torch_attention_layer(T, B, H, hd, steps, device):
    """One causal attention layer's forward and backward in bf16 through SDPA's flash back end:
    median ms (CUDA events) and torch.cuda.max_memory_allocated beyond the inputs."""
    rows, d = B * T, H * hd
    qkv = torch.randn(rows, 3 * d, device=device, dtype=torch.bfloat16, requires_grad=True)
    dy = torch.randn(rows, d, device=device, dtype=torch.bfloat16)
    try:  # PyTorch 2.3 and later
        from torch.nn.attention import SDPBackend, sdpa_kernel
        flash_only = sdpa_kernel(SDPBackend.FLASH_ATTENTION)
    except ImportError:
        flash_only = torch.backends.cuda.sdp_kernel(enable_flash=True, enable_math=False, enable_mem_efficient=False)
    times = []
    with flash_only:
        for step in range(steps + 2):
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            o.permute(0, 2, 1, 3).reshape(rows, d).backward(dy)
            end.record()
            end.synchronize()
            qkv.grad = None
            if step >= 2:
                times.append(start.elapsed_time(end))
            peak = torch.cuda.max_memory_allocated(device) - base
    del qkv, dy
    torch.cuda.empty_cache()
    return statistics.median(times), peak


def engine_attention_layer(build, T, B, H, hd, steps, device):
    exe = os.path.join(build, "tests", "bench", "bench_attention")
    out = subprocess.run([exe, "flash,eager", str(B), str(T), str(H), str(hd), str(steps), "0", "--dtype", "bf16",
                          "--device", device], check=True, capture_output=True, text=True).stdout
    return {d["impl"]: d for d in map(json.loads, out.strip().splitlines())}


def flash_rows(a, lib):
    """Fused attention in bf16: the engine's flash kernel against PyTorch's SDPA (flash back end)."""
    print(f"\n# flash attention, bf16: the engine's fused kernel against scaled_dot_product_attention")
    with open(os.path.join(PRESETS, "gpt2_small_gpu.json")) as f:
        spec, path = with_attention(json.load(f), "flash", "bf16-mixed")
    base = None
    for policy in ["none", "all"]:
        e = engine_step(a.build, path, policy, a.steps, a.device, False)
        t_ms, t_peak = torch_step(spec, policy, a.steps, a.device, False)
        e_ms = e["engine_step_ms"]
        base = base or (e_ms, t_ms)
        print(f"{'gpt2_small_gpu / ' + policy + ' / bf16 flash':40} {e_ms:10.2f} {t_ms:10.2f} {e_ms / t_ms:5.2f}x "
              f"{100 * (e_ms / base[0] - 1):+6.1f}%/{100 * (t_ms / base[1] - 1):+5.1f}% "
              f"{e['peak_bytes'] / MiB:10.1f}Mi {t_peak / MiB:10.1f}Mi {(t_peak - lib) / MiB:10.1f}Mi", flush=True)
    os.unlink(path)
    print(f"{'attention layer (causal, bf16)':40} {'flash ms':>10} {'eager ms':>10} {'SDPA ms':>10} {'fl/SDPA':>8} "
          f"{'flash peak':>12} {'eager peak':>12} {'SDPA peak':>12}")
    for T, B, H, hd in ATTENTION_SHAPES:
        e = engine_attention_layer(a.build, T, B, H, hd, a.steps, a.device)
        t_ms, t_peak = torch_attention_layer(T, B, H, hd, a.steps, a.device)
        f, g = e["flash"], e["eager"]
        print(f"{f'T {T}, B {B}, H {H}, hd {hd}':40} {f['median_ms']:10.2f} {g['median_ms']:10.2f} {t_ms:10.2f} "
              f"{f['median_ms'] / t_ms:7.2f}x {f['peak_bytes'] / MiB:10.1f}Mi {g['peak_bytes'] / MiB:10.1f}Mi "
              f"{t_peak / MiB:10.1f}Mi", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--quick", action="store_true", help="f32 only, fewer steps")
    a = ap.parse_args()
    props = torch.cuda.get_device_properties(a.device)
    print(f"# {time.strftime('%Y-%m-%d')}  {props.name}, {props.total_memory / 2**30:.0f} GiB, "
          f"torch {torch.__version__} (CUDA {torch.version.cuda}), median of {a.steps} steps after warm-up, "
          "CUDA events around each step on both sides")
    lib = torch_library_bytes(a.device)
    print(f"# PyTorch's library workspaces in its allocator: {lib / MiB:.1f} MiB (in torch peak; 'torch-lib' "
          "takes them out)")
    workloads = [("deep_residual_mlp", ["none", "all"]), ("textbook_mlp", ["none", "all"]),
                 ("gpt2_small_gpu", ["none", "all", "all/attention_core"])]
    print(f"{'workload':40} {'engine ms':>10} {'torch ms':>10} {'ratio':>6} {'ckpt ovh e/t':>15} "
          f"{'engine peak':>12} {'torch peak':>12} {'torch-lib':>12} {'diff':>7}")
    for tf32 in ([False] if a.quick else [False, True]):
        for preset, policies in workloads:
            with open(os.path.join(PRESETS, preset + ".json")) as f:
                spec, path = with_attention(json.load(f), "eager")
            base = None
            for policy in policies:
                e = engine_step(a.build, path, policy, a.steps, a.device, tf32)
                t_ms, t_peak = torch_step(spec, policy, a.steps, a.device, tf32)
                e_ms = e["engine_step_ms"]
                if policy == "none":
                    base = (e_ms, t_ms)
                    ovh = ""
                else:
                    ovh = f"{100 * (e_ms / base[0] - 1):+6.1f}%/{100 * (t_ms / base[1] - 1):+5.1f}%"
                name = f"{preset} / {policy}{' / tf32' if tf32 else ''}"
                diff = 100 * (e["peak_bytes"] / (t_peak - lib) - 1)
                print(f"{name:40} {e_ms:10.2f} {t_ms:10.2f} {e_ms / t_ms:5.2f}x {ovh:>15} "
                      f"{e['peak_bytes'] / MiB:10.1f}Mi {t_peak / MiB:10.1f}Mi {(t_peak - lib) / MiB:10.1f}Mi "
                      f"{diff:+6.2f}%  (engine wall {e['median_ms']:.2f} ms, reserved "
                      f"{e['reserved_peak_bytes'] / MiB:.0f} MiB)", flush=True)
                if policy == "none" and not tf32:
                    q = engine_step(a.build, path, policy, a.steps, a.device, tf32, events=False)
                    print(f"{name + ', no event recording':40} {q['engine_step_ms']:10.2f} {'':>10} {'':>6} "
                          f"recording costs {100 * (e_ms / q['engine_step_ms'] - 1):+.1f}%", flush=True)
            os.unlink(path)
    flash_rows(a, lib)


if __name__ == "__main__":
    main()
