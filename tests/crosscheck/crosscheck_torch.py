#!/usr/bin/env python3
"""Cross-check the engine against PyTorch: same model, same parameters, same batch.

For each model spec it runs `checkpointlab run SPEC --dump-tensors` (dropout probabilities set
to 0, because PyTorch cannot replay the engine's Philox masks), rebuilds the model in PyTorch
from the spec, loads the dumped parameters, input and target, and asserts:
  - loss:      |engine - torch| <= 1e-5 * |torch|
  - gradients: for every parameter, max|engine - torch| <= 2e-4 * max|torch| + 1e-7
(f32 on both sides; the remaining difference is summation order inside GEMMs and reductions).
It also compares, per block, the bytes the engine keeps for backward with the bytes PyTorch's
autograd saves (torch.autograd.graph.saved_tensors_hooks, unique storages), unchecked: equal
once what PyTorch's composites keep besides is added, term by term (torch_extra_bytes).

With --precision bf16-mixed both sides run mixed precision as CUDA's autocast defines it: the
engine with --precision bf16-mixed, PyTorch inside torch.autocast("cpu", dtype=torch.bfloat16)
(linear and matmul in bf16 with f32 accumulation) with LayerNorm and softmax given f32 inputs
explicitly (CUDA autocast runs them in f32; CPU autocast in this PyTorch leaves softmax in bf16
and cannot run LayerNorm on bf16 at all) and the losses in f32 (autocast's own rule). Then:
  - loss:      |engine - torch| <= 2e-2 * |torch|
  - gradients: max|engine - torch| <= 5e-2 * max|torch|
bf16 keeps 8 significant bits; both sides round every matrix product's output, but not at the
same places (PyTorch divides the scores by sqrt(hd) in a separate bf16 op, the engine folds it
into the product), so results differ by a few bf16 units; the worst seen is printed. Saved bytes
are compared exactly as in f32, the engine's 16-bit weight copies (weight_cast) added, since
PyTorch's saved tensors hold autocast's cached weight casts too; torch_extra_bytes lists every
other term, bf16 ones included.

With --sequential K both sides checkpoint segments: PyTorch runs block 0 as it is and the other
blocks through torch.utils.checkpoint.checkpoint_sequential(blocks, K, h) (reentrant, as 1.13's
is: K segments of len // K blocks, the last one run normally), the engine the same runs given as
--checkpoint segments:... (policies set to full: checkpoint_sequential recomputes everything).
Gradients are compared as above, and the saved bytes per block with the blocks checkpointed: a
segment's first block keeps its input (what CheckpointFunction's save_for_backward saves), the
others nothing; unchecked blocks as above. PyTorch's extra besides: each checkpointed segment keeps
the CPU random state (torch.get_rng_state(), 5,056 bytes with preserve_rng_state) as a plain
attribute, not a saved tensor: named here, not in the hook's count.

With --attention flash every attention layer runs the engine's fused kernel ("impl": "flash").
Debian's PyTorch 1.13 has no scaled_dot_product_attention, so the reference is explicit attention
in float64 inside an autograd function that saves what SDPA's flash back end saves for backward
(q, k, v, the output and the f32 log-sum-exp per row and head) and rebuilds the probabilities in
its backward (FlashReference); the saved bytes are compared with those, PyTorch's extras named as
for eager attention (torch_extra_bytes).

Exit status 0 when everything agrees, 1 on a mismatch, 77 (CTest's skip) without PyTorch.

  crosscheck_torch.py --cli build/app/checkpointlab [--precision f32|bf16-mixed] [--attention eager|flash]
                      [--sequential K] SPEC.json ...
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
    import torch.utils.checkpoint
except ImportError:
    print("crosscheck_torch: PyTorch is not installed here; skipped")
    sys.exit(77)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[info["dtype"]]
        t = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=dtype)
        out[name] = t.reshape(info["shape"]) if info["shape"] else t
    return out


class FlashReference(torch.autograd.Function):
    """Attention as SDPA's flash back end presents it to autograd: it saves q, k, v, the output
    and the log-sum-exp of each row and head (f32), and its backward rebuilds the probabilities.
    The arithmetic is explicit attention in float64, outside autocast (the reference)."""

    @staticmethod
    def scores(q, k, causal):
        s = (q.double() @ k.double().transpose(-1, -2)) / q.shape[-1] ** 0.5
        if causal:
            T = q.shape[-2]
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return s

    @staticmethod
    def forward(ctx, q, k, v, causal):
        with torch.autocast("cpu", enabled=False):
            s = FlashReference.scores(q, k, causal)
            lse = torch.logsumexp(s, dim=-1)
            out = (torch.exp(s - lse[..., None]) @ v.double()).to(q.dtype)
        ctx.causal = causal
        ctx.save_for_backward(q, k, v, out, lse.float())
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, _ = ctx.saved_tensors
        with torch.autocast("cpu", enabled=False):
            s = FlashReference.scores(q, k, ctx.causal)
            p = torch.softmax(s, dim=-1)  # rebuilt (from the scores again, in float64)
            g = dout.double()
            dp = g @ v.double().transpose(-1, -2)
            ds = p * (dp - (dp * p).sum(-1, keepdim=True)) / q.shape[-1] ** 0.5
            dq, dk, dv = ds @ k.double(), ds.transpose(-1, -2) @ q.double(), p.transpose(-1, -2) @ g
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None


def expand(spec):
    blocks = []
    for b in spec["blocks"]:
        for _ in range(b.get("repeat", 1)):
            blocks.append(b)
    return blocks


def sequential_runs(n, k):
    """The segments checkpoint_sequential(functions, k, input) checkpoints over blocks 1..n-1 (block
    0 runs as it is), as block ranges: k - 1 segments of (n - 1) // k blocks; the rest runs
    normally (torch 1.13's loop)."""
    size = (n - 1) // k
    return [(1 + start, start + size) for start in range(0, size * (k - 1), size)]


def build_forward(spec, tensors, saved_log=None, bf16=False, sequential=0):
    """Returns (params, loss_fn) where loss_fn() runs forward and the loss in PyTorch; with
    bf16, under CPU autocast with CUDA autocast's f32 rules for LayerNorm and softmax; with
    `sequential` K, blocks 1.. through checkpoint_sequential in K segments."""
    blocks = expand(spec)
    shape = spec["input"]["shape"]
    params = {}
    for name, t in tensors.items():
        if name.startswith("blocks."):
            params[name] = t.clone().requires_grad_(True)
    tokens = blocks[0]["layers"][0]["type"] == "embedding"
    image = len(shape) == 4 and not tokens  # (B, C, H, W), kept as an image
    x0 = tensors["input"]
    seq = shape[1] if (tokens or (len(shape) >= 3 and not image)) else 1
    rows = shape[0] if image else x0.numel() if tokens else x0.numel() // shape[-1]
    # Batch norm's running statistics start as PyTorch's (mean 0, variance 1); they are buffers,
    # moved by the forward, compared with the engine's after the step (running_stats).
    running = {}
    for b, blk in enumerate(blocks):
        for l, spec_l in enumerate(block_layers(blk)):
            if spec_l["type"] == "batchnorm2d":
                c = spec_l["channels"]
                running[f"blocks.{b}.{l}.running_mean"] = torch.zeros(c)
                running[f"blocks.{b}.{l}.running_var"] = torch.ones(c)

    def layer(b, l, spec_l, h):
        p = lambda n: params.get(f"blocks.{b}.{l}.{n}")
        t = spec_l["type"]
        if t == "linear":
            # A tied head uses the embedding's table (the engine dumps it once, as blocks.0.0.weight).
            w = params["blocks.0.0.weight"] if spec_l.get("tied", False) else p("weight")
            return F.linear(h, w, p("bias"))
        if t == "rmsnorm":
            h32 = h.float()
            return h32 * torch.rsqrt(h32.pow(2).mean(-1, keepdim=True) + spec_l.get("eps", 1e-5)) * p("weight")
        if t == "swiglu":
            gate, up = h.chunk(2, dim=-1)
            return F.silu(gate) * up
        if t == "conv2d":
            k = spec_l["kernel"]
            return F.conv2d(h, p("weight"), p("bias"), stride=spec_l.get("stride", 0) or 1,
                            padding=spec_l.get("padding", 0), groups=spec_l.get("groups", 1))
        if t == "batchnorm2d":
            return F.batch_norm(h, running[f"blocks.{b}.{l}.running_mean"], running[f"blocks.{b}.{l}.running_var"],
                                p("weight"), p("bias"), training=True, momentum=spec_l.get("momentum", 0.1),
                                eps=spec_l.get("eps", 1e-5))
        if t in ("maxpool2d", "avgpool2d"):
            k = spec_l["kernel"]
            pool = F.max_pool2d if t == "maxpool2d" else F.avg_pool2d
            return pool(h, k, stride=spec_l.get("stride", 0) or k, padding=spec_l.get("padding", 0))
        if t == "global_avgpool":
            return h.mean((2, 3), keepdim=True)  # torchvision's adaptive_avg_pool2d(1), the same sums
        if t == "flatten":
            return h.flatten(1)
        if t == "relu":
            return torch.relu(h)
        if t == "gelu":
            return F.gelu(h, approximate="tanh")
        if t == "tanh":
            return torch.tanh(h)
        if t == "silu":
            return F.silu(h)
        if t == "layernorm":
            return F.layer_norm(h.float(), (h.shape[-1],), p("weight"), p("bias"), spec_l.get("eps", 1e-5))
        if t == "dropout":
            return h  # p forced to 0
        if t == "embedding":
            out = F.embedding(h.reshape(-1), p("weight"))
            if p("positions") is not None:
                pos = torch.arange(rows) % seq
                out = out + p("positions")[pos]
            return out
        if t == "attention":
            heads = spec_l["heads"]
            kv = spec_l.get("kv_heads", 0) or heads
            hd = h.shape[-1] // (heads + 2 * kv)
            d = heads * hd
            B = rows // seq
            q = h[:, :d].reshape(B, seq, heads, hd).transpose(1, 2)
            k = h[:, d:d + kv * hd].reshape(B, seq, kv, hd).transpose(1, 2)
            v = h[:, d + kv * hd:].reshape(B, seq, kv, hd).transpose(1, 2)
            theta = spec_l.get("rope_theta", 0)
            if theta:
                # LLaMA's rotary embedding (rotate_half), angles in f32.
                inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
                ang = torch.arange(seq, dtype=torch.float32)[:, None] * inv[None, :]
                cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)

                def rot(x):
                    x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
                    return (x * cos + torch.cat([-x2, x1], -1) * sin).to(x.dtype)
                q, k = rot(q), rot(k)
            if kv != heads:  # grouped-query: each key/value head serves heads / kv query heads
                k = k.repeat_interleave(heads // kv, dim=1)
                v = v.repeat_interleave(heads // kv, dim=1)
            if spec_l.get("impl", "eager") == "flash":
                o = FlashReference.apply(q, k, v, spec_l.get("causal", False))
                return o.permute(0, 2, 1, 3).reshape(rows, d)
            s = q @ k.transpose(-1, -2) / hd ** 0.5
            if spec_l.get("causal", False):
                s = s.masked_fill(torch.ones(seq, seq, dtype=torch.bool).triu(1), float("-inf"))
            o = torch.softmax(s.float() if bf16 else s, dim=-1) @ v
            return o.permute(0, 2, 1, 3).reshape(rows, d)
        raise ValueError(t)

    def forward():
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return forward_any()
        return forward_any()

    def run_block(b, h):
        # The engine numbers a block's layers main path, shortcut, post (ResNet's order:
        # y = post(shortcut(x) + layers(x)), the shortcut the identity when it has none).
        blk = blocks[b]
        main, side, post = blk["layers"], blk.get("shortcut", []), blk.get("post", [])
        y = h
        for l, spec_l in enumerate(main):
            y = layer(b, l, spec_l, y)
        if not blk.get("residual", False):
            return y
        s = h
        for l, spec_l in enumerate(side):
            s = layer(b, len(main) + l, spec_l, s)
        z = s + y
        for l, spec_l in enumerate(post):
            z = layer(b, len(main) + len(side) + l, spec_l, z)
        return z

    def forward_sequential(h):
        # Block 0 as it is, then checkpoint_sequential itself over the rest. Saved tensors go to
        # the block running when they are saved; inside a checkpointed segment (its no-grad
        # forward, then save_for_backward of the segment's input) to the segment's first block.
        first_of = {}
        for a, e in sequential_runs(len(blocks), sequential):
            for b in range(a, e + 1):
                first_of[b] = a
        current = [0]
        logs = [dict() for _ in blocks]
        skip = ({x0.storage().data_ptr()} | {q.storage().data_ptr() for q in params.values()}
                | {q.storage().data_ptr() for q in running.values()})

        def pack(t):
            st = t.storage()
            if st.data_ptr() not in skip:
                logs[first_of.get(current[0], current[0])][st.data_ptr()] = st.nbytes()
            return t

        def step(b):
            def f(h):
                current[0] = b
                return run_block(b, h)
            return f
        ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t) if saved_log is not None else None
        if ctx:
            ctx.__enter__()
        try:
            h = step(0)(h)
            h = torch.utils.checkpoint.checkpoint_sequential([step(b) for b in range(1, len(blocks))], sequential, h)
        finally:
            if ctx:
                ctx.__exit__(None, None, None)
        if saved_log is not None:
            saved_log.extend(logs)
        return h

    def forward_any():
        h = x0 if (tokens or image) else x0.reshape(rows, shape[-1])
        if sequential:
            h = forward_sequential(h)
        for b in range(len(blocks)) if not sequential else []:
            if saved_log is not None:
                seen = {}
                skip = ({x0.storage().data_ptr()} | {q.storage().data_ptr() for q in params.values()}
                        | {q.storage().data_ptr() for q in running.values()})

                def pack(t):
                    # Activations only: parameters and the batch are not what checkpointing saves.
                    st = t.storage()  # views (q, k, v of the fused projection) share one storage
                    if st.data_ptr() not in skip:
                        seen[st.data_ptr()] = st.nbytes()
                    return t
                with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    h = run_block(b, h)
                saved_log.append(seen)
            else:
                h = run_block(b, h)
        target = tensors["target"]
        if spec.get("loss", "mse") == "cross_entropy":
            return F.cross_entropy(h, target)
        return F.mse_loss(h, target)

    return params, forward, running


def block_layers(blk):
    """A block's layers in the engine's order: main path, shortcut, post."""
    return blk["layers"] + blk.get("shortcut", []) + blk.get("post", [])


def window(n, l):
    k = l["kernel"]
    s = l.get("stride", 0) or (1 if l["type"] == "conv2d" else k)
    return (n + 2 * l.get("padding", 0) - k) // s + 1


def out_width(l, width):
    """Features after a layer, from the features coming in (the engine's layer-traits rule); an
    image is a tuple (C, H, W)."""
    t = l["type"]
    if t == "conv2d":
        return (l["out_channels"], window(width[1], l), window(width[2], l))
    if t in ("maxpool2d", "avgpool2d"):
        return (width[0], window(width[1], l), window(width[2], l))
    if t == "global_avgpool":
        return (width[0], 1, 1)
    if t == "flatten":
        return width[0] * width[1] * width[2]
    if t == "linear":
        return l["out"]
    if t == "embedding":
        return l["dim"]
    if t == "swiglu":
        return width // 2
    if t == "attention":
        kv = l.get("kv_heads", 0) or l["heads"]
        return l["heads"] * (width // (l["heads"] + 2 * kv))
    return width


def size(width):
    return width[0] * width[1] * width[2] if isinstance(width, tuple) else width


def torch_extra_bytes(l, shape, bf16, width, input_saved=False, first=False):
    """What PyTorch's autograd saves for one layer beyond the engine's kept bytes, unchecked.

    Found by logging every saved tensor (saved_tensors_hooks) of each composite below:
      - embedding with learned positions: the int64 position index of the gather (rows*8).
      - attention: the divisor 1/sqrt(hd), a 0-dim double (8); the causal mask (T*T bools); in
        bf16, a @ v's bf16 copy of the probabilities (B*H*T*T*2). Flash attention (FlashReference,
        as SDPA's flash back end) keeps none of those, but its output in the (B, H, T, hd) layout
        beside the (B*T, H*hd) copy the output projection keeps (rows*H*hd*e), which the engine
        keeps once; the log-sum-exp is kept on both sides. Either kernel: rotary positions keep cos and
        sin (2*T*hd*4) and the rotated Q (and K, unless grouped-query repeats it) instead of
        views of the fused projection; grouped-query attention keeps the repeated K and V
        (B*H*T*hd*e each) and repeat_interleave's int64 index (H*8, twice). When both replace
        every view, PyTorch no longer keeps the fused projection itself, which the engine does.
      - rmsnorm: x**2 and the normalized x before the weight (2*rows*dim*4: the residual
        stream it normalizes is f32 in both precisions).
      - swiglu: silu(gate) (rows*f*e).
      - maxpool2d: the int64 indices of each maximum (B*C*Ho*Wo*8); the engine finds each
        window's maximum again in backward from the input both keep.
      - avgpool2d and global_avgpool (mean((2, 3)), which in this PyTorch keeps its input as
        adaptive_avg_pool2d does): the input (B*C*H*W*e), which the engine does not keep (the
        backward needs only shapes), unless another layer keeps that tensor anyway (input_saved:
        it is a ReLU's output, as after every residual block of a ResNet).
      - conv2d in bf16 as the model's first layer (its input, the batch, wants no gradient):
        the weight's bf16 copy (C_out*C_in/groups*k*k*2), which convolution's backward saves
        whatever it will compute, while the engine keeps it only for dx (as both sides do for
        a linear, whose addmm saves the weight only when the input wants a gradient).
      conv2d keeps its input and batchnorm2d its input plus save_mean and save_invstd (2C f32)
      on both sides; batch norm's running statistics are buffers, left out like parameters;
      flatten is a view.
    e is the element size of a matrix product's output: 4, or 2 in bf16 (the projections, their
    rotated, repeated and gated copies are bf16 there; cos, sin and the f32 softmax output stay
    f32).
    `width` is the features coming into the layer.
    """
    B, T = shape[0], shape[1]
    rows = B * T
    e = 2 if bf16 else 4
    t = l["type"]
    if t == "maxpool2d":
        return B * size(out_width(l, width)) * 8
    if t in ("avgpool2d", "global_avgpool"):
        return 0 if input_saved else B * size(width) * e
    if t == "conv2d":
        k = l["kernel"]
        return l["out_channels"] * (l["in_channels"] // l.get("groups", 1)) * k * k * 2 if bf16 and first else 0
    if t in ("batchnorm2d", "flatten"):
        return 0
    if t == "embedding":
        return rows * 8 if l.get("max_len", 0) else 0
    if t == "rmsnorm":
        return 2 * rows * l["dim"] * 4
    if t == "swiglu":
        return rows * (width // 2) * e
    if t != "attention":
        return 0
    H = l["heads"]
    kv = l.get("kv_heads", 0) or H
    hd = width // (H + 2 * kv)
    if l.get("impl", "eager") == "flash":
        extra = rows * H * hd * e
    else:
        extra = 8 + (T * T if l.get("causal", False) else 0)
        if bf16:
            extra += B * H * T * T * 2
    rope, gqa = bool(l.get("rope_theta", 0)), kv != H
    if rope:
        extra += 2 * T * hd * 4 + B * H * T * hd * e + (0 if gqa else B * kv * T * hd * e)
    if gqa:
        extra += 2 * H * 8 + 2 * B * H * T * hd * e
    if rope and gqa:
        extra -= rows * width * e
    return extra


def check(cli, spec_path, workdir, precision, attention, sequential=0):
    bf16 = precision == "bf16-mixed"
    with open(spec_path) as f:
        spec = json.load(f)
    for b in spec["blocks"]:
        for l in block_layers(b):
            if "p" in l:
                l["p"] = 0.0
            if l["type"] == "attention" and attention:
                l["impl"] = attention
    checkpoint = "none"
    if sequential:
        # checkpoint_sequential recomputes every layer of a segment: no selective policy.
        for b in spec["blocks"]:
            b["policy"] = "full"
            for l in block_layers(b):
                l.pop("save", None)
        spec.pop("segments", None)
        runs = sequential_runs(len(expand(spec)), sequential)
        checkpoint = "segments:" + ",".join(f"{a}-{e}" for a, e in runs)
    tmp_spec = os.path.join(workdir, "spec.json")
    with open(tmp_spec, "w") as f:
        json.dump(spec, f)
    dump = os.path.join(workdir, "dump.safetensors")
    report = os.path.join(workdir, "report.json")
    # Unchecked (or in checkpoint_sequential's segments), so the engine's kept bytes and weight
    # casts are those PyTorch saves.
    subprocess.run([cli, "run", tmp_spec, "--dump-tensors", dump, "--report", report, "--quiet", "--checkpoint", checkpoint,
                    "--precision", precision], check=True)
    tensors = read_safetensors(dump)
    with open(report) as f:
        rep = json.load(f)
    params, forward, running = build_forward(spec, tensors, bf16=bf16, sequential=sequential)
    loss = forward()
    loss.backward()
    ok = True
    # Batch norm's running statistics after the step: moved once, as PyTorch's.
    stats_worst = 0.0
    for name, r in running.items():
        err = (tensors["buffer." + name] - r).abs().max().item()
        tol = (2e-2 if bf16 else 1e-5) * r.abs().max().item() + 1e-7
        stats_worst = max(stats_worst, err / tol)
        if err > tol:
            print(f"  {name}: max error {err:.3e} > {tol:.3e}  MISMATCH")
            ok = False
    engine_loss = rep["loss"]
    loss_tol, grad_tol = (2e-2, 5e-2) if bf16 else (1e-5, 2e-4)
    if abs(engine_loss - loss.item()) > loss_tol * abs(loss.item()):
        print(f"  loss: engine {engine_loss!r} torch {loss.item()!r}  MISMATCH")
        ok = False
    worst = 0.0
    for name, p in params.items():
        g_engine = tensors["grad." + name]
        g_torch = p.grad
        err = (g_engine - g_torch).abs().max().item()
        tol = grad_tol * g_torch.abs().max().item() + 1e-7
        worst = max(worst, err / tol)
        if err > tol:
            print(f"  {name}: max error {err:.3e} > {tol:.3e}  MISMATCH")
            ok = False
    mode = precision + (f", {attention} attention" if attention else "")
    if sequential:
        mode += f", checkpoint_sequential {sequential}: {checkpoint}"
    print(f"{spec['name']} ({mode}): loss engine {engine_loss:.7f} torch {loss.item():.7f}; "
          f"{len(params)} gradients, worst error {worst:.3f} of tolerance"
          + (f"; {len(running)} running statistics, worst {stats_worst:.3f}" if running else "")
          + f" -> {'agree' if ok else 'DIFFER'}")

    # Saved bytes per block, engine beside PyTorch.
    log = []
    _, fwd, _ = build_forward(spec, tensors, saved_log=log, bf16=bf16, sequential=sequential)
    fwd()
    seen_all = set()
    blocks = expand(spec)
    shape = spec["input"]["shape"]
    # Byte-exact: every difference is modelled (torch_extra_bytes).
    print(f"  {'block':>5} {'name':14} {'engine kept':>12} {'torch saved':>12}")
    # Features into the first layer (an embedding replaces them); an image is (C, H, W).
    width = tuple(shape[1:]) if len(shape) == 4 and blocks[0]["layers"][0]["type"] != "embedding" else shape[-1]
    prev = None  # the type of the layer that made the tensor coming in
    for b, (blk, seen) in enumerate(zip(rep["blocks"], log)):
        fresh = {k: v for k, v in seen.items() if k not in seen_all}
        seen_all.update(seen.keys())
        checked = blk.get("checkpoint", False)
        engine = (blk["kept_bytes"] if sequential else blk["kept_bytes_unchecked"]) + (blk.get("weight_cast_bytes", 0) if bf16 else 0)
        torch_saved = sum(fresh.values())
        extra = 0
        # Each path from the features it takes: the layers and the shortcut from the block's
        # input, post from their sum.
        w_in, p_in = width, prev
        for path, w0, p0 in ((blocks[b]["layers"], w_in, p_in), (blocks[b].get("shortcut", []), w_in, p_in),
                             (blocks[b].get("post", []), None, "add")):
            if w0 is None:
                w0 = width
            w, p = w0, p0
            for l in path:
                # A checkpointed segment saves its input and nothing of its layers.
                if not checked:
                    extra += torch_extra_bytes(l, shape, bf16, w, input_saved=p == "relu", first=p is None)
                w, p = out_width(l, w), l["type"]
            if path is blocks[b]["layers"] or path is blocks[b].get("post"):
                width, prev = w, p
        if blocks[b].get("residual", False) and not blocks[b].get("post"):
            prev = "add"
        line = f"  {b:5d} {blk['name'][:14]:14} {engine:12d} {torch_saved:12d}  ({extra:+d} explained)"
        if torch_saved != engine + extra:
            line += "  MISMATCH"
            ok = False
        print(line)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16-mixed"])
    ap.add_argument("--attention", default="", choices=["", "eager", "flash"],
                    help="put every attention layer on this kernel (default: as the spec says)")
    ap.add_argument("--sequential", type=int, default=0, metavar="K",
                    help="checkpoint both sides in checkpoint_sequential's K segments")
    ap.add_argument("specs", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for s in a.specs:
            ok &= check(a.cli, s, d, a.precision, a.attention, a.sequential)
    print("crosscheck_torch: " + ("1 passed, 0 failed" if ok else "0 passed, 1 failed"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
