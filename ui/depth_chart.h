// The Depth tab: memory against depth, Chen et al. 2016's sublinear result on the stack on
// screen. The stack's repeated stretch (a block with "repeat", like lesson 6's chain) is made
// shallower and deeper, and each depth predicted by the engine (dry runs: the bytes a real step
// measures) with no checkpointing, every block checkpointed alone and sqrt(n) segments. The upper
// chart plots peak activation memory on log-log axes, where O(n) and O(sqrt(n)) are
// straight lines of slope 1 and 1/2, drawn beside the points; the lower one what each
// recomputes. The stack's own depth is marked, with the measured step when one ran here. The
// sweep runs on a worker; a result is drawn only while the stack is still the one it was for.
#pragma once

#include <QObject>
#include <optional>

#include "ckpt/planner.h"

class QCustomPlot;

namespace ckptui {

class DepthChart : public QObject {
    Q_OBJECT

public:
    DepthChart(QCustomPlot* memory, QCustomPlot* recompute, QObject* parent = nullptr);

    // Starts the sweep of `spec` (nothing when the one on screen is of the same stack).
    void refresh(const ckpt::ModelSpec& spec);
    // A measured step of `spec`: drawn at its depth when `spec` is the stack swept.
    void setMeasured(const ckpt::StepReport& report, const ckpt::ModelSpec& spec);
    const std::vector<ckpt::DepthPoint>& points() const { return points_; }
    // The depths a stack is swept at: powers of two from 4 to 1,024 (further when the stack is
    // deeper), and its own depth.
    static std::vector<int> depthsFor(int depth);

signals:
    void drawn();

private:
    void draw();

    QCustomPlot *memory_, *recompute_;
    std::optional<ckpt::ModelSpec> swept_;  // the stack points_ describe (or is being swept)
    std::vector<ckpt::DepthPoint> points_;
    QString error_;
    int depth_ = 0;  // the stack's own depth
    int generation_ = 0;
    std::optional<ckpt::StepReport> measured_;
    std::optional<ckpt::ModelSpec> measuredFor_;  // the stack measured_ ran (its structure)
};

}  // namespace ckptui
