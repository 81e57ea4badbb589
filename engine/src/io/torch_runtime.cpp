// The fixed parts of an exported PyTorch script (torch_export.cpp writes the rest): the layers
// CheckpointLab has and PyTorch lacks as modules, the block that numbers its layers as the app
// does, the meter of saved bytes, the safetensors reader, and main(). Every expression below is
// the one tests/crosscheck/crosscheck_torch.py checks against the engine, so that the extras
// named per block (torch_saved_extras) are the ones PyTorch really saves.
#include "io/torch_runtime.h"

namespace ckpt {

const char* const kTorchRuntimeLayers = R"PY(

def fail(feature, why):
    """Stops with one line naming a feature this script needs and this PyTorch lacks."""
    sys.exit(f"{os.path.basename(__file__)}: PyTorch {torch.__version__} lacks {feature}: {why}")


class TokenEmbedding(nn.Module):
    """Token ids (B, T) -> rows (B*T, dim), plus a learned position per token when max_len > 0."""

    def __init__(self, vocab, dim, max_len=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab, dim))  # (vocab, dim)
        self.positions = nn.Parameter(torch.empty(max_len, dim)) if max_len else None  # (max_len, dim)

    def forward(self, ids):  # (B, T) int64
        out = F.embedding(ids.reshape(-1), self.weight)  # (B*T, dim)
        if self.positions is not None:
            out = out + self.positions[torch.arange(out.shape[0], device=ids.device) % SEQ]
        return out


class TiedHead(nn.Module):
    """A linear layer whose weight is the embedding's table (a tied LM head): y = x E^T + b."""

    def __init__(self, embedding, out, bias=True):
        super().__init__()
        self.embedding = [embedding]  # a plain list: the table is the embedding's parameter, not a second one
        self.bias = nn.Parameter(torch.empty(out)) if bias else None

    def forward(self, x):
        return F.linear(x, self.embedding[0].weight, self.bias)


class LayerNorm(nn.Module):
    """LayerNorm over the features, computed in f32 whatever comes in (autocast's rule)."""

    def __init__(self, dim, eps=1e-5, affine=True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x.float(), (x.shape[-1],), self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """LLaMA's RMSNorm, in f32: x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    """[gate | up] -> silu(gate) * up: half the features out."""

    def forward(self, x):
        gate, up = x.chunk(2, dim=-1)
        return F.silu(gate) * up


class GlobalAvgPool(nn.Module):
    """(B, C, H, W) -> (B, C, 1, 1): the mean of each channel."""

    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


class Attention(nn.Module):
    """Self-attention on a fused [Q | K | V] input: rows (B*T, (heads + 2 kv_heads) * hd) in,
    (B*T, heads * hd) out. Eager attention computes softmax(q k^T / sqrt(hd)) v explicitly and
    keeps the (B, heads, T, T) probabilities for backward; flash is scaled_dot_product_attention."""

    def __init__(self, heads, kv_heads, head_dim, causal=False, rope_theta=0.0, flash=False, p=0.0):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, head_dim
        self.causal, self.rope_theta, self.flash, self.p = causal, rope_theta, flash, p

    def forward(self, h):
        H, KV, hd, T = self.heads, self.kv_heads, self.hd, SEQ
        B, d = h.shape[0] // T, H * hd
        q = h[:, :d].reshape(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        k = h[:, d:d + KV * hd].reshape(B, T, KV, hd).transpose(1, 2)  # (B, KV, T, hd)
        v = h[:, d + KV * hd:].reshape(B, T, KV, hd).transpose(1, 2)
        if self.rope_theta:
            # LLaMA's rotary embedding (rotate_half), angles in f32.
            inv = 1.0 / (self.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32, device=h.device) / hd))
            ang = torch.arange(T, dtype=torch.float32, device=h.device)[:, None] * inv[None, :]
            cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)

            def rot(x):
                x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
                return (x * cos + torch.cat([-x2, x1], -1) * sin).to(x.dtype)
            q, k = rot(q), rot(k)
        if KV != H:  # grouped-query: each key/value head serves H / KV query heads
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
        if self.flash:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=self.causal)
        else:
            s = q @ k.transpose(-1, -2) / hd ** 0.5  # (B, H, T, T)
            if self.causal:
                s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=h.device).triu(1), float("-inf"))
            a = torch.softmax(s.float(), dim=-1)  # in f32 under autocast too (CUDA autocast's rule)
            if self.p:
                a = F.dropout(a, self.p, self.training)
            o = a @ v  # (B, H, T, hd)
        return o.permute(0, 2, 1, 3).reshape(B * T, d)


class Selective:
    """Which layer runs now and whether the plan keeps its output (a selective policy); read
    by the checkpoint policy below, in forward and again in the recomputation."""
    saving = False


def selective_context():
    """A checkpointed block with a selective policy: the ops of its saved layers are kept, the
    rest recomputed (torch.utils.checkpoint.create_selective_checkpoint_contexts)."""
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if Selective.saving else CheckpointPolicy.PREFER_RECOMPUTE
    return create_selective_checkpoint_contexts(policy)


class Block(nn.ModuleList):
    """One CheckpointLab block. Its layers are numbered as in the app (the main path, then the
    shortcut, then post), so parameter names are CheckpointLab's ("blocks.B.L.weight"). A
    residual block computes post(shortcut(x) + main(x)), the shortcut the identity if empty."""

    def __init__(self, name, main, shortcut=(), post=(), residual=False, saves=()):
        super().__init__(list(main) + list(shortcut) + list(post))
        self.name, self.residual, self.saves = name, residual, saves
        self.main, self.side = len(main), len(shortcut)

    def layer(self, i, h):
        Selective.saving = bool(self.saves) and self.saves[i]
        return self[i](h)

    def forward(self, x):
        y = x
        for i in range(self.main):
            y = self.layer(i, y)
        if not self.residual:
            return y
        s = x
        for i in range(self.main, self.main + self.side):
            s = self.layer(i, s)
        z = s + y
        for i in range(self.main + self.side, len(self)):
            z = self.layer(i, z)
        return z


def storage_of(t):
    return t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()


class SavedBytes:
    """The bytes autograd keeps for backward, per block, as torch.autograd.graph.saved_tensors_hooks
    sees them: unique storages (the q, k and v views of one projection count once), parameters
    and the batch left out (checkpointing does not change them), each storage counted in the
    first block that keeps it. Inside a checkpointed block the checkpoint's own hooks take over
    and keep nothing; what it keeps is its input, held by checkpoint(), counted here."""

    def __init__(self):
        self.enabled, self.skip, self.seen, self.blocks = False, set(), set(), {}

    @contextlib.contextmanager
    def block(self, b, h, checkpointed=False):
        if not self.enabled:
            yield
            return
        got = {}

        def note(t):
            st = storage_of(t)
            if st.data_ptr() not in self.skip:
                got[st.data_ptr()] = st.nbytes()
            return t
        if checkpointed:
            note(h)
        with torch.autograd.graph.saved_tensors_hooks(note, lambda t: t):
            yield
        fresh = {k: v for k, v in got.items() if k not in self.seen}
        self.seen.update(got)
        self.blocks[b] = sum(fresh.values())


SAVED = SavedBytes()
)PY";

const char* const kTorchRuntimeMain = R"PY(

def read_safetensors(path):
    """The tensors of a safetensors file: an 8-byte header length, a JSON header, the raw data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[info["dtype"]]
        t = torch.frombuffer(bytearray(data[8 + n + b:8 + n + e]), dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        t = t.float() if t.is_floating_point() else t.long()
        raw = ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())  # little-endian, as the host
        header[name] = {"dtype": "F32" if t.is_floating_point() else "I64", "shape": list(t.shape),
                        "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def check_features(device):
    """Fails, naming the feature, before any work when this PyTorch cannot run the plan."""
    for block, policy in SELECTIVE_BLOCKS:
        if not hasattr(torch.utils.checkpoint, "create_selective_checkpoint_contexts"):
            fail("selective checkpointing", f"{block} keeps some layers (policy {policy}); that needs "
                 "torch.utils.checkpoint.create_selective_checkpoint_contexts (PyTorch 2.4 or later). "
                 "Export with --policy full to run this block fully recomputed")
    for block in FLASH_BLOCKS:
        if not hasattr(F, "scaled_dot_product_attention"):
            fail("scaled_dot_product_attention", f"{block} runs flash (fused) attention, which needs "
                 "torch.nn.functional.scaled_dot_product_attention (PyTorch 2.0 or later). Export with "
                 "--attention eager to run it here")
    if PRECISION != "f32" and not hasattr(torch, "autocast"):
        fail("torch.autocast", f"the model runs {PRECISION} mixed precision")
    if PRECISION == "fp16-mixed" and not device.startswith("cuda"):
        fail("fp16 autocast on the CPU", "fp16-mixed needs a CUDA device (--device cuda)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        fail("CUDA", "--device cuda asked for a GPU and torch.cuda.is_available() is False")


def fmt(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=f"{MODEL}: training steps in PyTorch with CheckpointLab's plan "
                                 "and PyTorch's figures beside CheckpointLab's prediction.")
    ap.add_argument("--device", default=DEVICE or ("cuda" if torch.cuda.is_available() else "cpu"))
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--tensors", default=os.path.join(here, TENSORS) if TENSORS else "",
                    help="the parameters and the batch CheckpointLab initialised (safetensors)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (CPU)")
    ap.add_argument("--json", default="", help="also write the figures to this JSON file")
    ap.add_argument("--dump-grads", default="", help="write the first step's gradients (safetensors, "
                    "CheckpointLab's names: grad.blocks.B.L.weight) to compare with checkpointlab run --dump-tensors")
    a = ap.parse_args()
    check_features(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(SEED)
    model = Model()
    if a.tensors and os.path.exists(a.tensors):
        tensors = read_safetensors(a.tensors)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name not in tensors or tuple(tensors[name].shape) != tuple(p.shape):
                    sys.exit(f"{os.path.basename(__file__)}: {a.tensors} has no tensor {name} of shape {tuple(p.shape)}")
                p.copy_(tensors[name])
        x, target = tensors["input"], tensors["target"]
        origin = f"parameters and batch from {os.path.basename(a.tensors)} (CheckpointLab's, seed {SEED})"
    else:
        # PyTorch's own initialisation (the modules' defaults; norms already hold 1 and 0).
        for m in model.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            elif isinstance(m, (TokenEmbedding, TiedHead)):
                for p in m.parameters(recurse=False):
                    nn.init.normal_(p, std=0.02)
        x = torch.randint(0, INPUT_CLASSES, INPUT_SHAPE) if INPUT_CLASSES else torch.randn(INPUT_SHAPE)
        target = torch.randint(0, TARGET_CLASSES, (ROWS,)) if TARGET_CLASSES else torch.randn(ROWS, OUTPUT_FEATURES)
        origin = "PyTorch's own initialisation and a random batch (no tensors file): the loss is not CheckpointLab's"
    model.to(dev)
    model.train()
    x, target = x.to(dev), target.to(dev)
    if not IMAGE and not INPUT_CLASSES:
        x = x.reshape(ROWS, -1)  # (rows, features): every layer sees rows
    opt = make_optimizer(model.parameters())
    cuda = dev.type == "cuda"
    amp = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}.get(PRECISION)
    scaler = torch.cuda.amp.GradScaler() if PRECISION == "fp16-mixed" else None
    SAVED.skip = {storage_of(t).data_ptr() for t in [x, target] + list(model.parameters()) + list(model.buffers())}

    print(f"{MODEL} in PyTorch {torch.__version__} on {a.device}: {origin}")
    print(f"plan: {PLAN}")
    losses, times, peaks = [], [], []
    grads = {}
    for step in range(a.steps):
        SAVED.enabled = step == 0
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=amp) if amp else contextlib.nullcontext():
            out = model(x)
            loss = LOSS(out.float().reshape(ROWS, -1), target)
        (scaler.scale(loss) if scaler else loss).backward()
        if step == 0 and a.dump_grads:
            grads = {"grad." + n: p.grad.detach().float().cpu().clone() for n, p in model.named_parameters() if p.grad is not None}
        if scaler:
            scaler.step(opt)
            scaler.update()
        elif opt:
            opt.step()
        model.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
            peaks.append((torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()))
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
        SAVED.enabled = False
        print(f"step {step + 1}: loss {losses[-1]:.7f}  time {times[-1] * 1e3:.1f} ms"
              + (f"  max_memory_allocated {fmt(peaks[-1][0])}  max_memory_reserved {fmt(peaks[-1][1])}" if cuda else ""))
    if a.dump_grads:
        write_safetensors(a.dump_grads, grads)

    print("\nsaved for backward in the first step, per block (saved_tensors_hooks; PyTorch's extras named):")
    print(f"  {'block':>5}  {'name':16} {'CheckpointLab':>14} {'+ extras':>10} {'PyTorch':>14}")
    rows, agree = [], True
    for b, blk in enumerate(BLOCKS):
        saved = SAVED.blocks.get(b, 0)
        extra = sum(n for n, _ in blk["extras"])
        same = saved == blk["kept"] + extra
        agree &= same or not blk["compared"]
        verdict = ("equal" if same else "DIFFER") if blk["compared"] else "not compared: " + blk["why"]
        print(f"  {b:5d}  {blk['name'][:16]:16} {blk['kept']:14d} {extra:+10d} {saved:14d}  "
              f"{'checkpointed ' if blk['checkpointed'] else ''}{verdict}")
        for n, what in blk["extras"]:
            print(f"  {'':5}  {'':16} {'':14} {n:+10d}   {what}")
        rows.append({"name": blk["name"], "checkpointed": blk["checkpointed"], "checkpointlab_kept": blk["kept"],
                     "torch_extras": extra, "torch_saved": saved, "compared": blk["compared"], "equal": same})
    print(f"\nCheckpointLab predicted for this step: peak {fmt(PREDICTED['peak_' + ('cuda' if cuda else 'cpu')])}"
          f" (parameters, gradients, optimizer state, batch and activations: what max_memory_allocated counts)")
    if cuda:
        alloc, reserved = max(p[0] for p in peaks), max(p[1] for p in peaks)
        print(f"PyTorch measured: max_memory_allocated {fmt(alloc)}, max_memory_reserved {fmt(reserved)}")
    if RUN_COMMAND:
        print(f"CheckpointLab's loss and time for the same steps: {RUN_COMMAND} --steps {a.steps}")
    for line in DIFFERENCES:
        print("  - " + line)
    print("saved bytes: " + ("every compared block equal" if agree else "SOME BLOCKS DIFFER"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": MODEL, "torch": torch.__version__, "device": a.device, "losses": losses,
                       "step_seconds": times, "cuda_peaks": peaks, "blocks": rows, "predicted": PREDICTED,
                       "saved_bytes_agree": agree}, f, indent=1)


if __name__ == "__main__":
    main()
)PY";

}  // namespace ckpt
