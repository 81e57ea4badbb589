// The memory timeline (see timeline_chart.h).
#include "ui/timeline_chart.h"

#include <QHelpEvent>
#include <QToolTip>
#include <algorithm>

#include "ui/charts.h"
#include "ui/style.h"

namespace ckptui {

TimelineChart::TimelineChart(QWidget* parent) : QCustomPlot(parent) {
    setupCommonStyle(this);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal);
    axisRect()->setRangeZoom(Qt::Horizontal);
    yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    yAxis->setLabel(tr("live bytes"));
    addLayer(QStringLiteral("bands"), layer(QStringLiteral("grid")), QCustomPlot::limBelow);
    // Stacked areas without channel fills (QCustomPlot computes those slowly): each series is the
    // cumulative total and fills down to zero, drawn from the highest down, opaque, so each
    // visible band is exactly one category.
    graphs_.resize(ckpt::kCategoryCount);
    for (int k = ckpt::kCategoryCount - 1; k >= 0; --k) {
        const ckpt::Category c = kStackOrder[k];
        QCPGraph* g = addGraph();
        g->setName(categoryLabel(c));
        g->setLineStyle(QCPGraph::lsStepLeft);
        g->setPen(QPen(categoryColor(c).darker(115), 1));
        g->setBrush(categoryColor(c));
        g->setAntialiased(false);
        g->setAntialiasedFill(false);
        g->setAdaptiveSampling(false);  // decimation is ours, and keeps maxima
        graphs_[k] = g;
    }
    legend->clearItems();
    for (QCPGraph* g : graphs_) g->addToLegend();  // bottom of the stack first, like the charts read
    putLegendBelow(this, 7);  // under the chart, so it never covers data
    title_ = addTitle(this, tr("Memory during one training step, stacked by category"));
    // Zooming re-decimates the visible range and re-lays the bands: labels appear once their band
    // is wide enough on screen, recomputations merged at full view separate when zoomed in.
    connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        redecimate();
        if (haveReport_ && !redecimating_) drawAnnotations();
    });
    setToolTip(tr("Live bytes during one training step, stacked by category. Drag to pan, wheel to zoom, hover "
                  "the chart for what was alive and running at that moment, hover the legend for what each colour is."));
    setMouseTracking(true);
    chooseTimeUnit(1e6);
}

void TimelineChart::chooseTimeUnit(double maxNs) {
    if (maxNs < 2e6) { unitNs_ = 1e3; xAxis->setLabel(tr("time in step (µs)")); }
    else if (maxNs < 2e9) { unitNs_ = 1e6; xAxis->setLabel(tr("time in step (ms)")); }
    else { unitNs_ = 1e9; xAxis->setLabel(tr("time in step (s)")); }
}

void TimelineChart::clearData() {
    time_.clear();
    tags_.clear();
    for (auto& s : stacked_) s.clear();
}

void TimelineChart::addEvent(const ckpt::MemoryEvent& e) {
    live_[int(e.tag.category)] += e.bytes;
    time_.push_back(double(e.time_ns) / unitNs_);
    tags_.push_back(e.tag);
    double sum = 0;
    for (int k = 0; k < ckpt::kCategoryCount; ++k) {
        sum += double(live_[int(kStackOrder[k])]);
        stacked_[size_t(k)].push_back(sum);
    }
}

void TimelineChart::beginLive(const ckpt::CategoryBytes& baseline) {
    clearData();
    haveReport_ = false;
    live_ = baseline;
    clearItems();
    title_->setText(tr("Memory during the step now running (live)"));
    addEvent({0, 0, {}, ckpt::total(baseline)});
}

void TimelineChart::appendLive(const QVector<ckpt::MemoryEvent>& events) {
    for (const ckpt::MemoryEvent& e : events) addEvent(e);
    if (!time_.empty()) xAxis->setRange(0, std::max(time_.back(), 1e-9));
    redecimate();
    yAxis->setRange(0, std::max(1.0, *std::max_element(stacked_.back().begin(), stacked_.back().end()) * 1.15));
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::setReport(const ckpt::StepReport& r) {
    chooseTimeUnit(double(std::max<int64_t>(r.step_ns, 1)));
    clearData();
    live_ = r.baseline;
    time_.reserve(r.events.size() + 1);
    tags_.reserve(r.events.size() + 1);
    for (auto& s : stacked_) s.reserve(r.events.size() + 1);
    addEvent({0, 0, {}, ckpt::total(r.baseline)});
    for (const ckpt::MemoryEvent& e : r.events) addEvent(e);
    const int checkpointed = r.checkpointed_blocks();
    title_->setText(r.dry_run ? tr("Predicted memory of one training step, %1 of %2 blocks checkpointed").arg(checkpointed).arg(r.blocks.size())
                              : tr("Memory during step %1, %2 of %3 blocks checkpointed").arg(r.step).arg(checkpointed).arg(r.blocks.size()));
    report_ = r;
    report_.events.clear();  // the raw arrays above hold what the chart needs
    report_.tensors.clear();
    haveReport_ = true;
    redecimating_ = true;
    xAxis->setRange(0, std::max(double(r.step_ns) / unitNs_, time_.back()) * 1.01);
    redecimating_ = false;
    yAxis->setRange(0, std::max<double>({1.0, double(r.peak_total), double(prediction_)}) * 1.22);
    redecimate();
    drawAnnotations();
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::setPrediction(qint64 peak) {
    prediction_ = peak;
    if (haveReport_) {
        yAxis->setRange(0, std::max<double>({1.0, double(report_.peak_total), double(prediction_)}) * 1.22);
        drawAnnotations();
        replot(QCustomPlot::rpQueuedReplot);
    }
}

qint64 TimelineChart::plottedPeak() const {
    const auto& top = stacked_.back();
    return top.empty() ? 0 : qint64(*std::max_element(top.begin(), top.end()));
}

qint64 TimelineChart::drawnPeak() const {
    double best = 0;
    if (graphs_.isEmpty()) return 0;
    // The point before the left edge is drawn (the line enters from it); one past the right is not.
    const double right = xAxis->range().upper;
    for (auto it = graphs_.last()->data()->constBegin(); it != graphs_.last()->data()->constEnd() && it->key <= right; ++it)
        best = std::max(best, it->value);
    return qint64(best);
}

int TimelineChart::drawnPoints() const { return graphs_.isEmpty() ? 0 : graphs_.first()->dataCount(); }

void TimelineChart::redecimate() {
    if (redecimating_ || time_.empty()) return;
    const QCPRange r = xAxis->range();
    const size_t n = time_.size();
    // From the last event at or before the left edge, so the step line starts at the right height.
    size_t i0 = size_t(std::upper_bound(time_.begin(), time_.end(), r.lower) - time_.begin());
    i0 = i0 > 0 ? i0 - 1 : 0;
    const size_t i1 = size_t(std::upper_bound(time_.begin(), time_.end(), r.upper) - time_.begin());
    const int columns = std::max(200, axisRect()->width() > 10 ? axisRect()->width() : 2000);
    std::array<QVector<QCPGraphData>, ckpt::kCategoryCount> out;
    if (i1 - i0 <= size_t(2 * columns)) {
        for (int k = 0; k < ckpt::kCategoryCount; ++k) {
            out[size_t(k)].reserve(int(i1 - i0 + 1));
            for (size_t i = i0; i < std::min(n, i1 + 1); ++i) out[size_t(k)].append({time_[i], stacked_[size_t(k)][i]});
        }
    } else {
        // One point per pixel column: the maximum of each stacked series within the column.
        const double width = (r.upper - r.lower) / columns;
        size_t i = i0;
        for (int c = 0; c < columns && i < i1; ++c) {
            const double end = r.lower + (c + 1) * width;
            std::array<double, ckpt::kCategoryCount> mx;
            for (int k = 0; k < ckpt::kCategoryCount; ++k) mx[size_t(k)] = stacked_[size_t(k)][i];
            const double t0 = std::max(time_[i], r.lower + c * width);
            for (; i < i1 && time_[i] < end; ++i)
                for (int k = 0; k < ckpt::kCategoryCount; ++k) mx[size_t(k)] = std::max(mx[size_t(k)], stacked_[size_t(k)][i]);
            for (int k = 0; k < ckpt::kCategoryCount; ++k) out[size_t(k)].append({t0, mx[size_t(k)]});
            if (i > i0) --i;  // the last event of this column also opens the next one
            if (i + 1 < i1 && time_[i + 1] >= end) ++i;
        }
    }
    for (int k = 0; k < ckpt::kCategoryCount; ++k) graphs_[k]->data()->set(out[size_t(k)], true);
}

void TimelineChart::drawAnnotations() {
    clearItems();
    if (!haveReport_) return;
    const ckpt::StepReport& r = report_;
    // Phase bands: forward, loss, backward and optimizer, plus each block's recomputation.
    double fwd0 = 1e300, fwd1 = -1, bwd0 = 1e300, bwd1 = -1;
    QVector<const ckpt::Span*> recomputes;
    const ckpt::Span* loss = nullptr;
    const ckpt::Span* opt = nullptr;
    for (const ckpt::Span& s : r.spans) {
        if (s.layer != -1) continue;
        const double a = double(s.start_ns) / unitNs_, b = double(s.end_ns) / unitNs_;
        if (s.phase == ckpt::Phase::forward && s.block >= 0) { fwd0 = std::min(fwd0, a); fwd1 = std::max(fwd1, b); }
        if ((s.phase == ckpt::Phase::backward || s.phase == ckpt::Phase::recompute) && s.block >= 0) {
            bwd0 = std::min(bwd0, a);
            bwd1 = std::max(bwd1, b);
        }
        if (s.phase == ckpt::Phase::recompute) recomputes << &s;
        if (s.phase == ckpt::Phase::loss) loss = &s;
        if (s.phase == ckpt::Phase::optimizer) opt = &s;
    }
    auto band = [&](double a, double b, ckpt::Phase p, const QString& label, bool strong) {
        if (!(b > a)) return;
        auto* rect = new QCPItemRect(this);
        rect->setLayer(QStringLiteral("bands"));
        rect->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
        rect->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
        rect->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
        rect->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
        rect->topLeft->setCoords(a, strong ? 0.0 : 0.0);
        rect->bottomRight->setCoords(b, 1.0);
        rect->setPen(Qt::NoPen);
        rect->setBrush(phaseColor(p));
        rect->setClipToAxisRect(true);
        // A label only where the band is wide enough on screen to hold it.
        const double px = std::fabs(xAxis->coordToPixel(b) - xAxis->coordToPixel(a));
        if (label.isEmpty() || px < 8.0 * label.size() + 6) return;
        auto* t = new QCPItemText(this);
        t->position->setTypeX(QCPItemPosition::ptPlotCoords);
        t->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        t->position->setCoords((a + b) / 2, strong ? 0.08 : 0.02);
        t->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
        t->setText(label);
        QFont f = font();
        f.setPointSize(8);
        t->setFont(f);
        t->setColor(QColor(60, 60, 60));
        t->setClipToAxisRect(true);
    };
    if (fwd0 < 1e300 && fwd0 > 0) band(0, fwd0, ckpt::Phase::setup, tr("batch"), false);  // making the input batch
    band(fwd0, fwd1, ckpt::Phase::forward, tr("forward"), false);
    if (loss) band(double(loss->start_ns) / unitNs_, double(loss->end_ns) / unitNs_, ckpt::Phase::loss, QString(), false);
    band(bwd0, bwd1, ckpt::Phase::backward,
         recomputes.isEmpty() ? tr("backward") : tr("backward (orange: recomputation)"), false);
    if (opt) band(double(opt->start_ns) / unitNs_, double(opt->end_ns) / unitNs_, ckpt::Phase::optimizer, tr("optimizer"), false);
    // Recomputations closer together than a pixel column of the whole step merge into one band:
    // thousands of checkpointed blocks must not become thousands of items to paint.
    const double merge = xAxis->range().size() / 2000.0;
    for (int i = 0; i < recomputes.size();) {
        double a = double(recomputes[i]->start_ns) / unitNs_, b = double(recomputes[i]->end_ns) / unitNs_;
        int j = i + 1;
        for (; j < recomputes.size(); ++j) {
            const double a2 = double(recomputes[j]->start_ns) / unitNs_, b2 = double(recomputes[j]->end_ns) / unitNs_;
            if (std::min(std::fabs(a2 - b), std::fabs(a - b2)) > merge) break;
            a = std::min(a, a2);
            b = std::max(b, b2);
        }
        band(a, b, ckpt::Phase::recompute, j == i + 1 ? tr("↻%1").arg(recomputes[i]->block) : QString(), true);
        i = j;
    }

    // Peak marker.
    const double tp = double(r.peak_time_ns) / unitNs_;
    auto* line = new QCPItemLine(this);
    line->start->setCoords(tp, 0);
    line->end->setCoords(tp, double(r.peak_total));
    line->setPen(QPen(Qt::black, 1, Qt::DashLine));
    auto* dot = new QCPItemTracer(this);
    dot->position->setCoords(tp, double(r.peak_total));
    dot->setStyle(QCPItemTracer::tsCircle);
    dot->setSize(7);
    dot->setPen(QPen(Qt::black));
    dot->setBrush(Qt::white);
    auto* label = new QCPItemText(this);
    label->position->setCoords(tp, double(r.peak_total));
    const bool right = tp > xAxis->range().center();
    label->setPositionAlignment((right ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignBottom);
    label->setPadding(QMargins(6, 0, 6, 4));
    const ckpt::MemoryTag& tag = r.peak_tag;
    QString where = phaseLabel(tag.phase);
    if (tag.block >= 0) where = tr("block %1 %2").arg(tag.block).arg(where);
    label->setText(tr("peak %1 (%2)").arg(humanBytes(r.peak_total), where));
    QFont bold = font();
    bold.setBold(true);
    bold.setPointSize(9);
    label->setFont(bold);

    if (prediction_ >= 0) {
        auto* pl = new QCPItemStraightLine(this);
        pl->point1->setCoords(0, double(prediction_));
        pl->point2->setCoords(1, double(prediction_));
        pl->setPen(QPen(QColor(0x00, 0x72, 0xB2), 1.5, Qt::DashLine));
        auto* pt = new QCPItemText(this);
        pt->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        pt->position->setCoords(0.005, double(prediction_));
        pt->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);  // under the line: the peak label sits above
        pt->setPadding(QMargins(2, 3, 2, 0));
        const qint64 diff = r.peak_total - prediction_;
        pt->setText(diff == 0 ? tr("predicted peak %1 — measured equals it").arg(humanBytes(prediction_))
                              : tr("predicted peak %1 — measured differs by %2").arg(humanBytes(prediction_), humanBytes(diff)));
        pt->setColor(QColor(0x00, 0x72, 0xB2));
    }
    if (r.status == ckpt::StepStatus::out_of_memory) {
        const double t = time_.empty() ? 0 : time_.back();
        auto* oom = new QCPItemStraightLine(this);
        oom->point1->setCoords(t, 0);
        oom->point2->setCoords(t, 1);
        oom->setPen(QPen(Qt::red, 2));
        auto* ot = new QCPItemText(this);
        ot->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        ot->position->setCoords(t, 0.2);
        ot->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
        ot->setPadding(QMargins(4, 2, 6, 2));
        ot->setBrush(QColor(255, 255, 255, 220));
        ot->setColor(Qt::red);
        ot->setText(QString::fromStdString(r.message).replace(QStringLiteral(": asked"), QStringLiteral(":\nasked")));
    }
}

bool TimelineChart::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(event);
        // Over the data the mouse-move details are showing already.
        if (!time_.empty() && axisRect()->rect().contains(he->pos())) return true;
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(layoutElementAt(he->pos()))) {
            for (int k = 0; k < graphs_.size(); ++k) {
                if (item->plottable() != graphs_[k]) continue;
                QToolTip::showText(he->globalPos(),
                                   QStringLiteral("<b>%1</b>: %2").arg(categoryLabel(kStackOrder[k]), categoryMeaning(kStackOrder[k])),
                                   this, item->rect());
                return true;
            }
        }
    }
    return QCustomPlot::event(event);
}

void TimelineChart::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    if (time_.empty() || !axisRect()->rect().contains(event->pos())) return;
    const double x = xAxis->pixelToCoord(event->position().x());
    size_t i = size_t(std::upper_bound(time_.begin(), time_.end(), x) - time_.begin());
    if (i == 0) return;
    --i;
    QString text = tr("<b>t = %1</b>").arg(humanTime(qint64(time_[i] * unitNs_)));
    const ckpt::MemoryTag& tag = tags_[i];
    if (i > 0) {
        QString who = phaseLabel(tag.phase);
        if (tag.block >= 0) who = tr("block %1%2, %3").arg(tag.block).arg(tag.layer >= 0 ? tr(" layer %1").arg(tag.layer) : QString(), who);
        text += tr("<br>running: %1").arg(who);
    }
    text += QStringLiteral("<table>");
    for (int k = ckpt::kCategoryCount - 1; k >= 0; --k) {
        const double below = k > 0 ? stacked_[size_t(k - 1)][i] : 0.0;
        const qint64 v = qint64(stacked_[size_t(k)][i] - below);
        text += QStringLiteral("<tr><td><font color='%1'>■</font> %2</td><td align='right'>%3</td></tr>")
                    .arg(categoryColor(kStackOrder[k]).name(), categoryLabel(kStackOrder[k]), humanBytes(v));
    }
    text += tr("<tr><td><b>total</b></td><td align='right'><b>%1</b></td></tr></table>").arg(humanBytes(qint64(stacked_.back()[i])));
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

}  // namespace ckptui
