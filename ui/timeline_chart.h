// The memory timeline of one step: live bytes stacked by category, bands marking forward, loss,
// backward, optimizer and every block's recomputation, a marker at the peak, and a tooltip that
// tells what was alive at the cursor and who was running. It shows one of three things:
//   - a prediction (the engine's dry run, before any run or after an edit): exact bytes, but no
//     time was measured, so the x axis is the order of the allocations and frees and says so;
//   - a measured step, in time, with the prediction of the same step overlaid as a dashed total
//     and its peak as a dashed line (they coincide when the engine's count is right);
//   - the step now running, live.
// Long steps are decimated per pixel column keeping each column's maximum, so a 1,000,000-event
// step replots quickly and no peak disappears; zooming re-decimates the range.
#pragma once

#include <QVector>
#include <array>
#include <vector>

#include <qcustomplot.h>

#include "ckpt/report.h"
#include "ckpt/torch_snapshot.h"
#include "ui/timeline_series.h"

namespace ckptui {

class TimelineChart : public QCustomPlot {
    Q_OBJECT

public:
    enum class Mode { empty, predicted, measured, live };

    explicit TimelineChart(QWidget* parent = nullptr);

    // A measured step, in time; `predicted` (the dry run of the same spec and step kind) is
    // overlaid. (A dry-run report drawn this way is on the dry run's own clock.)
    // `step` numbers it in the title (default: the session's own count, report.step). `shared`,
    // the same report's shared pointer when the caller has one, is kept instead of a copy.
    void setReport(const ckpt::StepReport& report, const ckpt::StepReport* predicted = nullptr, int step = -1,
                   std::shared_ptr<const ckpt::StepReport> shared = nullptr);
    // A prediction on its own, in event order; `uncheckedPeak` (> 0) adds the line "without
    // checkpointing" when it differs from the predicted peak. `series`, built on a worker from
    // the same report, is lent to the chart while it shows it (else the chart builds its own).
    void setPredicted(const ckpt::StepReport& predicted, qint64 uncheckedPeak = -1,
                      std::shared_ptr<TimelineSeries> series = nullptr, std::shared_ptr<const ckpt::StepReport> shared = nullptr);
    // What PyTorch measured (a CUDA memory snapshot, torch_snapshot.h), with `title` for the
    // chart's: in time when the snapshot is timed, else in the trace's order (the axis says so),
    // the reserved bytes (the allocator's segments) as a line over the allocated stack. No
    // prediction is drawn over it: the snapshot has no model to predict (Compare lays one over it).
    void setSnapshot(const ckpt::TorchSnapshot& snapshot, const QString& title);
    QCPGraph* reservedGraph() const { return reservedGraph_; }  // empty unless a snapshot is shown
    // Live view while a step runs: start from the baseline, then append event batches.
    void beginLive(const ckpt::CategoryBytes& baseline);
    void appendLive(const QVector<ckpt::MemoryEvent>& events);
    // Nothing to draw: the axes go and `text` says why ("no run yet", a spec error).
    void showMessage(const QString& text);
    // The dashed predicted peak over the measured step shown (setReport sets it from `predicted`).
    void setPrediction(qint64 peakBytes);  // < 0 hides it
    void setTitleNote(const QString& note);  // appended to the title ("step 5 was stopped ...")
    // The device's memory limit as a red line (0: none), over a prediction, a step or a live run.
    void setMemoryLimit(qint64 bytes);
    qint64 memoryLimit() const { return limit_; }

    Mode mode() const { return mode_; }
    QString title() const;
    qint64 plottedPeak() const;       // the highest stacked total among the raw points
    int pointCount() const { return int(d_.x.size()); }
    int drawnPoints() const;          // points handed to QCustomPlot after decimation
    qint64 drawnPeak() const;         // the highest stacked total drawn up to the right edge
    int overlayPoints() const;        // points of the predicted total drawn over a measured step
    double nsPerUnit() const { return 1e6; }  // a measured step's x axis is in milliseconds
    // The texts drawn on the plot (labels of peak, prediction, out of memory, bands), for tests.
    QList<QCPItemText*> labels() const;

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;  // tooltips for the legend and the axes

private:
    void placePeakLabel();
    void showUnattributed(bool on);  // the category in the legend
    void clearData();
    void setMode(Mode m);
    void finishReport(const ckpt::StepReport& r, std::shared_ptr<const ckpt::StepReport> shared);
    void redecimate();
    void drawAnnotations();
    void drawLimit();
    double topWithLimit(double top) const;  // the y range's top, raised to show a limit near it
    double xOfNs(int64_t ns) const;   // a span boundary on the x axis
    void updateTitle();

    Mode mode_ = Mode::empty;
    // Raw data, one point per event plus the baseline first: the x coordinate, the event's own
    // time (the dry run's clock for a prediction: it orders events and spans), stacked totals.
    TimelineSeries d_;
    std::weak_ptr<TimelineSeries> lent_;  // the prediction's series d_ holds, to give back
    std::vector<double> overlay_;  // the predicted total at each measured point (empty: none)
    // The step shown (its spans, peak and status): the caller's shared report, else a copy
    // without its events (the series holds what is drawn). Copying a 20,000-block step's events
    // only to drop them took 70 ms of the GUI thread.
    std::shared_ptr<const ckpt::StepReport> report_;
    bool haveReport_ = false;
    qint64 prediction_ = -1;
    qint64 uncheckedPeak_ = -1;
    qint64 limit_ = 0;
    QString note_;
    QString snapshotTitle_;  // set while a PyTorch snapshot is shown, which has its own title
    bool snapshotOrder_ = false;  // ... and is drawn in its trace's order (no times)
    int step_ = 0;
    QVector<QCPGraph*> graphs_;  // in kStackOrder
    QCPGraph* overlayGraph_ = nullptr;
    QCPGraph* reservedGraph_ = nullptr;  // a snapshot's reserved bytes
    QCPTextElement* title_ = nullptr;
    QCPItemText* message_ = nullptr;
    QSharedPointer<QCPAxisTicker> timeTicker_, orderTicker_;
    bool redecimating_ = false;
};

}  // namespace ckptui
