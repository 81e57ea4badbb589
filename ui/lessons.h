// The teaching presets in the order a class meets them, with what the window sets up besides
// the model: a title for the Presets menu and, for the memory-limit lesson, the device limit the
// lesson is about (a preset file is a bare model spec, which has no run settings). The preset
// files' descriptions state each lesson's claim; tests/tst_presets.cpp measures it.
#pragma once

#include <QString>
#include <QVector>

#include "ckpt/model_spec.h"

namespace ckptui {

struct Lesson {
    QString preset;        // file name under resources/presets, without .json
    QString title;         // "Activations dominate: checkpointing helps"
    qint64 memoryLimit;    // bytes the window puts in Memory limit (0: leave it empty)
};

// Lessons first to last; the first is the preset the window opens with.
const QVector<Lesson>& lessons();
// A model's description with its figures filled in from the engine's dry run of it with no block
// checkpointed (the steady step, optimizer state included), so a lesson's text and the window's
// tables cannot disagree: {parameters}, {kept_unchecked} (what forward keeps for backward),
// {peak_unchecked}, {peak_all} (every block checkpointed). A description without braces is returned as it is.
QString describeModel(const ckpt::ModelSpec& spec);
// The lesson of a preset, or null for the other examples.
const Lesson* findLesson(const QString& preset);
QString startupPreset();

}  // namespace ckptui
