// Planning in the window: a memory budget and a planner; "Plan" ticks the blocks the engine's
// plan table chooses (the same call and answer as `checkpointlab plan`: for dp, the least
// recomputation that fits), or says the smallest budget that can work. The line under the box
// describes the plan while the stack is the one it planned, and goes when the stack changes. The
// Budget box suggests a budget this stack can meet. The Pareto tab sweeps planners and budgets:
// predicted peak against step time, the frontier drawn, the budget as a line, measured steps
// beside them; hovering names a plan, clicking a point or the frontier applies it. The time axis
// is one quantity, a whole step's time in ms or s: predicted (each block's FLOPs and bytes over
// this machine's throughput) until a step of this same model (not a warm-up) has been measured,
// then the measured step with each plan's recomputation from the measured block times.
// Planning and the sweep run on worker threads (a long chain takes seconds): the window stays
// responsive, and a result is applied only while the stack is still the one it was computed for.
// Both are bounded (planner.h, PlanLimits: a sweep cut short draws the plans it found and says
// why on the chart) and both stop at Stop, or when a newer request replaces them.
#pragma once

#include <QWidget>
#include <atomic>
#include <memory>
#include <optional>

#include "ckpt/parallel.h"
#include "ckpt/planner.h"
#include "ckpt/report.h"
#include "ckpt/timing.h"

class QComboBox;
class QLineEdit;
class QLabel;
class QPushButton;
class QCustomPlot;
class QCPTextElement;

namespace ckptui {

class LayerStackModel;

class PlanPanel : public QWidget {
    Q_OBJECT

public:
    PlanPanel(LayerStackModel* model, QCustomPlot* pareto, QWidget* parent = nullptr);
    ~PlanPanel() override { stop(); }  // the workers' results would go nowhere

    // Starts planning; returns an error found at once (a budget that is not a size) or "". The
    // plan is applied when it arrives, then planFinished says "" or why there is none. Uses the
    // last run's forward times when it ran this stack.
    QString plan(const QString& budget, const QString& planner);
    bool isPlanning() const;
    void refreshPareto();  // starts the sweep; paretoDrawn() once it is on the chart
    bool isSweeping() const { return sweeping_; }
    void stop();  // stops planning and the sweep (Stop): the sweep draws what it found
    QString paretoNote() const { return paretoNote_; }  // why the sweep on the chart is incomplete, or ""
    // A measured step of `spec`; a warm-up step's point is drawn apart (its time is not steady).
    void setMeasured(const ckpt::StepReport& report, const ckpt::ModelSpec& spec, bool warmup = false);
    // What the Budget box suggests: from the stack's prediction, or the device limit when one is set.
    void setSuggestion(qint64 minimalPeak, qint64 uncheckedPeak);
    void setMemoryLimit(qint64 bytes);  // 0: none
    // Another model was loaded: its budget is asked afresh, and no step of the model before is
    // drawn on its Pareto chart.
    void resetForModel();
    // The parallel layout the window predicts: plans are for its ranks (a layout's Pareto sweep
    // is not built yet; the chart says so).
    void setLayout(const ckpt::ParallelLayout& layout);
    QString budgetText() const;
    int measuredPointsShown() const { return measuredShown_; }  // on the chart drawn last
    // The throughput the predicted step times are computed with (from the stack's prediction).
    // A new one redraws the chart when it is on screen.
    void setThroughput(const ckpt::Throughput& t);
    const std::vector<ckpt::ParetoPoint>& points() const { return points_; }
    void applyPoint(int index);
    QString resultText() const;
    QString budgetPlaceholder() const;
    // The tooltip for the Pareto chart at plot coordinates (x bytes, y estimate), "" off the points.
    QString paretoTipAt(double x, double y) const;
    // What the time axis shows now: measured (from this model's last step), predicted, or, with no
    // calibration, the cost relative to the unchecked step.
    enum class TimeAxis { measured, predicted, relative };
    TimeAxis timeAxis() const { return timeAxis_; }
    qint64 budgetLine() const { return budgetLine_; }  // where the budget is drawn (0: not drawn)

signals:
    void errorOccurred(const QString& title, const QString& message);
    void planFinished(const QString& error);
    void paretoDrawn();

private:
    struct ParetoWork {
        std::shared_ptr<const ckpt::ModelSpec> spec;  // shared, not copied with the work
        ckpt::ParallelLayout layout;  // whose rank 0 the points are (one device by default)
        std::vector<ckpt::ParetoPoint> points;
        ckpt::Plan current;  // the ticks on screen
        std::optional<ckpt::TimePrediction> time;  // of `spec`, with the throughput at the request
        QString error;
        QString cutShort;  // the sweep's cut_short
        int planned = 0, budgets = 0;
        bool stoppedByUser = false;
    };
    void onSpecChanged();
    void setPlanning(bool on);
    void updateStop();
    QString paretoTitleText() const;
    QString paretoTip() const;
    QString applyPlan(const ckpt::Result<ckpt::PlanTable>& table, const ckpt::ModelSpec& spec, int64_t budget,
                      const QString& typed);
    void drawPareto(const ParetoWork& w);
    std::vector<double> measuredForwardNs() const;  // the last run's, when it ran this structure
    double stepEstimateMs(const ckpt::Plan& p) const;
    bool measuredHere() const;  // a measured, non-warm-up step of this structure

    LayerStackModel* model_;
    QCustomPlot* pareto_;
    QLineEdit* budget_;
    QComboBox* planner_;
    QLabel* result_;
    QPushButton* go_;
    QPushButton* stop_;
    int planGeneration_ = 0, paretoGeneration_ = 0;
    // Set to stop the running plan or sweep (each request has its own, so a stopped one never
    // stops the next).
    std::shared_ptr<std::atomic<bool>> planStop_, paretoStop_;
    bool sweeping_ = false;
    QString paretoNote_;
    QCPTextElement* paretoTitle_;
    std::vector<ckpt::ParetoPoint> points_;
    std::optional<ParetoWork> lastPareto_;  // the sweep on screen, redrawn when the budget is typed
    // The last measured run of this stack's structure: forward times per block, unchecked step.
    std::optional<ckpt::ModelSpec> measuredSpec_;
    std::vector<double> forwardNs_;
    double measuredStepNs_ = 0;
    struct Measured { qint64 peak; double stepMs; bool warmup; };
    QVector<Measured> measuredPoints_;
    std::shared_ptr<const ckpt::ModelSpec> planned_;  // the stack the result line describes (that very edit)
    qint64 memoryLimit_ = 0;
    qint64 budgetLine_ = 0;
    int measuredShown_ = 0;
    ckpt::Throughput throughput_;
    TimeAxis timeAxis_ = TimeAxis::relative;
    ckpt::ParallelLayout layout_;
};

}  // namespace ckptui
