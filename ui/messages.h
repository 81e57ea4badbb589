// The sentences the window shows about a step or a plan, in human units: where something
// happened ("in block 3 layer 1 (linear), backward", "outside any block, optimizer"), why a step
// ran out of memory or stopped, why no plan fits. Built from the engine's structured reports
// (the OutOfMemory record, the plan table), not by editing its one-line messages, so every byte
// count reads in GiB/MiB/KiB and every place says the same thing.
#pragma once

#include <QString>

#include "ckpt/model_spec.h"
#include "ckpt/planner.h"
#include "ckpt/report.h"

namespace ckptui {

// "in block 3 layer 1 (linear), backward" or "outside any block, optimizer"; the layer's type
// when `spec` is given.
QString whereText(const ckpt::MemoryTag& tag, const ckpt::ModelSpec* spec = nullptr);
// "Step 4 ran out of memory in block 3 layer 1 (linear), forward: it asked for 1.00 MiB
// (temporaries) with 722.00 KiB free under the 10.00 MiB limit."
QString outOfMemoryText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step);
// "Step 5 was stopped in block 3 layer 1 (linear), forward, 1.20 s into the step."
QString stoppedText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step);
// The text of a step that did not finish (either of the above, or the device's failure).
QString unfinishedText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step);
// Why no candidate of the table fits, and the smallest budget that does. The sizes are human;
// `typedInBytes` adds the exact byte counts, for a user who typed the budget in bytes.
QString noPlanText(const ckpt::PlanTable& t, bool typedInBytes);
// "lesson1-activations, batch 1024": the model a figure came from.
QString modelLabel(const ckpt::ModelSpec& spec);
// The size rounded up to what a user can type back and still fit: "12.35MiB".
QString budgetAtLeast(qint64 bytes);
// Text from a file (a model, block or device name, a run's message) as the window shows it: one
// line, no control or direction characters, at most about `maxBytes` (ckpt::printable).
QString shownText(const std::string& text, size_t maxBytes = 200);

}  // namespace ckptui
