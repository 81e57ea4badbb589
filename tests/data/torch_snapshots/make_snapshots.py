#!/usr/bin/python3
"""Writes the PyTorch memory snapshot fixtures of tst_torch_snapshot, and expected.json beside them.

PyTorch 1.13 on this machine is CPU-only and cannot record a CUDA memory snapshot, so these are
written by hand with Python's own pickle module in the format PyTorch documents (the TypedDicts
Segment, Block, TraceEntry and Frame of torch/cuda/memory.py; frames as PyTorch 2.x records them,
innermost first). They follow a training step of a small model with one checkpointed block, as
PyTorch would trace it: model.cuda(), forward, backward with the checkpoint's recomputation,
AccumulateGrad and an Adam step.

expected.json holds what the test checks against, counted here and not by the reader: the peak
of allocated bytes over the trace (alloc adds, free_completed takes away, a block freed but never
allocated in the trace counts from the start), the reserved bytes, and per category the bytes
the script *meant* each allocation to be (its label below), not what the frame rules say.

Run it with /usr/bin/python3 (standard library only) from anywhere; it writes next to itself.
"""
import json
import os
import pickle

HERE = os.path.dirname(os.path.abspath(__file__))

SITE = "/opt/conda/lib/python3.11/site-packages/"
USER = [{"filename": "/home/user/train.py", "line": 41, "name": "train_step"},
        {"filename": "/home/user/train.py", "line": 80, "name": "<module>"}]


def frame(path, line, name):
    return {"filename": SITE + path if path.startswith("torch/") else path, "line": line, "name": name}


CPP_ALLOC = [{"filename": "??", "line": 0, "name": "c10::cuda::CUDACachingAllocator::Native::DeviceCachingAllocator::malloc(int, unsigned long, CUstream_st*)"}]
# Where each kind of allocation comes from (innermost frame first), and the category meant.
STACKS = {
    "parameter": (CPP_ALLOC + [frame("torch/nn/modules/module.py", 1160, "convert"),
                               frame("torch/nn/modules/module.py", 810, "_apply"),
                               frame("torch/nn/modules/module.py", 1174, "to")] + USER, "parameter"),
    "input": (CPP_ALLOC + USER, "unattributed"),  # x.cuda(): no frame says it is the batch
    "forward": (CPP_ALLOC + [frame("torch/nn/modules/linear.py", 114, "forward"),
                             frame("torch/nn/modules/module.py", 1501, "_call_impl")] + USER, "unattributed"),
    # the checkpointed block's first forward runs through checkpoint.py too: not a recomputation
    "ckpt_forward": (CPP_ALLOC + [frame("torch/nn/modules/linear.py", 114, "forward"),
                                  frame("torch/utils/checkpoint.py", 1400, "checkpoint")] + USER, "unattributed"),
    "backward": ([{"filename": "??", "line": 0, "name": "torch::autograd::Engine::evaluate_function(...)"},
                  frame("torch/autograd/__init__.py", 200, "backward"),
                  frame("torch/_tensor.py", 487, "backward")] + USER, "unattributed"),
    "recompute": (CPP_ALLOC + [frame("torch/nn/modules/linear.py", 114, "forward"),
                               frame("torch/utils/checkpoint.py", 1100, "recompute_fn"),
                               frame("torch/utils/checkpoint.py", 1131, "unpack_hook"),
                               {"filename": "??", "line": 0, "name": "torch::autograd::Engine::evaluate_function(...)"},
                               frame("torch/autograd/__init__.py", 200, "backward")] + USER, "recomputed"),
    "grad": ([{"filename": "??", "line": 0, "name": "torch::autograd::AccumulateGrad::apply(std::vector<at::Tensor>&&)"},
              {"filename": "??", "line": 0, "name": "torch::autograd::Engine::evaluate_function(...)"},
              frame("torch/autograd/__init__.py", 200, "backward")] + USER, "gradient"),
    "opt_state": (CPP_ALLOC + [frame("torch/optim/adam.py", 94, "_init_group"),
                               frame("torch/optim/adam.py", 157, "step")] + USER, "optimizer_state"),
    "opt_temp": (CPP_ALLOC + [frame("torch/optim/adam.py", 400, "_multi_tensor_adam"),
                              frame("torch/optim/adam.py", 157, "step")] + USER, "temporary"),
}
CATEGORIES = ["parameter", "buffer", "weight_cast", "gradient", "optimizer_state", "input", "activation",
              "recomputed", "temporary", "communication", "unattributed"]


class Trace:
    def __init__(self, timed):
        self.entries, self.timed, self.t = [], timed, 1_700_000_000_000_000
        self.next_addr = 0x7F0000000000
        self.live = {}  # addr -> (size, kind)
        self.meant = {}  # addr -> category meant

    def _add(self, e, frames=None):
        if self.timed:
            self.t += 13 + (len(self.entries) * 7) % 29
            e["time_us"] = self.t
        e["frames"] = frames if frames is not None else []
        self.entries.append(e)

    def segment(self, size):
        self._add({"action": "segment_alloc", "addr": self.next_addr + 0x10000000, "size": size, "stream": 0})

    def alloc(self, kind, size):
        addr = self.next_addr
        self.next_addr += (size + 511) // 512 * 512
        stack, meant = STACKS[kind]
        self.live[addr] = size
        self.meant[addr] = meant
        self._add({"action": "alloc", "addr": addr, "size": size, "stream": 0}, stack)
        return addr

    def free(self, addr):
        size = self.live.pop(addr)
        free_stack = [{"filename": "??", "line": 0, "name": "c10::TensorImpl::~TensorImpl()"}]
        self._add({"action": "free_requested", "addr": addr, "size": size, "stream": 0}, free_stack)
        self._add({"action": "free_completed", "addr": addr, "size": size, "stream": 0}, free_stack)


def training_step(timed, with_oom):
    """One step of a 3-block MLP (block 1 checkpointed), batch 64 x 1024 floats."""
    tr = Trace(timed)
    MB = 1 << 20
    act = 64 * 1024 * 4
    tr.segment(20 * MB)
    params = [tr.alloc("parameter", 1024 * 1024 * 4) for _ in range(3)]
    x = tr.alloc("input", act)
    tr._add({"action": "snapshot", "addr": 0, "size": 0, "stream": 0})
    h0 = tr.alloc("forward", act)               # block 0 keeps its output
    h1_inner = tr.alloc("ckpt_forward", act)    # block 1 checkpointed: inner output freed
    h1 = tr.alloc("ckpt_forward", act)
    tr.free(h1_inner)
    tr.segment(2 * MB)
    h2 = tr.alloc("forward", act)
    loss_buf = tr.alloc("forward", 512)
    g2 = tr.alloc("backward", act)              # backward of block 2
    grads = [tr.alloc("grad", 1024 * 1024 * 4)]
    tr.free(h2)
    r1 = tr.alloc("recompute", act)             # block 1's recomputation
    g1 = tr.alloc("backward", act)
    grads.append(tr.alloc("grad", 1024 * 1024 * 4))
    tr.free(r1)
    tr.free(g2)
    tr.free(h1)
    g0 = tr.alloc("backward", act)
    grads.append(tr.alloc("grad", 1024 * 1024 * 4))
    tr.free(g1)
    tr.free(g0)
    tr.free(h0)
    tr.free(loss_buf)
    if with_oom:
        tr._add({"action": "oom", "size": 8 * 1024 * MB, "stream": 0, "device_free": 3 * MB}, STACKS["opt_state"][0])
    tr.segment(40 * MB)
    states = [tr.alloc("opt_state", 1024 * 1024 * 4) for _ in range(6)]
    temps = [tr.alloc("opt_temp", 1024 * 1024 * 4) for _ in range(3)]
    for t in temps:
        tr.free(t)
    for g in grads:
        tr.free(g)
    # a block allocated before the trace began (the ring buffer dropped its alloc), freed now
    tr._add({"action": "free_completed", "addr": 0x7E0000000000, "size": 3 * MB, "stream": 0},
            [{"filename": "??", "line": 0, "name": "c10::TensorImpl::~TensorImpl()"}])
    tr.free(x)
    tr._add({"action": "segment_free", "addr": 0x7F0010000000, "size": 2 * MB, "stream": 0})
    return tr, params, states


def independent_count(tr, baseline_bytes_before, reserved_segments_end):
    """The oracle: a plain replay, written apart from the C++ reader."""
    seen_alloc = {}
    baseline = 0
    for e in tr.entries:  # the blocks freed but never allocated in the trace were live at its start
        if e["action"] == "alloc":
            seen_alloc[e["addr"]] = True
        elif e["action"] == "free_completed" and e["addr"] not in seen_alloc:
            baseline += e["size"]
    assert baseline == baseline_bytes_before
    live, peak, meant_live, at_peak = baseline, baseline, {c: 0 for c in CATEGORIES}, None
    meant_live["unattributed"] = baseline
    sizes, meant = {}, {}
    reserved_net = sum(e["size"] if e["action"] in ("segment_alloc", "segment_map") else -e["size"]
                       for e in tr.entries if e["action"] in ("segment_alloc", "segment_map", "segment_free", "segment_unmap"))
    reserved = reserved_segments_end - reserved_net
    reserved_start, reserved_peak = reserved, reserved
    # reserved bytes over time: [time (ns since the first entry, or the entry's index), alloc and
    # free_completed entries before it, reserved bytes], at the start and after each segment entry
    reserved_over_time, events = [[0, 0, reserved]], 0
    at_peak = dict(meant_live)
    for i, e in enumerate(tr.entries):
        a = e["action"]
        if a in ("segment_alloc", "segment_map", "segment_free", "segment_unmap"):
            reserved += e["size"] if a in ("segment_alloc", "segment_map") else -e["size"]
            reserved_peak = max(reserved_peak, reserved)
            at = (e["time_us"] - tr.entries[0]["time_us"]) * 1000 if tr.timed else i
            reserved_over_time.append([at, events, reserved])
        events += a in ("alloc", "free_completed")
        if a == "alloc":
            sizes[e["addr"]] = e["size"]
            meant[e["addr"]] = tr_meant[e["addr"]]
            live += e["size"]
            meant_live[meant[e["addr"]]] += e["size"]
            if live > peak:
                peak, at_peak = live, dict(meant_live)
        elif a == "free_completed":
            if e["addr"] in sizes:
                live -= sizes.pop(e["addr"])
                meant_live[meant.pop(e["addr"])] -= e["size"]
            else:
                live -= e["size"]
                meant_live["unattributed"] -= e["size"]
    return {"peak_allocated": peak, "end_allocated": live, "baseline_allocated": baseline,
            "at_peak_meant": at_peak, "reserved_start": reserved_start, "reserved_peak": reserved_peak,
            "reserved_end": reserved_segments_end, "reserved_over_time": reserved_over_time,
            "allocs": sum(1 for e in tr.entries if e["action"] == "alloc"),
            "frees_completed": sum(1 for e in tr.entries if e["action"] == "free_completed"),
            "ooms": sum(1 for e in tr.entries if e["action"] == "oom"),
            "entries": len(tr.entries)}


expected = {}
for name, timed, oom, protocol in [("training_step_timed", True, False, 4), ("training_step_untimed_oom", False, True, 2)]:
    tr, params, states = training_step(timed, oom)
    tr_meant = tr.meant
    MB = 1 << 20
    # The snapshot's segments: what the allocator holds at the end (a pre-trace 8 MiB segment too)
    segments = [{"device": 0, "address": 0x7E0000000000, "total_size": 8 * MB, "stream": 0, "segment_type": "large",
                 "allocated_size": 0, "active_size": 0, "blocks": []},
                {"device": 0, "address": 0x7F0000000000, "total_size": 60 * MB, "stream": 0, "segment_type": "large",
                 "allocated_size": 0, "active_size": 0,
                 "blocks": [{"size": 4 * MB, "requested_size": 4 * MB, "state": "active_allocated", "frames": []}]},
                {"device": 1, "address": 0x1000, "total_size": 2 * MB, "stream": 0, "segment_type": "small",
                 "allocated_size": 0, "active_size": 0, "blocks": []}]
    # device 1 has a short trace of its own: the reader takes device 0, the longer one
    dev1 = [{"action": "segment_alloc", "addr": 0x1000, "size": 2 * MB, "stream": 0, "frames": []}]
    snapshot = {"segments": segments, "device_traces": [tr.entries, dev1]}
    with open(os.path.join(HERE, name + ".pickle"), "wb") as f:
        pickle.dump(snapshot, f, protocol=protocol)
    expected[name] = independent_count(tr, 3 * MB, 68 * MB)
    expected[name]["timed"] = timed
    expected[name]["protocol"] = protocol


class Exploit:
    """What a hostile snapshot does: unpickling it would run os.system (this script never loads it)."""
    def __reduce__(self):
        return (os.system, ("echo this pickle ran a command",))


with open(os.path.join(HERE, "hostile_reduce.pickle"), "wb") as f:
    pickle.dump({"segments": [], "device_traces": [[Exploit()]]}, f, protocol=2)  # GLOBAL + REDUCE
with open(os.path.join(HERE, "hostile_stack_global.pickle"), "wb") as f:
    pickle.dump({"segments": [], "device_traces": [[Exploit()]]}, f, protocol=4)  # STACK_GLOBAL + REDUCE

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2, sort_keys=True)
    f.write("\n")
print(json.dumps(expected, indent=1))
