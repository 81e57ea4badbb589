// The run bar along the top: device, batch, sequence length, optimizer, precision, a device
// memory limit, verify, the parallel layout predicted, and Run step / Run continuously / Stop / Pin run (actions with
// shortcuts, also in the window's Run menu). Batch, sequence, optimizer and precision edit the
// stack (through the model, so they are undoable, saved in experiments and follow loaded files);
// device, limit and verify are the experiment's run settings.
#pragma once

#include <QToolBar>

#include "ckpt/parallel.h"
#include "ckpt/session.h"
#include "ui/experiment.h"

class QComboBox;
class QSpinBox;
class QCheckBox;
class QLineEdit;
class QLabel;
class QAction;
class QToolButton;

namespace ckptui {

class LayerStackModel;

class RunBar : public QToolBar {
    Q_OBJECT

public:
    RunBar(LayerStackModel* model, QWidget* parent = nullptr);

    // The run settings as shown, over `base` (threads and tf32 come from a loaded file).
    RunOptions runOptions(const RunOptions& base) const;
    ckpt::DeviceKind deviceKind() const;
    QString deviceId() const;                 // "cpu", "cuda:0"
    bool selectDevice(const QString& id);     // false when this machine has no such device
    // A run opened from a report is marked in the bar with its own device and precision while it
    // is on screen ("" removes the mark): the settings beside it are this machine's.
    void showRecorded(const QString& text);
    QString recordedText() const;
    static QString recordedTip();
    // "" when the limit field is empty or a size; else why it is not.
    QString limitError() const;
    qint64 memoryLimit() const;  // 0: none
    // Shows a file's settings; returns a warning when its device is not available here.
    QString applyRunOptions(const RunOptions& run);
    void setMemoryLimit(qint64 bytes);
    void syncFromSpec(const ckpt::ModelSpec& spec);  // batch, sequence, optimizer, precision
    void setRunning(bool running);
    // The parallel layout the view predicts (Run › Parallel layout…): shown on its button; a
    // layout of more than one device cannot run, and Run step says so.
    void setLayout(const ckpt::ParallelLayout& layout, int rank);
    void setVerify(bool on);
    QList<QAction*> runActions() const { return {runStep_, runCont_, stop_, pin_}; }
    QAction* layoutAction() const { return layoutMenuAction_; }  // Run › Parallel layout…

signals:
    void runStepRequested();
    void runContinuouslyRequested();
    void stopRequested();
    void pinRequested();
    void layoutRequested();
    void memoryLimitChanged(qint64 bytes);  // as typed, once it parses (0: none)
    void deviceChanged();
    void settingsChanged();  // device, memory limit or verify: the experiment's run settings

private:
    LayerStackModel* model_;
    QComboBox *device_, *optimizer_, *precision_;
    QSpinBox *batch_, *seq_;
    QLineEdit* limit_;
    QCheckBox* verify_;
    QToolButton* layout_;         // shown while the layout has more than one device
    QAction* layoutButtonAction_;
    QAction* layoutMenuAction_;
    bool runnable_ = true;  // one device: steps can run
    bool running_ = false;
    QLabel* recorded_;
    QAction* recordedAction_;
    QAction *runStep_, *runCont_, *stop_, *pin_;
    bool syncing_ = false;
};

}  // namespace ckptui
