// The main window (see main_window.h).
#include "ui/main_window.h"

#include <QAction>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTextBrowser>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ckpt/writers.h"
#include "ui/chart_tabs.h"
#include "ui/lessons.h"
#include "ui/messages.h"
#include "ui/plan_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"
#include "ui/style.h"
#include "ui/summary_panel.h"
#include "ui/timeline_chart.h"

// The presets are compiled into this static library; its resources must be registered by hand.
static void initResources() { Q_INIT_RESOURCE(checkpointlab); }

namespace ckptui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    initResources();
    setWindowTitle(tr("CheckpointLab"));
    model_ = new LayerStackModel(this);
    controller_ = new RunController(this);
    predictor_ = new Predictor(this);
    editor_ = new StackEditor(model_, this);
    tabs_ = new ChartTabs(this);
    plan_ = new PlanPanel(model_, tabs_->pareto(), this);
    auto error = [this](const QString& title, const QString& message) { showError(title, message); };
    connect(plan_, &PlanPanel::errorOccurred, this, error);
    connect(tabs_, &ChartTabs::errorOccurred, this, error);
    connect(tabs_, &ChartTabs::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 5000); });
    connect(tabs_, &QTabWidget::currentChanged, this, [this](int i) { if (i == ChartTabs::ParetoTab) plan_->refreshPareto(); });
    setCentralWidget(tabs_);
    buildDocks();

    runBar_ = new RunBar(model_, this);
    addToolBar(Qt::TopToolBarArea, runBar_);
    connect(runBar_, &RunBar::runStepRequested, this, [this] { runSteps(1); });
    connect(runBar_, &RunBar::runContinuouslyRequested, this, [this] { runSteps(-1); });
    connect(runBar_, &RunBar::stopRequested, this, &MainWindow::stop);
    connect(runBar_, &RunBar::pinRequested, this, [this] { pinCurrentRun(); });
    connect(runBar_, &RunBar::memoryLimitChanged, this, [this](qint64 limit) {
        plan_->setMemoryLimit(limit);
        if (prediction_.ok()) plan_->setSuggestion(prediction_.minimalPeak, prediction_.uncheckedPeak);
    });
    connect(runBar_, &RunBar::deviceChanged, this, [this] {
        if (model_->validationError().isEmpty()) predictor_->request(model_->spec(), runBar_->deviceKind());
    });
    buildMenus();
    statusBar()->showMessage(tr("Pick a preset or build a stack, then Run step."));

    connect(model_, &LayerStackModel::specChanged, this, &MainWindow::onSpecChanged);
    connect(predictor_, &Predictor::predictionAvailable, this, &MainWindow::onPrediction);
    connect(controller_, &RunController::stepStarted, this, [this](const ckpt::CategoryBytes& b) { timeline()->beginLive(b); });
    connect(controller_, &RunController::memoryEventsAvailable, timeline(), &TimelineChart::appendLive);
    connect(controller_, &RunController::stepFinished, this, &MainWindow::onStepFinished);
    connect(controller_, &RunController::runFinished, this, &MainWindow::onRunFinished);
    connect(controller_, &RunController::runFailed, this, [this](const QString& e) {
        runBar_->setRunning(false);
        showError(tr("Cannot run"), e);
    });
    resize(1500, 900);
    loadPreset(startupPreset());
    model_->undoStack()->clear();
}

MainWindow::~MainWindow() { controller_->stop(); }

TimelineChart* MainWindow::timeline() const { return tabs_->timeline(); }

void MainWindow::buildDocks() {
    auto* left = new QDockWidget(tr("Layer stack"), this);
    left->setObjectName(QStringLiteral("stackDock"));
    auto* leftPane = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(leftPane);
    leftLayout->setContentsMargins(4, 4, 4, 4);
    leftLayout->addWidget(editor_, 1);
    leftLayout->addWidget(plan_);
    left->setWidget(leftPane);
    left->setFeatures(QDockWidget::DockWidgetMovable);
    addDockWidget(Qt::LeftDockWidgetArea, left);
    summary_ = new SummaryPanel(this);
    summary_->setMinimumWidth(360);
    auto* right = new QDockWidget(tr("Summary"), this);
    right->setObjectName(QStringLiteral("summaryDock"));
    right->setWidget(summary_);
    right->setFeatures(QDockWidget::DockWidgetMovable);
    addDockWidget(Qt::RightDockWidgetArea, right);
    help_ = new QTextBrowser(this);
    help_->setHtml(helpHtml(nullptr));
    auto* helpDock = new QDockWidget(tr("What am I looking at?"), this);
    helpDock->setObjectName(QStringLiteral("helpDock"));
    helpDock->setWidget(help_);
    addDockWidget(Qt::RightDockWidgetArea, helpDock);
    tabifyDockWidget(right, helpDock);
    right->raise();
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->setToolTipsVisible(true);
    QAction* open = file->addAction(tr("&Open experiment…"), QKeySequence::Open, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open experiment"), {}, tr("Experiments (*.json)"));
        if (!p.isEmpty()) openExperiment(p);
    });
    open->setToolTip(tr("Open a saved experiment (model spec and run settings) or a bare model spec."));
    QAction* save = file->addAction(tr("&Save experiment…"), QKeySequence::Save, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Save experiment"), QStringLiteral("experiment.json"), tr("Experiments (*.json)"));
        if (!p.isEmpty()) saveExperiment(p);
    });
    save->setToolTip(tr("Save the layer stack, its checkpoint flags and the run settings as one JSON file."));
    QAction* exp = file->addAction(tr("Export run (report, CSV, trace)…"), this, [this] {
        const QStringList filters{tr("Report (*.json)"), tr("Timeline (*.csv)"), tr("Perfetto trace (*.trace.json)")};
        QString chosen;
        QString p = QFileDialog::getSaveFileName(this, tr("Export run"), QStringLiteral("run.json"), filters.join(QStringLiteral(";;")), &chosen);
        if (p.isEmpty()) return;
        // The chosen filter decides the format when the name does not.
        if (chosen == filters[1] && !p.endsWith(QLatin1String(".csv"))) p += QStringLiteral(".csv");
        if (chosen == filters[2] && !p.endsWith(QLatin1String(".trace.json")))
            p = (p.endsWith(QLatin1String(".json")) ? p.chopped(5) : p) + QStringLiteral(".trace.json");
        const QString err = exportRun(p);
        if (!err.isEmpty()) showError(tr("Export failed"), err);
        else statusBar()->showMessage(tr("Wrote %1").arg(p), 5000);
    });
    exp->setToolTip(tr("The last complete step as a JSON report, a CSV memory timeline (one row per allocation or free) "
                       "or a trace for ui.perfetto.dev."));
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = model_->undoStack()->createUndoAction(this);
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = model_->undoStack()->createRedoAction(this);
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    // Lessons first, in teaching order, then the other examples.
    QMenu* presets = menuBar()->addMenu(tr("&Presets"));
    presets->setToolTipsVisible(true);
    auto add = [this, presets](const QString& name, const QString& title) {
        QAction* a = presets->addAction(title, this, [this, name] { loadPreset(name); });
        Experiment e;
        if (ckptui::loadPreset(name, &e).isEmpty()) a->setToolTip(QString::fromStdString(e.spec.description));
    };
    presets->addSection(tr("Lessons"));
    for (const Lesson& l : lessons()) add(l.preset, l.title);
    presets->addSection(tr("Examples"));
    for (const QString& name : presetNames())
        if (!findLesson(name)) add(name, name);
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("What am I looking at?"), QKeySequence::HelpContents, this, [this] {
        if (auto* d = findChild<QDockWidget*>(QStringLiteral("helpDock"))) { d->show(); d->raise(); }
    });
}

Experiment MainWindow::experiment() const {
    Experiment e;
    e.spec = model_->spec();
    e.run = runBar_->runOptions(runOptions_);
    return e;
}

void MainWindow::startAfresh() {
    tabs_->clearHistory();
    controller_->resetSteps();
    shown_ = StepResult{};
    summary_->setResult(shown_, false);
    summary_->setBanner({}, false);
    help_->setHtml(helpHtml(nullptr));
}

QString MainWindow::openExperiment(const QString& path) {
    Experiment e;
    const QString err = ckptui::loadExperiment(path, &e);
    if (!err.isEmpty()) {
        showError(tr("Cannot open experiment"), err);
        return err;
    }
    startAfresh();
    model_->setSpec(e.spec, tr("open %1").arg(QFileInfo(path).fileName()));
    runOptions_ = e.run;
    lessonLimit_ = 0;
    if (const QString warning = runBar_->applyRunOptions(e.run); !warning.isEmpty()) statusBar()->showMessage(warning);
    return {};
}

QString MainWindow::saveExperiment(const QString& path) {
    const QString err = ckptui::saveExperiment(path, experiment());
    if (!err.isEmpty()) showError(tr("Cannot save experiment"), err);
    return err;
}

QString MainWindow::loadPreset(const QString& name) {
    Experiment e;
    const QString err = ckptui::loadPreset(name, &e);
    if (!err.isEmpty()) {
        showError(tr("Cannot load preset"), err);
        return err;
    }
    startAfresh();
    model_->setSpec(e.spec, tr("preset %1").arg(name));
    // A lesson about a memory limit sets it; the next preset takes away only a limit a lesson set.
    const Lesson* lesson = findLesson(name);
    const qint64 limit = lesson ? lesson->memoryLimit : 0;
    if (limit > 0 || (lessonLimit_ > 0 && runBar_->memoryLimit() == lessonLimit_)) runBar_->setMemoryLimit(limit);
    lessonLimit_ = limit;
    return {};
}

bool MainWindow::shownIsCurrent() const { return shown_.report && shown_.spec == model_->spec(); }

void MainWindow::onSpecChanged(const ckpt::ModelSpec& spec, const QString& error) {
    runBar_->syncFromSpec(spec);
    prediction_ = Prediction{};
    summary_->setCurrent(shownIsCurrent());
    if (!error.isEmpty()) {
        summary_->setPrediction(nullptr, error);
        if (!controller_->isRunning()) tabs_->showNothing(error);
        statusBar()->showMessage(error);
        return;
    }
    summary_->setPrediction(nullptr, QString());
    predictor_->request(spec, runBar_->deviceKind());
    if (controller_->isRunning()) controller_->updateSpec(spec);
    if (tabs_->currentIndex() == ChartTabs::ParetoTab) plan_->refreshPareto();
}

void MainWindow::onPrediction(const Prediction& p) {
    if (!(p.spec == model_->spec())) return;  // the stack moved on; its own prediction is coming
    prediction_ = p;
    summary_->setPrediction(&p, p.error);
    if (!p.ok()) {
        if (!controller_->isRunning()) tabs_->showNothing(p.error);
        return;
    }
    plan_->setSuggestion(p.minimalPeak, p.uncheckedPeak);
    // A measured step of this same stack (an undo can lead back to it) is shown rather than the
    // prediction; anything else gives way to the prediction.
    if (shownIsCurrent()) {
        model_->setReport(shown_.report->status == ckpt::StepStatus::ok ? *shown_.report : *p.step);
        if (!controller_->isRunning()) tabs_->showStep(shown_);
    } else {
        model_->setReport(*p.step);
        if (!controller_->isRunning()) tabs_->showPrediction(p);
    }
    QString msg = tr("Predicted peak %1").arg(humanBytes(p.step->peak_total));
    if (p.uncheckedPeak > p.step->peak_total) msg += tr("; without checkpointing %1").arg(humanBytes(p.uncheckedPeak));
    if (!controller_->isRunning()) statusBar()->showMessage(msg);
    emit predictionShown(p);
}

void MainWindow::runSteps(int steps) {
    if (controller_->isRunning()) return;
    if (!model_->validationError().isEmpty()) {
        showError(tr("Cannot run"), model_->validationError());
        return;
    }
    if (const QString err = runBar_->limitError(); !err.isEmpty()) {
        showError(tr("Cannot run"), err);
        return;
    }
    if (controller_->start(experiment(), steps)) runBar_->setRunning(true);
}

void MainWindow::stop() { controller_->stop(); }

void MainWindow::onStepFinished(const StepResult& r) {
    last_ = r;
    const ckpt::StepReport& rep = *r.report;
    if (rep.status == ckpt::StepStatus::stopped) {
        onStopped(r);
        emit resultShown(r);
        return;
    }
    shown_ = r;
    const bool current = r.spec == model_->spec();
    const QString unfinished = unfinishedText(rep, r.spec, r.step);
    summary_->setBanner(unfinished, !unfinished.isEmpty());
    tabs_->showStep(r);
    if (!current) timeline()->setTitleNote(tr("of the stack before your edits"));
    else if (r.warmup) timeline()->setTitleNote(tr("warm-up step (first of this session)"));
    tabs_->addHistory(r, tabs_->historySize() > 0 && !sameStructure(r.spec, historySpec_));
    historySpec_ = r.spec;
    tabs_->setCurrentRun(r);
    if (current && rep.status == ckpt::StepStatus::ok) model_->setReport(rep);
    summary_->setResult(r, current);
    help_->setHtml(helpHtml(&r));
    plan_->setMeasured(rep, r.spec, r.warmup);
    if (tabs_->currentIndex() == ChartTabs::ParetoTab) plan_->refreshPareto();
    statusBar()->showMessage(unfinished.isEmpty() ? tr("Step %1%2: peak %3, %4")
                                                        .arg(r.step)
                                                        .arg(r.warmup ? tr(" (warm-up)") : QString(), humanBytes(rep.peak_total),
                                                             humanTime(rep.step_ns))
                                                  : tr("Step %1 did not finish: see the summary and the timeline.").arg(r.step));
    emit resultShown(r);
}

void MainWindow::onStopped(const StepResult& r) {
    // The stopped step is no result: the last complete one stays, and a line says where it stopped.
    const QString where = stoppedText(*r.report, r.spec, r.step);
    if (shown_.report) {
        tabs_->showStep(shown_);
        timeline()->setTitleNote(tr("step %1 was stopped").arg(r.step));
        summary_->setBanner(where + tr(" The charts show step %1, the last complete one.").arg(shown_.step), false);
    } else {
        timeline()->setReport(*r.report);
        timeline()->setTitleNote(tr("stopped before the end: no step has completed yet"));
        summary_->setBanner(where + tr(" No step has completed yet."), false);
    }
    statusBar()->showMessage(where);
}

void MainWindow::onRunFinished(const QString& error, bool stopped) {
    runBar_->setRunning(false);
    // The stack was edited while the last steps ran: show what the stack on screen will do.
    if (!shownIsCurrent() && prediction_.ok() && !stopped) tabs_->showPrediction(prediction_);
    // Stopped between two steps: nothing was cut short.
    if (stopped && (!last_.report || last_.report->status != ckpt::StepStatus::stopped))
        statusBar()->showMessage(shown_.report ? tr("Stopped after step %1.").arg(shown_.step) : tr("Stopped."));
    if (error.isEmpty()) return;
    // One dialog, in human units, saying where it struck (the summary and the timeline mark it too).
    const QString brief = tr("Step %1 did not finish: see the summary and the timeline.").arg(last_.step);
    if (last_.report && last_.report->status == ckpt::StepStatus::out_of_memory)
        showError(tr("Out of memory"), unfinishedText(*last_.report, last_.spec, last_.step), brief);
    else if (last_.report && last_.report->status == ckpt::StepStatus::failed)
        showError(tr("The step failed"), unfinishedText(*last_.report, last_.spec, last_.step), brief);
    else
        showError(tr("The run ended"), error);
}

void MainWindow::pinCurrentRun(const QString& name) {
    if (!shown_.report || shown_.report->status != ckpt::StepStatus::ok) return;
    tabs_->pin(shown_, name);
    tabs_->setCurrentIndex(ChartTabs::CompareTab);
}

QString MainWindow::exportChart(Chart which, const QString& path, int width, int height) {
    QCustomPlot* p = which == Chart::timeline ? static_cast<QCustomPlot*>(timeline())
                   : which == Chart::blockBytes ? tabs_->blockBytes()
                   : which == Chart::blockTime ? tabs_->blockTime()
                   : which == Chart::history ? tabs_->history()
                   : which == Chart::comparison ? tabs_->comparison() : tabs_->pareto();
    return exportPlot(p, path, width, height);
}

QString MainWindow::exportRun(const QString& path) {
    if (!shown_.report) return tr("nothing to export: run a step first");
    const std::string p = path.toStdString();
    ckpt::Status st;
    if (path.endsWith(QLatin1String(".trace.json"))) st = ckpt::write_trace_json(p, *shown_.report);
    else if (path.endsWith(QLatin1String(".csv"))) st = ckpt::write_timeline_csv(p, *shown_.report);
    else st = ckpt::write_report_json(p, *shown_.report, shown_.spec);
    return st ? QString() : QString::fromStdString(st.message());
}

void MainWindow::showError(const QString& title, const QString& message, const QString& status) {
    // Window-modal but not blocking: the experiment stays as it was and the app keeps running.
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorDialog"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    statusBar()->showMessage(status.isEmpty() ? message : status);
}

}  // namespace ckptui
