// Renders a step's memory timeline straight to a file, without a window (the CLI's --plot and
// the headless demo). Needs a QApplication; works on the offscreen platform.
#pragma once

#include <QString>

#include "ckpt/report.h"

namespace ckptui {

// .png, .pdf or .svg by suffix. Returns "" on success, else the reason.
QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, int width, int height);

}  // namespace ckptui
