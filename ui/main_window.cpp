// The main window (see main_window.h).
#include "ui/main_window.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QToolBar>
#include <QTreeView>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ckpt/units.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "ui/plan_panel.h"
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
    editor_ = new StackEditor(model_, this);
    timeline_ = new TimelineChart(this);
    timeline_->setObjectName(QStringLiteral("timeline"));
    blockBytes_ = new QCustomPlot(this);
    blockTime_ = new QCustomPlot(this);
    history_ = new QCustomPlot(this);
    comparison_ = new QCustomPlot(this);
    blockBytes_->setObjectName(QStringLiteral("blockBytes"));
    blockTime_->setObjectName(QStringLiteral("blockTime"));
    history_->setObjectName(QStringLiteral("history"));
    comparison_->setObjectName(QStringLiteral("comparison"));
    pareto_ = new QCustomPlot(this);
    plan_ = new PlanPanel(model_, pareto_, this);
    connect(plan_, &PlanPanel::errorOccurred, this, &MainWindow::showError);
    setupBlockBars(blockBytes_, blockTime_);
    setupHistory(history_);
    setupComparison(comparison_);

    tabs_ = new QTabWidget(this);
    tabs_->addTab(chartPage(timeline_), tr("Memory timeline"));
    tabs_->addTab(chartPage(blockBytes_, blockTime_), tr("Per block"));
    tabs_->addTab(chartPage(history_), tr("Step history"));
    tabs_->addTab(chartPage(comparison_), tr("Compare"));
    tabs_->addTab(chartPage(pareto_), tr("Pareto"));
    tabs_->setTabToolTip(4, tr("Planners across budgets: predicted peak against step time. Click a point to apply it."));
    connect(tabs_, &QTabWidget::currentChanged, this, [this](int i) { if (i == 4) plan_->refreshPareto(); });
    tabs_->setTabToolTip(0, tr("Live bytes over one step, stacked by category. Drag to pan, wheel to zoom, hover for details."));
    tabs_->setTabToolTip(1, tr("What each block keeps for backward, what checkpointing avoided, and what recomputing it cost."));
    tabs_->setTabToolTip(2, tr("Peak memory and step time of every step of a continuous run."));
    tabs_->setTabToolTip(3, tr("Pinned runs overlaid on the current one."));
    setCentralWidget(tabs_);

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

    addToolBar(Qt::TopToolBarArea, qobject_cast<QToolBar*>(buildRunBar()));
    buildMenus();
    statusBar()->showMessage(tr("Pick a preset or build a stack, then Run step."));

    connect(model_, &LayerStackModel::specChanged, this, &MainWindow::onSpecChanged);
    connect(controller_, &RunController::stepStarted, this, [this](const ckpt::CategoryBytes& b) { timeline_->beginLive(b); });
    connect(controller_, &RunController::memoryEventsAvailable, timeline_, &TimelineChart::appendLive);
    connect(controller_, &RunController::stepFinished, this, &MainWindow::onStepFinished);
    connect(controller_, &RunController::runFinished, this, &MainWindow::onRunFinished);
    connect(controller_, &RunController::runFailed, this, [this](const QString& e) {
        updateRunning(false);
        showError(tr("Cannot run"), e);
    });
    resize(1500, 900);
    loadPreset(QStringLiteral("deep_residual_mlp"));
    model_->undoStack()->clear();
}

MainWindow::~MainWindow() { controller_->stop(); }

QWidget* MainWindow::chartPage(QCustomPlot* plot, QCustomPlot* second) {
    auto* page = new QWidget(this);
    auto* v = new QVBoxLayout(page);
    v->addWidget(plot, 1);
    if (second) v->addWidget(second, 1);
    auto* row = new QHBoxLayout;
    row->addStretch();
    auto* exp = new QPushButton(tr("Export chart…"), page);
    exp->setToolTip(tr("Save this chart as PNG, PDF or SVG at a size you choose."));
    row->addWidget(exp);
    v->addLayout(row);
    connect(exp, &QPushButton::clicked, this, [this, plot, second] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), QStringLiteral("chart.png"),
                                                          tr("Images (*.png *.pdf *.svg)"));
        if (path.isEmpty()) return;
        bool ok = false;
        const int w = QInputDialog::getInt(this, tr("Export chart"), tr("Width (px)"), 1600, 200, 10000, 100, &ok);
        if (!ok) return;
        const int h = QInputDialog::getInt(this, tr("Export chart"), tr("Height (px)"), 900, 200, 10000, 100, &ok);
        if (!ok) return;
        QString err = exportPlot(plot, path, w, h);
        if (err.isEmpty() && second) {
            const QFileInfo fi(path);
            err = exportPlot(second, fi.path() + "/" + fi.completeBaseName() + "-time." + fi.suffix(), w, h);
        }
        if (!err.isEmpty()) showError(tr("Export failed"), err);
        else statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
    });
    return page;
}

QWidget* MainWindow::buildRunBar() {
    auto* bar = new QToolBar(tr("Run"), this);
    bar->setObjectName(QStringLiteral("runBar"));
    device_ = new QComboBox(bar);
    for (const ckpt::DeviceInfo& d : ckpt::available_devices())
        device_->addItem(QStringLiteral("%1 — %2, %3").arg(QString::fromStdString(d.id()), QString::fromStdString(d.name),
                                                           humanBytes(d.total_bytes)),
                         QString::fromStdString(d.id()));
    device_->setToolTip(tr("Where the steps run: the CPU, or a CUDA GPU when this build has one."));
    batch_ = new QSpinBox(bar);
    batch_->setRange(1, 1 << 20);
    batch_->setToolTip(tr("Batch size: activations grow in proportion to it; parameters do not."));
    seq_ = new QSpinBox(bar);
    seq_->setRange(1, 1 << 20);
    seq_->setToolTip(tr("Sequence length (token models and (batch, sequence, features) inputs). Attention memory grows with its square."));
    optimizer_ = new QComboBox(bar);
    optimizer_->addItems({tr("none"), tr("SGD"), tr("AdamW")});
    optimizer_->setToolTip(tr("The optimizer: AdamW keeps two moments per parameter (2x the parameters' memory)."));
    limit_ = new QLineEdit(bar);
    limit_->setObjectName(QStringLiteral("memoryLimit"));
    limit_->setPlaceholderText(tr("no limit"));
    limit_->setMaximumWidth(110);
    limit_->setToolTip(tr("Device memory limit, e.g. 16GiB: allocations past it fail as out of memory, as on a smaller card."));
    verify_ = new QCheckBox(tr("verify"), bar);
    verify_->setChecked(true);
    verify_->setToolTip(tr("Also run the same stack unchecked, to compare gradients bit for bit and measure the overhead."));
    bar->addWidget(new QLabel(tr(" Device "), bar));
    bar->addWidget(device_);
    bar->addWidget(new QLabel(tr(" Batch "), bar));
    bar->addWidget(batch_);
    bar->addWidget(new QLabel(tr(" Sequence "), bar));
    bar->addWidget(seq_);
    bar->addWidget(new QLabel(tr(" Optimizer "), bar));
    bar->addWidget(optimizer_);
    bar->addWidget(new QLabel(tr(" Memory limit "), bar));
    bar->addWidget(limit_);
    bar->addWidget(verify_);
    bar->addSeparator();
    runStep_ = bar->addAction(tr("Run step"), this, [this] { runSteps(1); });
    runStep_->setToolTip(tr("Run one training step: forward, loss, backward (with recomputation), optimizer."));
    runCont_ = bar->addAction(tr("Run continuously"), this, [this] { runSteps(-1); });
    runCont_->setToolTip(tr("Keep running steps; edits apply at the next step."));
    stop_ = bar->addAction(tr("Stop"), this, [this] { stop(); });
    stop_->setToolTip(tr("Stop after the layer that is running now."));
    stop_->setEnabled(false);
    auto* pin = bar->addAction(tr("Pin run"), this, [this] { pinCurrentRun(); });
    pin->setToolTip(tr("Keep the last step for the Compare tab."));

    connect(batch_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setBatch(v); });
    connect(seq_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setSequence(v); });
    connect(optimizer_, qOverload<int>(&QComboBox::activated), this, [this](int i) { model_->setOptimizer(ckpt::OptimizerType(i)); });
    return bar;
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
    exp->setToolTip(tr("The last step as a JSON report, a CSV memory timeline (one row per allocation or free) or a "
                       "trace for ui.perfetto.dev."));
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = model_->undoStack()->createUndoAction(this);
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = model_->undoStack()->createRedoAction(this);
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    QMenu* presets = menuBar()->addMenu(tr("&Presets"));
    presets->setToolTipsVisible(true);
    for (const QString& name : presetNames()) {
        QAction* a = presets->addAction(name, this, [this, name] { loadPreset(name); });
        Experiment e;
        if (ckptui::loadPreset(name, &e).isEmpty()) a->setToolTip(QString::fromStdString(e.spec.description));
    }
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("What am I looking at?"), QKeySequence::HelpContents, this, [this] {
        if (auto* d = findChild<QDockWidget*>(QStringLiteral("helpDock"))) { d->show(); d->raise(); }
    });
}

Experiment MainWindow::experiment() const {
    Experiment e;
    e.spec = model_->spec();
    e.run = runOptions_;
    e.run.settings.device = device_->currentData().toString().toStdString();
    e.run.verify = verify_->isChecked();
    const QString lim = limit_->text().trimmed();
    const auto bytes = ckpt::parse_bytes(lim.toStdString());
    e.run.settings.memory_limit = !lim.isEmpty() && bytes ? *bytes : 0;  // an empty field means no limit
    return e;
}

void MainWindow::applyRunOptions(const RunOptions& run) {
    runOptions_ = run;
    const QString device = QString::fromStdString(run.settings.device);
    const int d = device_->findData(device);
    if (d >= 0) device_->setCurrentIndex(d);
    else statusBar()->showMessage(tr("Device %1 is not available here; runs use %2.").arg(device, device_->currentText()));
    verify_->setChecked(run.verify);
    // Exact, so saving the experiment again writes the same number: "1536MiB" or plain bytes.
    QString text;
    const qint64 limit = run.settings.memory_limit;
    if (limit > 0) {
        text = QString::number(limit);
        for (auto [unit, name] : {std::pair{qint64(1) << 30, "GiB"}, {qint64(1) << 20, "MiB"}, {qint64(1) << 10, "KiB"}})
            if (limit % unit == 0) {
                text = QString::number(limit / unit) + QLatin1String(name);
                break;
            }
    }
    limit_->setText(text);
}

void MainWindow::syncRunBar() {
    syncing_ = true;
    const ckpt::ModelSpec& s = model_->spec();
    if (!s.input_shape.empty()) batch_->setValue(int(s.input_shape[0]));
    const bool hasSeq = s.token_input() ? s.input_shape.size() >= 2 : s.input_shape.size() >= 3;
    seq_->setEnabled(hasSeq);
    seq_->setValue(hasSeq ? int(s.input_shape[1]) : 1);
    optimizer_->setCurrentIndex(int(s.optimizer.type));
    syncing_ = false;
}

QString MainWindow::openExperiment(const QString& path) {
    Experiment e;
    const QString err = ckptui::loadExperiment(path, &e);
    if (!err.isEmpty()) {
        showError(tr("Cannot open experiment"), err);
        return err;
    }
    model_->setSpec(e.spec, tr("open %1").arg(QFileInfo(path).fileName()));
    history_points_.clear();
    syncRunBar();
    applyRunOptions(e.run);
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
    model_->setSpec(e.spec, tr("preset %1").arg(name));
    history_points_.clear();
    syncRunBar();
    return {};
}

void MainWindow::onSpecChanged(const ckpt::ModelSpec& spec, const QString& error) {
    syncRunBar();
    if (error.isEmpty()) {
        // The prediction for a steady-state step, from the spec alone (no allocation).
        const ckpt::Result<ckpt::StepReport> p = ckpt::predict(spec, 2);
        summary_->setPrediction(p ? &*p : nullptr, p ? QString() : QString::fromStdString(p.error().message));
        timeline_->setPrediction(p ? p->peak_total : -1);
        if (controller_->isRunning()) controller_->updateSpec(spec);
        if (tabs_->currentIndex() == 4) plan_->refreshPareto();
        statusBar()->showMessage(p ? tr("Predicted peak %1").arg(humanBytes(p->peak_total)) : QString());
    } else {
        summary_->setPrediction(nullptr, error);
        timeline_->setPrediction(-1);
        statusBar()->showMessage(error);
    }
}

void MainWindow::runSteps(int steps) {
    if (controller_->isRunning()) return;
    if (!model_->validationError().isEmpty()) {
        showError(tr("Cannot run"), model_->validationError());
        return;
    }
    if (!limit_->text().trimmed().isEmpty() && !ckpt::parse_bytes(limit_->text().trimmed().toStdString())) {
        showError(tr("Cannot run"), tr("memory limit: \"%1\" is not a size such as 16GiB").arg(limit_->text()));
        return;
    }
    if (controller_->start(experiment(), steps)) updateRunning(true);
}

void MainWindow::stop() { controller_->stop(); }

void MainWindow::updateRunning(bool running) {
    runStep_->setEnabled(!running);
    runCont_->setEnabled(!running);
    stop_->setEnabled(running);
    device_->setEnabled(!running);
}

void MainWindow::onStepFinished(const StepResult& r) {
    last_ = r;
    const ckpt::StepReport& rep = *r.report;
    timeline_->setReport(rep);
    showBlockBars(blockBytes_, blockTime_, rep);
    const int ckpt = rep.checkpointed_blocks();
    // The history runs across Run presses (Run step, toggle, Run step...) until another model loads.
    history_points_ << HistoryPoint{int(history_points_.size()) + 1, rep.peak_total, rep.step_ns, ckpt, int(rep.blocks.size())};
    showHistory(history_, history_points_);
    QVector<PinnedRun> runs = pinned_;
    runs << pinnedFrom(rep, tr("current (%1 of %2 checkpointed)").arg(ckpt).arg(rep.blocks.size()));
    showComparison(comparison_, runs);
    if (r.spec.blocks.size() == model_->spec().blocks.size()) model_->setReport(rep);
    summary_->setResult(r);
    help_->setHtml(helpHtml(&r));
    plan_->setMeasured(rep, r.spec);
    if (tabs_->currentIndex() == 4) plan_->refreshPareto();
    statusBar()->showMessage(tr("Step %1: peak %2, %3").arg(r.step).arg(humanBytes(rep.peak_total), humanTime(rep.step_ns)));
    emit resultShown(r);
}

void MainWindow::onRunFinished(const QString& error, bool stopped) {
    updateRunning(false);
    if (stopped) statusBar()->showMessage(tr("Stopped."));
    if (!error.isEmpty()) showError(tr("The run ended"), error);
}

void MainWindow::pinCurrentRun(const QString& name) {
    if (!last_.report) return;
    const int ckpt = last_.report->checkpointed_blocks();
    pinned_ << pinnedFrom(*last_.report, name.isEmpty() ? tr("pinned %1: %2 of %3 checkpointed").arg(pinned_.size() + 1).arg(ckpt).arg(last_.report->blocks.size()) : name);
    showComparison(comparison_, pinned_);
    tabs_->setCurrentIndex(3);
}

QString MainWindow::exportChart(Chart which, const QString& path, int width, int height) {
    QCustomPlot* p = which == Chart::timeline ? static_cast<QCustomPlot*>(timeline_)
                   : which == Chart::blockBytes ? blockBytes_
                   : which == Chart::blockTime ? blockTime_
                   : which == Chart::history ? history_
                   : which == Chart::comparison ? comparison_ : pareto_;
    return exportPlot(p, path, width, height);
}

QString MainWindow::exportRun(const QString& path) {
    if (!last_.report) return tr("nothing to export: run a step first");
    const std::string p = path.toStdString();
    ckpt::Status st;
    if (path.endsWith(QLatin1String(".trace.json"))) st = ckpt::write_trace_json(p, *last_.report);
    else if (path.endsWith(QLatin1String(".csv"))) st = ckpt::write_timeline_csv(p, *last_.report);
    else st = ckpt::write_report_json(p, *last_.report, last_.spec);
    return st ? QString() : QString::fromStdString(st.message());
}

void MainWindow::showError(const QString& title, const QString& message) {
    // Window-modal but not blocking: the experiment stays as it was and the app keeps running.
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorDialog"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    statusBar()->showMessage(message);
}

}  // namespace ckptui
