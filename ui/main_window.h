// The main window: the stack editor, its properties and the planner on the left, the run bar on
// top, the charts in the middle, the summary and help on the right (docks that can be closed,
// moved and tabbed, so the window fits a 1280 x 720 laptop). It owns the experiment; every way in
// (edit, preset, open, template, import, a recorded run) goes through the stack model, and a file
// that fails to load leaves the experiment untouched.
//
// What is on screen always belongs to the stack on screen: its prediction arrives from a worker
// as soon as it changes (the timeline, the per-block bars, the Kept column, the summary); a
// measured step replaces the prediction only while it is a step of that same stack; a stopped
// step leaves the last complete one in place and says where it stopped.
//
// The window behaves as desktop programs do (main_window_files.cpp): a current file with a
// modified mark in the title, New / Open / Open Recent / Save / Save As, a prompt before unsaved
// changes are lost, files dropped on the window or named on the command line, and QSettings for
// geometry, docks, the last file and the run settings (when the application has an
// organisation name; tests without one persist nothing). Menus, shortcuts and the About dialog
// are in main_window_menus.cpp.
#pragma once

#include <QElapsedTimer>
#include <QMainWindow>
#include <QPointer>

#include "ckpt/report.h"
#include "ui/chart_export.h"
#include "ui/charts.h"
#include "ui/experiment.h"
#include "ui/file_loading.h"
#include "ui/predictor.h"
#include "ui/run_controller.h"
#include "ui/snapshot_window.h"

class QTextBrowser;
class QProgressBar;
class QSettings;
class QMenu;

namespace ckptui {

class LayerStackModel;
class StackEditor;
class PropertiesPanel;
class SummaryPanel;
class TimelineChart;
class PlanPanel;
class DepthChart;
class RunBar;
class ChartTabs;
class ManualWindow;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // The API the menus use, public for tests and scripts. These load and save at once and ask
    // nothing; the menus ask about unsaved changes first and load on a worker (openFile).
    QString openExperiment(const QString& path);  // "" or the error (also shown in a dialog)
    QString saveExperiment(const QString& path);  // and it becomes the current file
    QString loadPreset(const QString& name);
    QString openRun(const QString& path);         // a report written by `checkpointlab run --report`
    // A PyTorch CUDA memory snapshot, in a window of its own (the experiment is kept): "" or the
    // error (also shown in a dialog). The menu's File > Open PyTorch snapshot reads on a worker.
    QString openTorchSnapshot(const QString& path);
    SnapshotWindow* snapshotWindow() const { return snapshotWindow_.data(); }  // the last one opened, while open
    // The snapshot window's Compare with the prediction: pins the snapshot in Compare, laid over the
    // stack's predicted step, and shows that tab; "" or why not (no prediction: also a dialog).
    QString compareSnapshot(const std::shared_ptr<const ckpt::TorchSnapshot>& snapshot, const QString& path);
    void newModel(const ckpt::ModelSpec& spec, const QString& title);  // a template or an import
    // The menus' way: asks about unsaved changes, then reads and parses on a worker and applies the
    // file when it arrives; fileOpened says how it ended.
    void openFile(const QString& path, FileKind kind = FileKind::any);
    // File > Import config without its dialogs: a Hugging Face config.json at batch x seq tokens.
    void importConfigFile(const QString& path, qint64 batch, qint64 seq);
    // `checkpointlab FILE.json`: the file among the arguments (after the program's name), if any.
    static QString fileArgument(const QStringList& arguments);
    void openArguments(const QStringList& arguments);
    // "Save" / "Save As": false when cancelled or failed (the error is shown).
    bool save();
    bool saveAs();
    // Asks whether to save unsaved changes: true to go on (saved or discarded), false to stay.
    bool maybeSave();
    // Presets > Reset to preset: the preset on screen as it was loaded (an undoable edit).
    QString resetToPreset();

    void runSteps(int steps);                     // < 0: continuously
    void stop();
    void pinCurrentRun(const QString& name = {});
    enum class Chart { timeline, blockBytes, blockTime, history, comparison, pareto };
    QString exportChart(Chart which, const QString& path, int width, int height);
    QString exportChart(Chart which, const QString& path, const ExportOptions& options);
    // Every chart into `dir` as timeline.png, per-block-bytes.png, ... (chartFileNames).
    QString exportAllCharts(const QString& dir, const QString& suffix, const ExportOptions& options,
                            QStringList* written = nullptr);
    static QStringList chartFileNames(const QString& suffix);
    static QString aboutText();  // the About dialog: versions of Qt, QCustomPlot, BLAS and CUDA
    // Help › Manual (F1): the manual window at a page (qrc:/manual/...; empty: the contents).
    void showManual(const QUrl& at = {});
    // The page F1 opens: the chart under the pointer, else the chart or panel with the keyboard
    // focus (its section of the manual), else the contents.
    QUrl helpUrlFor(const QWidget* pointed, const QWidget* focused) const;
    ManualWindow* manualWindow() const { return manual_; }  // null until first shown
    QString exportRun(const QString& path);       // .json report, .csv timeline, .trace.json trace
    // File > Export as PyTorch script without its dialog: the stack and its plan as `path` (and
    // the initial parameters and batch beside it), written on a worker; torchScriptExported
    // says how it ended, and a failure is also shown in a dialog. `huggingFace`: instead, the few
    // lines that apply the plan to the user's own Hugging Face model (export-torch --hf), for a
    // model imported from a config.json; the dialog offers it where hfPlanError() is "".
    void exportTorchScript(const QString& path, bool huggingFace = false);
    QString hfPlanError() const;  // why the stack has no Hugging Face variant, or ""

    LayerStackModel* stackModel() const { return model_; }
    RunController* controller() const { return controller_; }
    TimelineChart* timeline() const;
    SummaryPanel* summary() const { return summary_; }
    PlanPanel* planPanel() const { return plan_; }
    DepthChart* depthChart() const { return depth_; }
    ChartTabs* charts() const { return tabs_; }
    RunBar* runBar() const { return runBar_; }
    StackEditor* stackEditor() const { return editor_; }
    PropertiesPanel* properties() const { return properties_; }
    QProgressBar* progressBar() const { return progress_; }
    const StepResult& lastResult() const { return last_; }    // the last step, whatever its end
    const StepResult& shownResult() const { return shown_; }  // the last complete (or failed) step
    const Prediction& prediction() const { return prediction_; }
    Experiment experiment() const;
    QString currentFile() const { return currentFile_; }
    bool isModified() const;
    QStringList recentFiles() const { return recent_; }
    ExportOptions exportOptions() const { return exportOptions_; }
    void setExportOptions(const ExportOptions& o) { exportOptions_ = o; }

signals:
    void resultShown(const ckptui::StepResult& r);          // after every chart has the step
    void predictionShown(const ckptui::Prediction& p);      // after the stack's prediction is drawn
    void fileOpened(const QString& path, const QString& error);  // an openFile ended ("" if applied)
    void torchScriptExported(const QString& path, const QString& error);  // "" when written

protected:
    void closeEvent(QCloseEvent* event) override;
    void showEvent(QShowEvent* event) override;  // fits the frame, now known, inside the screen
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    // main_window.cpp: the stack, its prediction and its steps
    void buildDocks();
    void onSpecChanged(const ckpt::ModelSpec& spec, const QString& error);
    void onPrediction(const Prediction& p);
    void onStepFinished(const StepResult& r);
    void onStopped(const StepResult& r);
    void onRunFinished(const QString& error, bool stopped);
    void showError(const QString& title, const QString& message, const QString& status = {});
    void startAfresh();  // another model was loaded: history, sessions and shown step go
    bool shownIsCurrent() const;
    void showRecordedRun(const LoadedFile& f);
    void showSnapshot(const LoadedFile& f);
    void beginProgress();
    void advanceProgress(const QVector<ckpt::MemoryEvent>& events);
    void updateContext();       // the charts' subtitles and the run bar's recorded-run mark
    void clearStaleAlarm();     // an out-of-memory banner and status that no longer describe the screen
    // main_window_menus.cpp
    void buildMenus();
    void showAbout();
    void exportChartDialog();
    void exportAllDialog();
    void exportRunDialog();
    void exportTorchDialog();
    void newFromTemplate();
    void importConfig();
    void fillRecentMenu();
    // main_window_files.cpp
    void applyLoaded(const LoadedFile& f);
    void applyExperiment(const Experiment& e, const QString& path, const QString& what);
    void setCurrentFile(const QString& path, const QString& title);
    void markClean();
    void updateTitle();
    void addRecent(const QString& path);
    void restoreSettings();
    void saveSettings();
    void fitToScreen();  // the window inside the available area of the screen it is on

    LayerStackModel* model_;
    RunController* controller_;
    Predictor* predictor_;
    FileLoader* loader_;
    StackEditor* editor_;
    PropertiesPanel* properties_;
    ChartTabs* tabs_;
    PlanPanel* plan_;
    DepthChart* depth_;
    SummaryPanel* summary_;
    QTextBrowser* help_;
    ManualWindow* manual_ = nullptr;
    QPointer<SnapshotWindow> snapshotWindow_;  // deletes itself when closed
    RunBar* runBar_;
    QProgressBar* progress_;
    QMenu* recentMenu_ = nullptr;
    RunOptions runOptions_;
    // The parallel layout predicted (Run › Parallel layout…), and the rank shown; one device
    // runs. Saved in the experiment ("parallel").
    ckpt::ParallelLayout layout_;
    int rank_ = 0;
    ckpt::ParallelLayout savedLayout_;
    int savedRank_ = 0;
    StepResult last_, shown_;
    Prediction prediction_;
    ckpt::ModelSpec historySpec_;  // the stack of the last step in the history
    // The document: the file it was opened from or saved to ("" for a preset, a template, a
    // recorded run), its title, and the run settings as last saved (with the undo stack's clean
    // state, what "modified" compares against).
    QString currentFile_, title_;
    ckpt::ModelSpec savedSpec_;  // the stack as loaded or saved: an undo back to it is no change
    RunOptions savedRun_;
    void chooseLayout();  // the layout dialog
    void setLayout(const ckpt::ParallelLayout& layout, int rank);
    void requestPrediction();
    QStringList recent_;
    QString lastPreset_;
    QAction* resetPreset_ = nullptr;
    QSettings* settings_ = nullptr;  // null: nothing is remembered (no organisation name)
    ExportOptions exportOptions_;
    // Progress of the running step: events seen against the prediction's count.
    QElapsedTimer stepClock_;
    qint64 progressEvents_ = 0, progressTotal_ = 0;
    int blockCount_ = 0;
};

}  // namespace ckptui
