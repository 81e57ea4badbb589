// The one table of names per enum. Every enum the engine writes as text or reads back (memory
// categories, phases, layer types, losses, optimizers, checkpoint policies, planners, step
// statuses, error kinds) has exactly one {value, name} table, in src/core/names.cpp (layer
// types read theirs from the layer-traits table); the to-name and from-name functions below
// and every "expected a, b or c" message read that table, so a name cannot be spelt one way
// when written and another when parsed.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ckpt/memory.h"
#include "ckpt/model_spec.h"
#include "ckpt/planner.h"
#include "ckpt/report.h"
#include "ckpt/result.h"

namespace ckpt {

template <typename E>
struct EnumName {
    E value;
    std::string_view name;
};

// The table of E, in the order messages list it. Specialised for each enum in names.cpp.
template <typename E>
std::span<const EnumName<E>> enum_names();

template <> std::span<const EnumName<Category>> enum_names<Category>();
template <> std::span<const EnumName<Phase>> enum_names<Phase>();
template <> std::span<const EnumName<Precision>> enum_names<Precision>();
template <> std::span<const EnumName<LayerType>> enum_names<LayerType>();
template <> std::span<const EnumName<AttentionImpl>> enum_names<AttentionImpl>();
template <> std::span<const EnumName<LossType>> enum_names<LossType>();
template <> std::span<const EnumName<OptimizerType>> enum_names<OptimizerType>();
template <> std::span<const EnumName<BlockSpec::Policy>> enum_names<BlockSpec::Policy>();
template <> std::span<const EnumName<PlannerKind>> enum_names<PlannerKind>();
template <> std::span<const EnumName<StepStatus>> enum_names<StepStatus>();
template <> std::span<const EnumName<ErrorKind>> enum_names<ErrorKind>();

// The name of a value ("unknown" for a value outside the enum, e.g. a cast from a bad int).
template <typename E>
std::string_view enum_name(E value) {
    for (const EnumName<E>& e : enum_names<E>())
        if (e.value == value) return e.name;
    return "unknown";
}

// The value of a name, compared exactly (names are lower case and case matters in files).
template <typename E>
std::optional<E> enum_from_name(std::string_view name) {
    for (const EnumName<E>& e : enum_names<E>())
        if (e.name == name) return e.value;
    return std::nullopt;
}

// "mse or cross_entropy", "none, sgd or adamw": the choices for an error message.
template <typename E>
std::string enum_choices() {
    const auto table = enum_names<E>();
    std::string s;
    for (size_t i = 0; i < table.size(); ++i) {
        if (i > 0) s += i + 1 == table.size() ? " or " : ", ";
        s += table[i].name;
    }
    return s;
}

}  // namespace ckpt
