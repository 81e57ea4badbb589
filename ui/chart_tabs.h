// The charts in the middle of the window, one tab each: the memory timeline, per-block bars,
// the step history, the comparison of pinned runs (with the list to remove them; a PyTorch
// snapshot pinned there is laid over the current stack's prediction), the Pareto
// chart (drawn by the plan panel) and memory against depth (drawn by DepthChart). The window decides what is current; these pages draw
// a prediction or a measured step (run here or opened from a report), keep the history and the
// pins, and ask the window to export a tab's charts.
#pragma once

#include <QTabWidget>
#include <QVector>
#include <optional>

#include "ckpt/torch_snapshot.h"
#include "ui/charts.h"
#include "ui/predictor.h"
#include "ui/run_controller.h"

class QListWidget;

namespace ckptui {

class TimelineChart;

class ChartTabs : public QTabWidget {
    Q_OBJECT

public:
    enum Tab { TimelineTab, BlocksTab, HistoryTab, CompareTab, ParetoTab, DepthTab };

    explicit ChartTabs(QWidget* parent = nullptr);

    TimelineChart* timeline() const { return timeline_; }
    QCustomPlot* blockBytes() const { return blockBytes_; }
    QCustomPlot* blockTime() const { return blockTime_; }
    QCustomPlot* history() const { return history_; }
    QCustomPlot* comparison() const { return comparison_; }
    QCustomPlot* pareto() const { return pareto_; }
    QCustomPlot* depthMemory() const { return depthMemory_; }
    QCustomPlot* depthRecompute() const { return depthRecompute_; }
    // The charts of a tab with their names (Per block has two), for the export dialog.
    QList<QPair<QString, QCustomPlot*>> chartsOf(int tab) const;
    // The manual's section (an anchor of charts.md) for a widget of these tabs: its chart's, or
    // the tab on screen's; "" for a widget elsewhere.
    QString manualSection(const QWidget* w) const;

    // The stack's prediction in the timeline (event order, "without checkpointing" line) and the
    // per-block bars (bytes, recomputation work).
    void showPrediction(const Prediction& p);
    // A measured step with its own prediction overlaid, in the timeline and the per-block bars.
    void showStep(const StepResult& r);
    void showNothing(const QString& why);  // a stack that cannot run
    // Every chart's subtitle: the model, the device and the precision of what is shown.
    void setSubtitle(const QString& text);

    void addHistory(const StepResult& r, bool modelChanged);
    void clearHistory();
    int historySize() const { return history_points_.size(); }

    // Compare: the current step over the pinned ones; pins carry the model they came from.
    void setCurrentRun(const StepResult& r);
    void pin(const StepResult& r, const QString& name = {});
    void unpin(int index);
    void clearPins();
    QStringList pinNames() const;
    // A PyTorch snapshot pinned beside the stack's prediction (charts.h, PinnedRun): `prediction`
    // is the current stack's, drawn in Compare while a snapshot is pinned; null while there is none.
    void pinSnapshot(const ckpt::TorchSnapshot& s, const QString& fileName);
    void setPrediction(const Prediction* prediction);
    bool hasPinnedSnapshot() const;

signals:
    void errorOccurred(const QString& title, const QString& message);
    void statusMessage(const QString& message);
    void exportRequested();  // a tab's Export chart… button

private:
    QWidget* chartPage(QCustomPlot* plot, QCustomPlot* second = nullptr, QWidget* side = nullptr);
    QWidget* pinList();
    void redrawComparison();

    TimelineChart* timeline_;
    QCustomPlot *blockBytes_, *blockTime_, *history_, *comparison_, *pareto_, *depthMemory_, *depthRecompute_;
    QListWidget* pins_ = nullptr;
    QVector<HistoryPoint> history_points_;
    QVector<PinnedRun> pinned_;
    std::optional<PinnedRun> current_;
    std::optional<PinnedRun> predicted_;
};

}  // namespace ckptui
