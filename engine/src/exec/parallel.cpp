// Parallel layouts (ckpt/parallel.h): the checks of a layout, the model one rank computes (its
// pipeline stage, its tensor-parallel shard, its microbatch), and its predicted step: the
// executor on the dry backend over that model, inside a DryRankScope (allocator.h): the
// allocator counts parameters, gradients and optimizer state as ZeRO shards them and the
// executor adds the buffers a sharded step gathers and reduces (Executor::RankExtras). Every
// byte of the prediction is then the executor's own, as it is for one device.
#include "ckpt/parallel.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "ckpt/layer_traits.h"
#include "core/allocator.h"
#include "exec/rank_scope.h"

namespace ckpt {

namespace {

constexpr int kMaxDegree = 1 << 16;  // any one dimension; the world is at most 2^20 ranks
constexpr int64_t kMaxWorld = int64_t(1) << 20;

std::string str(int64_t v) { return std::to_string(v); }

// "block 3 (h1.attn), layer 2"
std::string where(const ModelSpec& s, size_t b, size_t l) {
    return "block " + str(int64_t(b)) + " (" + s.blocks[b].name + "), layer " + str(int64_t(l));
}

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Whether the linear at `i` of a path opens a tensor-parallel pair: a later linear follows it
// with only layers between that work on split features (attention's heads, activations,
// dropout). Such a linear is column-parallel and the later one row-parallel (Megatron-LM's
// MLP and attention), so the features between them are split across the tensor ranks.
bool opens_pair(const std::vector<LayerSpec>& path, size_t i) {
    for (size_t j = i + 1; j < path.size(); ++j) {
        switch (path[j].type) {
        case LayerType::linear: return true;
        case LayerType::attention: case LayerType::relu: case LayerType::gelu: case LayerType::tanh:
        case LayerType::silu: case LayerType::swiglu: case LayerType::dropout: continue;
        default: return false;
        }
    }
    return false;
}

// One path of a block split over t tensor ranks; `last_linear` is the model's last linear layer
// (the LM head, split by vocabulary when the loss is cross-entropy). "" or the problem.
// With sequence parallelism (`sp`), the layers outside the pairs see this rank's split of the
// sequence: a column-parallel linear and the vocabulary-parallel head gather it, a row-parallel
// linear and the embedding reduce-scatter into it (LayerSpec::sp_gather, sp_scatter). A
// row-parallel linear that is the model's last before a cross-entropy scatters too (a residual or
// a post path may follow it); the executor gathers the output whole for the loss.
std::string split_path(const ModelSpec& s, size_t b, size_t first_layer, std::vector<LayerSpec>& path, int t, bool sp,
                       const LayerSpec* last_linear) {
    bool split = false;  // the features flowing now are split across the tensor ranks
    for (size_t i = 0; i < path.size(); ++i) {
        LayerSpec& l = path[i];
        const std::string at = where(s, b, first_layer + i);
        switch (l.type) {
        case LayerType::linear: {
            const bool head = &s.blocks[b].layer(first_layer + i) == last_linear && s.loss == LossType::cross_entropy;
            if (split) {  // row-parallel: its input is split, its output summed whole (all-reduce)
                l.in /= t;
                split = false;
                if (sp) l.sp_scatter = t;
            } else if (opens_pair(path, i)) {  // column-parallel
                if (l.out % t != 0)
                    return "tp " + str(t) + " does not divide the " + str(l.out) + " output features of " + at;
                // A fused [gate | up] projection: each rank takes its slice of both halves.
                if (i + 1 < path.size() && path[i + 1].type == LayerType::swiglu && (l.out / 2) % t != 0)
                    return "tp " + str(t) + " does not divide the " + str(l.out / 2) + " FFN features of " + at +
                           " (its gate and up halves)";
                l.out /= t;
                split = true;
                if (sp) l.sp_gather = t;
            } else if (head) {
                // The LM head: vocabulary-parallel logits and cross-entropy, the vocabulary padded up
                // to a multiple of t as Megatron-LM pads it.
                l.out = round_up(l.out, t) / t;
                if (sp) l.sp_gather = t;
            }
            break;
        }
        case LayerType::attention: {
            if (!split) return "tensor parallelism splits attention by heads: " + at + " must follow its QKV linear";
            const int64_t kv = l.kv_heads > 0 ? l.kv_heads : l.heads;
            if (l.heads % t != 0) return "tp " + str(t) + " does not divide the " + str(l.heads) + " heads of " + at;
            if (kv % t != 0) return "tp " + str(t) + " does not divide the " + str(kv) + " KV heads of " + at;
            l.heads /= t;
            if (l.kv_heads > 0) l.kv_heads /= t;
            break;
        }
        case LayerType::embedding:  // vocabulary-parallel; positions (if learned) whole on every rank
            l.vocab = round_up(l.vocab, t) / t;
            if (sp) l.sp_scatter = t;
            break;
        case LayerType::relu: case LayerType::gelu: case LayerType::tanh: case LayerType::silu:
        case LayerType::swiglu: case LayerType::dropout:
            break;  // elementwise: on whatever part of the features comes in
        case LayerType::layernorm: case LayerType::rmsnorm:
            if (split) return "tensor parallelism cannot split the features a norm needs whole: " + at;
            break;  // replicated: every rank normalises the whole row
        default:
            return "tensor parallelism is modelled for linear, attention and embedding layers: " + at + " is " +
                   std::string(layer_type_name(l.type));
        }
    }
    if (split) return "tensor parallelism: block " + str(int64_t(b)) + " (" + s.blocks[b].name + ") ends with split features";
    return "";
}

const LayerSpec* last_linear_of(const ModelSpec& s) {
    for (size_t b = s.blocks.size(); b-- > 0;)
        for (size_t l = s.blocks[b].layer_count(); l-- > 0;)
            if (s.blocks[b].layer(l).type == LayerType::linear) return &s.blocks[b].layer(l);
    return nullptr;
}

Result<ModelSpec> tensor_shard(const ModelSpec& spec, int t, bool sp) {
    if (t == 1) return spec;
    ModelSpec out = spec;
    const LayerSpec* head = last_linear_of(spec);
    for (size_t b = 0; b < out.blocks.size(); ++b) {
        BlockSpec& bs = out.blocks[b];
        // Paths are split on the copy; `head` points into the original, so compare by position.
        const LayerSpec* head_here = nullptr;
        if (head)
            for (size_t l = 0; l < spec.blocks[b].layer_count(); ++l)
                if (&spec.blocks[b].layer(l) == head) head_here = &spec.blocks[b].layer(l);
        size_t first = 0;
        for (std::vector<LayerSpec>* path : {&bs.layers, &bs.shortcut, &bs.post}) {
            std::string bad = split_path(spec, b, first, *path, t, sp, head_here);
            if (!bad.empty()) return Error{bad};
            first += path->size();
        }
    }
    return out;
}

// The features that flow into block `b`: the input's, then each block's output in turn.
Features features_before(const ModelSpec& s, int b) {
    Features f = s.input_shape_features();
    for (int k = 0; k < b; ++k) f = block_output(s.blocks[size_t(k)], f);
    return f;
}

}  // namespace

DryRank dry_rank(const ParallelLayout& p) {
    DryRank r;
    r.dp = p.dp;
    r.zero = p.zero;
    r.accumulating = p.microbatches > 1;
    r.sequence_shards = p.sp ? p.tp : 1;
    r.sixteen_bit_states = p.states == ModelStates::deepspeed;
    return r;
}

int in_flight_microbatches(const ParallelLayout& p, int stage) {
    return p.schedule == PipelineSchedule::gpipe ? p.microbatches : std::min(p.pp - stage, p.microbatches);
}

std::string_view schedule_name(PipelineSchedule s) { return s == PipelineSchedule::gpipe ? "gpipe" : "1f1b"; }

std::string describe_layout(const ParallelLayout& p) {
    if (p.single_device()) return "one device";
    std::string s = "dp " + str(p.dp);
    if (p.zero > 0) s += p.zero == 3 ? " (ZeRO-3, FSDP)" : " (ZeRO-" + str(p.zero) + ")";
    s += " x tp " + str(p.tp) + (p.sp ? " (SP)" : "") + " x pp " + str(p.pp) + " = " + str(p.world()) + (p.world() == 1 ? " device" : " devices");
    s += ", " + str(p.microbatches) + (p.microbatches == 1 ? " microbatch" : " microbatches");
    if (p.pp > 1) s += " (" + std::string(schedule_name(p.schedule)) + ")";
    if (p.states == ModelStates::deepspeed) s += ", DeepSpeed model states";
    return s;
}

std::string check_layout(const ModelSpec& spec, const ParallelLayout& p) {
    for (auto [name, v] : {std::pair<const char*, int>{"dp", p.dp}, {"tp", p.tp}, {"pp", p.pp}, {"microbatches", p.microbatches}})
        if (v < 1 || v > kMaxDegree) return std::string(name) + ": expected 1 to " + str(kMaxDegree) + ", got " + str(v);
    if (p.zero < 0 || p.zero > 3) return "zero: expected a ZeRO stage 0, 1, 2 or 3, got " + str(p.zero);
    if (int64_t(p.dp) * p.tp * p.pp > kMaxWorld)
        return "world size dp x tp x pp = " + str(int64_t(p.dp) * p.tp * p.pp) + " is past the limit of " + str(kMaxWorld);
    if (Result<std::vector<BlockRange>> st = stage_split(spec, p); !st) return st.error().message;
    const int64_t batch = spec.input_shape.empty() ? 0 : spec.input_shape[0];
    if (batch % p.microbatches != 0)
        return "microbatches " + str(p.microbatches) + " does not divide the batch of " + str(batch);
    if (p.states == ModelStates::deepspeed) {
        if (spec.precision == Precision::f32)
            return "DeepSpeed's model states are those of mixed precision (16-bit parameters and gradients): choose "
                   "bf16-mixed or fp16-mixed";
        if (spec.optimizer.type != OptimizerType::adamw)
            return "DeepSpeed's model states are modelled for AdamW (f32 master weights beside its two moments)";
    }
    if (p.sp) {
        // Megatron-LM splits the sequence over the tensor ranks: it needs tp > 1 and a sequence
        // the tensor ranks divide.
        if (p.tp < 2) return "sequence parallelism splits the sequence across the tensor ranks: it needs tp 2 or more";
        if (!spec.token_input() && spec.input_shape.size() != 3)
            return "sequence parallelism needs a sequence: the model's input is not (batch, sequence[, features])";
        if (spec.sequence_length() % p.tp != 0)
            return "tp " + str(p.tp) + " does not divide the sequence of " + str(spec.sequence_length()) +
                   " tokens (sequence parallelism splits it)";
    }
    if (Result<ModelSpec> t = tensor_shard(spec, p.tp, p.sp); !t) return t.error().message;
    return "";
}

Result<std::vector<BlockRange>> pipeline_stages(const ModelSpec& spec, int pp) {
    const std::vector<BlockRange> units = checkpoint_units(spec);
    if (pp < 1) return Error{"pp: expected at least 1, got " + str(pp)};
    if (size_t(pp) > units.size())
        return Error{"pp " + str(pp) + " is more than the model's " + str(int64_t(units.size())) +
                     " units of blocks (segments and blocks outside them): a stage needs at least one"};
    std::vector<BlockRange> stages;
    size_t u = 0;
    for (int s = 0; s < pp; ++s) {
        const size_t take = units.size() / size_t(pp) + (size_t(s) < units.size() % size_t(pp) ? 1 : 0);
        stages.push_back({units[u].first, units[u + take - 1].last});
        u += take;
    }
    return stages;
}

Result<std::vector<BlockRange>> stage_split(const ModelSpec& spec, const ParallelLayout& p) {
    if (p.stages.empty()) return pipeline_stages(spec, p.pp);
    const int n = int(spec.blocks.size());
    bool ok = int(p.stages.size()) == p.pp;
    for (size_t i = 0; ok && i < p.stages.size(); ++i)
        ok = p.stages[i].first == (i == 0 ? 0 : p.stages[i - 1].last + 1) && p.stages[i].last >= p.stages[i].first;
    if (!ok || p.stages.back().last != n - 1)
        return Error{"stages: expected " + str(p.pp) + " runs of blocks covering blocks 0-" + str(n - 1) + " in order"};
    return p.stages;
}

Result<RankPlace> rank_place(const ModelSpec& spec, const ParallelLayout& p, int rank) {
    if (rank < 0 || rank >= p.world())
        return Error{"rank: expected 0 to " + str(p.world() - 1) + " for " + str(p.world()) + " devices, got " + str(rank)};
    Result<std::vector<BlockRange>> stages = stage_split(spec, p);
    if (!stages) return stages.error();
    RankPlace at;
    at.rank = rank;
    at.tp = rank % p.tp;
    at.dp = (rank / p.tp) % p.dp;
    at.stage = rank / (p.tp * p.dp);
    at.blocks = (*stages)[size_t(at.stage)];
    return at;
}

Result<ModelSpec> rank_spec(const ModelSpec& spec, const ParallelLayout& p, int rank) {
    if (std::string bad = check_layout(spec, p); !bad.empty()) return Error{bad};
    Result<RankPlace> at = rank_place(spec, p, rank);
    if (!at) return at.error();
    Result<ModelSpec> split = tensor_shard(spec, p.tp, p.sp);
    if (!split) return split.error();
    const ModelSpec& whole = *split;
    ModelSpec s = whole;
    s.input_shape[0] /= p.microbatches;
    if (p.pp == 1) return s;

    const BlockRange r = at->blocks;
    s.blocks.assign(whole.blocks.begin() + r.first, whole.blocks.begin() + r.last + 1);
    s.segments.clear();
    // A segment across the boundary is cut there; a part of one block is no segment.
    for (const BlockRange& g : whole.segments) {
        const BlockRange part{std::max(g.first, r.first), std::min(g.last, r.last)};
        if (part.size() >= 2) s.segments.push_back({part.first - r.first, part.last - r.first});
    }
    // A stage without the embedding keeps its own copy of a tied head's table (Megatron-LM's
    // last stage does, and keeps the two in step by an all-reduce of their gradients).
    if (r.first > 0)
        for (BlockSpec& b : s.blocks)
            for (size_t l = 0; l < b.layer_count(); ++l) b.layer(l).tied = false;
    if (r.first > 0) {
        // A later stage takes the activations the stage before sends: rows of features (the
        // sequence kept as a dimension), or an image.
        const Features f = features_before(whole, r.first);
        const int64_t rows = s.input_shape[0];
        if (f.is_image()) s.input_shape = {rows, f.c, f.h, f.w};
        else if (whole.input_shape.size() >= 2 && (whole.token_input() || whole.input_shape.size() == 3))
            s.input_shape = {rows, whole.sequence_length(), f.c};
        else s.input_shape = {rows, f.c};
    }
    // A stage before the last sends its output on and gets its gradient back: an MSE "loss"
    // whose target has the bytes of that gradient.
    if (r.last + 1 < int(whole.blocks.size())) s.loss = LossType::mse;
    if (Status st = validate_model_spec(s); !st) return Error{"stage " + str(at->stage) + " of the model: " + st.message()};
    return s;
}

StepReport in_whole_model(StepReport r, const ModelSpec& whole, BlockRange blocks) {
    const int first = blocks.first;
    if (first == 0 && int(r.blocks.size()) == int(whole.blocks.size())) return r;
    auto move = [first](int32_t& b) {
        if (b >= 0) b += first;
    };
    for (MemoryEvent& e : r.events) move(e.tag.block);
    for (Span& s : r.spans) move(s.block);
    move(r.peak_tag.block);
    move(r.oom.tag.block);
    std::vector<BlockReport> all(whole.blocks.size());
    for (size_t b = 0; b < all.size(); ++b) {
        all[b].index = int(b);
        all[b].name = whole.blocks[b].name;
        all[b].checkpoint = whole.blocks[b].checkpoint;
    }
    for (BlockReport& b : r.blocks) {
        const size_t at = size_t(b.index + first);
        if (at >= all.size()) continue;
        b.index = int(at);
        if (b.segment_first >= 0) b.segment_first += first;
        if (b.segment_last >= 0) b.segment_last += first;
        all[at] = std::move(b);
    }
    r.blocks = std::move(all);
    return r;
}

int64_t rank_parameter_count(const ModelSpec& rs) {
    int64_t n = 0;
    for (const BlockSpec& b : rs.blocks)
        for (size_t l = 0; l < b.layer_count(); ++l) n += parameter_count(b.layer(l));
    return n;
}

Result<RankPrediction> predict_rank(const ModelSpec& spec, const ParallelLayout& p, int rank, int steps, DeviceKind kind,
                                    const std::atomic<bool>* stop) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    if (steps < 1) return Error{"steps: must be at least 1"};
    Result<ModelSpec> rs = rank_spec(spec, p, rank);
    if (!rs) return rs.error();
    RankPrediction out;
    out.place = *rank_place(spec, p, rank);
    DryRank dry = dry_rank(p);
    out.accumulating = dry.accumulating;
    std::optional<DryRankScope> scope;
    scope.emplace(dry);

    // The rank's model predicted as one device's is (session.h), its dry runs counting the rank.
    Result<StepReport> r = predict(*rs, steps, kind, stop);
    if (!r) return r.error();
    // Pipeline: under 1F1B stage s has min(pp - s, M) microbatches' activations kept when its
    // first backward starts, under GPipe all M. The others' are what this one keeps: each
    // block's kept bytes (the stage's input among them); their outputs went to the next stage.
    if (p.pp > 1) {
        out.in_flight_microbatches = in_flight_microbatches(p, out.place.stage);
        int64_t per_microbatch = 0;
        for (const BlockReport& b : r->blocks) per_microbatch += b.kept_bytes;
        out.in_flight_bytes = int64_t(out.in_flight_microbatches - 1) * per_microbatch;
        if (out.in_flight_bytes > 0) {
            dry.in_flight = out.in_flight_bytes;
            scope.reset();
            scope.emplace(dry);
            r = predict(*rs, steps, kind, stop);
            if (!r) return r.error();
        }
    }
    out.report = std::move(*r);
    if (!p.single_device()) {
        out.report.parallel = "rank " + str(rank) + " (stage " + str(out.place.stage) + ", blocks " +
                              format_block_range(out.place.blocks) + ") of " + describe_layout(p);
    }
    return out;
}

Result<PlanTable> plan_table_for_rank(const ModelSpec& spec, const ParallelLayout& p, PlannerKind planner,
                                      int64_t budget, DeviceKind kind, PlanLimits* limits) {
    if (p.pp > 1)
        return Error{"a pipeline (pp " + str(p.pp) + ") is planned stage by stage with its microbatches in flight: "
                     "checkpointlab plan MODEL --pp " + str(p.pp) + " --budget B (plan_pipeline)"};
    Result<ModelSpec> rs = rank_spec(spec, p, 0);
    if (!rs) return rs.error();
    const DryRankScope scope(dry_rank(p));
    return plan_table(*rs, planner, budget, {}, kind, limits);
}

Result<ChainModel> chain_model_for_rank(const ModelSpec& spec, const ParallelLayout& p, DeviceKind kind) {
    if (p.pp > 1)
        return Error{"a single step's chain model does not see a pipeline's microbatches in flight (pp " + str(p.pp) +
                     "): plan_pipeline plans one"};
    Result<ModelSpec> rs = rank_spec(spec, p, 0);
    if (!rs) return rs.error();
    const DryRankScope scope(dry_rank(p));
    return ChainModel::build(*rs, {}, kind);
}

Result<int64_t> minimal_peak_for_rank(const ModelSpec& spec, const ParallelLayout& p, DeviceKind kind, PlanLimits* limits) {
    Result<ChainModel> chain = chain_model_for_rank(spec, p, kind);
    if (!chain) return chain.error();
    return minimal_segment_peak(*chain, limits);
}

Result<LayoutPrediction> predict_layout(const ModelSpec& spec, const ParallelLayout& p, int steps, DeviceKind kind,
                                        const std::atomic<bool>* stop) {
    LayoutPrediction out;
    for (int s = 0; s < p.pp; ++s) {
        Result<RankPrediction> r = predict_rank(spec, p, s * p.tp * p.dp, steps, kind, stop);
        if (!r) return r.error();
        out.stages.push_back(std::move(*r));
        if (out.stages.back().report.peak_total > out.stages[out.worst].report.peak_total) out.worst = out.stages.size() - 1;
    }
    return out;
}

}  // namespace ckpt
