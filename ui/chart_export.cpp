// Chart files (see chart_export.h). Every format is drawn the same way: onto a device whose
// logical DPI is the screen's (QCustomPlot measures text with the screen's font metrics, so any
// other DPI would lay labels out for one size and draw them at another), with the painter
// scaled so that a point of text is dpi/72 pixels of the file, times the font scale. The DPI is
// then written into the file as its physical size. Exports use the light palette whatever the
// desktop's theme is: a figure goes onto white paper or a white slide.
#include "ui/chart_export.h"

#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QImageWriter>
#include <QPageSize>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScreen>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "ui/charts.h"
#include "ui/snapshot_window.h"
#include "ui/timeline_chart.h"

namespace ckptui {

namespace {

// The DPI QCustomPlot's font metrics assume: what a QImage gets by default.
double layoutDpi() { return QImage(1, 1, QImage::Format_ARGB32).logicalDpiY(); }

double pointsOf(const QFont& f) { return f.pointSizeF() > 0 ? f.pointSizeF() : f.pixelSize() * 72.0 / layoutDpi(); }

// Takes the chart's title rows out for an export without titles, and puts them back.
class TitleRemover {
public:
    TitleRemover(QCustomPlot* plot, bool remove) : plot_(plot) {
        if (!remove) return;
        QCPLayoutGrid* grid = plot->plotLayout();
        for (int i = 0; i < grid->elementCount(); ++i)
            if (auto* t = qobject_cast<QCPTextElement*>(grid->elementAt(i))) titles_ << t;
        for (QCPTextElement* t : titles_) grid->take(t);
        if (!titles_.isEmpty()) grid->simplify();
    }
    ~TitleRemover() {
        // Bottom row first, so the title goes back above its subtitle.
        for (auto it = titles_.rbegin(); it != titles_.rend(); ++it) {
            plot_->plotLayout()->insertRow(0);
            plot_->plotLayout()->addElement(0, 0, *it);
        }
    }

private:
    QCustomPlot* plot_;
    QList<QCPTextElement*> titles_;
};

// Light colours for the file; the screen's palette again afterwards.
class LightPalette {
public:
    explicit LightPalette(QCustomPlot* plot) : plot_(plot) { applyChartPalette(plot, lightChartPalette()); }
    ~LightPalette() { applyChartPalette(plot_, plot_->palette()); }

private:
    QCustomPlot* plot_;
};

// Draws the chart on `painter`, whose device is w x h pixels, scaled by `scale`: the font
// scale on a device whose pixels are 1/layoutDpi() inch (PDF, SVG), times dpi/layoutDpi() on
// one whose pixels are 1/dpi inch (PNG).
void draw(QCustomPlot* plot, QCPPainter* painter, double w, double h, double scale) {
    painter->scale(scale, scale);
    plot->toPainter(painter, int(std::lround(w / scale)), int(std::lround(h / scale)));
}

}  // namespace

int ExportOptions::toPixels(double value, Unit unit, double dpi) {
    if (unit == Unit::px) return int(std::lround(value));
    const double inches = unit == Unit::cm ? value / 2.54 : value;
    return int(std::lround(inches * dpi));
}

double ExportOptions::fromPixels(int px, Unit unit, double dpi) {
    if (unit == Unit::px) return px;
    const double inches = px / dpi;
    return unit == Unit::cm ? inches * 2.54 : inches;
}

double smallestTextPoints(QCustomPlot* plot, const ExportOptions& o) {
    double smallest = 1e9;
    for (QCPAxisRect* r : plot->axisRects())
        for (QCPAxis* a : r->axes()) {
            if (!a->visible()) continue;
            if (a->tickLabels()) smallest = std::min(smallest, pointsOf(a->tickLabelFont()));
            if (!a->label().isEmpty()) smallest = std::min(smallest, pointsOf(a->labelFont()));
        }
    if (plot->legend && plot->legend->visible() && plot->legend->itemCount() > 0) {
        smallest = std::min(smallest, pointsOf(plot->legend->font()));
        for (int i = 0; i < plot->legend->itemCount(); ++i)
            if (QCPAbstractLegendItem* item = plot->legend->item(i))  // null: a wrapped legend's empty cell
                smallest = std::min(smallest, pointsOf(item->font()));
    }
    QCPLayoutGrid* grid = plot->plotLayout();
    for (int i = 0; i < grid->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(grid->elementAt(i)); t && o.title) smallest = std::min(smallest, pointsOf(t->font()));
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(plot->item(i)); t && t->visible() && !t->text().isEmpty())
            smallest = std::min(smallest, pointsOf(t->font()));
    return smallest * o.fontScale;
}

QString exportPlot(QCustomPlot* plot, const QString& path, const ExportOptions& o) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix != QLatin1String("png") && suffix != QLatin1String("pdf") && suffix != QLatin1String("svg"))
        return QStringLiteral("%1: unknown format \"%2\" (expected .png, .pdf or .svg)").arg(path, suffix);
    if (o.widthPx < 16 || o.heightPx < 16 || o.widthPx > 20000 || o.heightPx > 20000)
        return QStringLiteral("%1: %2 x %3 pixels is not a size between 16 and 20000 on each side").arg(path).arg(o.widthPx).arg(o.heightPx);
    if (!(o.dpi >= 10 && o.dpi <= 2400) || !(o.fontScale >= 0.25 && o.fontScale <= 8))
        return QStringLiteral("%1: the DPI must be from 10 to 2400 and the font scale from 0.25 to 8").arg(path);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
    const TitleRemover titles(plot, !o.title);
    const LightPalette light(plot);
    const double toLayout = layoutDpi() / o.dpi;  // file pixels -> device pixels at the layout DPI
    bool drawn = false;
    if (suffix == QLatin1String("png")) {
        QImage image(o.widthPx, o.heightPx, QImage::Format_ARGB32);
        image.fill(Qt::white);
        QCPPainter painter;
        if (painter.begin(&image)) {
            draw(plot, &painter, o.widthPx, o.heightPx, o.dpi / layoutDpi() * o.fontScale);
            painter.end();
            const int dpm = int(std::lround(o.dpi / 0.0254));
            image.setDotsPerMeterX(dpm);
            image.setDotsPerMeterY(dpm);
            drawn = image.save(&file, "PNG");
        }
    } else if (suffix == QLatin1String("pdf")) {
        QPdfWriter pdf(&file);
        pdf.setCreator(QStringLiteral("CheckpointLab"));
        pdf.setResolution(int(std::lround(layoutDpi())));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        pdf.setPageSize(QPageSize(QSizeF(o.widthPx * 72.0 / o.dpi, o.heightPx * 72.0 / o.dpi), QPageSize::Point,
                                  QString(), QPageSize::ExactMatch));
        QCPPainter painter;
        if (painter.begin(&pdf)) {
            draw(plot, &painter, o.widthPx * toLayout, o.heightPx * toLayout, o.fontScale);
            drawn = painter.end();
        }
    } else {
        QSvgGenerator svg;
        svg.setOutputDevice(&file);
        svg.setResolution(int(std::lround(layoutDpi())));
        const QSize size(int(std::lround(o.widthPx * toLayout)), int(std::lround(o.heightPx * toLayout)));
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(QStringLiteral("CheckpointLab chart"));
        QCPPainter painter;
        if (painter.begin(&svg)) {
            draw(plot, &painter, size.width(), size.height(), o.fontScale);
            drawn = painter.end();
        }
    }
    plot->replot(QCustomPlot::rpQueuedReplot);  // the screen's layout again
    if (!drawn) {
        file.cancelWriting();
        return QStringLiteral("could not draw %1").arg(path);
    }
    if (!file.commit()) return QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
    return {};
}

QImage renderPreview(QCustomPlot* plot, const ExportOptions& o, QSize box) {
    const QSize full(o.widthPx, o.heightPx);
    const QSize fit = full.scaled(box, Qt::KeepAspectRatio);
    if (fit.isEmpty()) return {};
    const TitleRemover titles(plot, !o.title);
    const LightPalette light(plot);
    // The whole file's layout, drawn smaller: what fits where is what the file will show.
    QImage image(fit, QImage::Format_ARGB32);
    image.fill(Qt::white);
    QCPPainter painter;
    if (painter.begin(&image)) {
        const double shrink = double(fit.width()) / full.width();
        painter.scale(shrink, shrink);
        draw(plot, &painter, full.width(), full.height(), o.dpi / layoutDpi() * o.fontScale);
        painter.end();
    }
    plot->replot(QCustomPlot::rpQueuedReplot);
    return image;
}

QString parsePlotSize(const QString& text, ExportOptions* o) {
    static const QRegularExpression re(QStringLiteral("^\\s*([0-9]+(?:\\.[0-9]+)?)\\s*[xX×]\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(px|cm|in)?\\s*$"));
    const QRegularExpressionMatch m = re.match(text);
    if (!m.hasMatch()) return QStringLiteral("expected WIDTHxHEIGHT in pixels, cm or inches (1600x900, 16x9cm, 6x4in)");
    const QString unit = m.captured(3);
    const ExportOptions::Unit u = unit == QLatin1String("cm") ? ExportOptions::Unit::cm
                                  : unit == QLatin1String("in") ? ExportOptions::Unit::in
                                                                : ExportOptions::Unit::px;
    o->widthPx = ExportOptions::toPixels(m.captured(1).toDouble(), u, o->dpi);
    o->heightPx = ExportOptions::toPixels(m.captured(2).toDouble(), u, o->dpi);
    return {};
}

namespace {

// A timeline chart laid out at the file's size, filled by `fill`, written to `path`.
QString exportTimeline(const QString& path, const ExportOptions& options, const std::function<void(TimelineChart&)>& fill) {
    TimelineChart chart;
    const double scale = options.dpi / layoutDpi() * options.fontScale;
    const int w = int(std::lround(options.widthPx / scale)), h = int(std::lround(options.heightPx / scale));
    chart.resize(w, h);
    // A widget never shown gets no resize event: set the viewport and lay the chart out by hand,
    // so band labels know how wide their bands will be in the file.
    chart.setViewport(QRect(0, 0, w, h));
    chart.replot();
    fill(chart);
    chart.replot();
    return exportPlot(&chart, path, options);
}

}  // namespace

QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, const ExportOptions& options) {
    return exportTimeline(path, options, [&](TimelineChart& chart) { chart.setReport(report); });
}

QString exportSnapshotChart(const ckpt::TorchSnapshot& snapshot, const QString& path, const ExportOptions& options) {
    return exportTimeline(path, options, [&](TimelineChart& chart) {
        chart.setSnapshot(snapshot, snapshotTitle(snapshot));
    });
}

QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, int width, int height) {
    ExportOptions o;
    o.widthPx = width;
    o.heightPx = height;
    o.dpi = layoutDpi();
    o.fontScale = 1.0;
    return exportMemoryChart(report, path, o);
}

}  // namespace ckptui
