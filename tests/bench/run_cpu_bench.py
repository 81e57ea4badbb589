#!/usr/bin/env python3
"""CPU benchmark: CheckpointLab's engine against PyTorch eager, side by side in one run.

For each workload (a preset and a checkpoint policy) it times full training steps -- forward,
loss, backward, optimizer -- in the engine (bench_engine, one JSON line per workload) and in
PyTorch built from the same model-spec JSON (same shapes, f32, same thread count,
torch.utils.checkpoint for checkpointed blocks, a fresh batch drawn inside each timed step on
both sides; each side runs a workload's configurations in one process with their steps
interleaved, so that the overheads compare steps taken under the same load), then prints one
line per workload: engine ms,
PyTorch ms, their ratio, each side's checkpoint overhead against its own unchecked step, and the
floor of that overhead: one extra forward of the recomputed part (the engine's measured
recomputation time over its unchecked step), both overheads in milliseconds (the
relative ones divide by different unchecked steps), and the recomputation's own time on
each side, timed inside the step (PyTorch's: the checkpointed functions' reruns in backward).

  run_cpu_bench.py BUILD_DIR [--steps N] [--threads N] [--rounds N] [--only PRESET,...]

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import training_setup, train_step  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = os.path.join(ROOT, "resources", "presets")


def torch_step_ms(spec, policies, steps):
    """Best step time of each policy, their steps interleaved in one process (A B A B ...), as
    the engine's are: a change in the machine's load falls on every policy alike."""
    setups = [training_setup(spec, policy, "cpu") for policy in policies]
    times = [[] for _ in policies]
    recompute = [[] for _ in policies]
    for s in range(steps + 2):
        for i, (model, x, target, loss_fn, opt, draw) in enumerate(setups):
            t0 = time.perf_counter()
            x, target = draw()  # the engine draws its batch inside every step too
            train_step(model, x, target, loss_fn, opt)
            t1 = time.perf_counter()
            if s >= 2:
                times[i].append((t1 - t0) * 1e3)
                recompute[i].append(model.recompute.seconds * 1e3)
    return {policy: (min(t), min(r)) for policy, t, r in zip(policies, times, recompute)}


def engine_steps(build, preset, configs, steps, threads):
    """One bench_engine process running every configuration, steps interleaved; a JSON object
    per configuration, by its name."""
    exe = os.path.join(build, "tests", "bench", "bench_engine")
    args = [exe, os.path.join(PRESETS, preset + ".json"), ",".join(configs), str(steps), str(threads)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return {d["policy"]: d for d in map(json.loads, out.strip().splitlines())}


def ms(v):
    """A step time for the table: three decimals, five below 1 ms (the tutorial's 14 us step)."""
    return f"{v:10.5f}" if v < 1 else f"{v:10.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="", help="comma list of presets to run (default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="repeat every configuration, keep the best (default 3)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# {time.strftime('%Y-%m-%d')}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores, {a.threads} threads, torch {torch.__version__}, best step of {a.rounds} rounds "
          "(the least disturbed by other work on a shared machine)")
    workloads = [("deep_residual_mlp", 6, ["all"]), ("textbook_mlp", 50, ["all"]), ("tutorial_mlp", 200, ["all"]),
                 ("gpt2_small", 5, ["all", "all/attention_core"])]
    print(f"{'workload':34} {'engine ms':>10} {'torch ms':>10} {'ratio':>7} {'engine ckpt ovh':>16} {'torch ckpt ovh':>15} "
          f"{'floor':>7}")
    if a.only:
        workloads = [w for w in workloads if w[0] in a.only.split(",")]
    for preset, steps, policies in workloads:
        steps = max(3, steps * a.steps // 10)
        with open(os.path.join(PRESETS, preset + ".json")) as f:
            spec = json.load(f)
        # Rounds: the engine's configurations in one process and PyTorch's in another, each
        # with its steps interleaved, and the best of each configuration over all rounds, so
        # that a burst of other work on a shared machine spoils one round's figure rather than
        # the comparison. The engine's run without event recording ("quiet") is one of them.
        best_e, best_t, best_rt = {}, {}, {}
        configs = ["none"] + policies + ["none:no-events"]
        for _ in range(a.rounds):
            es = engine_steps(a.build, preset, configs, steps, a.threads)
            ts = torch_step_ms(spec, ["none"] + policies, steps)
            for c in configs:
                key = "quiet" if c == "none:no-events" else c
                if key not in best_e or es[c]["min_ms"] < best_e[key]["min_ms"]:
                    best_e[key] = es[c]
            for policy, (t, r) in ts.items():
                best_t[policy] = min(best_t.get(policy, t), t)
                best_rt[policy] = min(best_rt.get(policy, r), r)
        base_e, base_t = best_e["none"]["min_ms"], best_t["none"]
        for policy in ["none"] + policies:
            e, t = best_e[policy], best_t[policy]
            if policy == "none":
                ovh = ""
            else:
                # The floor: one extra forward of what is recomputed, i.e. the engine's own measured
                # recomputation time over its unchecked step; the rest of an overhead is overhead.
                # The recomputation itself, timed inside the step on both sides (the best step's
                # of each), is the part of the overhead that step-time noise does not blur.
                ovh = (f"{100 * (e['min_ms'] / base_e - 1):+15.1f}% {100 * (t / base_t - 1):+14.1f}% "
                       f"{100 * e['recompute_ms'] / base_e:+6.1f}%   "
                       f"(+{e['min_ms'] - base_e:.1f} / +{t - base_t:.1f} ms; recomputation "
                       f"{e['recompute_ms']:.3f} / {best_rt[policy]:.3f} ms)")
            print(f"{preset + ' / ' + policy:34} {ms(e['min_ms'])} {ms(t)} {e['min_ms'] / t:6.2f}x {ovh}")
        quiet = best_e["quiet"]
        print(f"{preset + ' / none, no event recording':34} {ms(quiet['min_ms'])} {'':>10} {'':>7} "
              f"recording costs {100 * (base_e / quiet['min_ms'] - 1):+.1f}% "
              f"({1000 * (base_e - quiet['min_ms']):+.2f} us)")
        sys.stdout.flush()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
