// The memory timeline of one step: live bytes over time stacked by category, bands marking
// forward, loss, backward, optimizer and every block's recomputation, a marker at the peak, a
// dashed line at the predicted peak, and a tooltip that tells what was alive at the cursor and
// who was running. Long steps are decimated per pixel column keeping each column's maximum, so
// a 1,000,000-event step replots quickly and no peak disappears; zooming re-decimates the range.
#pragma once

#include <QVector>
#include <array>
#include <vector>

#include <qcustomplot.h>

#include "ckpt/report.h"

namespace ckptui {

class TimelineChart : public QCustomPlot {
    Q_OBJECT

public:
    explicit TimelineChart(QWidget* parent = nullptr);

    void setReport(const ckpt::StepReport& report);
    // Live view while a step runs: start from the baseline, then append event batches.
    void beginLive(const ckpt::CategoryBytes& baseline);
    void appendLive(const QVector<ckpt::MemoryEvent>& events);
    void setPrediction(qint64 peakBytes);  // < 0 hides the line

    qint64 plottedPeak() const;       // the highest stacked total among the raw points
    int pointCount() const { return int(time_.size()); }
    int drawnPoints() const;          // points handed to QCustomPlot after decimation
    qint64 drawnPeak() const;         // the highest stacked total drawn up to the right edge
    double nsPerUnit() const { return unitNs_; }  // the time axis' unit

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;  // tooltips for the legend and the axes

private:
    void clearData();
    void addEvent(const ckpt::MemoryEvent& e);
    void redecimate();
    void drawAnnotations();
    void chooseTimeUnit(double maxNs);

    // Raw data: time in the axis unit and the stacked totals after each event.
    std::vector<double> time_;
    std::array<std::vector<double>, ckpt::kCategoryCount> stacked_;
    std::vector<ckpt::MemoryTag> tags_;
    ckpt::CategoryBytes live_{};
    ckpt::StepReport report_;  // spans, peak and status of the last finished step (events dropped)
    bool haveReport_ = false;
    double unitNs_ = 1e6;      // nanoseconds per axis unit
    qint64 prediction_ = -1;
    QVector<QCPGraph*> graphs_;  // in kStackOrder
    QCPTextElement* title_ = nullptr;
    bool redecimating_ = false;
};

}  // namespace ckptui
