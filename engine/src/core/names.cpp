// The name tables (ckpt/names.h): one {value, name} table per enum, and the per-enum name
// functions the rest of the code calls, all reading those tables. A table's order is the order
// error messages list the choices in, and the order the GUI offers them. Layer types keep theirs
// in the layer-traits table (ckpt/layer_traits.h), beside every other fact about a layer type.
#include "ckpt/names.h"

#include <array>
#include <vector>

#include "ckpt/layer_traits.h"

namespace ckpt {

namespace {

using P = BlockSpec::Policy;

constexpr std::array<EnumName<Category>, kCategoryCount> kCategories{{
    {Category::parameter, "parameter"},
    {Category::buffer, "buffer"},
    {Category::weight_cast, "weight_cast"},
    {Category::gradient, "gradient"},
    {Category::optimizer_state, "optimizer_state"},
    {Category::input, "input"},
    {Category::activation, "activation"},
    {Category::recomputed, "recomputed"},
    {Category::temporary, "temporary"},
    {Category::communication, "communication"},
    {Category::unattributed, "unattributed"},
}};
static_assert(kCategories.size() == kCategoryCount);

constexpr std::array<EnumName<Phase>, 6> kPhases{{
    {Phase::setup, "setup"},
    {Phase::forward, "forward"},
    {Phase::loss, "loss"},
    {Phase::backward, "backward"},
    {Phase::recompute, "recompute"},
    {Phase::optimizer, "optimizer"},
}};
static_assert(kPhases.size() == kPhaseCount);

constexpr std::array<EnumName<Precision>, 3> kPrecisions{{
    {Precision::f32, "f32"},
    {Precision::bf16_mixed, "bf16-mixed"},
    {Precision::fp16_mixed, "fp16-mixed"},
}};

constexpr std::array<EnumName<AttentionImpl>, 2> kAttentionImpls{{
    {AttentionImpl::eager, "eager"},
    {AttentionImpl::flash, "flash"},
}};

constexpr std::array<EnumName<LossType>, 2> kLosses{{
    {LossType::mse, "mse"},
    {LossType::cross_entropy, "cross_entropy"},
}};

constexpr std::array<EnumName<OptimizerType>, 3> kOptimizers{{
    {OptimizerType::none, "none"},
    {OptimizerType::sgd, "sgd"},
    {OptimizerType::adamw, "adamw"},
}};

constexpr std::array<EnumName<P>, 4> kPolicies{{
    {P::full, "full"},
    {P::save_matmuls, "save_matmuls"},
    {P::attention_core, "attention_core"},
    {P::custom, "custom"},
}};

// The GUI's and the README's order: the optimum first, the fixed patterns after it.
constexpr std::array<EnumName<PlannerKind>, 6> kPlanners{{
    {PlannerKind::dp, "dp"},
    {PlannerKind::segments, "segments"},
    {PlannerKind::sqrt, "sqrt"},
    {PlannerKind::every_k, "every-k"},
    {PlannerKind::all, "all"},
    {PlannerKind::none, "none"},
}};

constexpr std::array<EnumName<StepStatus>, 4> kStepStatuses{{
    {StepStatus::ok, "ok"},
    {StepStatus::stopped, "stopped"},
    {StepStatus::out_of_memory, "out_of_memory"},
    {StepStatus::failed, "failed"},
}};

constexpr std::array<EnumName<ErrorKind>, 5> kErrorKinds{{
    {ErrorKind::bad_input, "bad_input"},
    {ErrorKind::out_of_memory, "out_of_memory"},
    {ErrorKind::io, "io"},
    {ErrorKind::stopped, "stopped"},
    {ErrorKind::device, "device"},
}};

}  // namespace

template <> std::span<const EnumName<Category>> enum_names<Category>() { return kCategories; }
template <> std::span<const EnumName<Precision>> enum_names<Precision>() { return kPrecisions; }
template <> std::span<const EnumName<Phase>> enum_names<Phase>() { return kPhases; }
// Layer types keep their names in the layer-traits table with every other fact about them.
template <> std::span<const EnumName<LayerType>> enum_names<LayerType>() {
    static const std::vector<EnumName<LayerType>> names = [] {
        std::vector<EnumName<LayerType>> v;
        for (const LayerTraits& t : all_layer_traits()) v.push_back({t.type, t.name});
        return v;
    }();
    return names;
}
template <> std::span<const EnumName<AttentionImpl>> enum_names<AttentionImpl>() { return kAttentionImpls; }
template <> std::span<const EnumName<LossType>> enum_names<LossType>() { return kLosses; }
template <> std::span<const EnumName<OptimizerType>> enum_names<OptimizerType>() { return kOptimizers; }
template <> std::span<const EnumName<P>> enum_names<P>() { return kPolicies; }
template <> std::span<const EnumName<PlannerKind>> enum_names<PlannerKind>() { return kPlanners; }
template <> std::span<const EnumName<StepStatus>> enum_names<StepStatus>() { return kStepStatuses; }
template <> std::span<const EnumName<ErrorKind>> enum_names<ErrorKind>() { return kErrorKinds; }

std::string_view category_name(Category c) { return enum_name(c); }
std::string_view phase_name(Phase p) { return enum_name(p); }
std::string_view layer_type_name(LayerType t) { return enum_name(t); }
std::string_view loss_name(LossType t) { return enum_name(t); }
std::string_view precision_name(Precision p) { return enum_name(p); }
std::string_view attention_impl_name(AttentionImpl i) { return enum_name(i); }
std::string_view optimizer_name(OptimizerType t) { return enum_name(t); }
std::string_view policy_name(BlockSpec::Policy p) { return enum_name(p); }
std::string_view planner_name(PlannerKind k) { return enum_name(k); }
std::string_view status_name(StepStatus s) { return enum_name(s); }
std::string_view error_kind_name(ErrorKind k) { return enum_name(k); }

}  // namespace ckpt
