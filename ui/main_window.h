// The main window: the stack editor on the left, the run bar on top, the charts in the middle,
// the summary and help on the right. It owns the experiment; every way in (edit, preset, open)
// goes through the stack model, and a file that fails to load leaves the experiment untouched.
#pragma once

#include <QMainWindow>

#include "ckpt/report.h"
#include "ui/charts.h"
#include "ui/experiment.h"
#include "ui/run_controller.h"

class QComboBox;
class QSpinBox;
class QCheckBox;
class QLineEdit;
class QTabWidget;
class QTextBrowser;
class QAction;

namespace ckptui {

class LayerStackModel;
class StackEditor;
class SummaryPanel;
class TimelineChart;
class PlanPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // The API the menus use, public for tests and scripts.
    QString openExperiment(const QString& path);  // "" or the error (also shown in a dialog)
    QString saveExperiment(const QString& path);
    QString loadPreset(const QString& name);
    void runSteps(int steps);                     // < 0: continuously
    void stop();
    void pinCurrentRun(const QString& name = {});
    enum class Chart { timeline, blockBytes, blockTime, history, comparison, pareto };
    QString exportChart(Chart which, const QString& path, int width, int height);
    QString exportRun(const QString& path);       // .json report, .csv timeline, .trace.json trace

    LayerStackModel* stackModel() const { return model_; }
    RunController* controller() const { return controller_; }
    TimelineChart* timeline() const { return timeline_; }
    SummaryPanel* summary() const { return summary_; }
    PlanPanel* planPanel() const { return plan_; }
    const StepResult& lastResult() const { return last_; }
    Experiment experiment() const;

signals:
    void resultShown(const ckptui::StepResult& r);  // after every chart has the step

private:
    void buildMenus();
    QWidget* buildRunBar();
    QWidget* chartPage(QCustomPlot* plot, QCustomPlot* second = nullptr);
    void onSpecChanged(const ckpt::ModelSpec& spec, const QString& error);
    void onStepFinished(const StepResult& r);
    void onRunFinished(const QString& error, bool stopped);
    void showError(const QString& title, const QString& message);
    void syncRunBar();                              // batch, sequence, optimizer from the spec
    void applyRunOptions(const RunOptions& run);   // device, verify, memory limit from a file
    void updateRunning(bool running);

    LayerStackModel* model_;
    RunController* controller_;
    StackEditor* editor_;
    TimelineChart* timeline_;
    QCustomPlot *blockBytes_, *blockTime_, *history_, *comparison_, *pareto_;
    PlanPanel* plan_;
    QTabWidget* tabs_;
    SummaryPanel* summary_;
    QTextBrowser* help_;
    QComboBox *device_, *optimizer_;
    QSpinBox *batch_, *seq_;
    QLineEdit* limit_;
    QCheckBox* verify_;
    QAction *runStep_, *runCont_, *stop_;
    RunOptions runOptions_;
    StepResult last_;
    QVector<HistoryPoint> history_points_;
    QVector<PinnedRun> pinned_;
    bool syncing_ = false;
};

}  // namespace ckptui
