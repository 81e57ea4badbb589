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
Every step time is given as the best, the median and the spread (the slowest over the median) of
all timed steps of all rounds; ratios and overheads compare medians. The engine's line also gives
its CPU time per step (all threads) and where the step waited for its pool's threads.

--load N runs N busy processes (pure spinning, no memory traffic) beside both sides for the whole
run, so that figures under load compare the engine and PyTorch under the same load; they stop
with the script, and on their own after --load-seconds whatever happens to it.

  run_cpu_bench.py BUILD_DIR [--steps N] [--threads N] [--rounds N] [--only PRESET,...] [--load N]

Use Debian's python3-torch: /usr/bin/python3 tests/bench/run_cpu_bench.py build
"""
import argparse
import json
import os
import platform
import signal
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
    """Every timed step of each policy, their steps interleaved in one process (A B A B ...), as
    the engine's are: a change in the machine's load falls on every policy alike. Per policy:
    (step times, least recomputation time)."""
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
    return {policy: (t, min(r)) for policy, t, r in zip(policies, times, recompute)}


ENGINE = []  # the bench_engine process running, for a killed run to stop


def engine_steps(build, preset, configs, steps, threads):
    """One bench_engine process running every configuration, steps interleaved; a JSON object
    per configuration, by its name."""
    exe = os.path.join(build, "tests", "bench", "bench_engine")
    args = [exe, os.path.join(PRESETS, preset + ".json"), ",".join(configs), str(steps), str(threads)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as p:
        ENGINE.append(p)
        out = p.communicate()[0]
        ENGINE.remove(p)
    if p.returncode:
        raise subprocess.CalledProcessError(p.returncode, args)
    return {d["policy"]: d for d in map(json.loads, out.strip().splitlines())}


def ms(v):
    """A step time for the table: three decimals, five below 1 ms (the tutorial's 14 us step)."""
    return f"{v:10.5f}" if v < 1 else f"{v:10.3f}"


class Steps:
    """Step times of one configuration over all rounds: best, median, spread (max / median)."""

    def __init__(self):
        self.all = []

    def best(self):
        return min(self.all)

    def median(self):
        return statistics.median(self.all)

    def spread(self):
        return max(self.all) / self.median()


def start_load(n, seconds):
    """n processes that spin on a core each (no memory traffic, niced like the caller), each
    exiting by itself after `seconds` should this script be killed before it stops them."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    for _ in range(100000): pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def stop_load(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def load_average():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="", help="comma list of presets to run (default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="repeat every configuration (default 3)")
    ap.add_argument("--load", type=int, default=0, help="busy background processes during the run (default 0)")
    ap.add_argument("--load-seconds", type=int, default=1800, help="the longest the load may run (default 1800)")
    a = ap.parse_args()
    if not 0 <= a.load <= 4 * (os.cpu_count() or 1):
        ap.error(f"--load: from 0 to {4 * (os.cpu_count() or 1)} processes")
    torch.set_num_threads(a.threads)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores, {a.threads} threads, torch {torch.__version__}, {a.rounds} rounds, "
          f"load average {load_average()} before, {a.load} busy processes added")
    workloads = [("deep_residual_mlp", 6, ["all"]), ("textbook_mlp", 50, ["all"]), ("tutorial_mlp", 200, ["all"]),
                 ("gpt2_small", 5, ["all", "all/attention_core"]), ("resnet20_cifar", 10, ["all"]),
                 ("llama_small", 10, ["all"])]
    print(f"{'workload':34} {'engine ms best / median / spread':>33} {'torch ms best / median / spread':>33} "
          f"{'ratio':>7} {'engine ckpt ovh':>16} {'torch ckpt ovh':>15} {'floor':>7}")
    if a.only:
        workloads = [w for w in workloads if w[0] in a.only.split(",")]
    load = start_load(a.load, a.load_seconds)

    # A killed run (SIGTERM; a background job ignores SIGINT) stops the load and the engine's
    # process before it exits. Not by raising: an exception raised in a signal handler can land in
    # a weakref callback of PyTorch's, which swallows it, and the run goes on.
    def on_term(*_):
        stop_load(load + ENGINE)
        os._exit(143)

    signal.signal(signal.SIGTERM, on_term)
    try:
        for preset, steps, policies in workloads:
            run_workload(a, preset, max(3, steps * a.steps // 10), policies)
    finally:
        stop_load(load)
    print(f"# load average {load_average()} after")


def run_workload(a, preset, steps, policies):
    with open(os.path.join(PRESETS, preset + ".json")) as f:
        spec = json.load(f)
    # Rounds: the engine's configurations in one process and PyTorch's in another, each with
    # its steps interleaved; every timed step of every round counts. The engine's run without
    # event recording ("quiet") is one of them.
    eng, tor = {}, {}
    rec_e, rec_t, cpu, pool = {}, {}, {}, {}
    configs = ["none"] + policies + ["none:no-events"]
    for _ in range(a.rounds):
        es = engine_steps(a.build, preset, configs, steps, a.threads)
        ts = torch_step_ms(spec, ["none"] + policies, steps)
        for c in configs:
            key = "quiet" if c == "none:no-events" else c
            eng.setdefault(key, Steps()).all += es[c]["steps_ms"]
            rec_e[key] = min(rec_e.get(key, es[c]["recompute_ms"]), es[c]["recompute_ms"])
            cpu.setdefault(key, []).append(es[c]["cpu_ms"])
            pool.setdefault(key, []).append(es[c])
        for policy, (t, r) in ts.items():
            tor.setdefault(policy, Steps()).all += t
            rec_t[policy] = min(rec_t.get(policy, r), r)
    base_e, base_t = eng["none"].median(), tor["none"].median()
    for policy in ["none"] + policies:
        e, t = eng[policy], tor[policy]
        if policy == "none":
            ovh = ""
        else:
            # The floor: one extra forward of what is recomputed, i.e. the engine's own measured
            # recomputation time over its unchecked step; the rest of an overhead is overhead.
            # The recomputation itself, timed inside the step on both sides (the least of each),
            # is the part of the overhead that step-time noise does not blur.
            ovh = (f"{100 * (e.median() / base_e - 1):+15.1f}% {100 * (t.median() / base_t - 1):+14.1f}% "
                   f"{100 * rec_e[policy] / base_e:+6.1f}%   "
                   f"({e.median() - base_e:+.1f} / {t.median() - base_t:+.1f} ms; recomputation "
                   f"{rec_e[policy]:.3f} / {rec_t[policy]:.3f} ms)")
        print(f"{preset + ' / ' + policy:34} {ms(e.best())} {ms(e.median())} {e.spread():5.2f}x "
              f"{ms(t.best())} {ms(t.median())} {t.spread():5.2f}x {e.median() / t.median():6.2f}x {ovh}")
    for policy in ["none"] + policies:
        # Where the engine's step went: CPU time of all its threads per step, and its pool's
        # parallel loops, the pieces other threads ran and how long the caller waited for them.
        runs = pool[policy]
        mean = lambda k: statistics.mean(r[k] for r in runs)
        print(f"{'  engine ' + policy:34} cpu {statistics.median(cpu[policy]):.1f} ms/step, "
              f"{mean('pool_loops'):.0f} parallel loops ({mean('pool_serial_loops'):.0f} on one thread), "
              f"{mean('pool_helper_pieces'):.0f} of {mean('pool_caller_pieces') + mean('pool_helper_pieces'):.0f} "
              f"pieces on other threads, waited {mean('pool_wait_ms'):.2f} ms/step")
    quiet = eng["quiet"]
    print(f"{preset + ' / none, no event recording':34} {ms(quiet.best())} {ms(quiet.median())} {quiet.spread():5.2f}x "
          f"recording costs {100 * (base_e / quiet.median() - 1):+.1f}% of the median "
          f"({1000 * (base_e - quiet.median()):+.2f} us)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
