#!/usr/bin/env python3
"""GPU benchmark: CheckpointLab's CUDA backend against PyTorch eager on the same GPU, side by side.

For each workload (a preset and a checkpoint policy) it times full training steps -- forward,
loss, backward, optimizer -- in the engine (bench_engine --device cuda, one JSON line each) and
in PyTorch built from the same model-spec JSON (tests/bench/torch_model.py: same shapes, f32,
explicit attention, torch.utils.checkpoint, fused AdamW/SGD), in f32 and with TF32 tensor cores.
One line per workload: the step time of each side (median; CUDA events on both sides), their
ratio, each side's checkpoint overhead against its own unchecked step, and the peak memory of
each (the engine's requested bytes against torch.cuda.max_memory_allocated, same model and plan).

  run_gpu_bench.py BUILD_DIR [--steps N] [--device cuda:0] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

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


def engine_step(build, preset, policy, steps, device, tf32, events=True):
    exe = os.path.join(build, "tests", "bench", "bench_engine")
    args = [exe, os.path.join(PRESETS, preset + ".json"), policy, str(steps), "0", "--device", device]
    if tf32:
        args.append("--tf32")
    if not events:
        args.append("--no-events")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


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
                spec = json.load(f)
            base = None
            for policy in policies:
                e = engine_step(a.build, preset, policy, a.steps, a.device, tf32)
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
                    q = engine_step(a.build, preset, policy, a.steps, a.device, tf32, events=False)
                    print(f"{name + ', no event recording':40} {q['engine_step_ms']:10.2f} {'':>10} {'':>6} "
                          f"recording costs {100 * (e_ms / q['engine_step_ms'] - 1):+.1f}%", flush=True)


if __name__ == "__main__":
    main()
