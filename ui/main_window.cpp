// The main window: the stack, its prediction and its steps (see main_window.h; files and
// settings are in main_window_files.cpp, menus in main_window_menus.cpp).
#include "ui/main_window.h"

#include <QAction>
#include <QDockWidget>
#include <QFileInfo>
#include <QMessageBox>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QShowEvent>
#include <QStatusBar>
#include <QTextBrowser>
#include <QTimer>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ckpt/names.h"
#include "ckpt/writers.h"
#include "ui/chart_tabs.h"
#include "ui/depth_chart.h"
#include "ui/lessons.h"
#include "ui/messages.h"
#include "ui/parallel_dialog.h"
#include "ui/plan_panel.h"
#include "ui/properties_panel.h"
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
    qRegisterMetaType<LoadedFile>();
    setWindowIcon(QIcon(QStringLiteral(":/icons/checkpointlab.svg")));
    setAcceptDrops(true);
    setDockOptions(dockOptions() | QMainWindow::AllowTabbedDocks | QMainWindow::AnimatedDocks);
    model_ = new LayerStackModel(this);
    controller_ = new RunController(this);
    predictor_ = new Predictor(this);
    loader_ = new FileLoader(this);
    editor_ = new StackEditor(model_, this);
    properties_ = new PropertiesPanel(model_, editor_, this);
    tabs_ = new ChartTabs(this);
    plan_ = new PlanPanel(model_, tabs_->pareto(), this);
    depth_ = new DepthChart(tabs_->depthMemory(), tabs_->depthRecompute(), this);
    auto error = [this](const QString& title, const QString& message) { showError(title, message); };
    connect(plan_, &PlanPanel::errorOccurred, this, error);
    connect(editor_, &StackEditor::segmentRefused, this, [this](const QString& reason) { showError(tr("Cannot group"), reason); });
    connect(properties_, &PropertiesPanel::segmentsRefused, this, [this](const QString& reason) { showError(tr("Bad segments"), reason); });
    connect(tabs_, &ChartTabs::errorOccurred, this, error);
    connect(tabs_, &ChartTabs::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 5000); });
    connect(tabs_, &ChartTabs::exportRequested, this, &MainWindow::exportChartDialog);
    connect(tabs_, &QTabWidget::currentChanged, this, [this](int i) {
        if (i == ChartTabs::ParetoTab) plan_->refreshPareto();
        if (i == ChartTabs::DepthTab && model_->validationError().isEmpty()) depth_->refresh(model_->spec());
    });
    connect(loader_, &FileLoader::loaded, this, &MainWindow::applyLoaded);
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
        timeline()->setMemoryLimit(limit);
        summary_->setMemoryLimit(limit);
        if (prediction_.ok()) plan_->setSuggestion(prediction_.minimalPeak, prediction_.uncheckedPeak);
    });
    connect(runBar_, &RunBar::deviceChanged, this, [this] {
        if (model_->validationError().isEmpty()) {
            requestPrediction();
        }
        updateContext();
    });
    connect(runBar_, &RunBar::settingsChanged, this, &MainWindow::updateTitle);
    connect(runBar_, &RunBar::layoutRequested, this, &MainWindow::chooseLayout);
    runBar_->setLayout(layout_, rank_);
    connect(model_->undoStack(), &QUndoStack::cleanChanged, this, &MainWindow::updateTitle);
    connect(model_, &LayerStackModel::specChanged, this, &MainWindow::updateTitle);
    progress_ = new QProgressBar(this);
    progress_->setObjectName(QStringLiteral("stepProgress"));
    progress_->setMaximumWidth(420);
    progress_->setMinimumWidth(160);
    progress_->setTextVisible(true);
    progress_->setToolTip(tr("The step under way: its phase and block, and how far it is through the allocations and "
                             "frees the prediction counts for this step."));
    progress_->hide();
    statusBar()->addPermanentWidget(progress_);
    buildMenus();
    statusBar()->showMessage(tr("Pick a preset or build a stack, then Run step."));

    connect(model_, &LayerStackModel::specChanged, this, &MainWindow::onSpecChanged);
    connect(predictor_, &Predictor::predictionAvailable, this, &MainWindow::onPrediction);
    connect(controller_, &RunController::stepStarted, this, [this](const ckpt::CategoryBytes& b) {
        // The next step is under way: the last one's out-of-memory is no longer news.
        if (summary_->hasAlarm()) {
            summary_->setBanner({}, false);
            statusBar()->clearMessage();
        }
        runBar_->showRecorded({});
        timeline()->beginLive(b);
        beginProgress();
    });
    connect(controller_, &RunController::repeatStarted, this, [this](int repeat, int repeats) {
        progress_->setRange(0, repeats);
        progress_->setValue(repeat - 1);
        progress_->setFormat(tr("timing the same step again: repeat %1 of %2").arg(repeat).arg(repeats));
    });
    connect(controller_, &RunController::memoryEventsAvailable, timeline(), &TimelineChart::appendLive);
    connect(controller_, &RunController::memoryEventsAvailable, this, &MainWindow::advanceProgress);
    connect(controller_, &RunController::stepFinished, this, &MainWindow::onStepFinished);
    connect(controller_, &RunController::runFinished, this, &MainWindow::onRunFinished);
    connect(controller_, &RunController::runFailed, this, [this](const QString& e) {
        runBar_->setRunning(false);
        progress_->hide();
        showError(tr("Cannot run"), e);
    });
    resize(1280, 760);
    fitToScreen();
    loadPreset(startupPreset());
    model_->undoStack()->clear();
    markClean();
    restoreSettings();
}

void MainWindow::fitToScreen() {
    // A 1280 x 720 projector (or a laptop's panel and taskbar) is smaller than the window's
    // default size, and remembered geometry may come from a larger screen: keep the whole frame,
    // title bar included, inside the available area, never below the window's minimum.
    QScreen* s = screen();
    if (!s) return;
    const QRect avail = s->availableGeometry();
    const QRect frame = frameGeometry();
    // Before the window is shown the frame is not known yet: leave room for a title bar.
    const QSize decoration = isVisible() ? frame.size() - size() : QSize(0, 32);
    const QSize room = (avail.size() - decoration).expandedTo(minimumSizeHint());
    if (isMaximized() || isFullScreen()) return;
    resize(size().boundedTo(room));
    const QRect now(frame.topLeft(), size() + decoration);
    QPoint at = now.topLeft();
    at.setX(std::clamp(at.x(), avail.left(), std::max(avail.left(), avail.right() + 1 - now.width())));
    at.setY(std::clamp(at.y(), avail.top(), std::max(avail.top(), avail.bottom() + 1 - now.height())));
    if (at != now.topLeft()) move(at);
}

void MainWindow::showEvent(QShowEvent* event) {
    QMainWindow::showEvent(event);
    // Before the first show the frame's size was a guess; now the platform knows it (a window
    // manager may only once the window is mapped: checked again when the event loop runs).
    if (event->spontaneous()) return;
    fitToScreen();
    QTimer::singleShot(0, this, &MainWindow::fitToScreen);
}

MainWindow::~MainWindow() { controller_->stop(); }

TimelineChart* MainWindow::timeline() const { return tabs_->timeline(); }

void MainWindow::buildDocks() {
    // Every panel is a dock that can be closed, floated, moved or tabbed (View menu to bring
    // it back), so a small screen gives the charts the room.
    const auto features = QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetFloatable;
    auto* left = new QDockWidget(tr("Layer stack"), this);
    left->setObjectName(QStringLiteral("stackDock"));
    auto* leftPane = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(leftPane);
    leftLayout->setContentsMargins(4, 4, 4, 4);
    leftLayout->addWidget(editor_, 1);
    leftLayout->addWidget(plan_);
    left->setWidget(leftPane);
    left->setFeatures(features);
    addDockWidget(Qt::LeftDockWidgetArea, left);
    auto* props = new QDockWidget(tr("Properties"), this);
    props->setObjectName(QStringLiteral("propertiesDock"));
    props->setWidget(properties_);
    props->setFeatures(features);
    addDockWidget(Qt::LeftDockWidgetArea, props);
    splitDockWidget(left, props, Qt::Vertical);
    summary_ = new SummaryPanel(this);
    summary_->setMinimumWidth(220);
    auto* right = new QDockWidget(tr("Summary"), this);
    right->setObjectName(QStringLiteral("summaryDock"));
    right->setWidget(summary_);
    right->setFeatures(features);
    addDockWidget(Qt::RightDockWidgetArea, right);
    help_ = new QTextBrowser(this);
    help_->setObjectName(QStringLiteral("help"));
    help_->setHtml(helpHtml(nullptr));
    auto* helpDock = new QDockWidget(tr("What am I looking at?"), this);
    helpDock->setObjectName(QStringLiteral("helpDock"));
    helpDock->setWidget(help_);
    helpDock->setFeatures(features);
    addDockWidget(Qt::RightDockWidgetArea, helpDock);
    tabifyDockWidget(right, helpDock);
    right->raise();
    resizeDocks({left, right}, {400, 330}, Qt::Horizontal);
    resizeDocks({left, props}, {480, 200}, Qt::Vertical);
}

Experiment MainWindow::experiment() const {
    Experiment e;
    e.spec = model_->spec();
    e.run = runBar_->runOptions(runOptions_);
    e.parallel = layout_;
    e.rank = rank_;
    return e;
}

void MainWindow::requestPrediction() {
    const ckpt::RunSettings rs = runBar_->runOptions(runOptions_).settings;
    predictor_->request(model_->sharedSpec(), runBar_->deviceKind(), QString::fromStdString(rs.device), rs.threads, layout_,
                        rank_);
}

void MainWindow::setLayout(const ckpt::ParallelLayout& layout, int rank) {
    layout_ = layout;
    rank_ = rank;
    runBar_->setLayout(layout, rank);
    plan_->setLayout(layout);
    updateTitle();
}

void MainWindow::chooseLayout() {
    ParallelDialog d(model_->spec(), layout_, rank_, this);
    if (d.exec() != QDialog::Accepted || (d.layout() == layout_ && d.rank() == rank_)) return;
    setLayout(d.layout(), d.rank());
    prediction_ = Prediction{};
    updateContext();
    if (model_->validationError().isEmpty()) requestPrediction();
}

void MainWindow::startAfresh() {
    // Another model: its own limit and budget (a lesson or a file sets them after this), no
    // measurement of the one before.
    tabs_->clearHistory();
    controller_->resetSteps();
    shown_ = StepResult{};
    summary_->setResult(shown_, false);
    summary_->setBanner({}, false);
    help_->setHtml(helpHtml(nullptr));
    runBar_->setMemoryLimit(0);
    plan_->resetForModel();
    setLayout({}, 0);  // another model: one device, until its file says otherwise
    runBar_->showRecorded({});
}

void MainWindow::clearStaleAlarm() {
    if (!summary_->hasAlarm() || shownIsCurrent()) return;
    summary_->setBanner({}, false);
    statusBar()->clearMessage();
}

void MainWindow::updateContext() {
    // What every chart is of: the step shown when it is this stack's, else the prediction for
    // the device chosen.
    const bool measured = shownIsCurrent();
    const ckpt::ModelSpec& spec = measured ? shown_.spec : model_->spec();
    QString device = measured ? QString::fromStdString(shown_.report->device) : runBar_->deviceId();
    if (!measured && !layout_.single_device()) device = tr("predicted for %1").arg(ParallelDialog::summary(layout_, rank_));
    else if (!measured) device = tr("predicted for %1").arg(device);
    else if (!shown_.origin.isEmpty()) device = tr("%1, recorded in %2").arg(device, shown_.origin);
    tabs_->setSubtitle(QStringLiteral("%1 · %2 · %3").arg(modelLabel(spec), device, QString::fromUtf8(ckpt::precision_name(spec.precision).data())));
    // An opened run's device and settings stay marked in the run bar while it is on screen.
    if (measured && !shown_.origin.isEmpty() && !controller_->isRunning()) {
        const ckpt::StepReport& r = *shown_.report;
        runBar_->showRecorded(tr("Recorded run (%1): %2, %3%4 — not run here")
                                  .arg(shown_.origin, QString::fromStdString(r.device), QString::fromStdString(r.precision),
                                       r.tf32 ? tr(", TF32") : QString()));
    } else {
        runBar_->showRecorded({});
    }
}

bool MainWindow::shownIsCurrent() const { return shown_.report && shown_.spec == model_->spec(); }

void MainWindow::onSpecChanged(const ckpt::ModelSpec& spec, const QString& error) {
    runBar_->syncFromSpec(spec);
    prediction_ = Prediction{};
    tabs_->setPrediction(nullptr);  // a pinned snapshot waits for the edited stack's prediction
    summary_->setCurrent(shownIsCurrent());
    clearStaleAlarm();
    updateContext();
    if (!error.isEmpty()) {
        summary_->setPrediction(nullptr, error);
        if (!controller_->isRunning()) tabs_->showNothing(error);
        statusBar()->showMessage(error);
        return;
    }
    summary_->setPrediction(nullptr, QString());
    requestPrediction();
    if (controller_->isRunning()) controller_->updateSpec(spec);
    if (tabs_->currentIndex() == ChartTabs::ParetoTab) plan_->refreshPareto();
    if (tabs_->currentIndex() == ChartTabs::DepthTab) depth_->refresh(spec);
}

void MainWindow::onPrediction(const Prediction& p) {
    if (!(p.spec == model_->spec())) return;  // the stack moved on; its own prediction is coming
    if (!(p.layout == layout_) || p.rank != rank_) return;  // so did the layout
    prediction_ = p;
    summary_->setPrediction(&p, p.error);
    tabs_->setPrediction(&p);  // drawn in Compare under a pinned snapshot
    if (!p.ok()) {
        if (!controller_->isRunning()) tabs_->showNothing(p.error);
        return;
    }
    plan_->setSuggestion(p.minimalPeak, p.uncheckedPeak);
    if (p.time) plan_->setThroughput(p.time->throughput);
    // A measured step of this same stack (an undo can lead back to it) is shown rather than the
    // prediction; anything else gives way to the prediction.
    model_->setPredictedTime(p.time.get(), false);  // announced with the report
    if (shownIsCurrent()) {
        model_->setReport(shown_.report->status == ckpt::StepStatus::ok ? *shown_.report : *p.step);
        if (!controller_->isRunning()) tabs_->showStep(shown_);
    } else {
        model_->setReport(*p.step);
        if (!controller_->isRunning()) tabs_->showPrediction(p);
    }
    QString msg = tr("Predicted peak %1").arg(humanBytes(p.step->peak_total));
    if (p.uncheckedPeak > p.step->peak_total) msg += tr("; without checkpointing %1").arg(humanBytes(p.uncheckedPeak));
    if (const qint64 limit = runBar_->memoryLimit(); limit > 0 && p.step->peak_total > limit)
        msg += tr(" — over the %1 memory limit by %2").arg(humanBytes(limit), humanBytes(p.step->peak_total - limit));
    updateContext();
    if (!controller_->isRunning()) statusBar()->showMessage(msg);
    emit predictionShown(p);
}

void MainWindow::runSteps(int steps) {
    if (controller_->isRunning()) return;
    if (!layout_.single_device()) {  // the run bar's actions are off; a script's call lands here
        statusBar()->showMessage(tr("A layout of %1 devices is predicted, not run: set it to one device to run a step.")
                                     .arg(layout_.world()));
        return;
    }
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
    if (controller_->isRunning()) progress_->setFormat(tr("step %1 done").arg(r.step));
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
    else if (r.warmup) timeline()->setTitleNote(tr("warm-up step: %1").arg(r.warmupReason.isEmpty() ? tr("a new session") : r.warmupReason));
    tabs_->addHistory(r, tabs_->historySize() > 0 && !sameStructure(r.spec, historySpec_));
    historySpec_ = r.spec;
    tabs_->setCurrentRun(r);
    if (current && rep.status == ckpt::StepStatus::ok) {
        model_->setPredictedTime(r.predictedTime.get(), false);  // for the tooltips; announced with the report
        model_->setReport(rep);
    }
    summary_->setResult(r, current);
    help_->setHtml(helpHtml(&r));
    plan_->setMeasured(rep, r.spec, r.warmup);
    depth_->setMeasured(rep, r.spec);
    updateContext();
    if (tabs_->currentIndex() == ChartTabs::ParetoTab) plan_->refreshPareto();
    statusBar()->showMessage(unfinished.isEmpty() ? tr("Step %1%2: peak %3, %4")
                                                        .arg(r.step)
                                                        .arg(r.warmup ? tr(" (warm-up)") : QString(), humanBytes(rep.peak_total),
                                                             humanTime(rep.step_ns))
                                                  : tr("Step %1 did not finish: see the summary and the timeline.").arg(r.step));
    emit resultShown(r);
}

void MainWindow::showRecordedRun(const LoadedFile& f) {
    // A step recorded elsewhere, shown as a step run here: the model on screen is its model (the
    // caller loaded it), so the charts, the summary and the Kept column treat it as current.
    StepResult r;
    r.report = ReportPtr(f.run, &f.run->report);  // shares the opened run: no copy of its events
    r.predicted = f.predicted;
    r.step = f.run->report.step;
    r.spec = f.run->spec;
    r.origin = shownText(QFileInfo(f.path).fileName().toStdString());  // a file name is text from outside too
    // The first step of the session that recorded it paid that session's one-off costs: a
    // warm-up there, so a warm-up here (drawn apart, compared with nothing), as it was live.
    r.warmup = f.run->report.status == ckpt::StepStatus::ok && f.run->report.step == 1;
    if (r.warmup) r.warmupReason = tr("the first step of the run recorded in %1").arg(r.origin);
    // The prediction the run's own machine made, if its report carries one (never this machine's).
    if (f.run->has_predicted_time) r.predictedTime = std::make_shared<const ckpt::TimePrediction>(f.run->predicted_time);
    last_ = shown_ = r;
    const ckpt::StepReport& rep = *r.report;
    tabs_->showStep(r);
    tabs_->addHistory(r, false);
    historySpec_ = r.spec;
    tabs_->setCurrentRun(r);
    if (rep.status == ckpt::StepStatus::ok) model_->setReport(rep);
    const QString unfinished = rep.status == ckpt::StepStatus::ok ? QString() : unfinishedText(rep, r.spec, r.step);
    summary_->setBanner(unfinished, !unfinished.isEmpty());
    summary_->setResult(r, true);
    help_->setHtml(helpHtml(&r));
    plan_->setMeasured(rep, r.spec, r.warmup);
    depth_->setMeasured(rep, r.spec);
    updateContext();
    statusBar()->showMessage(tr("Opened %1: step %2 of %3 on %4, peak %5%6")
                                 .arg(r.origin)
                                 .arg(r.step)
                                 .arg(shownText(rep.model_name), shownText(rep.device), humanBytes(rep.peak_total),
                                      rep.has_timeline ? QString() : tr(" (the report carries no timeline)")));
    emit resultShown(r);
}

void MainWindow::beginProgress() {
    // The prediction of this stack counts the step's allocations and frees exactly: the share of
    // them seen so far is how far the step is.
    progressEvents_ = 0;
    progressTotal_ = prediction_.ok() && prediction_.spec == model_->spec() ? qint64(prediction_.step->events.size()) : 0;
    blockCount_ = int(model_->spec().blocks.size());
    stepClock_.start();
    progress_->setRange(0, progressTotal_ > 0 ? 1000 : 0);  // no count yet: a busy bar
    progress_->setValue(0);
    progress_->setFormat(tr("starting the step"));
    progress_->show();
}

void MainWindow::advanceProgress(const QVector<ckpt::MemoryEvent>& events) {
    if (events.isEmpty() || !progress_->isVisible()) return;
    progressEvents_ += events.size();
    const ckpt::MemoryTag& t = events.back().tag;
    QString where = phaseLabel(t.phase);
    if (t.block >= 0) where += tr(" · block %1 of %2").arg(t.block + 1).arg(blockCount_);
    if (progressTotal_ > 0 && progressEvents_ >= progressTotal_ && runBar_->runOptions(runOptions_).verify) {
        progress_->setValue(999);
        progress_->setFormat(tr("step done; running it unchecked to compare"));
        return;
    }
    if (progressTotal_ > 0) {
        const double done = std::min(0.99, double(progressEvents_) / double(progressTotal_));
        progress_->setValue(int(done * 1000));
        where += QStringLiteral(" · %1%").arg(int(done * 100));
        const double elapsed = stepClock_.elapsed() / 1000.0;
        if (elapsed > 1.0 && done > 0.02) where += tr(" · about %1 left").arg(humanTime(qint64(elapsed * (1 - done) / done * 1e9)));
    }
    progress_->setFormat(where);
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
    progress_->hide();
    updateContext();
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

void MainWindow::showError(const QString& title, const QString& message, const QString& status) {
    // Window-modal but not blocking: the experiment stays as it was and the app keeps running.
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorDialog"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    statusBar()->showMessage(status.isEmpty() ? message : status);
}

}  // namespace ckptui
