#!/usr/bin/env python3
"""Attention benchmark on the CPU: one causal attention layer, forward and backward, at 512, 2,048
and 8,192 tokens (batch and heads chosen to fit a 24 GiB machine), in one run side by side:

  engine flash     the fused kernel (FlashAttention-2's tiles; bench_attention)
  engine eager     the explicit kernel that keeps the (B, H, T, T) softmax output
  torch explicit   PyTorch 1.13's explicit attention as users write it (q @ k^T, mask, softmax,
                   @ v), same threads; Debian's PyTorch has no scaled_dot_product_attention

Time: the best and the median step (the fused QKV input and the output's gradient made before
each step). Peak: the engine's is what the step allocates beyond its two inputs, exact (the
tracking allocator); PyTorch's is the growth of the process's peak resident memory (VmHWM, reset
through /proc/self/clear_refs) over the inputs, in a process of its own per shape, so it counts
pages rather than tensors (allocator slack included). The machine is shared: the load average is
printed with the figures, every configuration runs `--rounds` times and keeps its best.

  /usr/bin/python3 tests/bench/run_attention_bench.py BUILD_DIR [--rounds N] [--threads N] [--only 512,2048]

Targets (the issue): flash faster than engine eager at 8,192 tokens; at most 1.2x engine eager and
at most PyTorch's explicit attention at 2,048.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

SHAPES = [  # (T, B, H, head size, steps)
    (512, 4, 12, 64, 5),
    (2048, 1, 12, 64, 3),
    (8192, 1, 4, 64, 2),
]
MiB = 1 << 20


def vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def torch_worker(T, B, H, hd, steps, threads):
    """One shape in this process: forward and backward of explicit causal attention."""
    import torch
    torch.set_num_threads(threads)
    rows, d = B * T, H * hd
    qkv = torch.randn(rows, 3 * d, requires_grad=True)
    dy = torch.randn(rows, d)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    times, peaks = [], []
    for step in range(steps + 1):
        base = vm("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        t0 = time.perf_counter()
        q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).permute(0, 2, 1, 3).reshape(rows, d)
        o.backward(dy)
        qkv.grad = None
        del q, k, v, s, o
        ms = (time.perf_counter() - t0) * 1e3
        if step > 0:  # the first is a warm-up, as the engine's
            times.append(ms)
            peaks.append(vm("VmHWM") - base)
    print(json.dumps({"min_ms": min(times), "median_ms": statistics.median(times), "peak_bytes": max(peaks)}))


def run_torch(T, B, H, hd, steps, threads):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", f"{T},{B},{H},{hd},{steps},{threads}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_engine(build, T, B, H, hd, steps, threads):
    exe = os.path.join(build, "tests", "bench", "bench_attention")
    out = subprocess.run([exe, "flash,eager", str(B), str(T), str(H), str(hd), str(steps), str(threads)], check=True,
                         capture_output=True, text=True).stdout
    return {d["impl"]: d for d in map(json.loads, out.strip().splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="", help="comma list of sequence lengths (default: all)")
    ap.add_argument("--torch-worker", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(*map(int, a.torch_worker.split(",")))
        return
    if not a.build:
        ap.error("BUILD_DIR is required")
    import torch
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{a.threads} threads, torch {torch.__version__}; causal, head size 64; best of {a.rounds} rounds")
    print(f"# uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"{'T':>5} {'B':>2} {'H':>3}  {'flash ms':>9} {'eager ms':>9} {'torch ms':>9}  {'fl/eager':>8} {'fl/torch':>8}  "
          f"{'flash peak':>10} {'eager peak':>10} {'torch peak':>10}")
    shapes = [s for s in SHAPES if not a.only or str(s[0]) in a.only.split(",")]
    verdicts = []
    for T, B, H, hd, steps in shapes:
        best = {}
        for _ in range(a.rounds):
            got = run_engine(a.build, T, B, H, hd, steps, a.threads)
            got["torch"] = run_torch(T, B, H, hd, steps, a.threads)
            for k, v in got.items():
                if k not in best or v["min_ms"] < best[k]["min_ms"]:
                    best[k] = v
        f, e, t = best["flash"], best["eager"], best["torch"]
        print(f"{T:5d} {B:2d} {H:3d}  {f['min_ms']:9.1f} {e['min_ms']:9.1f} {t['min_ms']:9.1f}  "
              f"{f['min_ms'] / e['min_ms']:7.2f}x {f['min_ms'] / t['min_ms']:7.2f}x  "
              f"{f['peak_bytes'] / MiB:8.1f}Mi {e['peak_bytes'] / MiB:8.1f}Mi {t['peak_bytes'] / MiB:8.1f}Mi  "
              f"(medians {f['median_ms']:.1f} / {e['median_ms']:.1f} / {t['median_ms']:.1f} ms; flash keeps "
              f"{f['kept_bytes'] / MiB:.1f} MiB, eager {e['kept_bytes'] / MiB:.1f} MiB)", flush=True)
        if T == 8192:
            verdicts.append(("flash faster than engine eager at 8192", f["min_ms"] < e["min_ms"]))
        if T == 2048:
            verdicts.append(("flash at most 1.2x engine eager at 2048", f["min_ms"] <= 1.2 * e["min_ms"]))
            verdicts.append(("flash at most PyTorch's explicit attention at 2048", f["min_ms"] <= t["min_ms"]))
    for what, ok in verdicts:
        print(f"# target: {what}: {'met' if ok else 'NOT met'}")
    print(f"# uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
