// File > Open PyTorch snapshot: a window of its own for what PyTorch measured on the user's GPU
// (a CUDA memory snapshot, torch_snapshot.h). It shows the memory timeline of allocated bytes by
// category, as the main window shows a step, with the reserved bytes as a line over it, and under it what was read and how each allocation
// was attributed. The snapshot has no model, so the main window's experiment stays as it was; its
// Compare with the prediction button lays it over the stack on screen's predicted step in Compare.
#pragma once

#include <QDialog>
#include <memory>

#include "ckpt/torch_snapshot.h"

class QLabel;

namespace ckptui {

class TimelineChart;

// "PyTorch snapshot NAME: allocated bytes by category, reserved bytes as a line (reserved peak P)" and, on
// a second line, the first out-of-memory (the chart's title, on screen and in exported files).
QString snapshotTitle(const ckpt::TorchSnapshot& s);
// The figures under the chart, as HTML: entries, times, allocated and reserved bytes at the start,
// the peak and the end, allocations per attribution rule, the out-of-memory.
QString snapshotSummary(const ckpt::TorchSnapshot& s);

class SnapshotWindow : public QDialog {
    Q_OBJECT

public:
    SnapshotWindow(std::shared_ptr<const ckpt::TorchSnapshot> snapshot, const QString& path, QWidget* parent = nullptr);
    TimelineChart* chart() const { return chart_; }
    const ckpt::TorchSnapshot& snapshot() const { return *snapshot_; }
    std::shared_ptr<const ckpt::TorchSnapshot> snapshotPtr() const { return snapshot_; }

signals:
    // Compare with the prediction: the main window pins the snapshot in Compare over its stack's
    // predicted step.
    void compareRequested();

private:
    std::shared_ptr<const ckpt::TorchSnapshot> snapshot_;
    TimelineChart* chart_ = nullptr;
    QLabel* summary_ = nullptr;
};

}  // namespace ckptui
