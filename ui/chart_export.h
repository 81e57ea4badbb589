// Writing charts to files for papers and slides: one set of options (format by suffix, size in
// pixels or in cm/inches at a DPI, a font scale, the title on or off) used by the Export dialog,
// Export all charts and the CLI's --plot. The DPI is written into the file (PNG pixels per
// metre, the PDF page size, the SVG's physical size) and sets how large a point of text is, so
// a 12 pt label measures 12 pt on the page the file is placed on. Files are written through
// QSaveFile: a failed export leaves the old file as it was and says why.
#pragma once

#include <QImage>
#include <QSize>
#include <QString>

#include "ckpt/report.h"
#include "ckpt/torch_snapshot.h"

class QCustomPlot;

namespace ckptui {

struct ExportOptions {
    int widthPx = 1600;
    int heightPx = 900;
    double dpi = 120;         // 1600 px are 13.3 in, a 16:9 slide's width
    double fontScale = 1.5;   // the charts' 9 pt tick labels become 13.5 pt
    bool title = true;

    enum class Unit { px, cm, in };
    // Sizes the user types in a unit, converted at `dpi`; the other way for display.
    static int toPixels(double value, Unit unit, double dpi);
    static double fromPixels(int px, Unit unit, double dpi);
    bool operator==(const ExportOptions&) const = default;
};

// The smallest text of `plot` as written with `options`, in points (the tests hold the
// defaults to at least 12 pt).
double smallestTextPoints(QCustomPlot* plot, const ExportOptions& options);

// Writes `plot` as .png, .pdf or .svg by suffix. Returns "" on success, else one line.
QString exportPlot(QCustomPlot* plot, const QString& path, const ExportOptions& options);
// The chart as the file will show it, scaled to fit `box` (the dialog's preview).
QImage renderPreview(QCustomPlot* plot, const ExportOptions& options, QSize box);

// "1600x900", "16x9cm", "6x4in" (the CLI's --plot-size); "" or why not. Sets width and height.
QString parsePlotSize(const QString& text, ExportOptions* options);

// Renders a step's memory timeline straight to a file, without a window (the CLI's --plot and
// the headless demo). Needs a QApplication; works on the offscreen platform.
QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, const ExportOptions& options = {});
QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, int width, int height);
// The same for a PyTorch memory snapshot, titled as the snapshot window titles it.
QString exportSnapshotChart(const ckpt::TorchSnapshot& snapshot, const QString& path, const ExportOptions& options = {});

}  // namespace ckptui
