// The smaller charts and what every chart shares: axis tickers that label bytes in KiB/MiB/GiB
// and durations in µs/ms/s, a legend under the plot (never over the data), hover tooltips,
// export to PNG/PDF/SVG, and one setup function per chart (QCustomPlot's own examples' habit):
// per-block bars (kept, avoided, recomputation time), the step history, and the comparison of
// pinned runs.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>
#include <cmath>
#include <functional>
#include <qcustomplot.h>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/timing.h"

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

// A logarithmic bytes axis (Compare, when the runs' peaks are of very different sizes): powers of
// two, each labelled in the unit it reaches.
class LogBytesTicker : public QCPAxisTickerLog {
public:
    LogBytesTicker() {
        setLogBase(2);  // ticks at powers of two: "1 MiB", "4 MiB", "16 MiB"
        setSubTickCount(0);
    }

protected:
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;
};

// For axes whose coordinates are milliseconds: ticks at 1-2-5 multiples of µs, ms, s, min or h
// (the largest the range reaches), labelled "250 µs", "40 ms", "1.5 s", "90 min", never with an
// exponent.
class DurationTicker : public QCPAxisTicker {
protected:
    double getTickStep(const QCPRange& range) override;
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;
    double unitMs_ = 1.0;
    double step_ = 1.0;  // the tick step in that unit
};

// Writes the plot as .png, .pdf or .svg by suffix at `width` x `height` screen pixels; "" on
// success, else the reason. (chart_export.h has the options for papers and slides.)
QString exportPlot(QCustomPlot* plot, const QString& path, int width, int height);

// Text, axes, grids and backgrounds follow a palette: the desktop's on screen (a dark theme
// stays readable), a light one in exported files. The category colours never change.
// setupCommonStyle applies the widget's palette and follows its changes.
QPalette lightChartPalette();
QPalette chartPalette(const QCustomPlot* plot);  // the palette the chart is drawn with now
void applyChartPalette(QCustomPlot* plot, const QPalette& palette);
// Items drawn in the palette's ink: the text colour, a muted text colour, or (box) their own
// colour on a box of the background colour (alpha `boxAlpha`); re-inked with the palette.
enum class Ink { text, muted, box };
void setInk(QCPAbstractItem* item, Ink ink, int boxAlpha = 0);

void setupCommonStyle(QCustomPlot* plot);
// A replot now if the chart is on screen; else when it is shown (a hidden tab's chart of many
// bars need not be drawn at every edit).
void replotWhenVisible(QCustomPlot* plot);
// Moves the legend into a row under the axis rect, laid out in up to `columns` columns.
void putLegendBelow(QCustomPlot* plot, int columns);
// A bold title row above the axis rect; returns it so its text can change.
QCPTextElement* addTitle(QCustomPlot* plot, const QString& text);
// The line under the title naming what the chart is of (model, device, precision), on screen
// and in exports; addTitle makes room for it, setSubtitle fills it.
void setSubtitle(QCustomPlot* plot, const QString& text);
QString subtitleOf(const QCustomPlot* plot);
// Tooltips that depend on where the mouse rests: `at` gets plot coordinates and returns the
// text for that spot, or "" for the plot's general tooltip.
void setHoverTips(QCustomPlot* plot, std::function<QString(double x, double y)> at);
// A chart's own tooltips go through these: a tooltip shown for a plot is hidden as soon as the
// plot draws something else (a run replacing the prediction), instead of describing what is gone.
void showChartTip(QWidget* owner, const QPoint& globalPos, const QString& text, const QRect& rect = {});
void hideChartTip(QWidget* owner);

// An empty chart says why instead of showing axes over nothing ("no run yet"); drawing data
// again brings the axes back.
void showEmpty(QCustomPlot* plot, const QString& text);
void clearEmpty(QCustomPlot* plot);
bool isEmptyShown(const QCustomPlot* plot);

// Block names along an axis (one tick per block, ✓ after a checkpointed one), thinned at every
// layout to every k-th block where the names would collide at the chart's width.
class BlockTicker : public QCPAxisTicker {
public:
    BlockTicker(QCPAxis* axis, QStringList names) : axis_(axis), names_(std::move(names)) {}
    int stride() const { return stride_; }

protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override;
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;
    QVector<double> createSubTickVector(int, const QVector<double>&) override { return {}; }

private:
    QCPAxis* axis_;
    QStringList names_;
    int stride_ = 1;
    QFont font_;     // the font widest_ was measured in
    bool measured_ = false;
    int widest_ = 0;
};

// Per block: kept and avoided bytes (stacked bars) and recomputation time. Hovering a bar
// shows the block's numbers. A dry-run report (r.dry_run) is drawn as a prediction: its bytes
// are exact, its times are not measured, so the lower chart shows the predicted recomputation
// time (`predictedTime`: FLOPs and bytes over this machine's throughput), or without one
// `recomputeFlops` (the work each checkpointed block's recomputation will do). A measured step
// draws each bar as the median of its timed repeats with whiskers from the lower to the upper
// quartile, and the predicted time of each block beside it as a marker.
void setupBlockBars(QCustomPlot* bytes, QCustomPlot* time);
// With `spec` (what ran or was predicted), a checkpointed block whose policy avoids little or
// nothing says why in its tooltip.
void showBlockBars(QCustomPlot* bytes, QCustomPlot* time, const ckpt::StepReport& r,
                   const std::vector<double>& recomputeFlops = {}, int step = -1, const ckpt::ModelSpec* spec = nullptr,
                   const ckpt::TimePrediction* predictedTime = nullptr);

// Step history: peak bytes (left axis) and step time (right axis) against the step number;
// points where the checkpoint set changed are labelled with the new count. Each time is the
// median of the step's repeats, with whiskers from the lower to the upper quartile; a warm-up
// step's time is drawn apart, in grey, and not joined to the others.
struct HistoryPoint {
    int step;
    qint64 peak;
    qint64 stepNs;
    int checkpointed;
    int blocks = 0;
    bool warmup = false;       // the session's first step: its time includes one-off costs
    bool modelChanged = false; // the stack differs from the step before in more than its ticks
    ckpt::TimeRange stepRange{};  // quartiles of the repeats (lo = hi = stepNs for one)
    int repeats = 1;
};
void setupHistory(QCustomPlot* plot);
void showHistory(QCustomPlot* plot, const QVector<HistoryPoint>& points);

// Comparison: total live bytes over the step for pinned runs and the current one. Each run's
// step time is the median of its repeats; a band in its colour spans its quartiles, where the
// end of its curve may fall. A pinned run whose time is within the noise of the current one's
// says so in the legend, and a warm-up step's time is compared with nothing.
//
// A PyTorch snapshot pinned from its window is laid over the current stack's predicted step: the
// two share no clock (a trace's microseconds or order, a dry run's event order), so while one is
// pinned every curve runs over its own allocations and frees in order (0-100 %), and the
// snapshot's legend entry states its peak against the prediction's, in bytes and percent.
struct PinnedRun {
    enum class Kind { step, prediction, snapshot };
    Kind kind = Kind::step;
    QString name;
    QString model;  // the model it came from, as its name and batch say it ("" for a snapshot: unknown)
    QVector<double> timeMs, bytes;
    QVector<double> orderPct;  // beside timeMs: the point's share of the run's events, in order (0-100)
    qint64 peak = 0;
    qint64 stepNs = 0;
    ckpt::TimeRange stepRange{};
    int repeats = 1;
    bool warmup = false;
    bool timed = true;  // a snapshot without time_us: stepNs counts entries, not nanoseconds
};
PinnedRun pinnedFrom(const ckpt::StepReport& r, const QString& name);
// "+1.50 MiB (+1,572,864 bytes, +12.5 %)": `peak` against `reference`, signed.
QString peakDifference(qint64 peak, qint64 reference);

void setupComparison(QCustomPlot* plot);
void showComparison(QCustomPlot* plot, const QVector<PinnedRun>& runs, const QString& commonModel = {});

}  // namespace ckptui
