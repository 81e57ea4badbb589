// Offscreen export of the memory timeline (see chart_export.h).
#include "ui/chart_export.h"

#include "ui/charts.h"
#include "ui/timeline_chart.h"

namespace ckptui {

QString exportMemoryChart(const ckpt::StepReport& report, const QString& path, int width, int height) {
    TimelineChart chart;
    chart.resize(width, height);
    chart.setReport(report);
    chart.replot();
    return exportPlot(&chart, path, width, height);
}

}  // namespace ckptui
