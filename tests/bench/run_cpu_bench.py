#!/usr/bin/env python3
"""CPU benchmark: CheckpointLab's engine against PyTorch eager, side by side in one run.

For each workload (a preset and a checkpoint policy) it times full training steps -- forward,
loss, backward, optimizer -- in the engine (bench_engine, one JSON line per workload) and in
PyTorch built from the same model-spec JSON (same shapes, f32, same thread count,
torch.utils.checkpoint for checkpointed blocks), then prints one line per workload: engine ms,
PyTorch ms, their ratio, and each side's checkpoint overhead against its own unchecked step.

  run_cpu_bench.py BUILD_DIR [--steps N] [--threads N]

Use Debian's python3-torch: /usr/bin/python3 tests/bench/run_cpu_bench.py build
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = os.path.join(ROOT, "resources", "presets")


def expand_blocks(spec):
    out = []
    for blk in spec["blocks"]:
        for _ in range(blk.get("repeat", 1)):
            out.append(blk)
    return out


class Embedding(nn.Module):
    def __init__(self, l, seq):
        super().__init__()
        self.table = nn.Embedding(l["vocab"], l["dim"])
        self.pos = nn.Parameter(torch.zeros(l["max_len"], l["dim"])) if l.get("max_len", 0) else None
        self.seq = seq

    def forward(self, tokens):
        out = self.table(tokens.reshape(-1))
        if self.pos is not None:
            out = out + self.pos[torch.arange(out.shape[0]) % self.seq]
        return out


class AttentionCore(nn.Module):
    """Scaled dot-product attention on a fused QKV input, as PyTorch eager users write it."""

    def __init__(self, l, seq):
        super().__init__()
        self.heads, self.causal, self.p, self.seq = l["heads"], l.get("causal", False), l.get("p", 0.0), seq

    def forward(self, qkv):
        rows, d3 = qkv.shape
        d, hd = d3 // 3, d3 // 3 // self.heads
        B = rows // self.seq
        q, k, v = qkv.reshape(B, self.seq, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-1, -2) / hd ** 0.5
        if self.causal:
            s = s.masked_fill(torch.ones(self.seq, self.seq, dtype=torch.bool).triu(1), float("-inf"))
        a = F.dropout(torch.softmax(s, dim=-1), self.p, self.training)
        return (a @ v).permute(0, 2, 1, 3).reshape(rows, d)


SEQ = 1


def make_layer(l):
    t = l["type"]
    if t == "embedding":
        return Embedding(l, SEQ)
    if t == "attention":
        return AttentionCore(l, SEQ)
    if t == "linear":
        return nn.Linear(l["in"], l["out"], bias=l.get("bias", True))
    if t == "relu":
        return nn.ReLU()
    if t == "gelu":
        return nn.GELU(approximate="tanh")
    if t == "tanh":
        return nn.Tanh()
    if t == "layernorm":
        return nn.LayerNorm(l["dim"], eps=l.get("eps", 1e-5), elementwise_affine=l.get("affine", True))
    if t == "dropout":
        return nn.Dropout(l.get("p", 0.0))
    raise ValueError("unknown layer " + t)


class Model(nn.Module):
    """The spec's stack. flags[b] checkpoints block b: "full" the whole block, "attention_core"
    only its attention cores (Megatron-style selective recomputation)."""

    def __init__(self, spec, flags):
        super().__init__()
        blocks = expand_blocks(spec)
        self.blocks = nn.ModuleList(nn.Sequential(*[make_layer(l) for l in b["layers"]]) for b in blocks)
        self.residual = [b.get("residual", False) for b in blocks]
        self.flags = flags

    def forward(self, x):
        for blk, res, ck in zip(self.blocks, self.residual, self.flags):
            if ck == "full":
                y = checkpoint(blk, x, use_reentrant=False)
            elif ck == "attention_core":
                y = x
                for layer in blk:
                    y = checkpoint(layer, y, use_reentrant=False) if isinstance(layer, AttentionCore) else layer(y)
            else:
                y = blk(x)
            x = x + y if res else y
        return x


def policy_flags(policy, n):
    if policy == "none":
        return [None] * n
    if policy == "all":
        return ["full"] * n
    if policy == "all/attention_core":
        return ["attention_core"] * n
    raise ValueError(policy)


def torch_step_ms(spec, policy, steps):
    global SEQ
    torch.manual_seed(spec.get("seed", 0))
    blocks = expand_blocks(spec)
    tokens = blocks[0]["layers"][0]["type"] == "embedding"
    shape = spec["input"]["shape"]
    SEQ = shape[1] if (tokens or len(shape) >= 3) else 1
    model = Model(spec, policy_flags(policy, len(blocks)))
    if tokens:
        x = torch.randint(0, blocks[0]["layers"][0]["vocab"], (shape[0] * shape[1],))
    else:
        x = torch.randn(*shape).reshape(-1, shape[-1])
    out_features = model(x).shape[-1]
    if spec["loss"] == "cross_entropy":
        target = torch.randint(0, out_features, (x.shape[0],))
        loss_fn = F.cross_entropy
    else:
        target = torch.randn(x.shape[0], out_features)
        loss_fn = F.mse_loss
    o = spec.get("optimizer", {"type": "sgd"})
    if o["type"] == "adamw":
        betas = tuple(o.get("betas", [0.9, 0.999]))
        opt = torch.optim.AdamW(model.parameters(), lr=o.get("lr", 1e-3), betas=betas, eps=o.get("eps", 1e-8),
                                weight_decay=o.get("weight_decay", 0.0))
    elif o["type"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o.get("lr", 1e-3), momentum=o.get("momentum", 0.0),
                              weight_decay=o.get("weight_decay", 0.0))
    else:
        opt = None
    times = []
    for s in range(steps + 2):
        t0 = time.perf_counter()
        if opt:
            opt.zero_grad(set_to_none=True)
        else:
            model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), target)
        loss.backward()
        if opt:
            opt.step()
        t1 = time.perf_counter()
        if s >= 2:
            times.append((t1 - t0) * 1e3)
    return min(times)


def engine_step(build, preset, policy, steps, threads, events=True):
    exe = os.path.join(build, "tests", "bench", "bench_engine")
    args = [exe, os.path.join(PRESETS, preset + ".json"), policy, str(steps), str(threads)]
    if not events:
        args.append("--no-events")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# {time.strftime('%Y-%m-%d')}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores, {a.threads} threads, torch {torch.__version__}, best step of each run "
          "(the least disturbed by other work on a shared machine)")
    workloads = [("deep_residual_mlp", 6, ["all"]), ("textbook_mlp", 50, ["all"]), ("tutorial_mlp", 200, ["all"]),
                 ("gpt2_small", 5, ["all", "all/attention_core"])]
    print(f"{'workload':34} {'engine ms':>10} {'torch ms':>10} {'ratio':>7} {'engine ckpt ovh':>16} {'torch ckpt ovh':>15}")
    for preset, steps, policies in workloads:
        steps = max(3, steps * a.steps // 10)
        with open(os.path.join(PRESETS, preset + ".json")) as f:
            spec = json.load(f)
        base_e = base_t = None
        for policy in ["none"] + policies:
            e = engine_step(a.build, preset, policy, steps, a.threads)
            t = torch_step_ms(spec, policy, steps)
            if policy == "none":
                base_e, base_t = e["min_ms"], t
                ovh = ""
            else:
                ovh = f"{100 * (e['min_ms'] / base_e - 1):+15.1f}% {100 * (t / base_t - 1):+14.1f}%"
            print(f"{preset + ' / ' + policy:34} {e['min_ms']:10.3f} {t:10.3f} {e['min_ms'] / t:6.2f}x {ovh}")
        quiet = engine_step(a.build, preset, "none", steps, a.threads, events=False)
        print(f"{preset + ' / none, no event recording':34} {quiet['min_ms']:10.3f} {'':>10} {'':>7} "
              f"recording costs {100 * (base_e / quiet['min_ms'] - 1):+.1f}%")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
