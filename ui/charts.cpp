// Per-block bars, step history, comparison, the bytes ticker and export (see charts.h).
#include "ui/charts.h"

#include <QFileInfo>
#include <QSvgGenerator>
#include <cmath>

#include "ui/style.h"

namespace ckptui {

namespace {

// The binary unit the axis speaks in: the largest that the upper end of the range reaches.
double unitFor(double upper) {
    double unit = 1.0;
    while (unit * 1024.0 <= upper && unit < 1099511627776.0) unit *= 1024.0;
    return unit;
}

}  // namespace

double BytesTicker::tickStep(const QCPRange& range) {
    const double unit = unitFor(std::max(std::fabs(range.upper), std::fabs(range.lower)));
    const double r = range.size() / std::max(1, tickCount()) / unit;
    static const double nice[] = {0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500};
    for (double n : nice)
        if (r <= n) return n * unit;
    return 1000 * unit;
}

QString BytesTicker::getTickLabel(double tick, const QLocale&, QChar, int) {
    if (tick <= 0) return QStringLiteral("0");
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const double unit = unitFor(mParentAxisUpper);
    int u = 0;
    for (double x = unit; x >= 1024.0; x /= 1024.0) ++u;
    return QString::number(tick / unit, 'g', 4) + QLatin1Char(' ') + QLatin1String(units[u]);
}

QString exportPlot(QCustomPlot* plot, const QString& path, int width, int height) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    bool ok = false;
    if (suffix == QLatin1String("png")) {
        ok = plot->savePng(path, width, height);
    } else if (suffix == QLatin1String("pdf")) {
        ok = plot->savePdf(path, width, height);
    } else if (suffix == QLatin1String("svg")) {
        QSvgGenerator gen;
        gen.setFileName(path);
        gen.setSize(QSize(width, height));
        gen.setViewBox(QRect(0, 0, width, height));
        gen.setTitle(QStringLiteral("CheckpointLab chart"));
        QCPPainter painter;
        if (painter.begin(&gen)) {
            plot->toPainter(&painter, width, height);
            painter.end();
            ok = QFileInfo(path).size() > 0;
        }
    } else {
        return QStringLiteral("%1: unknown format \"%2\" (expected .png, .pdf or .svg)").arg(path, suffix);
    }
    return ok ? QString() : QStringLiteral("could not write %1").arg(path);
}

void setupCommonStyle(QCustomPlot* plot) {
    QFont f = plot->font();
    f.setPointSize(9);
    for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->yAxis2}) {
        a->setTickLabelFont(f);
        QFont lf = f;
        lf.setPointSize(10);
        a->setLabelFont(lf);
    }
    plot->legend->setFont(f);
    plot->setNoAntialiasingOnDrag(true);
}

void setupBlockBars(QCustomPlot* bytes, QCustomPlot* time) {
    setupCommonStyle(bytes);
    setupCommonStyle(time);
    bytes->clearPlottables();
    auto* kept = new QCPBars(bytes->xAxis, bytes->yAxis);
    auto* avoided = new QCPBars(bytes->xAxis, bytes->yAxis);
    kept->setName(QObject::tr("kept for backward"));
    avoided->setName(QObject::tr("avoided by checkpointing"));
    kept->setBrush(categoryColor(ckpt::Category::activation));
    kept->setPen(Qt::NoPen);
    avoided->setBrush(QBrush(categoryColor(ckpt::Category::activation).lighter(150), Qt::BDiagPattern));
    avoided->setPen(QPen(categoryColor(ckpt::Category::activation)));
    avoided->moveAbove(kept);
    bytes->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    bytes->yAxis->setLabel(QObject::tr("bytes per block"));
    bytes->xAxis->setLabel(QObject::tr("block"));
    bytes->legend->setVisible(true);
    bytes->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    bytes->setToolTip(QObject::tr("Per block: bytes kept for backward after forward (solid) and bytes that "
                                  "checkpointing avoided keeping (hatched)."));

    time->clearPlottables();
    auto* rec = new QCPBars(time->xAxis, time->yAxis);
    rec->setName(QObject::tr("recomputation time"));
    rec->setBrush(categoryColor(ckpt::Category::recomputed));
    rec->setPen(Qt::NoPen);
    time->yAxis->setLabel(QObject::tr("recomputation (ms)"));
    time->xAxis->setLabel(QObject::tr("block"));
    time->setToolTip(QObject::tr("Per block: time spent re-running its forward during backward (checkpointed blocks only)."));
}

void showBlockBars(QCustomPlot* bytes, QCustomPlot* time, const ckpt::StepReport& r) {
    auto* kept = qobject_cast<QCPBars*>(bytes->plottable(0));
    auto* avoided = qobject_cast<QCPBars*>(bytes->plottable(1));
    auto* rec = qobject_cast<QCPBars*>(time->plottable(0));
    if (!kept || !avoided || !rec) return;
    QVector<double> x, k, a, t;
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    const int every = std::max<int>(1, int(r.blocks.size()) / 24);  // at most ~24 labels
    for (const ckpt::BlockReport& b : r.blocks) {
        x << b.index;
        k << double(b.kept_bytes);
        a << double(std::max<int64_t>(0, b.avoided_bytes));
        t << double(b.recompute_ns) / 1e6;
        if (b.index % every == 0)
            ticks->addTick(b.index, QString::number(b.index) + (b.checkpoint ? QStringLiteral("✓") : QString()));
    }
    kept->setData(x, k, true);
    avoided->setData(x, a, true);
    rec->setData(x, t, true);
    for (QCustomPlot* p : {bytes, time}) {
        p->xAxis->setTicker(ticks);
        p->xAxis->setRange(-0.7, std::max<double>(0.7, double(r.blocks.size()) - 0.3));
        p->yAxis->rescale();
        p->yAxis->setRangeLower(0);
        p->yAxis->setRangeUpper(p->yAxis->range().upper * 1.15 + 1e-9);
        p->replot(QCustomPlot::rpQueuedReplot);
    }
}

void setupHistory(QCustomPlot* plot) {
    setupCommonStyle(plot);
    plot->clearGraphs();
    plot->yAxis2->setVisible(true);
    auto* peak = plot->addGraph(plot->xAxis, plot->yAxis);
    auto* time = plot->addGraph(plot->xAxis, plot->yAxis2);
    peak->setName(QObject::tr("peak memory"));
    time->setName(QObject::tr("step time"));
    peak->setPen(QPen(categoryColor(ckpt::Category::activation).darker(130), 2));
    time->setPen(QPen(QColor(0x00, 0x72, 0xB2), 2, Qt::DashLine));
    peak->setLineStyle(QCPGraph::lsStepCenter);
    time->setLineStyle(QCPGraph::lsStepCenter);
    peak->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    time->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 5));
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    plot->yAxis->setLabel(QObject::tr("peak memory"));
    plot->yAxis2->setLabel(QObject::tr("step time (ms)"));
    plot->xAxis->setLabel(QObject::tr("step"));
    plot->legend->setVisible(true);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    plot->setToolTip(QObject::tr("Each step of a continuous run: its peak memory and its time. Toggle a checkpoint "
                                 "while it runs and watch both change at the next step."));
}

void showHistory(QCustomPlot* plot, const QVector<HistoryPoint>& points) {
    QVector<double> x, p, t;
    for (const HistoryPoint& h : points) {
        x << h.step;
        p << double(h.peak);
        t << double(h.stepNs) / 1e6;
    }
    plot->graph(0)->setData(x, p, true);
    plot->graph(1)->setData(x, t, true);
    plot->xAxis->setRange(0.5, std::max(2.0, double(points.size()) + 0.5));
    if (!points.isEmpty()) plot->xAxis->setRange(points.first().step - 0.5, points.last().step + 0.5);
    plot->yAxis->rescale();
    plot->yAxis2->rescale();
    plot->yAxis->setRangeLower(0);
    plot->yAxis2->setRangeLower(0);
    plot->yAxis->setRangeUpper(plot->yAxis->range().upper * 1.1 + 1);
    plot->yAxis2->setRangeUpper(plot->yAxis2->range().upper * 1.1 + 1e-6);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

PinnedRun pinnedFrom(const ckpt::StepReport& r, const QString& name) {
    PinnedRun p;
    p.name = name;
    p.peak = r.peak_total;
    p.stepNs = r.step_ns;
    // Keep at most ~4000 points, each the maximum of its time slice, so peaks survive.
    const int64_t n = int64_t(r.events.size());
    const int64_t stride = std::max<int64_t>(1, n / 4000);
    p.timeMs << 0.0;
    p.bytes << double(ckpt::total(r.baseline));
    for (int64_t i = 0; i < n; i += stride) {
        int64_t best = r.events[size_t(i)].live_total;
        for (int64_t j = i; j < std::min(n, i + stride); ++j) best = std::max(best, r.events[size_t(j)].live_total);
        p.timeMs << double(r.events[size_t(i)].time_ns) / 1e6;
        p.bytes << double(best);
    }
    return p;
}

void setupComparison(QCustomPlot* plot) {
    setupCommonStyle(plot);
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    plot->yAxis->setLabel(QObject::tr("live bytes (all categories)"));
    plot->xAxis->setLabel(QObject::tr("time in step (ms)"));
    plot->legend->setVisible(true);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plot->setToolTip(QObject::tr("Pinned runs beside the current one: total live memory over one step. "
                                 "Pin a run, change the checkpoints, run again."));
}

void showComparison(QCustomPlot* plot, const QVector<PinnedRun>& runs) {
    static const QColor palette[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                                     QColor(0xCC, 0x79, 0xA7), QColor(0x56, 0xB4, 0xE9), QColor(0xE6, 0x9F, 0x00)};
    plot->clearGraphs();
    for (int i = 0; i < runs.size(); ++i) {
        auto* g = plot->addGraph();
        g->setName(QStringLiteral("%1 — peak %2, %3").arg(runs[i].name, humanBytes(runs[i].peak), humanTime(runs[i].stepNs)));
        g->setLineStyle(QCPGraph::lsStepLeft);
        g->setPen(QPen(palette[i % 6], i == runs.size() - 1 ? 2.5 : 1.5));
        g->setData(runs[i].timeMs, runs[i].bytes, true);
    }
    plot->rescaleAxes();
    plot->yAxis->setRangeLower(0);
    plot->yAxis->setRangeUpper(plot->yAxis->range().upper * 1.25 + 1);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace ckptui
