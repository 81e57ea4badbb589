// Per-block bars, step history, comparison, the tickers, hover tips and export (see charts.h).
#include "ui/charts.h"

#include <QFileInfo>
#include <QHelpEvent>
#include <QPointer>
#include <QToolTip>
#include <cmath>

#include "ckpt/layer_traits.h"
#include "ui/chart_export.h"
#include "ui/messages.h"
#include "ui/style.h"
#include "ui/time_figures.h"

namespace ckptui {

namespace {

// The binary unit the axis speaks in: the largest that the upper end of the range reaches.
double unitFor(double upper) {
    double unit = 1.0;
    while (unit * 1024.0 <= upper && unit < 1099511627776.0) unit *= 1024.0;
    return unit;
}

// The smallest "nice" step (1-2-2.5-5 times a power of ten) of at least `raw`.
double niceStep(double raw) {
    if (!(raw > 0)) return 1.0;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double n : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (raw <= n * p * (1 + 1e-9)) return n * p;
    return 10.0 * p;
}

// Shows the spot's own text when there is one, the widget's general tooltip otherwise.
class HoverTips : public QObject {
public:
    HoverTips(QCustomPlot* plot, std::function<QString(double, double)> at) : QObject(plot), plot_(plot), at_(std::move(at)) {
        plot->installEventFilter(this);
    }
    bool eventFilter(QObject*, QEvent* e) override {
        if (e->type() != QEvent::ToolTip) return false;
        auto* he = static_cast<QHelpEvent*>(e);
        QString text;
        if (plot_->axisRect()->rect().contains(he->pos()))
            text = at_(plot_->xAxis->pixelToCoord(he->pos().x()), plot_->yAxis->pixelToCoord(he->pos().y()));
        if (text.isEmpty()) text = plot_->toolTip();
        if (text.isEmpty()) hideChartTip(plot_);
        else showChartTip(plot_, he->globalPos(), text, QRect(he->pos() - QPoint(4, 4), QSize(8, 8)));
        return true;
    }

private:
    QCustomPlot* plot_;
    std::function<QString(double, double)> at_;
};

QString row(const QString& name, const QString& value) {
    return QStringLiteral("<tr><td>%1</td><td align='right'>%2</td></tr>").arg(name, value);
}

// The numbers behind each bar of Per block, made into a tooltip when the mouse rests on one:
// 20,000 blocks' tooltips written in advance took a fifth of a second of the GUI thread.
class BlockTips : public QObject {
public:
    explicit BlockTips(QCustomPlot* plot) : QObject(plot) { setObjectName(QStringLiteral("ckptBlockTips")); }
    struct Row {
        QString name;
        bool checkpoint = false;
        qint64 kept = 0, keptUnchecked = 0, avoided = 0, forwardNs = 0, backwardNs = 0, recomputeNs = 0;
        double work = 0;  // recomputation FLOPs in `unit`
        ckpt::TimeRange forwardRange, backwardRange, recomputeRange;  // over the step's repeats
        bool predicted = false;  // the predicted times below exist
        qint64 predForwardNs = 0, predBackwardNs = 0, predRecomputeNs = 0;
        QString note;  // where the block's policy avoids little or nothing (layer_traits.h)
    };
    std::vector<Row> rows;
    bool dryRun = false;  // the bars are a prediction, not a step
    int repeats = 1;
    QString unit;

    QString tip(int i) const {
        if (i < 0 || size_t(i) >= rows.size()) return {};
        const Row& b = rows[size_t(i)];
        QString t = QStringLiteral("<b>block %1 (%2)</b>%3%4<table>")
                        .arg(i)
                        .arg(b.name.toHtmlEscaped(), b.checkpoint ? QObject::tr(", checkpointed") : QObject::tr(", not checkpointed"),
                             dryRun ? QObject::tr(" — predicted") : QString());
        t += row(QObject::tr("kept for backward"), humanBytes(b.kept));
        t += row(QObject::tr("kept if unchecked"), humanBytes(b.keptUnchecked));
        t += row(QObject::tr("avoided"), humanBytes(b.avoided));
        if (dryRun) {
            if (b.checkpoint) {
                t += row(QObject::tr("recomputation work"), QStringLiteral("%1 %2").arg(b.work, 0, 'g', 3).arg(unit));
                if (b.predicted) t += row(QObject::tr("recomputation, predicted"), humanTime(b.predRecomputeNs));
            }
        } else {
            // Measured (the median of the repeats, with their spread) beside predicted.
            auto both = [&](qint64 ns, const ckpt::TimeRange& range, qint64 pred) {
                QString v = timedText(ns, range, repeats);
                if (b.predicted) v += QObject::tr(" (predicted %1)").arg(humanTime(pred));
                return v;
            };
            t += row(QObject::tr("forward"), both(b.forwardNs, b.forwardRange, b.predForwardNs));
            t += row(QObject::tr("backward"), both(b.backwardNs, b.backwardRange, b.predBackwardNs));
            if (b.checkpoint) t += row(QObject::tr("recomputation"), both(b.recomputeNs, b.recomputeRange, b.predRecomputeNs));
            if (repeats > 1) t += row(QString(), QObject::tr("<i>%1</i>").arg(repeatsText(repeats)));
        }
        t += QStringLiteral("</table>");
        if (!b.note.isEmpty()) t += QStringLiteral("<p>%1.</p>").arg(b.note.toHtmlEscaped());
        return t;
    }
};

QPointer<QWidget>& tipOwner() {
    static QPointer<QWidget> owner;
    return owner;
}

}  // namespace

void showChartTip(QWidget* owner, const QPoint& globalPos, const QString& text, const QRect& rect) {
    tipOwner() = owner;
    QToolTip::showText(globalPos, text, owner, rect);
}

void hideChartTip(QWidget* owner) {
    if (tipOwner() != owner) return;
    tipOwner() = nullptr;
    if (QToolTip::isVisible()) QToolTip::hideText();
}

QVector<double> BlockTicker::createTickVector(double, const QCPRange& range) {
    QVector<double> ticks;
    if (names_.isEmpty()) return ticks;
    // The width the axis will have: this layout's viewport less the last layout's margins (the
    // ticks are made before the layout, and a resize or an export changes the viewport first).
    const QFont font = axis_->tickLabelFont();
    if (!measured_ || font != font_) {
        measured_ = true;
        font_ = font;
        const QFontMetrics fm(font);
        widest_ = 0;
        for (const QString& n : names_) widest_ = std::max(widest_, fm.horizontalAdvance(n));
    }
    QCPAxisRect* rect = axis_->axisRect();
    const QMargins m = rect->margins();
    const double width = std::max(40, axis_->parentPlot()->viewport().width() - m.left() - m.right());
    const double perBlock = width / std::max(1.0, range.size());
    stride_ = std::max(1, int(std::ceil((widest_ + 10) / std::max(perBlock, 1e-3))));
    const int first = std::max(0, int(std::ceil(range.lower / stride_)) * stride_);
    const int last = std::min<int>(int(names_.size()) - 1, int(std::floor(range.upper)));
    for (int i = first; i <= last; i += stride_) ticks << i;
    return ticks;
}

QString BlockTicker::getTickLabel(double tick, const QLocale&, QChar, int) { return names_.value(int(std::lround(tick))); }

double BytesTicker::tickStep(const QCPRange& range) {
    const double unit = unitFor(std::max(std::fabs(range.upper), std::fabs(range.lower)));
    return niceStep(range.size() / std::max(1, tickCount()) / unit) * unit;
}

QString BytesTicker::getTickLabel(double tick, const QLocale&, QChar, int) {
    if (std::fabs(tick) < 1e-9 * std::max(1.0, mParentAxisUpper)) return QStringLiteral("0");
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const double unit = unitFor(mParentAxisUpper);
    int u = 0;
    for (double x = unit; x >= 1024.0; x /= 1024.0) ++u;
    return QString::number(tick / unit, 'g', 4) + QLatin1Char(' ') + QLatin1String(units[u]);
}

double DurationTicker::getTickStep(const QCPRange& range) {
    const double upper = std::max(std::fabs(range.upper), std::fabs(range.lower));
    // Past two minutes minutes, past two hours hours: a predicted step of a model too big for this
    // machine reads "90 min", never "5.4e+06 ms".
    unitMs_ = upper >= 7200000.0 ? 3600000.0 : upper >= 120000.0 ? 60000.0 : upper >= 1000.0 ? 1000.0 : upper >= 1.0 ? 1.0 : 0.001;
    step_ = niceStep(range.size() / std::max(1, tickCount()) / unitMs_);
    return step_ * unitMs_;
}

QString LogBytesTicker::getTickLabel(double tick, const QLocale&, QChar, int) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const double unit = unitFor(tick);
    int u = 0;
    for (double x = unit; x >= 1024.0; x /= 1024.0) ++u;
    return QString::number(tick / unit, 'g', 3) + QLatin1Char(' ') + QLatin1String(units[u]);
}

QString DurationTicker::getTickLabel(double tick, const QLocale&, QChar, int) {
    if (std::fabs(tick) < 1e-9 * unitMs_) return QStringLiteral("0");
    const QString unit = unitMs_ >= 3600000.0 ? QStringLiteral("h")
                         : unitMs_ >= 60000.0 ? QStringLiteral("min")
                         : unitMs_ >= 1000.0  ? QStringLiteral("s")
                         : unitMs_ >= 1.0     ? QStringLiteral("ms")
                                              : QStringLiteral("µs");
    // Fixed-point with as many decimals as the step needs: never an exponent.
    const int decimals = step_ > 0 ? std::clamp(int(std::ceil(-std::log10(step_) - 1e-9)), 0, 6) : 2;
    return QString::number(tick / unitMs_, 'f', decimals) + QLatin1Char(' ') + unit;
}

QString exportPlot(QCustomPlot* plot, const QString& path, int width, int height) {
    ExportOptions o;
    o.widthPx = width;
    o.heightPx = height;
    o.dpi = QImage(1, 1, QImage::Format_ARGB32).logicalDpiY();  // one file pixel per screen pixel
    o.fontScale = 1.0;
    return exportPlot(plot, path, o);
}

namespace {

// Re-inks a chart when the desktop's palette changes (a dark theme switched on), and draws one
// that replotWhenVisible left undrawn as it is shown.
class PaletteWatcher : public QObject {
public:
    explicit PaletteWatcher(QCustomPlot* plot) : QObject(plot), plot_(plot) { plot->installEventFilter(this); }
    bool eventFilter(QObject*, QEvent* e) override {
        if (e->type() == QEvent::PaletteChange) {
            applyChartPalette(plot_, plot_->palette());
            plot_->replot(QCustomPlot::rpQueuedReplot);
        }
        if (e->type() == QEvent::Show && plot_->property("ckptStale").toBool()) {
            plot_->setProperty("ckptStale", false);
            plot_->replot(QCustomPlot::rpQueuedReplot);
        }
        return false;
    }

private:
    QCustomPlot* plot_;
};

QColor muted(const QPalette& p) {
    const QColor t = p.color(QPalette::Text), b = p.color(QPalette::Base);
    return QColor((t.red() * 3 + b.red() * 2) / 5, (t.green() * 3 + b.green() * 2) / 5, (t.blue() * 3 + b.blue() * 2) / 5);
}

void inkItem(QCPAbstractItem* item, const QPalette& p) {
    const QString ink = item->property("ckptInk").toString();
    if (ink.isEmpty()) return;
    const QColor colour = ink == QLatin1String("muted") ? muted(p) : p.color(QPalette::Text);
    QColor box = p.color(QPalette::Base);
    box.setAlpha(item->property("ckptBoxAlpha").toInt());
    if (auto* t = qobject_cast<QCPItemText*>(item)) {
        if (ink != QLatin1String("box")) t->setColor(colour);
        if (item->property("ckptBoxAlpha").toInt() > 0) t->setBrush(box);
    } else if (auto* tr = qobject_cast<QCPItemTracer*>(item)) {
        if (ink != QLatin1String("box")) tr->setPen(QPen(colour, tr->pen().widthF()));
        tr->setBrush(p.color(QPalette::Base));
    } else if (auto* l = qobject_cast<QCPItemLine*>(item)) {
        QPen pen = l->pen();
        pen.setColor(colour);
        l->setPen(pen);
    } else if (auto* sl = qobject_cast<QCPItemStraightLine*>(item)) {
        QPen pen = sl->pen();
        pen.setColor(colour);
        sl->setPen(pen);
    }
}

}  // namespace

QPalette lightChartPalette() {
    QPalette p;
    p.setColor(QPalette::Base, Qt::white);
    p.setColor(QPalette::Window, Qt::white);
    p.setColor(QPalette::Text, QColor(0x20, 0x20, 0x20));
    p.setColor(QPalette::WindowText, QColor(0x20, 0x20, 0x20));
    p.setColor(QPalette::Mid, QColor(0xC8, 0xC8, 0xC8));
    return p;
}

QPalette chartPalette(const QCustomPlot* plot) {
    const QVariant v = plot->property("ckptPalette");
    return v.isValid() ? v.value<QPalette>() : plot->palette();
}

void applyChartPalette(QCustomPlot* plot, const QPalette& p) {
    plot->setProperty("ckptPalette", QVariant::fromValue(p));
    const QColor text = p.color(QPalette::Text);
    QColor grid = p.color(QPalette::Mid);
    grid.setAlpha(140);
    plot->setBackground(p.color(QPalette::Base));
    for (QCPAxisRect* r : plot->axisRects()) {
        r->setBackground(Qt::NoBrush);
        for (QCPAxis* a : r->axes()) {
            a->setBasePen(QPen(text, 1));
            a->setTickPen(QPen(text, 1));
            a->setSubTickPen(QPen(text, 1));
            a->setTickLabelColor(text);
            a->setLabelColor(text);
            a->grid()->setPen(QPen(grid, 1, Qt::DotLine));
            a->grid()->setZeroLinePen(QPen(grid, 1));
        }
    }
    if (plot->legend) {
        plot->legend->setTextColor(text);
        // A legend with a box of its own: the palette's background, not white under light text.
        if (plot->legend->brush().style() != Qt::NoBrush) plot->legend->setBrush(p.color(QPalette::Base));
        plot->legend->setBorderPen(plot->legend->borderPen().style() == Qt::NoPen ? QPen(Qt::NoPen) : QPen(grid, 1));
        // A wrapped legend leaves empty cells: item() is null there.
        for (int i = 0; i < plot->legend->itemCount(); ++i)
            if (QCPAbstractLegendItem* item = plot->legend->item(i)) item->setTextColor(text);
    }
    // Whiskers over bars of any colour are drawn in the text's.
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* e = qobject_cast<QCPErrorBars*>(plot->plottable(i)); e && e->property("ckptSpread").toBool())
            e->setPen(QPen(text, e->pen().widthF()));
    QCPLayoutGrid* layout = plot->plotLayout();
    for (int i = 0; i < layout->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(layout->elementAt(i)))
            t->setTextColor(t->objectName() == QLatin1String("ckptSubtitle") ? muted(p) : text);
    for (int i = 0; i < plot->itemCount(); ++i) inkItem(plot->item(i), p);
}

void setInk(QCPAbstractItem* item, Ink ink, int boxAlpha) {
    item->setProperty("ckptInk", ink == Ink::muted ? QStringLiteral("muted") : ink == Ink::box ? QStringLiteral("box") : QStringLiteral("text"));
    item->setProperty("ckptBoxAlpha", boxAlpha);
    inkItem(item, chartPalette(item->parentPlot()));
}

void replotWhenVisible(QCustomPlot* plot) {
    if (plot->isVisible()) {
        plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    plot->setProperty("ckptStale", true);  // drawn by the PaletteWatcher when shown
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
    // Without a minimum of its own a chart asks for its whole legend's width in one row, and the
    // window could not shrink below 1,600 px; the legends wrap instead.
    plot->setMinimumSize(280, 150);
    // A property, not findChild: the watcher has no Q_OBJECT, so findChild<PaletteWatcher*> would
    // take any child object for it and the chart would never follow the palette.
    if (!plot->property("ckptPaletteWatched").toBool()) {
        plot->setProperty("ckptPaletteWatched", true);
        new PaletteWatcher(plot);
    }
    applyChartPalette(plot, plot->palette());
}

void putLegendBelow(QCustomPlot* plot, int columns) {
    auto* sub = new QCPLayoutGrid;
    const int rowIndex = plot->plotLayout()->rowCount();
    plot->plotLayout()->addElement(rowIndex, 0, sub);
    plot->plotLayout()->setRowStretchFactor(rowIndex, 0.001);
    sub->addElement(0, 0, plot->legend);
    plot->legend->setVisible(true);
    // The wrap first: changing the fill order lays out the items already there with it.
    plot->legend->setWrap(columns);
    plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    plot->legend->setBorderPen(Qt::NoPen);
    plot->legend->setBrush(Qt::NoBrush);
}

namespace {

// A title that wraps at word boundaries to the chart's width. A plain QCPTextElement asks for
// its whole text on one line, and where the chart is narrower (beside the docks of a 1366-px
// window, or in a small export) the layout cut it off at both ends.
class WrappingTitle : public QCPTextElement {
public:
    WrappingTitle(QCustomPlot* plot, const QString& text, const QFont& font) : QCPTextElement(plot, text, font) {
        setTextFlags(Qt::AlignCenter | Qt::TextWordWrap);
    }

protected:
    QSize wrapped() const {
        if (mText.isEmpty()) return {0, 0};  // a subtitle not yet filled takes no room
        const int margins = mMargins.left() + mMargins.right();
        const int width = std::max(80, mParentPlot->viewport().width() - margins);
        const QRect r = QFontMetrics(mFont).boundingRect(0, 0, width, 0, Qt::AlignCenter | Qt::TextWordWrap, mText);
        return {std::min(r.width(), width) + margins, r.height() + mMargins.top() + mMargins.bottom()};
    }
    QSize minimumOuterSizeHint() const override { return wrapped(); }
    QSize maximumOuterSizeHint() const override { return {QWIDGETSIZE_MAX, wrapped().height()}; }
};

}  // namespace

QCPTextElement* addTitle(QCustomPlot* plot, const QString& text) {
    QFont f = plot->font();
    f.setPointSize(10);
    f.setBold(true);
    plot->plotLayout()->insertRow(0);
    auto* title = new WrappingTitle(plot, text, f);
    plot->plotLayout()->addElement(0, 0, title);
    // Off the "main" layer, where it made every replot of the million-event timeline three
    // times slower (bench_timeline_replot: 40 ms against 12 ms).
    title->setLayer(QStringLiteral("legend"));
    // Under it, what the chart is of (empty, and no room taken, until setSubtitle).
    QFont sf = plot->font();
    sf.setPointSize(9);
    plot->plotLayout()->insertRow(1);
    auto* sub = new WrappingTitle(plot, QString(), sf);
    sub->setObjectName(QStringLiteral("ckptSubtitle"));
    sub->setMargins(QMargins(2, 0, 2, 4));
    plot->plotLayout()->addElement(1, 0, sub);
    sub->setLayer(QStringLiteral("legend"));
    // Inked now: a chart built under a dark palette gets no palette change to re-ink it.
    applyChartPalette(plot, chartPalette(plot));
    return title;
}

namespace {

QCPTextElement* subtitleElement(const QCustomPlot* plot) {
    QCPLayoutGrid* grid = plot->plotLayout();
    for (int i = 0; i < grid->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(grid->elementAt(i)); t && t->objectName() == QLatin1String("ckptSubtitle"))
            return t;
    return nullptr;
}

}  // namespace

void setSubtitle(QCustomPlot* plot, const QString& text) {
    QCPTextElement* sub = subtitleElement(plot);
    if (!sub || sub->text() == text) return;
    sub->setText(text);
    replotWhenVisible(plot);
}

QString subtitleOf(const QCustomPlot* plot) {
    const QCPTextElement* sub = subtitleElement(plot);
    return sub ? sub->text() : QString();
}

void setHoverTips(QCustomPlot* plot, std::function<QString(double, double)> at) { new HoverTips(plot, std::move(at)); }

void showEmpty(QCustomPlot* plot, const QString& text) {
    hideChartTip(plot);
    plot->clearItems();
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* g = qobject_cast<QCPGraph*>(plot->plottable(i))) g->data()->clear();
        else if (auto* b = qobject_cast<QCPBars*>(plot->plottable(i))) b->data()->clear();
    for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->yAxis2}) {
        a->setProperty("ckptWasVisible", a->property("ckptWasVisible").isValid() ? a->property("ckptWasVisible") : a->visible());
        a->setVisible(false);
    }
    if (!plot->property("ckptEmpty").toBool()) plot->setProperty("ckptLegendWasVisible", plot->legend->visible());
    plot->legend->setVisible(false);
    auto* t = new QCPItemText(plot);
    t->position->setType(QCPItemPosition::ptAxisRectRatio);
    t->position->setCoords(0.5, 0.45);
    t->setText(text);
    QFont f = plot->font();
    f.setPointSize(12);
    t->setFont(f);
    setInk(t, Ink::muted);
    plot->setProperty("ckptEmpty", true);
    replotWhenVisible(plot);
}

void clearEmpty(QCustomPlot* plot) {
    if (!plot->property("ckptEmpty").toBool()) return;
    for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->yAxis2})
        a->setVisible(a->property("ckptWasVisible").isValid() ? a->property("ckptWasVisible").toBool() : true);
    // As it was: a chart without a legend must not get the default one, inside its axes.
    plot->legend->setVisible(plot->property("ckptLegendWasVisible").toBool());
    plot->clearItems();
    plot->setProperty("ckptEmpty", false);
}

bool isEmptyShown(const QCustomPlot* plot) { return plot->property("ckptEmpty").toBool(); }

void setupBlockBars(QCustomPlot* bytes, QCustomPlot* time) {
    setupCommonStyle(bytes);
    setupCommonStyle(time);
    bytes->clearPlottables();
    auto* kept = new QCPBars(bytes->xAxis, bytes->yAxis);
    auto* avoided = new QCPBars(bytes->xAxis, bytes->yAxis);
    kept->setName(QObject::tr("kept for backward"));
    avoided->setName(QObject::tr("avoided by checkpointing (kept only when unchecked)"));
    kept->setBrush(categoryColor(ckpt::Category::activation));
    kept->setPen(Qt::NoPen);
    avoided->setBrush(QBrush(categoryColor(ckpt::Category::activation).darker(110), Qt::BDiagPattern));
    avoided->setPen(QPen(categoryColor(ckpt::Category::activation).darker(110)));
    avoided->moveAbove(kept);
    bytes->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    bytes->yAxis->setLabel(QObject::tr("bytes"));
    bytes->xAxis->setLabel(QObject::tr("block (✓ = checkpointed)"));
    addTitle(bytes, QObject::tr("What each block keeps from forward for backward"));
    putLegendBelow(bytes, 2);
    bytes->setToolTip(QObject::tr("Per block: bytes kept for backward after forward (solid) and bytes that "
                                  "checkpointing avoided keeping (hatched). Hover a bar for its numbers."));

    time->clearPlottables();
    auto* rec = new QCPBars(time->xAxis, time->yAxis);
    rec->setName(QObject::tr("recomputation time"));
    rec->setBrush(categoryBrush(ckpt::Category::recomputed));
    rec->setPen(QPen(categoryColor(ckpt::Category::recomputed), 1));
    // The spread of each bar over the step's repeats, and the prediction beside the measurement.
    auto* spread = new QCPErrorBars(time->xAxis, time->yAxis);
    spread->setName(QObject::tr("spread of the repeats"));
    spread->setDataPlottable(rec);
    spread->setPen(QPen(chartPalette(time).color(QPalette::Text), 1.2));
    spread->setWhiskerWidth(7);
    spread->setProperty("ckptSpread", true);
    auto* predictedMarks = new QCPGraph(time->xAxis, time->yAxis);
    predictedMarks->setName(QObject::tr("predicted"));
    predictedMarks->setLineStyle(QCPGraph::lsNone);
    predictedMarks->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(QColor(0x00, 0x72, 0xB2), 1.5), Qt::NoBrush, 9));
    predictedMarks->setProperty("ckptPredicted", true);
    time->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new DurationTicker));
    time->yAxis->setLabel(QObject::tr("time"));
    time->xAxis->setLabel(QObject::tr("block (✓ = checkpointed)"));
    addTitle(time, QObject::tr("What recomputing each checkpointed block cost during backward"));
    putLegendBelow(time, 3);
    time->setToolTip(QObject::tr("Per block: time spent re-running its forward during backward (checkpointed blocks "
                                 "only). Hover a bar for its numbers."));
    for (QCustomPlot* p : {bytes, time}) {
        auto* tips = new BlockTips(p);
        setHoverTips(p, [tips](double x, double) {
            const int i = int(std::lround(x));
            return std::fabs(x - i) <= 0.45 ? tips->tip(i) : QString();
        });
    }
}

void showBlockBars(QCustomPlot* bytes, QCustomPlot* time, const ckpt::StepReport& r, const std::vector<double>& recomputeFlops,
                   int step, const ckpt::ModelSpec* spec, const ckpt::TimePrediction* predictedTime) {
    if (step < 0) step = r.step;
    hideChartTip(bytes);
    hideChartTip(time);
    auto* kept = qobject_cast<QCPBars*>(bytes->plottable(0));
    auto* avoided = qobject_cast<QCPBars*>(bytes->plottable(1));
    auto* rec = qobject_cast<QCPBars*>(time->plottable(0));
    auto* spread = qobject_cast<QCPErrorBars*>(time->plottable(1));
    auto* marks = qobject_cast<QCPGraph*>(time->plottable(2));
    if (!kept || !avoided || !rec || !spread || !marks) return;
    clearEmpty(bytes);
    clearEmpty(time);
    const bool predicted = r.dry_run;
    // The prediction of this step's own spec, when it has one block per bar.
    const ckpt::TimePrediction* pt = predictedTime && predictedTime->blocks.size() == r.blocks.size() ? predictedTime : nullptr;
    // Before a run the bars are the predicted times; without a calibration, the FLOPs.
    const bool flopBars = predicted && !pt;
    auto predictedRecomputeNs = [&](const ckpt::BlockReport& b) -> qint64 {
        return pt && b.checkpoint ? pt->blocks[size_t(b.index)].recompute.ns : 0;
    };
    // Recomputation work before a run: FLOPs in the unit the largest reaches.
    double flopUnit = 1e6;
    QString flopName = QObject::tr("MFLOP");
    if (predicted) {
        double most = 0;
        for (size_t i = 0; i < r.blocks.size() && i < recomputeFlops.size(); ++i)
            if (r.blocks[i].checkpoint) most = std::max(most, recomputeFlops[i]);
        if (most >= 1e10) { flopUnit = 1e9; flopName = QObject::tr("GFLOP"); }
        if (most >= 1e13) { flopUnit = 1e12; flopName = QObject::tr("TFLOP"); }
    }
    auto flopsOf = [&](const ckpt::BlockReport& b) {
        return b.checkpoint && size_t(b.index) < recomputeFlops.size() ? recomputeFlops[size_t(b.index)] : 0.0;
    };
    QVector<double> x, k, a, t, below, above, markX, markY;
    QStringList names;
    std::vector<BlockTips::Row> rows;
    rows.reserve(r.blocks.size());
    for (const ckpt::BlockReport& b : r.blocks) {
        x << b.index;
        k << double(b.kept_bytes);
        // Negative when checkpointing made the block keep more (its input, which the block
        // before would otherwise have kept): shown below zero rather than hidden.
        a << double(b.avoided_bytes);
        t << (flopBars ? flopsOf(b) / flopUnit : predicted ? double(predictedRecomputeNs(b)) / 1e6 : double(b.recompute_ns) / 1e6);
        // Whiskers: the quartiles of the measured repeats around the median.
        // (none for a block that recomputes nothing: no whisker drawn at zero)
        below << (predicted || !b.checkpoint ? qQNaN() : double(b.recompute_ns - b.recompute_range.lo_ns) / 1e6);
        above << (predicted || !b.checkpoint ? qQNaN() : double(b.recompute_range.hi_ns - b.recompute_ns) / 1e6);
        if (!predicted && pt && b.checkpoint) {
            markX << b.index;
            markY << double(predictedRecomputeNs(b)) / 1e6;
        }
        const QString name = shownText(b.name);
        names << name + (b.checkpoint ? QStringLiteral(" ✓") : QString());
        BlockTips::Row tip;
        tip.name = name;
        tip.checkpoint = b.checkpoint;
        tip.kept = b.kept_bytes;
        tip.keptUnchecked = b.kept_bytes_unchecked;
        tip.avoided = b.avoided_bytes;
        tip.forwardNs = b.forward_ns;
        tip.backwardNs = b.backward_ns;
        tip.recomputeNs = b.recompute_ns;
        tip.work = flopsOf(b) / flopUnit;
        tip.forwardRange = b.forward_range;
        tip.backwardRange = b.backward_range;
        tip.recomputeRange = b.recompute_range;
        if (pt) {
            const ckpt::BlockTimePrediction& bp = pt->blocks[size_t(b.index)];
            tip.predicted = true;
            tip.predForwardNs = bp.forward.ns;
            tip.predBackwardNs = bp.backward.ns;
            tip.predRecomputeNs = predictedRecomputeNs(b);
        }
        // Where the block's policy avoids little or nothing, the bar says why (layer_traits.h).
        if (b.checkpoint && spec && size_t(b.index) < spec->blocks.size())
            tip.note = QString::fromStdString(ckpt::policy_note(spec->blocks[size_t(b.index)]));
        rows.push_back(std::move(tip));
    }
    kept->setData(x, k, true);
    avoided->setData(x, a, true);
    rec->setData(x, t, true);
    spread->setData(below, above);
    // In the legend only when drawn.
    for (auto [p, shown] : {std::pair<QCPAbstractPlottable*, bool>{spread, !predicted && r.repeats > 1}, {marks, !markX.isEmpty()}}) {
        p->setVisible(shown);
        if (shown) p->addToLegend();
        else p->removeFromLegend();
    }
    marks->setData(markX, markY, true);
    if (auto* title = qobject_cast<QCPTextElement*>(bytes->plotLayout()->element(0, 0)))
        title->setText(predicted ? QObject::tr("Predicted (no run yet): what each block keeps from forward for backward")
                                 : QObject::tr("Measured in step %1: what each block keeps from forward for backward").arg(step));
    if (auto* title = qobject_cast<QCPTextElement*>(time->plotLayout()->element(0, 0)))
        title->setText(flopBars  ? QObject::tr("Predicted recomputation work of each checkpointed block (FLOPs; run a step to measure its time)")
                       : predicted ? QObject::tr("Predicted recomputation time of each checkpointed block (FLOPs and bytes over this "
                                                 "machine's throughput; run a step to measure it)")
                       : r.repeats > 1
                           ? QObject::tr("Measured in step %1: recomputation of each checkpointed block, median of %2 repeats "
                                         "(whiskers: their spread)").arg(step).arg(r.repeats)
                           : QObject::tr("Measured in step %1: what recomputing each checkpointed block cost during backward").arg(step));
    static const QSharedPointer<QCPAxisTicker> plainTicker(new QCPAxisTicker);
    static const QSharedPointer<QCPAxisTicker> durationTicker(new DurationTicker);
    time->yAxis->setTicker(flopBars ? plainTicker : durationTicker);
    time->yAxis->setLabel(flopBars ? QObject::tr("work (%1)").arg(flopName) : QObject::tr("time"));
    rec->setName(flopBars ? QObject::tr("recomputation work (predicted)")
                 : predicted ? QObject::tr("recomputation time (predicted)")
                             : r.repeats > 1 ? QObject::tr("measured (median)") : QObject::tr("recomputation time"));
    for (QCustomPlot* p : {bytes, time}) {
        // BlockTips has no Q_OBJECT: found by its name, which nothing else in the chart has.
        if (auto* tips = static_cast<BlockTips*>(p->findChild<QObject*>(QStringLiteral("ckptBlockTips"), Qt::FindDirectChildrenOnly))) {
            tips->rows = rows;
            tips->dryRun = predicted;
            tips->repeats = r.repeats;
            tips->unit = flopName;
        }
        p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BlockTicker(p->xAxis, names)));
        p->xAxis->setRange(-0.7, std::max<double>(0.7, double(r.blocks.size()) - 0.3));
        double lo = 0, hi = 0;
        for (int i = 0; i < x.size(); ++i) {
            hi = std::max(hi, p == bytes ? k[i] + std::max(0.0, a[i]) : t[i] + (std::isnan(above[i]) ? 0.0 : above[i]));
            if (p == bytes) lo = std::min(lo, a[i]);
        }
        if (p == time)
            for (double m : markY) hi = std::max(hi, m);
        if (hi <= 0) hi = p == bytes ? 1024.0 : 1.0;
        p->yAxis->setRange(lo * 1.1, hi * 1.1);
        replotWhenVisible(p);  // 20,000 bars took 70 ms a chart on a tab nobody was looking at
    }
    // Nothing checkpointed: no recomputation to draw, and no axes pretending there is.
    if (r.checkpointed_blocks() == 0)
        showEmpty(time, QObject::tr("No block is checkpointed, so nothing is recomputed"));
}

void setupHistory(QCustomPlot* plot) {
    setupCommonStyle(plot);
    plot->clearGraphs();
    plot->yAxis2->setVisible(true);
    auto* peak = plot->addGraph(plot->xAxis, plot->yAxis);
    auto* time = plot->addGraph(plot->xAxis, plot->yAxis2);
    peak->setName(QObject::tr("peak memory (left axis)"));
    time->setName(QObject::tr("step time (right axis)"));
    peak->setPen(QPen(categoryColor(ckpt::Category::activation).darker(130), 2));
    time->setPen(QPen(QColor(0x00, 0x72, 0xB2), 2, Qt::DashLine));
    peak->setLineStyle(QCPGraph::lsLine);
    time->setLineStyle(QCPGraph::lsLine);
    peak->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 7));
    time->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 7));
    // Each step time's spread over its repeats, and warm-up steps' times apart, in grey: their
    // one-off costs are compared with nothing.
    auto* spread = new QCPErrorBars(plot->xAxis, plot->yAxis2);
    spread->setName(QObject::tr("spread over the repeats"));
    spread->setDataPlottable(time);
    spread->setPen(QPen(QColor(0x00, 0x72, 0xB2), 1.2));
    spread->setWhiskerWidth(8);
    auto* warm = plot->addGraph(plot->xAxis, plot->yAxis2);
    warm->setName(QObject::tr("warm-up step time (not compared)"));
    warm->setLineStyle(QCPGraph::lsNone);
    warm->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, QPen(QColor(0x99, 0x99, 0x99), 1.5), QColor(0xDD, 0xDD, 0xDD), 7));
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    plot->yAxis2->setTicker(QSharedPointer<QCPAxisTicker>(new DurationTicker));
    QSharedPointer<QCPAxisTickerFixed> steps(new QCPAxisTickerFixed);
    steps->setTickStep(1.0);
    steps->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);  // whole steps only
    plot->xAxis->setTicker(steps);
    plot->yAxis->setLabel(QObject::tr("peak memory"));
    plot->yAxis2->setLabel(QObject::tr("step time"));
    plot->xAxis->setLabel(QObject::tr("step"));
    addTitle(plot, QObject::tr("Peak memory and time of every step (labels: blocks checkpointed)"));
    putLegendBelow(plot, 2);
    plot->setToolTip(QObject::tr("Each step of a run: its peak memory and its time. Toggle a checkpoint "
                                 "while it runs and watch both change at the next step."));
    setHoverTips(plot, [plot](double x, double) {
        const QStringList tips = plot->property("ckptTips").toStringList();
        const QVector<double> keys = plot->property("ckptKeys").value<QVector<double>>();
        for (int i = 0; i < keys.size() && i < tips.size(); ++i)
            if (std::fabs(keys[i] - x) <= 0.45) return tips[i];
        return QString();
    });
}

void showHistory(QCustomPlot* plot, const QVector<HistoryPoint>& points) {
    hideChartTip(plot);
    if (points.isEmpty()) {
        showEmpty(plot, QObject::tr("No run yet: every step you run adds a point here"));
        return;
    }
    clearEmpty(plot);
    QVector<double> x, p, tx, t, below, above, wx, wt;
    QStringList tips;
    plot->clearItems();
    for (int i = 0; i < points.size(); ++i) {
        const HistoryPoint& h = points[i];
        x << h.step;
        p << double(h.peak);
        if (h.warmup) {
            wx << h.step;
            wt << double(h.stepNs) / 1e6;
        } else {
            tx << h.step;
            t << double(h.stepNs) / 1e6;
            below << double(h.stepNs - std::min<qint64>(h.stepNs, h.stepRange.lo_ns)) / 1e6;
            above << double(std::max<qint64>(h.stepNs, h.stepRange.hi_ns) - h.stepNs) / 1e6;
        }
        tips << QObject::tr("<b>step %1</b>%6<br>peak %2<br>time %3<br>%4 of %5 blocks checkpointed")
                    .arg(h.step)
                    .arg(humanBytes(h.peak), timedText(h.stepNs, h.stepRange, h.repeats) +
                                                 (h.repeats > 1 ? QStringLiteral(" (%1)").arg(repeatsText(h.repeats)) : QString()))
                    .arg(h.checkpointed)
                    .arg(h.blocks)
                    .arg(h.warmup ? QObject::tr(" (warm-up: its time includes one-off costs and is compared with nothing)") : QString());
        // Label the first point and every point where the checkpoint set or the model changed;
        // a warm-up step says so, since its time is no time to compare.
        QStringList text;
        if (i == 0 || h.checkpointed != points[i - 1].checkpointed || h.blocks != points[i - 1].blocks || h.modelChanged)
            text << QObject::tr("%1/%2 ✓").arg(h.checkpointed).arg(h.blocks);
        if (h.modelChanged && i > 0) text.prepend(QObject::tr("model edited"));
        if (h.warmup) text << QObject::tr("warm-up");
        if (!text.isEmpty()) {
            auto* label = new QCPItemText(plot);
            label->position->setCoords(h.step, double(h.peak));
            label->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
            label->setPadding(QMargins(2, 0, 2, 6));
            label->setText(text.join(QLatin1Char('\n')));
            label->setColor(categoryColor(ckpt::Category::activation).darker(160));
            setInk(label, Ink::box, 210);  // readable where it crosses the time line
        }
    }
    plot->setProperty("ckptTips", tips);
    plot->setProperty("ckptKeys", QVariant::fromValue(x));
    plot->graph(0)->setData(x, p, true);
    plot->graph(1)->setData(tx, t, true);
    plot->graph(2)->setData(wx, wt, true);
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* e = qobject_cast<QCPErrorBars*>(plot->plottable(i))) e->setData(below, above);
    if (points.isEmpty()) plot->xAxis->setRange(0.5, 5.5);
    else plot->xAxis->setRange(points.first().step - 0.5, std::max(points.last().step, points.first().step + 4) + 0.5);
    double maxP = 1, maxT = 1e-3;
    for (double v : p) maxP = std::max(maxP, v);
    for (int i = 0; i < t.size(); ++i) maxT = std::max(maxT, t[i] + above[i]);
    for (double v : wt) maxT = std::max(maxT, v);
    plot->yAxis->setRange(0, maxP * 1.2);
    plot->yAxis2->setRange(0, maxT * 1.2);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

PinnedRun pinnedFrom(const ckpt::StepReport& r, const QString& name) {
    PinnedRun p;
    p.name = name;
    p.peak = r.peak_total;
    p.stepNs = r.step_ns;
    p.stepRange = r.step_range;
    p.repeats = r.repeats;
    // Keep at most ~4000 points, each the maximum of its slice of events, so peaks survive.
    const int64_t n = int64_t(r.events.size());
    const int64_t stride = std::max<int64_t>(1, n / 4000);
    p.timeMs << 0.0;
    p.orderPct << 0.0;
    p.bytes << double(ckpt::total(r.baseline));
    for (int64_t i = 0; i < n; i += stride) {
        int64_t best = r.events[size_t(i)].live_total;
        for (int64_t j = i; j < std::min(n, i + stride); ++j) best = std::max(best, r.events[size_t(j)].live_total);
        p.timeMs << double(r.events[size_t(i)].time_ns) / 1e6;
        p.orderPct << 100.0 * double(i + 1) / double(n);  // the last event at 100 %
        p.bytes << double(best);
    }
    return p;
}

QString peakDifference(qint64 peak, qint64 reference) {
    const qint64 d = peak - reference;
    const QString sign = d > 0 ? QStringLiteral("+") : d < 0 ? QStringLiteral("−") : QString();
    const qint64 a = d < 0 ? -d : d;
    const QString pct = reference > 0 ? QStringLiteral(", %1%2 %").arg(sign).arg(100.0 * double(a) / double(reference), 0, 'f', 1)
                                      : QString();
    return QObject::tr("%1%2 (%1%3 bytes%4)").arg(sign, humanBytes(a), groupedCount(a), pct);  // one line
}

void setupComparison(QCustomPlot* plot) {
    setupCommonStyle(plot);
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new DurationTicker));
    plot->yAxis->setLabel(QObject::tr("live bytes (all categories)"));
    plot->xAxis->setLabel(QObject::tr("time in step"));
    addTitle(plot, QObject::tr("Total memory over one step: pinned runs against the current one (rings: peaks)"))
        ->setObjectName(QStringLiteral("ckptComparisonTitle"));
    putLegendBelow(plot, 1);
    plot->setToolTip(QObject::tr("Pinned runs beside the current one: total live memory over one step. "
                                 "Pin a run, change the checkpoints, run again."));
    setHoverTips(plot, [plot](double x, double) {
        QString text = plot->property("ckptOrder").toBool()   ? QObject::tr("<b>%1% into each one's events</b><table>").arg(x, 0, 'f', 1)
                       : plot->property("ckptShare").toBool() ? QObject::tr("<b>%1% into each step</b><table>").arg(x, 0, 'f', 1)
                                                              : QObject::tr("<b>t = %1</b><table>").arg(humanTime(qint64(x * 1e6)));
        bool any = false;
        for (int i = 0; i < plot->graphCount(); ++i) {
            QCPGraph* g = plot->graph(i);
            auto it = g->data()->findBegin(x, false);  // the last point at or before x
            if (g->data()->isEmpty() || x < g->data()->constBegin()->key || x > (g->data()->constEnd() - 1)->key) continue;
            if (it != g->data()->constBegin() && it->key > x) --it;
            text += row(QStringLiteral("<font color='%1'>■</font> %2").arg(g->pen().color().name(), g->property("ckptShort").toString()),
                        humanBytes(qint64(it->value)));
            any = true;
        }
        return any ? text + QStringLiteral("</table>") : QString();
    });
}

void showComparison(QCustomPlot* plot, const QVector<PinnedRun>& runs, const QString& commonModel) {
    hideChartTip(plot);
    // Runs of very different sizes (a lesson's MiB pinned beside a GPU run's GiB) would leave the
    // small one flat on the axis: past a 20-fold spread the bytes go on a log scale, and steps
    // whose lengths differ 20-fold are drawn as a share of each one's own step.
    double minPeak = 0, maxPeak = 0, minNs = 0, maxNs = 0;
    for (const PinnedRun& r : runs) {
        if (r.peak > 0) minPeak = minPeak > 0 ? std::min(minPeak, double(r.peak)) : double(r.peak);
        maxPeak = std::max(maxPeak, double(r.peak));
        if (r.stepNs > 0) minNs = minNs > 0 ? std::min(minNs, double(r.stepNs)) : double(r.stepNs);
        maxNs = std::max(maxNs, double(r.stepNs));
    }
    const bool logBytes = minPeak > 0 && maxPeak > 20 * minPeak;
    // A snapshot shares no clock with CheckpointLab's steps: every run over its events in order.
    const PinnedRun* predicted = nullptr;
    bool order = false;
    for (const PinnedRun& r : runs) {
        order |= r.kind == PinnedRun::Kind::snapshot;
        if (r.kind == PinnedRun::Kind::prediction) predicted = &r;
    }
    const bool share = !order && minNs > 0 && maxNs > 20 * minNs;
    plot->setProperty("ckptShare", share);
    plot->setProperty("ckptOrder", order);
    // The model once, under the axis, when every run has it: in each legend entry it pushed
    // the peaks and times past a narrow chart's edge.
    // With a snapshot, how the curves are aligned goes in the title (the axis is too short for it)
    // and the model is the subtitle's.
    const QString x = order ? QObject::tr("% of each one's allocations and frees, in order")
                      : share ? QObject::tr("share of each run's own step (%; their lengths differ %1-fold)").arg(qRound(maxNs / minNs))
                              : QObject::tr("time in step");
    plot->xAxis->setLabel(commonModel.isEmpty() || order ? x : QObject::tr("%1 · %2").arg(x, commonModel));
    for (auto* title : plot->findChildren<QCPTextElement*>(QStringLiteral("ckptComparisonTitle")))
        title->setText(order ? QObject::tr("A PyTorch snapshot over the predicted step (rings: peaks). No common clock: each "
                                           "curve runs over its own allocations and frees in order, the snapshot's whole "
                                           "trace and the prediction's one step")
                             : QObject::tr("Total memory over one step: pinned runs against the current one (rings: peaks)"));
    plot->xAxis->setTicker(share || order ? QSharedPointer<QCPAxisTicker>(new QCPAxisTicker)
                                          : QSharedPointer<QCPAxisTicker>(new DurationTicker));
    plot->yAxis->setScaleType(logBytes ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot->yAxis->setTicker(logBytes ? QSharedPointer<QCPAxisTicker>(new LogBytesTicker) : QSharedPointer<QCPAxisTicker>(new BytesTicker));
    plot->yAxis->setLabel(logBytes ? QObject::tr("live bytes, all categories (log scale: the peaks differ %1-fold)").arg(qRound(maxPeak / minPeak))
                                   : QObject::tr("live bytes (all categories)"));
    plot->clearGraphs();
    if (runs.isEmpty()) {
        showEmpty(plot, QObject::tr("No run yet: run a step, pin it, change the checkpoints, run again"));
        return;
    }
    clearEmpty(plot);
    plot->clearItems();
    double lowest = 0;
    const PinnedRun& current = runs.last();
    for (int i = 0; i < runs.size(); ++i) {
        auto* g = plot->addGraph();
        // Its time as measured (median and spread), and whether it differs from the current
        // run's by more than their spreads; a warm-up step's time is compared with nothing.
        const PinnedRun::Kind kind = runs[i].kind;
        QString time, note;
        if (kind == PinnedRun::Kind::prediction) {
            time = QObject::tr("the dry run's exact bytes");
        } else if (kind == PinnedRun::Kind::snapshot) {
            time = runs[i].timed ? QObject::tr("a trace of %1").arg(humanTime(runs[i].stepNs))
                                 : QObject::tr("%1 entries, no times").arg(groupedCount(runs[i].stepNs + 1));
            note = predicted ? QObject::tr("against the predicted peak %1:\n   %2")
                                   .arg(humanBytes(predicted->peak), peakDifference(runs[i].peak, predicted->peak))
                             : QObject::tr("(no prediction of the stack on screen yet)");
        } else {
            time = timedText(runs[i].stepNs, runs[i].stepRange, runs[i].repeats);
            if (runs[i].warmup) note = QObject::tr("(warm-up: not compared)");
            else if (i + 1 < runs.size() && !current.warmup && current.kind == PinnedRun::Kind::step &&
                     withinNoise(runs[i].stepNs, runs[i].stepRange, current.stepNs, current.stepRange))
                note = QObject::tr("(same time as the current run: within the noise)");
        }
        // Lines of their own: the name, its figures, what its time means, so that an entry fits
        // a chart beside the docks.
        QString name = QStringLiteral("%1\n   peak %2 · %3").arg(runs[i].name, humanBytes(runs[i].peak), time);
        if (!note.isEmpty()) name += QStringLiteral("\n   ") + note;
        g->setName(name);
        g->setProperty("ckptTime", note.isEmpty() ? time : time + QLatin1Char(' ') + note);
        // Milliseconds, or a share of its own step when the runs' lengths differ too much.
        const double toX = share && runs[i].stepNs > 0 ? 100.0 * 1e6 / double(runs[i].stepNs) : 1.0;
        // The band where its end may fall: the quartiles of its step time over the repeats.
        if (!order && runs[i].repeats > 1 && runs[i].stepRange.hi_ns > runs[i].stepRange.lo_ns) {
            auto* band = new QCPItemRect(plot);
            band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
            band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
            band->topLeft->setCoords(double(runs[i].stepRange.lo_ns) / 1e6 * toX, 0.0);
            band->bottomRight->setCoords(double(runs[i].stepRange.hi_ns) / 1e6 * toX, 1.0);
            QColor fill = seriesColor(i);
            fill.setAlpha(45);
            band->setBrush(fill);
            band->setPen(Qt::NoPen);
            band->setLayer(QStringLiteral("background"));
            band->setProperty("ckptBand", i);
        }
        g->setProperty("ckptShort", runs[i].name);
        g->setLineStyle(QCPGraph::lsStepLeft);
        g->setPen(QPen(seriesColor(i), i == runs.size() - 1 ? 2.5 : 1.5));
        QVector<double> keys = order ? runs[i].orderPct : runs[i].timeMs;
        if (share && runs[i].stepNs > 0)
            for (double& k : keys) k *= 100.0 * 1e6 / double(runs[i].stepNs);
        g->setData(keys, runs[i].bytes, true);
        for (double b : runs[i].bytes)
            if (b > 0) lowest = lowest > 0 ? std::min(lowest, b) : b;
        // A ring at each run's peak, in its colour.
        int top = 0;
        for (int j = 1; j < runs[i].bytes.size(); ++j)
            if (runs[i].bytes[j] > runs[i].bytes[top]) top = j;
        if (!runs[i].bytes.isEmpty()) {
            auto* ring = new QCPItemTracer(plot);
            ring->position->setCoords(keys[top], runs[i].bytes[top]);
            ring->setStyle(QCPItemTracer::tsCircle);
            ring->setSize(9);
            ring->setPen(QPen(seriesColor(i), 2));
            setInk(ring, Ink::box);
        }
    }
    plot->rescaleAxes();
    plot->xAxis->setRangeLower(0);
    for (const PinnedRun& r : runs) {  // room for every band
        if (order) break;
        const double toX = share && r.stepNs > 0 ? 100.0 * 1e6 / double(r.stepNs) : 1.0;
        if (double(r.stepRange.hi_ns) / 1e6 * toX > plot->xAxis->range().upper)
            plot->xAxis->setRangeUpper(double(r.stepRange.hi_ns) / 1e6 * toX * 1.02);
    }
    if (logBytes) {
        plot->yAxis->setRange(std::max(1.0, lowest / 1.6), maxPeak * 1.6);
    } else {
        plot->yAxis->setRangeLower(0);
        plot->yAxis->setRangeUpper(plot->yAxis->range().upper * 1.1 + 1);
    }
    plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace ckptui
