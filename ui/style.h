// One look for every chart and panel: a fixed colour per memory category, human units for bytes
// and times, and the one-sentence explanations the tooltips and the help panel share.
#pragma once

#include <QBrush>
#include <QColor>
#include <QString>

class QStyle;

#include "ckpt/memory.h"

namespace ckptui {

QColor categoryColor(ckpt::Category c);
// What a category is filled with: its colour, except recomputation, which is cross-hatched so
// that it never reads as the solid orange of the activations kept (colour-blind readers too).
QBrush categoryBrush(ckpt::Category c);
QString categoryMark(ckpt::Category c);  // "■", or "▨" for the hatched recomputation, in HTML legends
QColor phaseColor(ckpt::Phase p);
QBrush phaseBrush(ckpt::Phase p);        // the timeline's bands: recomputation hatched like its bytes
// Colours for runs and series that are not categories: none of them orange or vermillion.
QColor seriesColor(int i);
// The application's style, with check boxes framed in the text colour on a dark palette (Fusion
// draws an unticked box in a shade a dark theme's background swallows).
QStyle* contrastCheckStyle();
QString categoryLabel(ckpt::Category c);    // "activations kept"
QString categoryMeaning(ckpt::Category c);  // one sentence for tooltips and the help panel
QString phaseLabel(ckpt::Phase p);
QString humanBytes(qint64 bytes);           // "1.50 MiB"
QString humanTime(qint64 ns);               // "12.3 ms"
// An integer with the locale's group separator ("50,257"), except where that separator is the
// point this program writes decimals with ("50.257" would read as fifty and a bit next to
// "1.01 MiB"): there a narrow no-break space ("50 257").
QString groupedCount(qint64 n);
qint64 parseGroupedCount(QString text, bool* ok);  // the reverse, any separator

// The order categories are stacked in, bottom to top: what lives longest at the bottom.
inline constexpr ckpt::Category kStackOrder[] = {
    ckpt::Category::parameter, ckpt::Category::buffer, ckpt::Category::optimizer_state, ckpt::Category::weight_cast, ckpt::Category::gradient,
    ckpt::Category::input,
    ckpt::Category::activation, ckpt::Category::recomputed, ckpt::Category::communication, ckpt::Category::temporary,
    ckpt::Category::unattributed};

}  // namespace ckptui
