// The main window: the stack editor and the planner on the left, the run bar on top, the charts
// in the middle, the summary and help on the right. It owns the experiment; every way in (edit,
// preset, open) goes through the stack model, and a file that fails to load leaves the
// experiment untouched.
//
// What is on screen always belongs to the stack on screen: its prediction arrives from a worker
// as soon as it changes (the timeline, the per-block bars, the Kept column, the summary); a
// measured step replaces the prediction only while it is a step of that same stack; a stopped
// step leaves the last complete one in place and says where it stopped.
#pragma once

#include <QMainWindow>

#include "ckpt/report.h"
#include "ui/charts.h"
#include "ui/experiment.h"
#include "ui/predictor.h"
#include "ui/run_controller.h"

class QTextBrowser;

namespace ckptui {

class LayerStackModel;
class StackEditor;
class SummaryPanel;
class TimelineChart;
class PlanPanel;
class RunBar;
class ChartTabs;

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
    TimelineChart* timeline() const;
    SummaryPanel* summary() const { return summary_; }
    PlanPanel* planPanel() const { return plan_; }
    ChartTabs* charts() const { return tabs_; }
    RunBar* runBar() const { return runBar_; }
    const StepResult& lastResult() const { return last_; }    // the last step, whatever its end
    const StepResult& shownResult() const { return shown_; }  // the last complete (or failed) step
    const Prediction& prediction() const { return prediction_; }
    Experiment experiment() const;

signals:
    void resultShown(const ckptui::StepResult& r);          // after every chart has the step
    void predictionShown(const ckptui::Prediction& p);      // after the stack's prediction is drawn

private:
    void buildMenus();
    void buildDocks();
    void onSpecChanged(const ckpt::ModelSpec& spec, const QString& error);
    void onPrediction(const Prediction& p);
    void onStepFinished(const StepResult& r);
    void onStopped(const StepResult& r);
    void onRunFinished(const QString& error, bool stopped);
    void showError(const QString& title, const QString& message, const QString& status = {});
    void startAfresh();  // another model was loaded: history, sessions and shown step go
    bool shownIsCurrent() const;

    LayerStackModel* model_;
    RunController* controller_;
    Predictor* predictor_;
    StackEditor* editor_;
    ChartTabs* tabs_;
    PlanPanel* plan_;
    SummaryPanel* summary_;
    QTextBrowser* help_;
    RunBar* runBar_;
    RunOptions runOptions_;
    StepResult last_, shown_;
    Prediction prediction_;
    ckpt::ModelSpec historySpec_;  // the stack of the last step in the history
    qint64 lessonLimit_ = 0;       // the memory limit a lesson put in the run bar
};

}  // namespace ckptui
