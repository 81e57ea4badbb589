// The memory timeline (see timeline_chart.h).
#include "ui/timeline_chart.h"

#include <QFontMetrics>
#include <QHelpEvent>
#include <QToolTip>
#include <algorithm>

#include "ui/charts.h"
#include "ui/messages.h"
#include "ui/style.h"

namespace ckptui {

void TimelineChart::placePeakLabel() {
    // The side with room for the whole text, decided once the chart is laid out (a narrow chart
    // on a laptop cut it at the edge): to the right of the peak if it fits there, else to the
    // left, else as far right as the whole text fits.
    for (int i = 0; i < itemCount(); ++i) {
        auto* label = qobject_cast<QCPItemText*>(item(i));
        if (!label || !label->property("ckptPeakX").isValid()) continue;
        const double tp = label->property("ckptPeakX").toDouble();
        const QRect area = axisRect()->rect();
        const double px = xAxis->coordToPixel(tp);
        const int textWidth = QFontMetrics(label->font()).horizontalAdvance(label->text()) + 12;
        const bool fitsRight = px + textWidth <= area.right(), fitsLeft = px - textWidth >= area.left();
        const bool preferRight = tp <= xAxis->range().center();
        const double y = label->position->coords().y();
        if ((preferRight && fitsRight) || (fitsRight && !fitsLeft)) {
            label->position->setCoords(tp, y);
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        } else if (fitsLeft) {
            label->position->setCoords(tp, y);
            label->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
        } else {  // wider than either side: as far right as it fits whole (the dot marks the peak)
            label->position->setCoords(xAxis->pixelToCoord(std::max<double>(area.left(), area.right() - textWidth)), y);
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        }
    }
}

namespace {

const QColor kPredictedColor(0x00, 0x72, 0xB2);

QFont smallFont(const QFont& base, int points, bool bold = false) {
    QFont f = base;
    f.setPointSize(points);
    f.setBold(bold);
    return f;
}

}  // namespace

TimelineChart::TimelineChart(QWidget* parent) : QCustomPlot(parent) {
    setupCommonStyle(this);
    connect(this, &QCustomPlot::afterLayout, this, &TimelineChart::placePeakLabel);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal);
    axisRect()->setRangeZoom(Qt::Horizontal);
    yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    yAxis->setLabel(tr("live bytes"));
    timeTicker_ = QSharedPointer<QCPAxisTicker>(new DurationTicker);
    orderTicker_ = QSharedPointer<QCPAxisTicker>(new QCPAxisTicker);
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
        g->setBrush(categoryBrush(c));
        g->setAntialiased(false);
        g->setAntialiasedFill(false);
        g->setAdaptiveSampling(false);  // decimation is ours, and keeps maxima
        graphs_[k] = g;
    }
    // The prediction's total over a measured step: a dashed line on top of the stack.
    overlayGraph_ = addGraph();
    overlayGraph_->setName(tr("predicted (dry run)"));
    overlayGraph_->setLineStyle(QCPGraph::lsStepLeft);
    overlayGraph_->setPen(QPen(kPredictedColor, 1.5, Qt::DashLine));
    overlayGraph_->setAdaptiveSampling(false);
    // A snapshot's reserved bytes: the caching allocator's segments, at or above the allocated stack.
    reservedGraph_ = addGraph();
    reservedGraph_->setName(tr("reserved (the allocator's segments)"));
    reservedGraph_->setLineStyle(QCPGraph::lsStepLeft);
    reservedGraph_->setPen(QPen(QColor(0xC0, 0x1C, 0x6C), 2, Qt::DashDotLine));
    reservedGraph_->setAdaptiveSampling(false);
    legend->clearItems();
    for (QCPGraph* g : graphs_) g->addToLegend();  // bottom of the stack first, like the charts read
    graphs_[size_t(std::find(std::begin(kStackOrder), std::end(kStackOrder), ckpt::Category::communication) -
                   std::begin(kStackOrder))]->removeFromLegend();  // until a step has some (updateTitle)
    showUnattributed(false);
    putLegendBelow(this, 4);  // under the chart, so it never covers data
    title_ = addTitle(this, QString());
    // Zooming re-decimates the visible range and re-lays the bands: labels appear once their band
    // is wide enough on screen, recomputations merged at full view separate when zoomed in.
    connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        redecimate();
        if (haveReport_ && !redecimating_) drawAnnotations();
    });
    setToolTip(tr("Live bytes during one training step, stacked by category. Before a run it shows the engine's "
                  "prediction (a dry run: exact bytes, in the order they are allocated and freed); after a run, the "
                  "measurement in time with the prediction dashed over it. Drag to pan, wheel to zoom, hover for "
                  "what was alive and running; hover the legend for what each colour is."));
    setMouseTracking(true);
    showMessage(tr("no run yet"));
}

void TimelineChart::setMode(Mode m) {
    mode_ = m;
    const bool data = m != Mode::empty;
    xAxis->setVisible(data);
    yAxis->setVisible(data);
    if (m == Mode::predicted) {
        xAxis->setTicker(orderTicker_);
        xAxis->setLabel(snapshotOrder_ ? tr("allocations and frees, in the snapshot's order (it records no times)")
                                       : tr("allocations and frees, in order (a prediction: no time measured yet)"));
    } else {
        xAxis->setTicker(timeTicker_);
        xAxis->setLabel(snapshotTitle_.isEmpty() ? tr("time in step") : tr("time since the trace's first entry"));
    }
    if (overlayGraph_->visible() != (m == Mode::measured && !overlay_.empty())) {
        const bool on = m == Mode::measured && !overlay_.empty();
        overlayGraph_->setVisible(on);
        if (on) overlayGraph_->addToLegend();
        else overlayGraph_->removeFromLegend();
    }
    updateTitle();
}

void TimelineChart::clearData() {
    // A prediction's series goes back to it (kept for the next time it is shown); the chart's
    // own buffers come back, emptied but with their capacity.
    if (std::shared_ptr<TimelineSeries> lent = lent_.lock()) std::swap(d_, *lent);
    lent_.reset();
    d_.clear();
    overlay_.clear();
    reservedGraph_->data()->clear();
    reservedGraph_->removeFromLegend();
}

void TimelineChart::showMessage(const QString& text) {
    hideChartTip(this);
    snapshotTitle_.clear();
    snapshotOrder_ = false;
    clearData();
    haveReport_ = false;
    clearItems();
    for (QCPGraph* g : graphs_) g->data()->clear();
    overlayGraph_->data()->clear();
    setMode(Mode::empty);
    title_->setText(tr("Memory during one training step"));
    auto* t = new QCPItemText(this);
    t->position->setType(QCPItemPosition::ptAxisRectRatio);
    t->position->setCoords(0.5, 0.45);
    t->setText(text);
    t->setFont(smallFont(font(), 12));
    setInk(t, Ink::muted);
    message_ = t;
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::showUnattributed(bool on) {
    // Only a PyTorch snapshot has bytes no one attributed: the engine's steps never list the category.
    QCPGraph* g = graphs_[int(std::find(std::begin(kStackOrder), std::end(kStackOrder), ckpt::Category::unattributed) -
                              std::begin(kStackOrder))];
    if (on) g->addToLegend();
    else g->removeFromLegend();
}

void TimelineChart::setSnapshot(const ckpt::TorchSnapshot& s, const QString& title) {
    const ckpt::StepReport& r = s.report;
    const bool timed = s.timed;
    if (timed) setReport(r);
    else setPredicted(r);
    snapshotTitle_ = title;
    snapshotOrder_ = !timed;
    // Reserved bytes at their entries' times, or in the trace's order between the events around
    // them (event k is drawn at x = k), held to the chart's right end.
    QVector<double> x, bytes;
    for (const ckpt::TorchSnapshot::ReservedPoint& p : s.reserved_over_time) {
        x << (timed ? double(p.time_ns) / 1e6 : double(p.events_before) + 0.5);
        bytes << double(p.bytes);
    }
    if (!x.isEmpty()) {
        x << std::max(x.back(), timed ? double(r.step_ns) / 1e6 : double(r.events.size()));
        bytes << bytes.back();
        x.first() = 0;  // the reserved bytes at the start
        reservedGraph_->setData(x, bytes, true);
        reservedGraph_->addToLegend();
        yAxis->setRange(0, topWithLimit(std::max<double>({1.0, double(r.peak_total), double(s.reserved_peak)}) * 1.22));
    }
    setMode(mode_);  // the axis label and the title
    drawAnnotations();  // the peak's label says measured
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::beginLive(const ckpt::CategoryBytes& baseline) {
    hideChartTip(this);
    snapshotTitle_.clear();
    snapshotOrder_ = false;
    clearData();
    haveReport_ = false;
    d_.live = baseline;
    clearItems();
    message_ = nullptr;
    note_.clear();
    setMode(Mode::live);
    d_.add({0, 0, {}, ckpt::total(baseline)}, 0.0);
    drawLimit();
}

void TimelineChart::appendLive(const QVector<ckpt::MemoryEvent>& events) {
    if (mode_ != Mode::live) return;  // a batch that arrived after the step was shown
    for (const ckpt::MemoryEvent& e : events) d_.add(e, double(e.time_ns) / 1e6);
    if (!d_.x.empty()) xAxis->setRange(0, std::max(d_.x.back(), 1e-6));
    redecimate();
    yAxis->setRange(0, topWithLimit(std::max(1.0, *std::max_element(d_.stacked.back().begin(), d_.stacked.back().end()) * 1.15)));
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::setReport(const ckpt::StepReport& r, const ckpt::StepReport* predicted, int step,
                              std::shared_ptr<const ckpt::StepReport> shared) {
    hideChartTip(this);
    step_ = step >= 0 ? step : r.step;
    snapshotTitle_.clear();
    snapshotOrder_ = false;
    clearData();
    d_.fill(r, false);
    // The prediction's total at every measured event, while the two streams are the same events:
    // all of them for a complete step, the part before the failure for an out-of-memory one.
    if (predicted && !predicted->events.empty()) {
        const size_t n = std::min(predicted->events.size(), r.events.size());
        bool same = ckpt::total(predicted->baseline) == ckpt::total(r.baseline);
        for (size_t i = 0; i < n && same; ++i) same = predicted->events[i].bytes == r.events[i].bytes;
        if (same && n > 0) {
            overlay_.reserve(n + 1);
            overlay_.push_back(double(ckpt::total(predicted->baseline)));
            for (size_t i = 0; i < n; ++i) overlay_.push_back(double(predicted->events[i].live_total));
        }
    }
    prediction_ = predicted ? predicted->peak_total : -1;  // never another step's prediction
    note_.clear();
    setMode(Mode::measured);
    finishReport(r, std::move(shared));
}

void TimelineChart::setPredicted(const ckpt::StepReport& p, qint64 uncheckedPeak, std::shared_ptr<TimelineSeries> series,
                                 std::shared_ptr<const ckpt::StepReport> shared) {
    hideChartTip(this);
    snapshotTitle_.clear();
    snapshotOrder_ = false;
    clearData();
    if (series && series->x.size() == p.events.size() + 1) {
        std::swap(d_, *series);  // lent while it is drawn (clearData gives it back)
        lent_ = series;
    } else {
        d_.fill(p, true);
    }
    uncheckedPeak_ = uncheckedPeak;
    note_.clear();
    setMode(Mode::predicted);
    finishReport(p, std::move(shared));
}

void TimelineChart::finishReport(const ckpt::StepReport& r, std::shared_ptr<const ckpt::StepReport> shared) {
    if (shared.get() == &r) {
        report_ = std::move(shared);
    } else {
        auto copy = std::make_shared<ckpt::StepReport>(r);
        copy->events = {};  // the series above holds what the chart needs
        copy->tensors = {};
        report_ = std::move(copy);
    }
    haveReport_ = true;
    showUnattributed(r.peak[size_t(ckpt::Category::unattributed)] > 0);
    updateTitle();
    redecimating_ = true;
    const double end = mode_ == Mode::predicted ? double(d_.x.size()) : std::max(double(r.step_ns) / 1e6, d_.x.back()) * 1.01;
    xAxis->setRange(0, std::max(end, 1e-6));
    redecimating_ = false;
    double top = std::max<double>(1.0, double(r.peak_total));
    if (mode_ == Mode::measured && prediction_ > 0) top = std::max(top, double(prediction_));
    if (mode_ == Mode::predicted && uncheckedPeak_ > 0) top = std::max(top, double(uncheckedPeak_));
    yAxis->setRange(0, topWithLimit(top * 1.22));
    redecimate();
    drawAnnotations();
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::setPrediction(qint64 peak) {
    prediction_ = peak;
    if (haveReport_ && mode_ == Mode::measured) {
        yAxis->setRange(0, std::max<double>({1.0, double(report_->peak_total), double(prediction_)}) * 1.22);
        drawAnnotations();
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void TimelineChart::setTitleNote(const QString& note) {
    note_ = note;
    updateTitle();
    replot(QCustomPlot::rpQueuedReplot);
}

void TimelineChart::updateTitle() {
    QString t;
    const int k = report_ ? report_->checkpointed_blocks() : 0, n = report_ ? int(report_->blocks.size()) : 0;
    switch (mode_) {
    case Mode::empty: t = tr("Memory during one training step"); break;
    case Mode::live: t = tr("Memory during the step now running (live)"); break;
    case Mode::predicted:
        t = tr("Predicted memory of one step (dry run, exact bytes), %1 of %2 blocks checkpointed").arg(k).arg(n);
        break;
    case Mode::measured:
        // (setMode runs before finishReport hands the chart its report: none yet on a first step)
        t = report_ && report_->dry_run ? tr("Predicted memory of one step (dry run, on the dry run's own clock), %1 of %2 blocks checkpointed").arg(k).arg(n)
                            : tr("Memory during step %1 (measured), %2 of %3 blocks checkpointed").arg(step_).arg(k).arg(n);
        break;
    }
    // `communication` is in the legend only when the step has some (a parallel layout's rank).
    const int comm = int(std::find(std::begin(kStackOrder), std::end(kStackOrder), ckpt::Category::communication) - std::begin(kStackOrder));
    const bool anyComm = report_ && report_->peak[int(ckpt::Category::communication)] > 0;
    if (anyComm != legend->hasItemWithPlottable(graphs_[size_t(comm)])) {
        if (anyComm) graphs_[size_t(comm)]->addToLegend();
        else graphs_[size_t(comm)]->removeFromLegend();
    }
    // One rank of a parallel layout says which, on a line of its own.
    if (report_ && !report_->parallel.empty() && mode_ != Mode::empty && mode_ != Mode::live)
        t += QLatin1Char('\n') + QString::fromStdString(report_->parallel);
    // The note on a line of its own: appended, it pushed the title past a 1366-px window's
    // chart and both ends were cut.
    if (!snapshotTitle_.isEmpty() && mode_ != Mode::empty && mode_ != Mode::live) t = snapshotTitle_;
    if (!note_.isEmpty()) t += QLatin1Char('\n') + note_;
    title_->setText(t);
}

QString TimelineChart::title() const { return title_->text(); }

qint64 TimelineChart::plottedPeak() const {
    const auto& top = d_.stacked.back();
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
int TimelineChart::overlayPoints() const { return overlayGraph_->visible() ? overlayGraph_->dataCount() : 0; }

QList<QCPItemText*> TimelineChart::labels() const {
    QList<QCPItemText*> out;
    for (int i = 0; i < itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(item(i))) out << t;
    return out;
}

double TimelineChart::xOfNs(int64_t ns) const {
    if (mode_ != Mode::predicted) return double(ns) / 1e6;
    // The dry run's clock orders events and spans: a span boundary sits at the first event at
    // or after it.
    const size_t i = size_t(std::lower_bound(d_.ns.begin() + 1, d_.ns.end(), ns) - d_.ns.begin());
    return i < d_.x.size() ? d_.x[i] : double(d_.x.size());
}

void TimelineChart::redecimate() {
    if (redecimating_ || d_.x.empty()) return;
    const QCPRange r = xAxis->range();
    const size_t n = d_.x.size();
    const bool withOverlay = !overlay_.empty();
    const int series = ckpt::kCategoryCount + (withOverlay ? 1 : 0);
    auto value = [&](int k, size_t i) {
        if (k < ckpt::kCategoryCount) return d_.stacked[size_t(k)][i];
        return i < overlay_.size() ? overlay_[i] : std::numeric_limits<double>::quiet_NaN();
    };
    // From the last event at or before the left edge, so the step line starts at the right height.
    size_t i0 = size_t(std::upper_bound(d_.x.begin(), d_.x.end(), r.lower) - d_.x.begin());
    i0 = i0 > 0 ? i0 - 1 : 0;
    const size_t i1 = size_t(std::upper_bound(d_.x.begin(), d_.x.end(), r.upper) - d_.x.begin());
    const int columns = std::max(200, axisRect()->width() > 10 ? axisRect()->width() : 2000);
    std::vector<QVector<QCPGraphData>> out(static_cast<size_t>(series));
    if (i1 - i0 <= size_t(2 * columns)) {
        for (int k = 0; k < series; ++k) {
            out[size_t(k)].reserve(int(i1 - i0 + 1));
            for (size_t i = i0; i < std::min(n, i1 + 1); ++i) out[size_t(k)].append({d_.x[i], value(k, i)});
        }
    } else {
        // One point per pixel column: the maximum of each stacked series within the column.
        const double width = (r.upper - r.lower) / columns;
        size_t i = i0;
        std::vector<double> mx(static_cast<size_t>(series));
        for (int c = 0; c < columns && i < i1; ++c) {
            const double end = r.lower + (c + 1) * width;
            for (int k = 0; k < series; ++k) mx[size_t(k)] = value(k, i);
            const double t0 = std::max(d_.x[i], r.lower + c * width);
            for (; i < i1 && d_.x[i] < end; ++i)
                for (int k = 0; k < series; ++k) mx[size_t(k)] = std::fmax(mx[size_t(k)], value(k, i));
            for (int k = 0; k < series; ++k) out[size_t(k)].append({t0, mx[size_t(k)]});
            if (i > i0) --i;  // the last event of this column also opens the next one
            if (i + 1 < i1 && d_.x[i + 1] >= end) ++i;
        }
    }
    for (int k = 0; k < ckpt::kCategoryCount; ++k) graphs_[k]->data()->set(out[size_t(k)], true);
    if (withOverlay) overlayGraph_->data()->set(out.back(), true);
    else overlayGraph_->data()->clear();
}

void TimelineChart::setMemoryLimit(qint64 bytes) {
    if (bytes == limit_) return;
    limit_ = bytes;
    if (mode_ == Mode::empty) return;
    yAxis->setRange(0, topWithLimit(mode_ == Mode::live || !haveReport_ ? yAxis->range().upper
                                                                       : std::max(1.0, double(report_->peak_total)) * 1.22));
    if (haveReport_) drawAnnotations();
    else if (mode_ == Mode::live) {
        for (int i = itemCount() - 1; i >= 0; --i)
            if (item(i)->property("ckptLimit").toBool()) removeItem(i);
        drawLimit();
    }
    replot(QCustomPlot::rpQueuedReplot);
}

double TimelineChart::topWithLimit(double top) const {
    // A limit up to twice the data's height is drawn to scale; one far above it would flatten
    // the step, so it is named at the top edge instead (drawLimit).
    return limit_ > 0 && double(limit_) <= 2.0 * top ? std::max(top, double(limit_) * 1.08) : top;
}

void TimelineChart::drawLimit() {
    if (limit_ <= 0) return;
    const QColor red(0xCC, 0x00, 0x00);
    auto* text = new QCPItemText(this);
    text->setProperty("ckptLimit", true);
    text->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    text->setPadding(QMargins(3, 0, 3, 2));
    text->setColor(red);
    text->setFont(smallFont(font(), 9, true));
    text->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    if (double(limit_) <= yAxis->range().upper) {
        auto* line = new QCPItemStraightLine(this);
        line->setProperty("ckptLimit", true);
        line->point1->setCoords(0, double(limit_));
        line->point2->setCoords(1, double(limit_));
        line->setPen(QPen(red, 2, Qt::DashDotLine));
        text->position->setCoords(0.995, double(limit_));
        text->setText(tr("memory limit %1").arg(humanBytes(limit_)));
    } else {
        text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.995, 0.0);
        text->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
        text->setText(tr("memory limit %1 (above this chart)").arg(humanBytes(limit_)));
    }
    setInk(text, Ink::box, 210);
}

void TimelineChart::drawAnnotations() {
    clearItems();
    message_ = nullptr;
    if (!haveReport_) return;
    const ckpt::StepReport& r = *report_;
    // Phase bands: forward, loss, backward and optimizer, plus each block's recomputation.
    double fwd0 = 1e300, fwd1 = -1, bwd0 = 1e300, bwd1 = -1;
    QVector<const ckpt::Span*> recomputes;
    const ckpt::Span* loss = nullptr;
    const ckpt::Span* opt = nullptr;
    for (const ckpt::Span& s : r.spans) {
        if (s.layer != -1) continue;
        const double a = xOfNs(s.start_ns), b = xOfNs(s.end_ns);
        if (s.phase == ckpt::Phase::forward && s.block >= 0) { fwd0 = std::min(fwd0, a); fwd1 = std::max(fwd1, b); }
        if ((s.phase == ckpt::Phase::backward || s.phase == ckpt::Phase::recompute) && s.block >= 0) {
            bwd0 = std::min(bwd0, a);
            bwd1 = std::max(bwd1, b);
        }
        if (s.phase == ckpt::Phase::recompute) recomputes << &s;
        if (s.phase == ckpt::Phase::loss) loss = &s;
        if (s.phase == ckpt::Phase::optimizer) opt = &s;
    }
    auto band = [&](double a, double b, ckpt::Phase p, QString label, bool strong, const QString& shorter = QString()) {
        if (!(b > a)) return;
        auto* rect = new QCPItemRect(this);
        rect->setLayer(QStringLiteral("bands"));
        rect->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
        rect->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
        rect->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
        rect->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
        rect->topLeft->setCoords(a, 0.0);
        rect->bottomRight->setCoords(b, 1.0);
        rect->setPen(Qt::NoPen);
        rect->setBrush(phaseBrush(p));
        rect->setClipToAxisRect(true);
        // A label only where the band is wide enough on screen to hold it (else its short form).
        const double px = std::fabs(xAxis->coordToPixel(b) - xAxis->coordToPixel(a));
        auto fits = [&](const QString& l) { return !l.isEmpty() && px >= 8.0 * l.size() + 6; };
        if (!fits(label)) label = shorter;
        if (!fits(label)) return;
        auto* t = new QCPItemText(this);
        t->position->setTypeX(QCPItemPosition::ptPlotCoords);
        t->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        t->position->setCoords((a + b) / 2, strong ? 0.08 : 0.02);
        t->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
        t->setText(label);
        t->setFont(smallFont(font(), 8));
        setInk(t, Ink::text);
        t->setClipToAxisRect(true);
    };
    if (fwd0 < 1e300 && fwd0 > 0) band(0, fwd0, ckpt::Phase::setup, tr("batch"), false);  // making the input batch
    band(fwd0, fwd1, ckpt::Phase::forward, tr("forward"), false);
    if (loss) band(xOfNs(loss->start_ns), xOfNs(loss->end_ns), ckpt::Phase::loss, QString(), false);
    band(bwd0, bwd1, ckpt::Phase::backward,
         recomputes.isEmpty() ? tr("backward") : tr("backward (hatched: recomputation)"), false,
         recomputes.isEmpty() ? QString() : tr("backward (hatched: recompute)"));
    if (opt) band(xOfNs(opt->start_ns), xOfNs(opt->end_ns), ckpt::Phase::optimizer, tr("optimizer"), false);
    // Recomputations closer together than a pixel column of the whole step merge into one band:
    // thousands of checkpointed blocks must not become thousands of items to paint.
    const double merge = xAxis->range().size() / 2000.0;
    for (int i = 0; i < recomputes.size();) {
        double a = xOfNs(recomputes[i]->start_ns), b = xOfNs(recomputes[i]->end_ns);
        int j = i + 1;
        for (; j < recomputes.size(); ++j) {
            const double a2 = xOfNs(recomputes[j]->start_ns), b2 = xOfNs(recomputes[j]->end_ns);
            if (std::min(std::fabs(a2 - b), std::fabs(a - b2)) > merge) break;
            a = std::min(a, a2);
            b = std::max(b, b2);
        }
        band(a, b, ckpt::Phase::recompute, j == i + 1 ? tr("↻%1").arg(recomputes[i]->block) : QString(), true);
        i = j;
    }

    // A dashed level with its label under it at the left (the peak label sits above its point).
    auto level = [&](qint64 bytes, const QColor& colour, const QString& text, Qt::Alignment side) {
        auto* pl = new QCPItemStraightLine(this);
        pl->point1->setCoords(0, double(bytes));
        pl->point2->setCoords(1, double(bytes));
        pl->setPen(QPen(colour, 1.5, Qt::DashLine));
        auto* pt = new QCPItemText(this);
        pt->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        pt->position->setCoords(side == Qt::AlignLeft ? 0.005 : 0.995, double(bytes));
        pt->setPositionAlignment(side | Qt::AlignTop);
        pt->setPadding(QMargins(2, 3, 2, 0));
        pt->setText(text);
        pt->setColor(colour);
        setInk(pt, Ink::box, 200);
    };

    // Peak marker, at the event that reached it.
    const bool predicted = mode_ == Mode::predicted && !snapshotOrder_;  // a snapshot in its order is measured
    // d_.x has the baseline point first, so the peak event's point is peak_event + 1 (compared
    // without adding: a report's peak_event can be any int64).
    const size_t pi = r.peak_event >= 0 && !d_.x.empty() && uint64_t(r.peak_event) < uint64_t(d_.x.size()) - 1 ? size_t(r.peak_event) + 1 : 0;
    const double tp = pi > 0 ? d_.x[pi] : xOfNs(r.peak_time_ns);
    auto* line = new QCPItemLine(this);
    line->start->setCoords(tp, 0);
    line->end->setCoords(tp, double(r.peak_total));
    line->setPen(QPen(Qt::black, 1, Qt::DashLine));
    setInk(line, Ink::text);
    auto* dot = new QCPItemTracer(this);
    dot->position->setCoords(tp, double(r.peak_total));
    dot->setStyle(QCPItemTracer::tsCircle);
    dot->setSize(7);
    setInk(dot, Ink::text);
    auto* label = new QCPItemText(this);
    label->position->setCoords(tp, double(r.peak_total));
    label->setPadding(QMargins(6, 0, 6, 4));
    // A snapshot has no blocks, and its phase is known only where a frame said (setup otherwise).
    const QString where = snapshotTitle_.isEmpty()                    ? whereText(r.peak_tag)
                          : r.peak_tag.phase == ckpt::Phase::setup ? QString()
                                                                     : tr("in %1").arg(phaseLabel(r.peak_tag.phase));
    label->setText((predicted ? tr("predicted peak %1 %2") : tr("peak %1 %2")).arg(humanBytes(r.peak_total), where).trimmed());
    label->setFont(smallFont(font(), 9, true));
    label->setProperty("ckptPeakX", tp);  // placed on its side at every layout (placePeakLabel)
    setInk(label, Ink::text);

    if (predicted && uncheckedPeak_ > 0 && uncheckedPeak_ != r.peak_total)
        level(uncheckedPeak_, QColor(110, 110, 110),
              tr("without checkpointing: %1 (predicted)").arg(humanBytes(uncheckedPeak_)), Qt::AlignLeft);
    if (!predicted && prediction_ >= 0) {
        const qint64 diff = r.peak_total - prediction_;
        QString text = diff == 0 ? tr("predicted peak %1 — measured equals it").arg(humanBytes(prediction_))
                                 : tr("predicted peak %1 — measured differs by %2").arg(humanBytes(prediction_), humanBytes(diff));
        if (r.status != ckpt::StepStatus::ok) text = tr("predicted peak of the whole step %1").arg(humanBytes(prediction_));
        level(prediction_, kPredictedColor, text, Qt::AlignLeft);
    }
    // Where a step that did not finish ended: a vertical line and a one-line label near the top,
    // clear of the levels' labels (those sit under their lines, a fifth of the way down or lower).
    if (r.status == ckpt::StepStatus::out_of_memory || r.status == ckpt::StepStatus::stopped ||
        r.status == ckpt::StepStatus::failed) {
        const bool oom = r.status != ckpt::StepStatus::stopped;
        const double t = d_.x.empty() ? 0 : d_.x.back();
        auto* end = new QCPItemStraightLine(this);
        end->point1->setCoords(t, 0);
        end->point2->setCoords(t, 1);
        end->setPen(QPen(oom ? Qt::red : Qt::darkGray, 2));
        auto* et = new QCPItemText(this);
        et->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        et->position->setCoords(t, 0.055);  // under the band labels' row
        et->setPositionAlignment((t > xAxis->range().center() ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
        et->setPadding(QMargins(6, 3, 6, 3));
        et->setColor(oom ? Qt::red : Qt::darkGray);
        setInk(et, Ink::box, 230);
        et->setFont(smallFont(font(), 9, true));
        const ckpt::MemoryTag tag = d_.tags.empty() ? ckpt::MemoryTag{} : d_.tags.back();
        et->setText(oom ? (r.status == ckpt::StepStatus::failed ? tr("the step failed here") : tr("out of memory here, %1").arg(whereText(r.oom.tag)))
                        : tr("stopped here, %1").arg(whereText(tag)));
    }
    drawLimit();
}

bool TimelineChart::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(event);
        // Over the data the mouse-move details are showing already.
        if (!d_.x.empty() && axisRect()->rect().contains(he->pos())) return true;
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(layoutElementAt(he->pos()))) {
            for (int k = 0; k < graphs_.size(); ++k) {
                if (item->plottable() != graphs_[k]) continue;
                showChartTip(this, he->globalPos(),
                             QStringLiteral("<b>%1</b>: %2").arg(categoryLabel(kStackOrder[k]), categoryMeaning(kStackOrder[k])),
                             item->rect());
                return true;
            }
            const std::pair<QCPGraph*, QString> lines[] = {
                {overlayGraph_, tr("The engine's prediction of this same step (a dry run: nothing allocated or "
                                   "computed), drawn at the measured events' times. Where it covers the top of the "
                                   "stack exactly, the prediction was right to the byte.")},
                {reservedGraph_, tr("Reserved bytes (torch.cuda.memory_reserved): the segments PyTorch's caching "
                                    "allocator holds from the device, from the snapshot's segment entries. Allocated "
                                    "bytes live inside them; the gap is the allocator's cache and fragmentation.")}};
            for (const auto& [graph, text] : lines) {
                if (item->plottable() != graph) continue;
                showChartTip(this, he->globalPos(), text, item->rect());
                return true;
            }
        }
    }
    return QCustomPlot::event(event);
}

void TimelineChart::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    if (d_.x.empty() || !axisRect()->rect().contains(event->pos())) return;
    const double x = xAxis->pixelToCoord(event->position().x());
    size_t i = size_t(std::upper_bound(d_.x.begin(), d_.x.end(), x) - d_.x.begin());
    if (i == 0) return;
    --i;
    QString text = mode_ == Mode::predicted ? (snapshotOrder_ ? tr("<b>event %1 of %2</b>") : tr("<b>event %1 of %2</b> (predicted)")).arg(i).arg(d_.x.size() - 1)
                                            : tr("<b>t = %1</b>").arg(humanTime(qint64(d_.x[i] * 1e6)));
    const ckpt::MemoryTag& tag = d_.tags[i];
    if (i > 0) {
        QString who = phaseLabel(tag.phase);
        if (tag.block >= 0) who = tr("block %1%2, %3").arg(tag.block).arg(tag.layer >= 0 ? tr(" layer %1").arg(tag.layer) : QString(), who);
        text += tr("<br>running: %1").arg(who);
    }
    text += QStringLiteral("<table>");
    for (int k = ckpt::kCategoryCount - 1; k >= 0; --k) {
        const double below = k > 0 ? d_.stacked[size_t(k - 1)][i] : 0.0;
        const qint64 v = qint64(d_.stacked[size_t(k)][i] - below);
        text += QStringLiteral("<tr><td><font color='%1'>%4</font> %2</td><td align='right'>%3</td></tr>")
                    .arg(categoryColor(kStackOrder[k]).name(), categoryLabel(kStackOrder[k]), humanBytes(v), categoryMark(kStackOrder[k]));
    }
    text += tr("<tr><td><b>total</b></td><td align='right'><b>%1</b></td></tr>").arg(humanBytes(qint64(d_.stacked.back()[i])));
    if (!reservedGraph_->data()->isEmpty()) {  // a snapshot: the segments held at the cursor
        auto it = reservedGraph_->data()->findEnd(x, false);  // the first point past x
        if (it != reservedGraph_->data()->constBegin()) {
            --it;
            text += tr("<tr><td>reserved</td><td align='right'>%1</td></tr>").arg(humanBytes(qint64(it->value)));
        }
    }
    if (i < overlay_.size())
        text += tr("<tr><td>predicted total</td><td align='right'>%1</td></tr>").arg(humanBytes(qint64(overlay_[i])));
    text += QStringLiteral("</table>");
    showChartTip(this, event->globalPosition().toPoint(), text);
}

}  // namespace ckptui
