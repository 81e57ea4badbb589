// The smaller charts and what every chart shares: an axis ticker that labels bytes in
// KiB/MiB/GiB, export to PNG/PDF/SVG, and one setup function per chart (QCustomPlot's own
// examples' habit): per-block bars (kept, avoided, recomputation time), the step history of a
// continuous run, and the comparison of pinned runs.
#pragma once

#include <QString>
#include <QVector>
#include <cmath>
#include <qcustomplot.h>

#include "ckpt/report.h"

namespace ckptui {

// Ticks at 1-2-5 multiples of the largest binary unit that fits, labelled "1.5 GiB".
class BytesTicker : public QCPAxisTicker {
protected:
    double getTickStep(const QCPRange& range) override {
        mParentAxisUpper = std::max(std::fabs(range.upper), std::fabs(range.lower));
        return tickStep(range);
    }
    double tickStep(const QCPRange& range);
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;
    double mParentAxisUpper = 0;  // labels use the unit the range's upper end reaches
};

// Writes the plot as .png, .pdf or .svg by suffix; "" on success, else the reason.
QString exportPlot(QCustomPlot* plot, const QString& path, int width, int height);

void setupCommonStyle(QCustomPlot* plot);

// Per block: kept and avoided bytes (stacked bars) and recomputation time.
void setupBlockBars(QCustomPlot* bytes, QCustomPlot* time);
void showBlockBars(QCustomPlot* bytes, QCustomPlot* time, const ckpt::StepReport& r);

// Step history: peak bytes (left axis) and step time (right axis) against the step number.
struct HistoryPoint {
    int step;
    qint64 peak;
    qint64 stepNs;
    int checkpointed;
};
void setupHistory(QCustomPlot* plot);
void showHistory(QCustomPlot* plot, const QVector<HistoryPoint>& points);

// Comparison: total live bytes over the step for pinned runs and the current one.
struct PinnedRun {
    QString name;
    QVector<double> timeMs, bytes;
    qint64 peak = 0;
    qint64 stepNs = 0;
};
PinnedRun pinnedFrom(const ckpt::StepReport& r, const QString& name);
void setupComparison(QCustomPlot* plot);
void showComparison(QCustomPlot* plot, const QVector<PinnedRun>& runs);

}  // namespace ckptui
