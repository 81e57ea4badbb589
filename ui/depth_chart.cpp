// The Depth tab (see depth_chart.h).
#include "ui/depth_chart.h"

#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>
#include <cmath>
#include <qcustomplot.h>

#include "ui/charts.h"
#include "ui/style.h"

namespace ckptui {

namespace {

// The structure a sweep belongs to: flags and segments do not change it.
ckpt::ModelSpec structure(ckpt::ModelSpec s) {
    for (auto& b : s.blocks) b.checkpoint = false;
    s.segments.clear();
    return s;
}

const QColor kNone(0x99, 0x99, 0x99), kPerBlock(0x00, 0x72, 0xB2), kSegments(0xCC, 0x79, 0xA7),
    kMeasured(0x00, 0x9E, 0x73);

QString policyName(int k) {
    return k == 0 ? QObject::tr("no checkpointing") : k == 1 ? QObject::tr("every block alone")
                                                           : QObject::tr("sqrt(n) segments (Chen et al.)");
}

double mib(int64_t bytes) { return double(bytes) / double(1 << 20); }

void setupLogAxes(QCustomPlot* plot, bool logY) {
    setupCommonStyle(plot);
    auto x = QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog);
    x->setLogBase(2);
    x->setSubTickCount(0);
    plot->xAxis->setTicker(x);
    plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
    plot->xAxis->setNumberFormat(QStringLiteral("f"));
    plot->xAxis->setNumberPrecision(0);
    plot->xAxis->setLabel(QObject::tr("depth: blocks in the repeated stretch (log scale)"));
    if (logY) {
        plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot->yAxis->setNumberFormat(QStringLiteral("gb"));
    }
    plot->legend->setVisible(true);
}

}  // namespace

std::vector<int> DepthChart::depthsFor(int depth) {
    std::vector<int> d;
    for (int n = 4; n <= std::max(1024, depth); n *= 2) d.push_back(n);
    if (std::find(d.begin(), d.end(), depth) == d.end() && depth >= 2) d.push_back(depth);
    std::sort(d.begin(), d.end());
    return d;
}

DepthChart::DepthChart(QCustomPlot* memory, QCustomPlot* recompute, QObject* parent)
    : QObject(parent), memory_(memory), recompute_(recompute) {
    setupLogAxes(memory_, true);
    memory_->yAxis->setLabel(tr("activation peak (MiB, log)"));
    addTitle(memory_, tr("Memory against depth: O(n) per block, O(sqrt(n)) with sqrt(n) segments"));
    // The legends below the axes, never over a curve (tst_window_trust checks every chart).
    putLegendBelow(memory_, 2);
    setupLogAxes(recompute_, false);
    putLegendBelow(recompute_, 2);
    recompute_->yAxis->setLabel(tr("recomputation (% of the step)"));
    memory_->setToolTip(tr("The stack made shallower and deeper, predicted by the engine for three ways of "
                           "checkpointing. On log-log axes O(n) and O(sqrt(n)) are straight lines of slope 1 and 1/2."));
    recompute_->setToolTip(tr("What each way of checkpointing recomputes: about one forward of the checkpointed blocks."));
    setHoverTips(memory_, [this](double x, double) {
        const ckpt::DepthPoint* best = nullptr;
        for (const ckpt::DepthPoint& p : points_)
            if (!best || std::fabs(std::log2(p.depth) - std::log2(std::max(1.0, x))) <
                             std::fabs(std::log2(best->depth) - std::log2(std::max(1.0, x))))
                best = &p;
        if (!best) return QString();
        QString t = tr("<b>%1 blocks</b>").arg(best->depth);
        for (int k = 0; k < ckpt::kDepthPolicies; ++k)
            t += tr("<br>%1: %2, recomputation +%3%")
                     .arg(policyName(k), humanBytes(best->activation[size_t(k)]))
                     .arg(100.0 * best->recompute[size_t(k)], 0, 'f', 1);
        return t;
    });
    showEmpty(memory_, tr("Open the Depth tab on a stack with a repeated block (lesson 6)."));
}

void DepthChart::refresh(const ckpt::ModelSpec& spec) {
    if (swept_ && *swept_ == structure(spec)) return;
    swept_ = structure(spec);
    const ckpt::BlockRange stretch = ckpt::repeated_stretch(spec);
    depth_ = stretch.size();
    points_.clear();
    error_.clear();
    if (stretch.size() < 2) {
        error_ = tr("No block repeats here: the depth sweep makes a repeated block (one with \"repeat\", like "
                    "lesson 6's chain) shallower and deeper.");
        draw();
        return;
    }
    const int generation = ++generation_;
    const ckpt::ModelSpec s = *swept_;
    const std::vector<int> depths = depthsFor(depth_);
    auto* watcher = new QFutureWatcher<ckpt::Result<std::vector<ckpt::DepthPoint>>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != generation_) return;  // a newer stack replaced this one
        const auto r = watcher->result();
        if (r) points_ = *r;
        else error_ = QString::fromStdString(r.error().message);
        draw();
    });
    showEmpty(memory_, tr("Predicting %1 depths…").arg(depths.size()));
    memory_->replot();
    watcher->setFuture(QtConcurrent::run([s, depths] { return ckpt::depth_sweep(s, depths); }));
}

void DepthChart::setMeasured(const ckpt::StepReport& report, const ckpt::ModelSpec& spec) {
    if (report.status != ckpt::StepStatus::ok) return;
    // Kept even when the tab has not swept this stack yet: drawn once it has.
    measured_ = report;
    measuredFor_ = structure(spec);
    if (swept_ && *swept_ == *measuredFor_ && !points_.empty()) draw();
}

void DepthChart::draw() {
    for (QCustomPlot* p : {memory_, recompute_}) {
        p->clearPlottables();
        p->clearItems();
    }
    if (!error_.isEmpty() || points_.empty()) {
        showEmpty(memory_, error_.isEmpty() ? tr("No depths predicted.") : error_);
        showEmpty(recompute_, QString());
        memory_->replot();
        recompute_->replot();
        emit drawn();
        return;
    }
    clearEmpty(memory_);
    clearEmpty(recompute_);
    const QColor colors[ckpt::kDepthPolicies] = {kNone, kPerBlock, kSegments};
    const QCPScatterStyle::ScatterShape shapes[ckpt::kDepthPolicies] = {QCPScatterStyle::ssSquare, QCPScatterStyle::ssCircle,
                                                                         QCPScatterStyle::ssDiamond};
    for (int k = 0; k < ckpt::kDepthPolicies; ++k) {
        auto* m = memory_->addGraph();
        auto* r = recompute_->addGraph();
        for (QCPGraph* g : {m, r}) {
            g->setName(policyName(k));
            g->setPen(QPen(colors[k], 2));
            g->setScatterStyle(QCPScatterStyle(shapes[k], colors[k], chartPalette(memory_).color(QPalette::Base), 8));
        }
        for (const ckpt::DepthPoint& p : points_) {
            m->addData(p.depth, mib(p.activation[size_t(k)]));
            r->addData(p.depth, 100.0 * p.recompute[size_t(k)]);
        }
    }
    // The reference curves through the deepest point: c n and c sqrt(n), dashed.
    const ckpt::DepthPoint& deep = points_.back();
    const double lo = points_.front().depth, hi = deep.depth;
    auto reference = [&](const QString& name, int k, double power) {
        auto* g = memory_->addGraph();
        g->setName(name);
        g->setPen(QPen(colors[k], 1.2, Qt::DashLine));
        const double c = mib(deep.activation[size_t(k)]) / std::pow(hi, power);
        for (double n = lo; n <= hi * 1.0001; n *= std::sqrt(2.0)) g->addData(n, c * std::pow(n, power));
    };
    reference(tr("∝ n"), 1, 1.0);
    reference(tr("∝ sqrt(n)"), 2, 0.5);
    // This stack's depth, with the step measured here.
    for (QCustomPlot* p : {memory_, recompute_}) {
        auto* line = new QCPItemStraightLine(p);
        line->point1->setCoords(depth_, 1);
        line->point2->setCoords(depth_, 2);
        line->setPen(QPen(kMeasured, 1, Qt::DotLine));
    }
    auto* label = new QCPItemText(memory_);
    label->position->setTypeX(QCPItemPosition::ptPlotCoords);
    label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    label->position->setCoords(depth_, 0.97);  // at the bottom, where the curves start low
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->setPadding(QMargins(4, 2, 4, 2));
    label->setText(tr("this stack: %1 blocks").arg(depth_));
    setInk(label, Ink::muted);
    if (measured_ && measuredFor_ && *measuredFor_ == *swept_) {
        auto* g = memory_->addGraph();
        int checkpointed = 0, runs = 0;
        for (const ckpt::BlockReport& b : measured_->blocks) {
            checkpointed += b.checkpoint ? 1 : 0;
            runs += b.checkpoint && b.segment_last == b.index ? 1 : 0;
        }
        g->setName(checkpointed == 0 ? tr("measured step, none checkpointed")
                                     : tr("measured step, %1 of %2 blocks in %3 segment(s)")
                                           .arg(checkpointed).arg(measured_->blocks.size()).arg(runs));
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QPen(kMeasured, 2.5), Qt::NoBrush, 14));
        g->addData(depth_, mib(ckpt::activation_peak(*measured_)));
    }
    memory_->rescaleAxes();
    recompute_->rescaleAxes();
    for (QCustomPlot* p : {memory_, recompute_}) p->xAxis->setRange(lo / 1.3, hi * 1.3);
    // Room below the curves for the stack's label.
    memory_->yAxis->setRange(memory_->yAxis->range().lower / 2, memory_->yAxis->range().upper * 1.5);
    recompute_->yAxis->setRange(-2, std::max(10.0, recompute_->yAxis->range().upper * 1.15));
    memory_->replot();
    recompute_->replot();
    emit drawn();
}

}  // namespace ckptui
