"""A CheckpointLab model spec as a PyTorch module, for the benchmarks (run_cpu_bench.py,
run_gpu_bench.py): the same layers, shapes and checkpoint choices, written the way PyTorch
eager users write them (explicit attention, torch.utils.checkpoint, torchvision's ResNet blocks,
a LLaMA block as the reference code has it: RMSNorm, rotary positions, grouped-query attention
by repeat_interleave, SwiGLU, a head tied to the embedding), on any device."""
import contextlib
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def expand_blocks(spec):
    out = []
    for blk in spec["blocks"]:
        for _ in range(blk.get("repeat", 1)):
            out.append(blk)
    return out


def sequence_length(spec):
    blocks = expand_blocks(spec)
    tokens = blocks[0]["layers"][0]["type"] == "embedding"
    shape = spec["input"]["shape"]
    return shape[1] if (tokens or len(shape) >= 3) else 1


class Embedding(nn.Module):
    def __init__(self, l, seq):
        super().__init__()
        self.table = nn.Embedding(l["vocab"], l["dim"])
        self.pos = nn.Parameter(torch.zeros(l["max_len"], l["dim"])) if l.get("max_len", 0) else None
        self.seq = seq

    def forward(self, tokens):
        out = self.table(tokens.reshape(-1))
        if self.pos is not None:
            out = out + self.pos[:self.seq].repeat(out.shape[0] // self.seq, 1)
        return out


class AttentionCore(nn.Module):
    """Scaled dot-product attention on a fused QKV input (Q of `heads` heads, then K and V of
    `kv_heads`), as PyTorch eager users write it; rotary positions as LLaMA's rotate_half. A layer
    on the engine's flash kernel ("impl": "flash") runs PyTorch's fused
    scaled_dot_product_attention where this PyTorch has it (2.0 and later; not Debian's 1.13)."""

    def __init__(self, l, seq):
        super().__init__()
        self.heads, self.causal, self.p, self.seq = l["heads"], l.get("causal", False), l.get("p", 0.0), seq
        self.fused = l.get("impl", "eager") == "flash" and hasattr(F, "scaled_dot_product_attention")
        self.kv = l.get("kv_heads", 0) or self.heads
        self.theta = l.get("rope_theta", 0.0)

    def rotate(self, x, hd):
        inv = 1.0 / (self.theta ** (torch.arange(0, hd, 2, dtype=torch.float32, device=x.device) / hd))
        angle = torch.outer(torch.arange(self.seq, dtype=torch.float32, device=x.device), inv).repeat(1, 2)
        half = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        return x * angle.cos() + half * angle.sin()

    def forward(self, qkv):
        rows, width = qkv.shape
        hd = width // (self.heads + 2 * self.kv)
        d, B = self.heads * hd, rows // self.seq
        q, k, v = qkv.split([d, self.kv * hd, self.kv * hd], dim=1)
        q = q.reshape(B, self.seq, self.heads, hd).transpose(1, 2)
        k = k.reshape(B, self.seq, self.kv, hd).transpose(1, 2)
        v = v.reshape(B, self.seq, self.kv, hd).transpose(1, 2)
        if self.theta:
            q, k = self.rotate(q, hd), self.rotate(k, hd)
        if self.kv != self.heads:
            k = k.repeat_interleave(self.heads // self.kv, dim=1)
            v = v.repeat_interleave(self.heads // self.kv, dim=1)
        if self.fused:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=self.causal)
            return o.permute(0, 2, 1, 3).reshape(rows, d)
        s = q @ k.transpose(-1, -2) / hd ** 0.5
        if self.causal:
            mask = torch.ones(self.seq, self.seq, dtype=torch.bool, device=qkv.device).triu(1)
            s = s.masked_fill(mask, float("-inf"))
        a = F.dropout(torch.softmax(s, dim=-1), self.p, self.training)
        return (a @ v).permute(0, 2, 1, 3).reshape(rows, d)


class RMSNorm(nn.Module):
    def __init__(self, l):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(l["dim"])), l.get("eps", 1e-5)

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def forward(self, x):
        gate, up = x.chunk(2, dim=-1)
        return F.silu(gate) * up


class TiedLinear(nn.Module):
    """The head of a tied model: the embedding's table as its weight (set by Model)."""

    def __init__(self):
        super().__init__()
        self.table = None

    def forward(self, x):
        return F.linear(x, self.table.weight)


def make_layer(l, seq):
    t = l["type"]
    if t == "embedding":
        return Embedding(l, seq)
    if t == "attention":
        return AttentionCore(l, seq)
    if t == "linear" and l.get("tied", False):
        return TiedLinear()
    if t == "linear":
        return nn.Linear(l["in"], l["out"], bias=l.get("bias", True))
    if t == "rmsnorm":
        return RMSNorm(l)
    if t == "swiglu":
        return SwiGLU()
    if t == "conv2d":
        return nn.Conv2d(l["in_channels"], l["out_channels"], l["kernel"], stride=l.get("stride", 0) or 1,
                         padding=l.get("padding", 0), groups=l.get("groups", 1), bias=l.get("bias", True))
    if t == "batchnorm2d":
        return nn.BatchNorm2d(l["channels"], eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1),
                              affine=l.get("affine", True))
    if t in ("maxpool2d", "avgpool2d"):
        pool = nn.MaxPool2d if t == "maxpool2d" else nn.AvgPool2d
        return pool(l["kernel"], stride=l.get("stride", 0) or l["kernel"], padding=l.get("padding", 0))
    if t == "global_avgpool":
        return nn.AdaptiveAvgPool2d(1)
    if t == "flatten":
        return nn.Flatten()
    if t == "relu":
        return nn.ReLU()
    if t == "gelu":
        return nn.GELU(approximate="tanh")
    if t == "tanh":
        return nn.Tanh()
    if t == "silu":
        return nn.SiLU()
    if t == "layernorm":
        return nn.LayerNorm(l["dim"], eps=l.get("eps", 1e-5), elementwise_affine=l.get("affine", True))
    if t == "dropout":
        return nn.Dropout(l.get("p", 0.0))
    raise ValueError("unknown layer " + t)


class RecomputeClock:
    """Host time spent re-running checkpointed functions during backward (PyTorch's
    recomputation), summed over a step; meaningful on the CPU, where the work is synchronous.
    train_step sets `in_backward` around loss.backward()."""

    def __init__(self):
        self.in_backward = False
        self.seconds = 0.0

    def wrap(self, fn):
        def run(*args):
            if not self.in_backward:
                return fn(*args)
            t0 = time.perf_counter()
            try:  # newer PyTorch ends a recomputation early by raising inside it
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t0
        return run


class Block(nn.Module):
    """One spec block: y = layers(x), or with a residual post(shortcut(x) + layers(x)) (ResNet's
    basic block; the shortcut is the identity when the spec has none, post usually a ReLU)."""

    def __init__(self, b, seq):
        super().__init__()
        path = lambda key: nn.Sequential(*[make_layer(l, seq) for l in b.get(key, [])])
        self.layers, self.shortcut, self.post = path("layers"), path("shortcut"), path("post")
        self.residual = b.get("residual", False)

    def forward(self, x):
        y = self.layers(x)
        return self.post(self.shortcut(x) + y) if self.residual else y


class Model(nn.Module):
    """The spec's stack. flags[b] checkpoints block b: "full" the whole block (a ResNet block
    with its shortcut and post; a transformer sub-block's layers, its residual add outside),
    "attention_core" only its attention cores (Megatron-style selective recomputation)."""

    def __init__(self, spec, flags):
        super().__init__()
        blocks = expand_blocks(spec)
        seq = sequence_length(spec)
        self.blocks = nn.ModuleList(Block(b, seq) for b in blocks)
        for m in self.modules():
            if isinstance(m, TiedLinear):
                m.table = self.blocks[0].layers[0].table
        self.flags = flags
        self.recompute = RecomputeClock()

    def forward(self, x):
        rc = self.recompute
        for blk, ck in zip(self.blocks, self.flags):
            if ck == "full" and (len(blk.shortcut) or len(blk.post)):
                x = checkpoint(rc.wrap(blk), x, use_reentrant=False)  # a ResNet block, as users wrap it
            elif ck == "full":
                y = checkpoint(rc.wrap(blk.layers), x, use_reentrant=False)
                x = x + y if blk.residual else y
            elif ck == "attention_core":
                y = x
                for layer in blk.layers:
                    y = checkpoint(rc.wrap(layer), y, use_reentrant=False) if isinstance(layer, AttentionCore) else layer(y)
                x = blk.post(blk.shortcut(x) + y) if blk.residual else y
            else:
                x = blk(x)
        return x


def policy_flags(policy, n):
    if policy == "none":
        return [None] * n
    if policy == "all":
        return ["full"] * n
    if policy == "all/attention_core":
        return ["attention_core"] * n
    raise ValueError(policy)


def training_setup(spec, policy, device):
    """Model, batch, target, loss function, optimizer and a batch drawer for one workload on
    `device`. On CUDA the optimizers are the fused ones (one kernel per step, no temporaries),
    like the engine's. draw() makes a fresh batch and target of the same shapes, as the engine
    does at the start of every step; the benchmarks time it inside the step on both sides."""
    torch.manual_seed(spec.get("seed", 0))
    blocks = expand_blocks(spec)
    tokens = blocks[0]["layers"][0]["type"] == "embedding"
    shape = spec["input"]["shape"]
    image = blocks[0]["layers"][0]["type"] == "conv2d"  # (B, C, H, W), kept as an image
    model = Model(spec, policy_flags(policy, len(blocks))).to(device)
    if tokens:
        x = torch.randint(0, blocks[0]["layers"][0]["vocab"], (shape[0] * shape[1],), device=device)
    elif image:
        x = torch.randn(*shape, device=device)
    else:
        x = torch.randn(*shape, device=device).reshape(-1, shape[-1])
    with torch.no_grad():
        out_features = model(x).shape[-1]
    if spec["loss"] == "cross_entropy":
        target = torch.randint(0, out_features, (x.shape[0],), device=device)
        loss_fn = F.cross_entropy
    else:
        target = torch.randn(x.shape[0], out_features, device=device)
        loss_fn = F.mse_loss
    o = spec.get("optimizer", {"type": "sgd"})
    fused = {"fused": True} if str(device).startswith("cuda") else {}
    if o["type"] == "adamw":
        betas = tuple(o.get("betas", [0.9, 0.999]))
        opt = torch.optim.AdamW(model.parameters(), lr=o.get("lr", 1e-3), betas=betas, eps=o.get("eps", 1e-8),
                                weight_decay=o.get("weight_decay", 0.0), **fused)
    elif o["type"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o.get("lr", 1e-3), momentum=o.get("momentum", 0.0),
                              weight_decay=o.get("weight_decay", 0.0), **fused)
    else:
        opt = None

    def draw():
        if tokens:
            nx = torch.randint(0, blocks[0]["layers"][0]["vocab"], x.shape, device=device)
        else:
            nx = torch.randn(x.shape, device=device)
        if spec["loss"] == "cross_entropy":
            nt = torch.randint(0, out_features, target.shape, device=device)
        else:
            nt = torch.randn(target.shape, device=device)
        return nx, nt

    # "precision": "bf16-mixed" on a GPU: the forward under autocast in bf16, as the engine's.
    model.autocast = spec.get("precision", "f32") == "bf16-mixed" and str(device).startswith("cuda")
    return model, x, target, loss_fn, opt, draw


def train_step(model, x, target, loss_fn, opt):
    if opt:
        opt.zero_grad(set_to_none=True)
    else:
        model.zero_grad(set_to_none=True)
    mixed = getattr(model, "autocast", False)
    with torch.autocast("cuda", dtype=torch.bfloat16) if mixed else contextlib.nullcontext():
        out = model(x)
    loss = loss_fn(out.float(), target)
    model.recompute.seconds = 0.0
    model.recompute.in_backward = True
    try:
        loss.backward()
    finally:
        model.recompute.in_backward = False
    if opt:
        opt.step()
