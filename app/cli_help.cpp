// The CLI's manual pages (`checkpointlab --help`, `run --help`, `plan --help`,
// `import --help`), kept apart
// from the logic so both stay readable. Written like man pages: NAME, SYNOPSIS, DESCRIPTION,
// OPTIONS, EXIT STATUS, EXAMPLES.
#include "cli.h"

namespace cli {

namespace {

// The engine's error kinds map to these: bad_input 2, out_of_memory 3, io, stopped and device 1.
const char* kExitStatus = R"(EXIT STATUS
    0   success
    1   failure: a file could not be read or written, the run was interrupted, the device
        failed (e.g. the system refused memory)
    2   bad usage or a bad model or experiment file (the message names the option or the field)
    3   out of memory: the step needs more than the memory limit or the device has, or (plan)
        no checkpoint plan fits the budget
)";

}  // namespace

std::string help_text(HelpTopic topic) {
    std::string t;
    switch (topic) {
    case HelpTopic::main:
        t = R"(NAME
    checkpointlab - a laboratory for activation (gradient) checkpointing

SYNOPSIS
    checkpointlab
    checkpointlab run MODEL [--device cpu|cuda[:N]] [--checkpoint POLICY] [--steps N] [OPTIONS]
    checkpointlab plan MODEL --budget BYTES [--planner dp|segments|sqrt|every-k|all|none]
    checkpointlab predict MODEL [--checkpoint POLICY] [--dp N --zero 0-3 --tp T --sp --pp P]
    checkpointlab import CONFIG.json --batch B --seq S [-o model.json]
    checkpointlab export-torch MODEL -o SCRIPT.py [--checkpoint POLICY] [--steps N]
    checkpointlab import-torch-snapshot SNAPSHOT.pickle [--report r.json] [--plot chart.png]
    checkpointlab help [run|plan|predict|import|export-torch|import-torch-snapshot]
    checkpointlab --version

DESCRIPTION
    CheckpointLab runs real training steps (forward, loss, backward, optimizer) of a layer
    stack through its embedded engine and measures, byte by byte, what activation
    checkpointing saves and what the recomputation costs.

    Without arguments it opens the GUI when a display is available (DISPLAY,
    WAYLAND_DISPLAY or QT_QPA_PLATFORM is set) and otherwise runs a headless demo: the
    lesson1_activations preset without and with checkpointing, writing reports, CSV timelines
    and Perfetto traces into ./checkpointlab-demo/.

    MODEL is a model spec JSON file, an experiment file saved by the GUI ({"model": ...,
    "run": ...}: the model and its run settings), or the name of a shipped preset:
    lesson1_activations to lesson6_sublinear_memory, textbook_mlp, deep_residual_mlp, ...
    (looked up next to the program, in the installed share/checkpointlab/presets and in
    the source tree's resources/presets).

COMMANDS
    run     run training steps and report memory and time; see `checkpointlab run --help`
    plan    choose blocks to checkpoint under a memory budget; see `checkpointlab plan --help`
    predict a step's memory without running it, on one device or per rank of a parallel layout
            (data/ZeRO/FSDP, tensor, pipeline); see `checkpointlab predict --help`
    import  a model spec from a Hugging Face config.json (GPT-2, LLaMA, Mistral, Qwen2); see
            `checkpointlab import --help`
    export-torch
            the model and its plan as a runnable PyTorch script; see
            `checkpointlab export-torch --help`
    import-torch-snapshot
            what PyTorch measured (a CUDA memory snapshot) as a memory timeline, read without
            running the pickle; see `checkpointlab import-torch-snapshot --help`
    help    show this page, or a command's page

OPTIONS
    -h, --help
        Show this page.
    --version
        Print the version.

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab run textbook_mlp --checkpoint all --report report.json
    checkpointlab plan lesson4_memory_limit --budget 10MiB
)";
        break;
    case HelpTopic::run:
        t = R"(NAME
    checkpointlab run - run training steps of a model and measure memory and time

SYNOPSIS
    checkpointlab run MODEL [--device cpu|cuda[:N]]
                      [--checkpoint none|all|sqrt|every:K|0,3,5|segments:0-3,4-7] [--steps N]
                      [--threads N] [--repeats K] [--memory-limit BYTES|none] [--policy P]
                      [--precision f32|bf16-mixed|fp16-mixed] [--no-preserve-rng] [--tf32]
                      [--report r.json] [--trace t.json] [--csv m.csv]
                      [--plot chart.png|.pdf|.svg] [--plot-size 1600x900|16x9cm|6x4in] [--plot-dpi N]
                      [--plot-font-scale F] [--plot-no-title] [--dump-tensors t.safetensors] [--quiet]

DESCRIPTION
    Loads MODEL (a model spec file, an experiment file or a preset name), runs N training
    steps on the device and prints a summary of the last one: loss, step time, peak bytes per
    memory category, and a table of blocks (checkpointed?, bytes kept for backward, bytes
    avoided by checkpointing, forward/backward/recompute times) with the gradient checksum.
    Equal checksums mean bitwise-equal gradients, which is how checkpointing is shown to change
    nothing but memory and time. Progress of multi-step runs goes to standard error.

    An experiment file saved by the GUI runs with its own settings (device, threads, memory
    limit, tf32); the options below override them. Its "verify" setting (the GUI's unchecked twin
    run) is not used here: compare checksums of two runs instead.

    The files written describe the last step. Ctrl-C stops at the next layer boundary.

OPTIONS
    --device cpu|cuda|cuda:N
        Where to run (default: the experiment file's device, else cpu). cuda is cuda:0. On a
        GPU the summary adds what the device holds besides the tensors: the caching pool's
        reserved bytes (what nvidia-smi counts), the cuBLAS workspace and the CUDA context.
    --tf32
        CUDA only: matrix products on TF32 tensor cores (faster; about 1e-3 relative error,
        so gradients no longer track the f32 CPU reference). Off by default, unless the
        experiment file turns it on.
    --checkpoint POLICY
        Which blocks keep only their input in forward and recompute in backward, replacing
        the model file's "checkpoint" flags. all and every:K (units 0, K, 2K, ...) count the
        model's units: its segments (a transformer layer's attention and MLP blocks) and the
        blocks outside them; block indices and inclusive ranges such as 0,3,5 or 4-12 name
        blocks (checkpointed blocks next to each other in one segment are recomputed as one);
        segments:0-3,4-7 checkpoints these runs, each keeping only its first block's input and
        recomputed as one when backward reaches its last block (a single index is a block
        alone; the runs replace the segments they touch); sqrt is Chen et al. 2016's: the
        units cut into ceil(sqrt(n)) segments of about equal forward FLOPs, all checkpointed
        but the last (as PyTorch's checkpoint_sequential runs its last segment), so the memory
        kept grows as sqrt(n); none.
    --steps N
        Training steps to run (default 1). The first step creates optimizer state, so the
        second shows the steady state.
    --threads N
        CPU threads for the kernels (default: the experiment file's, else OMP_NUM_THREADS,
        else the cores the process may use).
    --repeats K
        Time every step K times from the same state (parameters, optimizer state and counters
        put back between the repeats, so each is the same step: one optimizer update, the same
        gradients and memory) and report each time as the median of the K, with "+-x %", half
        the range of the middle ones. 0 (the default) is the device's: 5 on the CPU, where a
        busy machine makes single samples vary several-fold, 1 on CUDA. A step that creates the
        optimizer state (the first) is timed once. The summary also gives the predicted time:
        each layer's FLOPs and bytes over this machine's measured throughput (measured once,
        about half a second, and kept in $XDG_CACHE_HOME/checkpointlab/throughput.json, else
        ~/.cache/...); the --report file carries both.
    --memory-limit BYTES|none
        Refuse allocations past this many live bytes, like a smaller device: the step stops
        with an out-of-memory report naming the block, layer and phase. BYTES accepts 123,
        1e9, 512MiB, 2 GiB, 1.5GB (KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB of 1000).
        Default: the experiment file's limit, else none; "none" lifts the file's limit.
    --policy full|save_matmuls|attention_core
        Selective checkpointing for every block, replacing the model file's "policy": what a
        checkpointed block saves instead of recomputing. full recomputes everything;
        save_matmuls keeps the outputs of linear and attention layers (like JAX's
        dots_saveable); attention_core recomputes only attention (Megatron-LM's selective
        recomputation). The per-layer bytes are in the --report file.
    --precision f32|bf16-mixed|fp16-mixed
        Run in this precision instead of the model file's: f32, or mixed precision as PyTorch's
        autocast with an f32 optimizer (16-bit matrix products with f32 accumulation, f32
        parameters, gradients and optimizer state); fp16-mixed adds dynamic loss scaling.
    --no-preserve-rng
        Do not replay the dropout random state when recomputing, so recomputed dropout masks
        differ (and so do the gradients) - to see why preserving it matters.
    --report FILE
        Write the JSON report: every figure of the summary, peaks per category, the model.
    --trace FILE
        Write a Chrome/Perfetto trace (open in https://ui.perfetto.dev or chrome://tracing):
        a live-bytes counter per category and a span per block phase and per layer.
    --csv FILE
        Write the memory timeline: one row per allocation or free with the live bytes of
        every category after it (columns time_ns, bytes, category, block, layer, phase,
        live_total, live_parameter, ..., live_temporary, live_communication).
    --plot FILE
        Export the memory timeline chart as PNG, PDF or SVG (needs the UI build), with the
        GUI export dialog's defaults: 1600 x 900 px at 120 DPI, fonts x 1.5 (no text under
        12 pt on a slide), the title on.
    --plot-size SIZE
        The chart's size: pixels (1600x900), centimetres (16x9cm) or inches (6x4in), converted
        at the DPI.
    --plot-dpi N
        Dots per inch, written into the file (PNG pixels per metre, the PDF's page size);
        sets how large a point of text is. 10 to 2400.
    --plot-font-scale F
        Text size against the screen's (0.25 to 8).
    --plot-no-title
        Leave the chart's title out (a figure caption gives it).
    --dump-tensors FILE
        Write input, target, parameters (before the step), output and gradients of the last
        step as safetensors, for cross-checking against PyTorch.
    --quiet
        Print nothing but errors.
    -h, --help
        Show this page.

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab run textbook_mlp --checkpoint none
    checkpointlab run deep_residual_mlp --checkpoint sqrt --steps 3 --trace trace.json
    checkpointlab run lesson6_sublinear_memory --checkpoint segments:0-7,8-15,16-23
    checkpointlab run model.json --memory-limit 512MiB --report oom.json
    checkpointlab run experiment.json --threads 2
    checkpointlab run tutorial_mlp --dump-tensors tutorial.safetensors --csv memory.csv
)";
        break;
    case HelpTopic::plan:
        t = R"(NAME
    checkpointlab plan - choose which blocks to checkpoint under a memory budget

SYNOPSIS
    checkpointlab plan MODEL --budget BYTES [--planner dp|segments|sqrt|every-k|all|none]
                       [--precision f32|bf16-mixed|fp16-mixed]
                       [--dp N --zero 0|1|2|3 --tp T --sp --pp P --microbatches M]

DESCRIPTION
    Prints the candidate checkpoint plans of a planner with each one's predicted peak memory,
    the segments it recomputes, where that peak happens and its recomputation cost, cheapest
    first, and picks the first whose peak fits the budget: the least recomputation that fits.
    The chosen plan is printed as a --checkpoint argument for `checkpointlab run`. The GUI's
    Plan button asks the engine the same question and gets the same answer.

    Peaks come from a chain model of the step built from ten dry runs of the engine's own
    executor (no allocation, no arithmetic), exact to the byte, and checked against a dry run
    of each candidate (on long chains, where that would cost a dry run per candidate, of the
    chosen one); they are the steady state (the second step, when optimizer state exists).
    Recomputation is counted in the forward FLOPs a checkpointed block runs again (its layers
    but those its policy saves, and inside a segment the trailing layers too), as a share of
    the step (about three forwards). The predicted step is the time of a step with that plan on
    this machine's CPU: each layer's FLOPs and bytes moved over the throughput measured here
    once (see run --help, --repeats).

OPTIONS
    --budget BYTES
        The memory budget (required), e.g. 2GiB, 512 MiB, 24GB, 1e9.
    --planner dp|segments|sqrt|every-k|all|none
        dp (default): the two optima side by side, and a line saying which is cheaper. "dp"
        checkpoints blocks one by one (each recomputed alone): a dynamic program over the chain
        finds the set with the least recomputation whose peak fits the budget (exact over the
        chain model; any set of blocks, not only regular patterns). "segments" also groups
        checkpointed blocks into runs recomputed as one (Chen et al.'s and rotor's single-level
        schedules): a dynamic program over the runs' first and last blocks, exact too; it is
        never dearer, and below the smallest per-block peak it is the only plan that fits. The
        table lists them beside none, every-k, sqrt and all (marked "= dp" where one is the
        other). The per-block program plans chains of identical blocks in time linear in their
        length (100,000 blocks in about 0.1 s); the segment program takes O(n K L) for n blocks,
        runs of up to K blocks and L labels at a block (about 0.5 s for 1,000 identical blocks;
        see the manual's Planning page). Past a program's limit (60 million label comparisons per
        block, 300 million label extensions over segments) plan says so: the per-block limit
        is an error (exit 2; choose sqrt, every-k or all there), the segment limit a line under
        the table beside the per-block plans.
        segments: only the segment optimum and sqrt.
        sqrt: only the sqrt plan (ceil(sqrt(n)) segments, all but the last checkpointed),
        checked against the budget.
        every-k: every:K for each possible number of checkpointed units (the smallest K that
        gives it, so they are spread evenly), down to every:1, which is all; the
        cheapest that fits is chosen.
        all, none: that one plan, checked against the budget.
    --precision f32|bf16-mixed|fp16-mixed
        Plan for this precision instead of the model file's (16-bit activations and weight
        casts change every peak).
    --dp N, --zero S, --tp T, --sp, --pp P, --microbatches M, --schedule 1f1b|gpipe
        Plan for each rank of this parallel layout (see predict --help): the peaks are a rank's,
        as checkpointlab predict counts them, and no time is predicted (the ranks are GPUs).
        With --pp each stage plans its own blocks so that it fits with its microbatches in
        flight (they keep what the plan keeps): the cheapest of the planner's candidates, and of
        its optima under lower budgets for the stage's step alone (bisection to 1/256 of the
        budget), each counted with the microbatches in flight. One line per stage, and the
        --checkpoint text of the whole model's plan; exit 3 names a stage that fits no plan.
    -h, --help
        Show this page.

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab plan lesson4_memory_limit --budget 10MiB
    checkpointlab plan lesson1_activations --budget 12MiB --planner every-k
    checkpointlab plan lesson6_sublinear_memory --budget 12MiB --planner segments
    checkpointlab plan model.json --budget 24GB --planner every-k
)";
        break;
    case HelpTopic::import:
        t = R"(NAME
    checkpointlab import - a model spec from a Hugging Face config.json

SYNOPSIS
    checkpointlab import CONFIG.json --batch B --seq S [-o model.json]
                         [--precision f32|bf16-mixed|fp16-mixed] [--attention flash|eager]

DESCRIPTION
    Reads the config.json of a GPT-2 (model_type gpt2: n_embd, n_layer, n_head, vocab_size,
    n_positions, n_inner, layer_norm_epsilon, tie_word_embeddings, resid_pdrop) or of a
    LLaMA, Mistral or Qwen2 model (hidden_size, intermediate_size, num_attention_heads,
    num_key_value_heads, num_hidden_layers, vocab_size, tie_word_embeddings, rms_norm_eps,
    rope_theta, head_dim, attention_bias, mlp_bias; Qwen2's q, k and v projections carry a
    bias) and writes the model spec of one training step at B sequences of S tokens: an
    embedding block, per transformer layer an attention block and an MLP block (each residual,
    grouped as one segment, so one tick checkpoints a layer and a plan can still pick either),
    and the head. The parameter count equals the published
    one (GPT-2 124,439,808; Llama-3-8B 8,030,261,248). The optimizer is AdamW (lr 3e-4,
    betas 0.9/0.95, weight decay 0.1); edit the spec to change it. Attention runs the fused
    (flash) kernel, as Hugging Face's default sdpa does: it keeps a log-sum-exp per row and
    head instead of the T x T probabilities.

    Not modelled: rope_scaling (memory and time are the same), sliding-window attention
    shorter than the sequence (an error), activations other than GELU (GPT-2) and SiLU.

OPTIONS
    --batch B
        Sequences per step (required).
    --seq S
        Tokens per sequence (required); at most GPT-2's n_positions.
    -o, --output FILE
        Write the spec to FILE (atomically) and print a summary; without it the spec goes
        to stdout and the summary to stderr.
    --precision f32|bf16-mixed|fp16-mixed
        The spec's precision (default f32).
    --attention flash|eager
        The attention kernel (default flash); eager keeps the softmax output (heads x T x T
        floats per sequence) for backward, as PyTorch's explicit attention does.
    -h, --help
        Show this page.

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab import config.json --batch 1 --seq 8192 --precision bf16-mixed -o llama.json
    checkpointlab plan llama.json --budget 80GB
    checkpointlab import gpt2/config.json --batch 8 --seq 1024 > gpt2.json
)";
        break;
    case HelpTopic::predict:
        t = R"(NAME
    checkpointlab predict - one step's memory, predicted to the byte, per rank of a parallel layout

SYNOPSIS
    checkpointlab predict MODEL [--checkpoint PLAN] [--policy P] [--precision P] [--attention K]
                          [--dp N] [--zero 0|1|2|3] [--tp T] [--sp] [--pp P] [--microbatches M]
                          [--schedule 1f1b|gpipe] [--states fsdp|deepspeed] [--world W] [--rank R]
                          [--device cuda|cpu] [--steps N] [--report r.json] [--csv t.csv] [--trace t.json]
                          [--plot chart.png|.pdf|.svg]

DESCRIPTION
    Runs the engine's executor on its dry backend (nothing allocated, nothing computed) over
    the model one rank computes, so every byte is the executor's own, for models far beyond
    this machine. Without layout options it predicts one device, as checkpointlab run
    measures it. With them it prints the chosen rank's peak by category and a table of every
    pipeline stage's peak, the worst marked; the files describe the chosen rank and are
    marked as predicted (File > Open run shows them).

    Ranks are numbered as Megatron-LM numbers them: the tensor rank fastest, then the data
    rank, then the stage, so rank 0 is on the first stage. What each option models:

    --dp N --zero S
        N data-parallel replicas. ZeRO stage 1 shards the optimizer state over them, 2 also
        the gradients, 3 also the parameters: stage 3 is FSDP's full sharding. Each tensor is
        sharded as DeepSpeed pads it (a multiple of N elements). Mixed precision follows
        FSDP's common set-up: f32 sharded parameters (the master weights), 16-bit gathered
        parameters, gradients reduced in f32. Under stage 3 a block's parameters are gathered
        (16-bit) while it computes, in forward, recomputation and backward, and the next
        block's are prefetched; under stages 2 and 3 its full f32 gradients live through its
        backward until the reduce-scatter. Both are the `communication` category.
    --tp T
        Megatron-LM's tensor parallelism: a linear followed, through attention or
        activations, by another is column-parallel and that one row-parallel; attention is
        split by heads (T divides the heads and the KV heads); the embedding and the LM head
        are split by vocabulary (padded up to a multiple of T), the loss vocabulary-parallel.
        Norms, dropout after a row-parallel linear and the residual stream stay whole on
        every rank (without --sp).
    --sp
        Sequence parallelism (Korthikanti et al. 2022) with --tp T: norms, dropout and the
        residual stream work on 1/T of the sequence. A column-parallel linear and the LM head
        all-gather the sequence (16-bit in mixed precision) and keep only their split for
        backward, gathering it again there; a row-parallel linear and the embedding make the
        whole sequence's product and reduce-scatter it; an output still split before a
        cross-entropy is gathered whole for the loss. The gathered and unscattered buffers
        are `communication`. T divides the sequence.
    --pp P --microbatches M --schedule 1f1b|gpipe
        The model's units as its file has them (segments and the blocks outside them) dealt
        out to P stages in order, the earlier stages taking one more; a --checkpoint plan's
        segments are cut at the stage boundaries. Each step runs M microbatches of batch / M
        rows (default 1; pipelines usually run M >= P to keep the bubble small); with M > 1 the
        gradients of the earlier microbatches are live from the step's start. Under 1F1B stage
        s holds the kept activations of min(P - s, M) microbatches when its first backward
        starts, under GPipe all M; a stage before the last ends with its output sent on and
        the gradient received back (counted as an MSE target, live through the step).
    --states fsdp|deepspeed
        How mixed precision keeps the model states. fsdp (the default): f32 parameters (the
        master weights) and gradients, 16-bit copies cast or gathered for the products.
        deepspeed: DeepSpeed's 16-bit optimizer, the ZeRO paper's accounting: 16-bit
        parameters and gradients, the f32 master weights with the AdamW moments (2 + 2 + 12
        bytes a parameter), sharded as the ZeRO stage shards each.
    --world W
        Checked against dp x tp x pp.
    --rank R
        The rank whose peak is printed and written (default 0, or the experiment file's).
        Block numbers printed are the whole model's; the files number a stage's blocks from 0.
    --device cuda|cpu
        Which dry backend (default cuda; no device is needed).
    --steps N
        Dry steps; the last is reported (default 2: the steady state, optimizer state present
        from its start).

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab predict llama3_8b_8k --dp 8 --zero 3 --checkpoint all
    checkpointlab predict gpt2_small --tp 2 --pp 2 --microbatches 8 --report rank0.json
)";
        break;
    case HelpTopic::export_torch:
        t = R"(NAME
    checkpointlab export-torch - the model and its checkpoint plan as a PyTorch script

SYNOPSIS
    checkpointlab export-torch MODEL -o SCRIPT.py [--checkpoint PLAN]
                               [--policy full|save_matmuls|attention_core] [--no-preserve-rng]
                               [--precision f32|bf16-mixed|fp16-mixed] [--steps N]
                               [--attention eager|flash] [--device cpu|cuda]
                               [--no-tensors | --tensors-always] [--hf]

DESCRIPTION
    Writes one standalone Python file, needing only torch, that builds the same model as an
    nn.Module layer by layer (blocks named and numbered as in CheckpointLab, parameter names
    blocks.B.L.weight), applies the plan as a PyTorch user writes it
    (torch.utils.checkpoint.checkpoint(block, h, use_reentrant=False, preserve_rng_state=...)
    around each checkpointed block, with a comment naming it, and around each run of
    checkpointed blocks of one segment as checkpoint_sequential does; torch.autocast for mixed
    precision; scaled_dot_product_attention for flash attention), runs training steps and
    prints PyTorch's own figures beside CheckpointLab's prediction of the same step: the loss
    and step time, the bytes saved_tensors_hooks saw per block against CheckpointLab's kept
    bytes with PyTorch's extras named term by term, and on CUDA max_memory_allocated and
    max_memory_reserved against the predicted peak.

    Beside SCRIPT.py goes SCRIPT.safetensors: the parameters as CheckpointLab initialised them
    from the spec's seed and the batch every step trains on, so the script's first loss and
    gradients are CheckpointLab's (checkpointlab run --dump-tensors) to float rounding, as long
    as no dropout draws masks. Past 2 GiB of parameters and batch it is not written (the
    script then uses PyTorch's initialisation and says so) unless --tensors-always.

    The script stops with one line naming the feature where the installed PyTorch lacks one:
    flash attention needs PyTorch 2.0 (scaled_dot_product_attention), selective policies 2.4
    (create_selective_checkpoint_contexts), fp16-mixed a CUDA device.

OPTIONS
    -o, --output SCRIPT.py
        The script to write (required), atomically.
    --checkpoint, --policy, --no-preserve-rng, --precision
        The plan and precision, as for checkpointlab run.
    --attention eager|flash
        Put every attention layer on this kernel (default: as the model says). PyTorch 1.13
        has no scaled_dot_product_attention: export with eager attention to run there.
    --steps N
        The training steps the script runs by default (3; its own --steps overrides).
    --device cpu|cuda
        The script's default device (default: cuda when PyTorch sees one, else cpu).
    --no-tensors
        Write no tensors file: the script starts from PyTorch's initialisation.
    --tensors-always
        Write the tensors file whatever its size.
    --hf
        For a model imported from a Hugging Face config.json: write instead a module whose
        apply_plan(model) applies the plan to your transformers model (decoder layer i is
        CheckpointLab's blocks h<i>.attn and h<i>.mlp, or l<i>.*): gradient_checkpointing_enable
        when every layer is checkpointed, else apply_activation_checkpointing with a check_fn
        wrapping the layers with both blocks checkpointed and the attention or MLP submodule of
        those with one. The GUI's File > Export as PyTorch script offers the same for such a
        model.
    -h, --help
        Show this page.

THE SCRIPT'S OPTIONS
    python3 SCRIPT.py [--device D] [--steps N] [--threads N] [--json FIGURES.json]
                      [--dump-grads GRADS.safetensors] [--tensors FILE]

)";
        t += kExitStatus;
        t += R"(
EXAMPLES
    checkpointlab export-torch gpt2_small --checkpoint 1,3,5 -o gpt2_small.py
    python3 gpt2_small.py --device cpu --steps 2
)";
        break;
    case HelpTopic::import_torch_snapshot:
        t = R"(NAME
    checkpointlab import-torch-snapshot - what PyTorch measured: a CUDA memory snapshot

SYNOPSIS
    checkpointlab import-torch-snapshot SNAPSHOT.pickle [--device-index N] [--report r.json]
                                        [--csv m.csv] [--trace t.json] [--plot chart.png|.pdf|.svg]
                                        [--plot-size WxH] [--plot-dpi D] [--plot-font-scale F]
                                        [--plot-no-title]

DESCRIPTION
    Reads the pickle torch.cuda.memory._dump_snapshot() writes after
    torch.cuda.memory._record_memory_history(), prints what it holds and writes it as the
    timeline files of a run. The file is read by CheckpointLab's own restricted unpickler:
    only plain data (dicts, lists, tuples, strings, bytes, numbers, None, booleans) is read,
    and a pickle that would import or call Python code (GLOBAL, STACK_GLOBAL, REDUCE, BUILD,
    INST, OBJ, NEWOBJ, ...) is refused with the opcode and its byte offset. Nothing in the
    file is run, and no Python is needed.

    Of the device with the longest trace (or --device-index N's): allocated bytes (an alloc adds its size, a
    free_completed takes it away; blocks freed in the trace but allocated before it began
    count from the start), reserved bytes (segment_alloc/map add, segment_free/unmap take
    away, ending at the segments of the snapshot), times from time_us (PyTorch 2.1 on; else
    the trace's order), and the first oom entry. Categories come from the allocations' stack
    frames only where a frame says so (torch/utils/checkpoint.py's recomputation: recomputed;
    AccumulateGrad: gradient; torch/optim kept to the end: optimizer_state, freed: temporary;
    Module._apply: parameter); every other allocation is "unattributed". The manual's
    section import-torch-snapshot of "The command line" gives the rules.

    The GUI shows the same with File > Open PyTorch snapshot, in a window of its own; its
    Compare with the prediction lays the snapshot over the predicted step of the model on
    screen in the Compare tab (each curve over its own allocations and frees in order: they
    share no clock), with both peaks and their difference in bytes and percent.

OPTIONS
    --device-index N
        Read device N's trace (cuda:N) instead of the longest; the summary lists the devices
        traced. A device without trace entries is an error (exit 2).
    --report r.json
        The import's figures: the devices traced, entries, allocated and reserved bytes at the start, the peak
        and the end, allocations per category and per frame rule, the out-of-memory.
    --csv m.csv, --trace t.json
        The memory timeline as CSV and as a Perfetto trace, as checkpointlab run writes them
        (time_ns is the entry's index when the snapshot has no times).
    --plot FILE, --plot-size, --plot-dpi, --plot-font-scale, --plot-no-title
        The memory timeline chart, as for checkpointlab run: allocated bytes stacked by
        category, reserved bytes over time as a dash-dotted line.
    -h, --help
        Show this page.

)";
        t += kExitStatus;
        t += R"(    An oom entry in the trace is reported and is not an error (exit 0): the import worked.

EXAMPLES
    # in the training script: torch.cuda.memory._record_memory_history() before the steps,
    # torch.cuda.memory._dump_snapshot("snapshot.pickle") after them
    checkpointlab import-torch-snapshot snapshot.pickle --plot snapshot.png --report snapshot.json
)";
        break;
    }
    return t;
}

}  // namespace cli
