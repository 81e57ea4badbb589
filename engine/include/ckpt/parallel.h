// Parallel layouts: one rank's step of a model trained over many GPUs, predicted to the byte by
// running the executor on the dry backend over that rank's share. A layout combines data
// parallelism with ZeRO sharding (stage 3 is FSDP's full sharding), Megatron-style tensor
// parallelism and pipeline parallelism with microbatches; ranks are numbered as Megatron-LM
// numbers them (tensor rank fastest, then data, then pipeline stage), so rank 0 is on the
// first stage. What is modelled, and how, is the manual's "Parallel layouts" section
// (resources/manual/parallel.md); each rule is one place in parallel.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/planner.h"
#include "ckpt/report.h"
#include "ckpt/result.h"
#include "ckpt/session.h"

namespace ckpt {

enum class PipelineSchedule { one_f_one_b, gpipe };
// How a mixed-precision run keeps its model states. fsdp: f32 parameters (the master weights) and
// f32 gradients, 16-bit copies cast or gathered for the products (FSDP's common set-up). deepspeed:
// 16-bit parameters and gradients, the f32 master weights with the Adam moments (DeepSpeed's
// fp16/bf16 optimizer, the ZeRO paper's 2 + 2 + 12 bytes a parameter).
enum class ModelStates { fsdp, deepspeed };

struct ParallelLayout {
    int dp = 1;            // data-parallel replicas
    int zero = 0;          // ZeRO stage: 0 replicated, 1 optimizer state, 2 + gradients, 3 + parameters (FSDP)
    int tp = 1;            // tensor-parallel degree (Megatron's column/row-parallel linears and heads)
    // Sequence parallelism (Korthikanti et al. 2022): with tp > 1, the layers outside the
    // tensor-parallel pairs (norms, dropout, residual adds) work on the sequence split tp ways.
    bool sp = false;
    int pp = 1;            // pipeline stages
    int microbatches = 1;  // per step, each of batch / microbatches rows (gradient accumulation)
    PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
    ModelStates states = ModelStates::fsdp;
    // Which blocks each stage holds, when set (pp ranges in block order covering the model):
    // the split of the model as its file has it, so that a checkpoint plan's segments do not move
    // blocks between stages (stage_split). Empty: pipeline_stages(spec, pp) of the spec given.
    std::vector<BlockRange> stages;

    int64_t world() const { return int64_t(dp) * tp * pp; }
    bool single_device() const { return world() == 1 && microbatches == 1 && !sp && states == ModelStates::fsdp; }
    bool operator==(const ParallelLayout&) const = default;
};

std::string_view schedule_name(PipelineSchedule s);  // "1f1b", "gpipe"
// "dp 8 (ZeRO-3) x tp 2 (SP) x pp 1, 1 microbatch", or "one device".
std::string describe_layout(const ParallelLayout& layout);

// Where a rank sits: its coordinates along each dimension.
struct RankPlace {
    int rank = 0, tp = 0, dp = 0, stage = 0;
    BlockRange blocks;  // the model's blocks its stage holds
};

// The first problem of a layout for a model, as one line that names it ("tp 3 does not divide
// the 12 heads of block 1 (layer 2)"), or "" when there is none.
std::string check_layout(const ModelSpec& spec, const ParallelLayout& layout);
// Which blocks each pipeline stage holds: the model's units of checkpointing (segments and the
// blocks outside them) dealt out in order, as evenly as their count allows, the earlier stages
// taking one more. An error when there are fewer units than stages.
Result<std::vector<BlockRange>> pipeline_stages(const ModelSpec& spec, int pp);
// The stages a layout uses: its own `stages` (checked to cover the model in order), else
// pipeline_stages. A segment that crosses a stage boundary is cut there in each rank's model (a
// checkpoint cannot span two devices).
Result<std::vector<BlockRange>> stage_split(const ModelSpec& spec, const ParallelLayout& layout);
Result<RankPlace> rank_place(const ModelSpec& spec, const ParallelLayout& layout, int rank);

// The model one rank computes: its stage's blocks, its tensor-parallel shard of every layer
// (linear widths, heads, vocabulary), and a microbatch of the batch. A later stage takes the
// previous stage's activations as input; an earlier one ends with an MSE "loss" whose target
// stands for the gradient the next stage sends back (the same bytes).
Result<ModelSpec> rank_spec(const ModelSpec& spec, const ParallelLayout& layout, int rank);

// A pipeline stage's report in the whole model's block numbers, for views that follow the whole
// model: its blocks, events, spans and tags moved to where the stage's blocks are, and the other
// stages' blocks present with nothing kept, computed or timed (their names and ticks from `whole`).
StepReport in_whole_model(StepReport stage, const ModelSpec& whole, BlockRange blocks);

// One rank's predicted step (the report a dry run writes, for a device of `kind`).
struct RankPrediction {
    RankPlace place;
    StepReport report;
    int64_t in_flight_bytes = 0;   // pipeline: the other microbatches' kept activations
    int in_flight_microbatches = 0;
    // Microbatches > 1: the gradients the earlier microbatches accumulated, live from the step's
    // start (allocated before its forward, as PyTorch's .grad of the earlier backward passes).
    bool accumulating = false;
};
// `steps` dry steps, the last reported: the second is the steady state (the optimizer state
// present from its start), as Session::create's check of whether a model fits uses.
Result<RankPrediction> predict_rank(const ModelSpec& spec, const ParallelLayout& layout, int rank, int steps = 2,
                                    DeviceKind kind = DeviceKind::cuda, const std::atomic<bool>* stop = nullptr);

// Every distinct rank's peak: ranks on the same stage differ only in which shard they hold, so
// one rank per stage (its first) stands for them. `worst` indexes the highest peak.
struct LayoutPrediction {
    std::vector<RankPrediction> stages;  // one per pipeline stage
    size_t worst = 0;
};
Result<LayoutPrediction> predict_layout(const ModelSpec& spec, const ParallelLayout& layout, int steps = 2,
                                        DeviceKind kind = DeviceKind::cuda, const std::atomic<bool>* stop = nullptr);

// The plan table (planner.h) for one rank of the layout: its chain model built from dry runs of
// the rank's model as it is sharded, so the chosen plan is the least recomputation whose peak on
// that rank fits the budget. Ranks of one stage have the same peak; pipelines (pp > 1) are not
// planned yet (an error says so).
Result<PlanTable> plan_table_for_rank(const ModelSpec& spec, const ParallelLayout& layout, PlannerKind planner,
                                      int64_t budget, DeviceKind kind = DeviceKind::cuda, PlanLimits* limits = nullptr);

// The planner's chain model (planner.h) of one rank of a layout: built from dry runs of the rank's
// model as it is sharded, so a sweep over it (pareto_sweep) gives that rank's peaks. Its blocks are
// the whole model's while pp is 1; pp > 1 as plan_table_for_rank.
Result<ChainModel> chain_model_for_rank(const ModelSpec& spec, const ParallelLayout& layout,
                                        DeviceKind kind = DeviceKind::cuda);

// The lowest peak any checkpoint set reaches on that rank (planner.h's minimal_segment_peak over
// the rank's chain model); pp > 1 as plan_table_for_rank.
Result<int64_t> minimal_peak_for_rank(const ModelSpec& spec, const ParallelLayout& layout, DeviceKind kind = DeviceKind::cuda,
                                      PlanLimits* limits = nullptr);

// A pipeline's plan (pp > 1): each stage plans its own blocks, so that its worst rank fits the
// budget with its microbatches in flight. A stage's peak under a plan is its step's peak plus the
// other microbatches' kept activations, which the plan itself changes; the stage's planner is
// asked for the cheapest plan under an inner budget, the highest inner budget whose plan fits
// with the microbatches in flight found by bisection (to 1/256 of the budget), each try's kept
// bytes counted by a dry run. The plans of the stages together are one checkpoint set of the
// whole model; stages stay as the model's file splits them (ParallelLayout::stages).
struct StagePlan {
    RankPlace place;
    PlanTable table;            // the stage's plan table at its inner budget (its own block numbers)
    int64_t inner_budget = 0;   // what the stage's step alone was planned to
    int in_flight_microbatches = 0;
    int64_t peak = 0;           // the chosen plan's peak with its microbatches in flight (predict_rank's)
    int64_t in_flight_bytes = 0;
    MemoryTag peak_tag;
};
struct PipelinePlan {
    ParallelLayout layout;        // with its stages fixed
    std::vector<StagePlan> stages;
    CheckpointSet set;            // every stage's plan, in the whole model's block numbers
    std::string checkpoint_arg;   // the --checkpoint text that selects it
    size_t worst = 0;             // the stage with the highest peak

    // The plan as a plan table of one chosen candidate ("dp per stage", its peak the worst
    // stage's, its recomputation the whole model's FLOPs over the step's), for a front end that
    // applies tables (the window's Plan button).
    PlanTable as_table(const ModelSpec& spec, PlannerKind planner, int64_t budget) const;
};
// An error when a stage cannot fit at any plan (out_of_memory, naming the stage and its lowest
// peak with its microbatches in flight), or when planning was stopped.
Result<PipelinePlan> plan_pipeline(const ModelSpec& spec, const ParallelLayout& layout, PlannerKind planner,
                                   int64_t budget, DeviceKind kind = DeviceKind::cuda, PlanLimits* limits = nullptr);

// Parameter elements of the rank (after tensor and pipeline parallelism, before ZeRO).
int64_t rank_parameter_count(const ModelSpec& rank_spec);

}  // namespace ckpt
