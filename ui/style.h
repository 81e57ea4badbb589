// One look for every chart and panel: a fixed colour per memory category, human units for bytes
// and times, and the one-sentence explanations the tooltips and the help panel share.
#pragma once

#include <QColor>
#include <QString>

#include "ckpt/memory.h"

namespace ckptui {

QColor categoryColor(ckpt::Category c);
QColor phaseColor(ckpt::Phase p);
QString categoryLabel(ckpt::Category c);    // "activations kept"
QString categoryMeaning(ckpt::Category c);  // one sentence for tooltips and the help panel
QString phaseLabel(ckpt::Phase p);
QString humanBytes(qint64 bytes);           // "1.50 MiB"
QString humanTime(qint64 ns);               // "12.3 ms"

// The order categories are stacked in, bottom to top: what lives longest at the bottom.
inline constexpr ckpt::Category kStackOrder[] = {
    ckpt::Category::parameter, ckpt::Category::buffer, ckpt::Category::optimizer_state, ckpt::Category::weight_cast, ckpt::Category::gradient,
    ckpt::Category::input,
    ckpt::Category::activation, ckpt::Category::recomputed, ckpt::Category::temporary};

}  // namespace ckptui
