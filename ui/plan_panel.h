// Planning in the window: a memory budget and a planner; "Plan" ticks the blocks the engine's
// plan table chooses (the same call and answer as `checkpointlab plan`: for dp, the least
// recomputation that fits), or says the smallest budget that can work. The Pareto tab sweeps planners and budgets: predicted peak against predicted
// step time, the frontier drawn, measured runs beside them; clicking a point applies it.
#pragma once

#include <QWidget>
#include <optional>

#include "ckpt/planner.h"
#include "ckpt/report.h"

class QComboBox;
class QLineEdit;
class QLabel;
class QCustomPlot;

namespace ckptui {

class LayerStackModel;

class PlanPanel : public QWidget {
    Q_OBJECT

public:
    PlanPanel(LayerStackModel* model, QCustomPlot* pareto, QWidget* parent = nullptr);

    // "" or the error. Uses the last run's forward times when it ran this stack.
    QString plan(const QString& budget, const QString& planner);
    void refreshPareto();
    void setMeasured(const ckpt::StepReport& report, const ckpt::ModelSpec& spec);
    const std::vector<ckpt::ParetoPoint>& points() const { return points_; }
    void applyPoint(int index);

signals:
    void errorOccurred(const QString& title, const QString& message);

private:
    std::vector<double> measuredForwardNs() const;  // the last run's, when it ran this structure
    ckpt::Result<ckpt::ChainModel> chainModel() const;
    double stepEstimateMs(const ckpt::Plan& p) const;

    LayerStackModel* model_;
    QCustomPlot* pareto_;
    QLineEdit* budget_;
    QComboBox* planner_;
    QLabel* result_;
    std::vector<ckpt::ParetoPoint> points_;
    // The last measured run of this stack's structure: forward times per block, unchecked step.
    std::optional<ckpt::ModelSpec> measuredSpec_;
    std::vector<double> forwardNs_;
    double measuredStepNs_ = 0;
    struct Measured { qint64 peak; double stepMs; };
    QVector<Measured> measuredPoints_;
};

}  // namespace ckptui
