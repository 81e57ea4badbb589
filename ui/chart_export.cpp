// Offscreen export of the memory timeline (see chart_export.h).
#include "ui/chart_export.h"

#include "ui/charts.h"
#include "ui/timeline_chart.h"

namespace ckptui {

QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, int width, int height) {
    TimelineChart chart;
    chart.resize(width, height);
    // A widget never shown gets no resize event: set the viewport and lay the chart out by hand,
    // so band labels know how wide their bands will be in the file.
    chart.setViewport(QRect(0, 0, width, height));
    chart.replot();
    chart.setReport(report);
    chart.replot();
    return exportPlot(&chart, path, width, height);
}

}  // namespace ckptui
