// The window's menus and shortcuts (see main_window.h): File (new, template, open, open run,
// recent, import config, save, export), Edit, Run (the run bar's actions, with their shortcuts),
// Presets, View (every dock, a layout reset) and Help (the manual, opened at the page of the
// chart or panel F1 was pressed on; the help panel; About with the versions of what the program
// runs on). The export dialogs, the chart files and the PyTorch script (on a worker) are here too.
#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCursor>
#include <QDialogButtonBox>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStatusBar>
#include <QTimer>
#include <QUndoStack>
#include <QtConcurrent/QtConcurrentRun>
#include <qcustomplot.h>

#include "ckpt/build_info.h"
#include "ckpt/printable.h"
#include "ckpt/torch_export.h"
#include "ckpt/writers.h"
#include "ui/chart_tabs.h"
#include "ui/export_dialog.h"
#include "ui/lessons.h"
#include "ui/manual_window.h"
#include "ui/main_window.h"
#include "ui/save_file.h"
#include "ui/plan_panel.h"
#include "ui/properties_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"
#include "ui/summary_panel.h"
#include "ui/template_dialog.h"
#include "ui/timeline_chart.h"

namespace ckptui {

namespace {

// "Run one training step (F5)": a tooltip names its shortcut.
void tipWithShortcut(QAction* a, const QString& tip) {
    a->setToolTip(a->shortcut().isEmpty() ? tip : QStringLiteral("%1 (%2)").arg(tip, a->shortcut().toString(QKeySequence::NativeText)));
}

}  // namespace

QString MainWindow::aboutText() {
    const ckpt::LibraryVersions v = ckpt::library_versions();
    return tr("<h3>CheckpointLab %1</h3>"
              "<p>A laboratory for activation checkpointing: real training steps, every byte accounted for.</p>"
              "<table>"
              "<tr><td>Qt</td><td>%2 (built with %3)</td></tr>"
              "<tr><td>QCustomPlot</td><td>%4</td></tr>"
              "<tr><td>BLAS</td><td>%5</td></tr>"
              "<tr><td>CUDA</td><td>%6</td></tr>"
              "</table>"
              "<p>GPL-3.0-or-later. QCustomPlot is GPL-3.0.</p>")
        .arg(QStringLiteral(CKPT_VERSION), QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR),
             QStringLiteral(QCUSTOMPLOT_VERSION_STR), QString::fromStdString(v.blas).toHtmlEscaped(),
             QString::fromStdString(v.cuda).toHtmlEscaped());
}

void MainWindow::showAbout() {
    auto* box = new QMessageBox(QMessageBox::NoIcon, tr("About CheckpointLab"), aboutText(), QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("aboutDialog"));
    box->setIconPixmap(windowIcon().pixmap(64, 64));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->setToolTipsVisible(true);
    QAction* a = file->addAction(tr("&New"), QKeySequence::New, this, [this] {
        if (!maybeSave()) return;
        ckpt::TemplateKnobs k;
        k.depth = 2;
        k.width = 256;
        k.batch = 32;
        if (auto spec = ckpt::make_template(ckpt::TemplateKind::mlp, k)) newModel(*spec, tr("Untitled"));
    });
    tipWithShortcut(a, tr("A small MLP to build on: add blocks and layers, edit their widths."));
    a = file->addAction(tr("New from &template…"), QKeySequence(tr("Ctrl+Shift+N")), this, &MainWindow::newFromTemplate);
    a->setObjectName(QStringLiteral("newFromTemplate"));
    a->setToolTip(tr("An MLP, a residual MLP, GPT-2, LLaMA or a ResNet, at the depth, width, heads, sequence or image size and batch you choose."));
    file->addSeparator();
    a = file->addAction(tr("&Open…"), QKeySequence::Open, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open experiment"), QFileInfo(currentFile_).path(),
                                                       tr("Experiments and model specs (*.json)"));
        if (!p.isEmpty()) openFile(p, FileKind::experiment);
    });
    tipWithShortcut(a, tr("Open a saved experiment (model spec and run settings) or a bare model spec."));
    a = file->addAction(tr("Open &run…"), QKeySequence(tr("Ctrl+Shift+O")), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open run"), QFileInfo(currentFile_).path(),
                                                       tr("Run reports (*.json)"));
        if (!p.isEmpty()) openFile(p, FileKind::run);
    });
    tipWithShortcut(a, tr("Show a run recorded elsewhere (checkpointlab run --report r.json on a GPU server) with every "
                          "chart, as if it had run here."));
    a = file->addAction(tr("Open PyTorch &snapshot…"), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open PyTorch snapshot"), QFileInfo(currentFile_).path(),
                                                       tr("PyTorch memory snapshots (*.pickle *.pkl);;All files (*)"));
        if (!p.isEmpty()) loader_->load(p, FileKind::torch_snapshot);  // the experiment is kept: nothing to save first
    });
    a->setObjectName(QStringLiteral("openTorchSnapshot"));
    a->setToolTip(tr("What PyTorch measured on your GPU: a CUDA memory snapshot (torch.cuda.memory._dump_snapshot) "
                     "drawn as a memory timeline, in a window of its own. Read without running anything in it."));
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    recentMenu_->setObjectName(QStringLiteral("recentMenu"));
    connect(recentMenu_, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
    a = file->addAction(tr("&Import config…"), this, &MainWindow::importConfig);
    a->setObjectName(QStringLiteral("importConfig"));
    a->setToolTip(tr("A model from a Hugging Face config.json (GPT-2, LLaMA, Mistral, Qwen2) at a batch and sequence."));
    file->addSeparator();
    a = file->addAction(tr("&Save"), QKeySequence::Save, this, [this] { save(); });
    tipWithShortcut(a, tr("Save the layer stack, its checkpoint flags and the run settings to the current file."));
    a = file->addAction(tr("Save &As…"), QKeySequence::SaveAs, this, [this] { saveAs(); });
    tipWithShortcut(a, tr("Save the experiment to a new file."));
    file->addSeparator();
    a = file->addAction(tr("&Export chart…"), QKeySequence(tr("Ctrl+E")), this, &MainWindow::exportChartDialog);
    tipWithShortcut(a, tr("The chart on screen as PNG, PDF or SVG, sized for a paper or a slide."));
    a = file->addAction(tr("Export &all charts…"), QKeySequence(tr("Ctrl+Shift+E")), this, &MainWindow::exportAllDialog);
    tipWithShortcut(a, tr("Every chart into one folder, with the same options."));
    a = file->addAction(tr("Export r&un (report, CSV, trace)…"), this, &MainWindow::exportRunDialog);
    a->setToolTip(tr("The last complete step as a JSON report (File > Open run reads it back), a CSV memory timeline or "
                     "a trace for ui.perfetto.dev."));
    a = file->addAction(tr("Export as &PyTorch script…"), this, &MainWindow::exportTorchDialog);
    a->setObjectName(QStringLiteral("exportTorch"));
    a->setToolTip(tr("The stack and its checkpoint plan as a standalone PyTorch script (torch.utils.checkpoint around each "
                     "checkpointed block) that prints PyTorch's own figures beside CheckpointLab's prediction; for a "
                     "model imported from a config.json, or the few lines that apply the plan to your own Hugging Face model."));
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->setToolTipsVisible(true);
    QAction* undo = model_->undoStack()->createUndoAction(this);
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = model_->undoStack()->createRedoAction(this);
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    for (QAction* e : editor_->editActions()) edit->addAction(e);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->setToolTipsVisible(true);
    for (QAction* r : runBar_->runActions()) run->addAction(r);
    run->addAction(runBar_->layoutAction());
    // How many times each step is timed (the experiment's "repeats"): its times are the median.
    run->addSeparator();
    QMenu* repeats = run->addMenu(tr("Timed repeats per step"));
    repeats->setObjectName(QStringLiteral("repeatsMenu"));
    repeats->setToolTipsVisible(true);
    auto* choice = new QActionGroup(repeats);
    for (int k : {0, 1, 3, 5, 9}) {
        QAction* a = repeats->addAction(k == 0 ? tr("Device default (5 on the CPU, 1 on CUDA)")
                                        : k == 1 ? tr("1 (a single sample)")
                                                 : tr("%1").arg(k));
        a->setCheckable(true);
        a->setData(k);
        a->setToolTip(tr("Each step runs this many times from the same state (one optimizer update, the same gradients "
                         "and memory); its times are the median, shown with their spread."));
        choice->addAction(a);
        connect(a, &QAction::triggered, this, [this, k] {
            runOptions_.settings.repeats = k;
            updateTitle();
        });
    }
    connect(repeats, &QMenu::aboutToShow, this, [this, choice] {
        for (QAction* a : choice->actions()) a->setChecked(a->data().toInt() == runOptions_.settings.repeats);
    });

    // Lessons first, in teaching order, then the other examples.
    QMenu* presets = menuBar()->addMenu(tr("&Presets"));
    presets->setToolTipsVisible(true);
    resetPreset_ = presets->addAction(tr("&Reset to preset"), this, [this] {
        if (const QString err = resetToPreset(); !err.isEmpty()) showError(tr("Cannot reset"), err);
    });
    resetPreset_->setObjectName(QStringLiteral("resetPreset"));
    resetPreset_->setToolTip(tr("Back to the preset as it was loaded: its ticks, shape, optimizer and memory limit (one "
                                "undoable edit)."));
    auto add = [this, presets](const QString& name, const QString& title) {
        QAction* p = presets->addAction(title, this, [this, name] {
            if (maybeSave()) loadPreset(name);
        });
        p->setData(name);
    };
    // The descriptions' figures come from dry runs: made when the menu first opens, not at start-up.
    connect(presets, &QMenu::aboutToShow, this, [presets] {
        for (QAction* p : presets->actions()) {
            if (p->data().toString().isEmpty() || p->toolTip() != p->text()) continue;  // done already
            Experiment e;
            if (ckptui::loadPreset(p->data().toString(), &e).isEmpty()) p->setToolTip(describeModel(e.spec));
        }
    });
    presets->addSection(tr("Lessons"));
    for (const Lesson& l : lessons()) add(l.preset, l.title);
    presets->addSection(tr("Examples"));
    for (const QString& name : presetNames())
        if (!findLesson(name)) add(name, name);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    const QByteArray initial = saveState();
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
    view->addAction(runBar_->toggleViewAction());
    view->addSeparator();
    view->addAction(tr("Reset layout"), this, [this, initial] {
        restoreState(initial);
        for (QDockWidget* d : findChildren<QDockWidget*>()) d->show();
    });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->setToolTipsVisible(true);
    a = help->addAction(tr("&Manual"), QKeySequence::HelpContents, this, [this] {
        showManual(helpUrlFor(QApplication::widgetAt(QCursor::pos()), QApplication::focusWidget()));
    });
    a->setObjectName(QStringLiteral("manualAction"));
    tipWithShortcut(a, tr("The manual, at the page of the chart or panel under the pointer or with the keyboard focus."));
    a = help->addAction(tr("What am I looking at?"), QKeySequence(Qt::SHIFT | Qt::Key_F1), this, [this] {
        if (auto* d = findChild<QDockWidget*>(QStringLiteral("helpDock"))) {
            d->show();
            d->raise();
        }
    });
    tipWithShortcut(a, tr("Activations, checkpointing and recomputation explained with the last run's numbers."));
    help->addAction(tr("&About CheckpointLab"), this, &MainWindow::showAbout);
}

void MainWindow::showManual(const QUrl& at) {
    if (!manual_) {
        manual_ = new ManualWindow(this);
        // A lesson linked from the manual opens here, as Presets › Lessons would.
        connect(manual_, &ManualWindow::presetRequested, this, [this](const QString& name) {
            if (!maybeSave()) return;
            loadPreset(name);
            raise();
            activateWindow();
        });
    }
    manual_->showPage(at.isEmpty() ? manualUrl(manualPages().value(0)) : at);
    manual_->show();
    manual_->raise();
    manual_->activateWindow();
}

QUrl MainWindow::helpUrlFor(const QWidget* pointed, const QWidget* focused) const {
    // "F1 on a chart": the chart under the pointer wins, then what has the keyboard focus.
    if (const QString s = tabs_->manualSection(pointed); !s.isEmpty()) return manualUrl(QStringLiteral("charts.md"), s);
    auto within = [](const QWidget* w, const QWidget* area) { return w && area && (w == area || area->isAncestorOf(w)); };
    for (const QWidget* w : {focused, pointed}) {
        if (const QString s = tabs_->manualSection(w); !s.isEmpty()) return manualUrl(QStringLiteral("charts.md"), s);
        const QString window = QStringLiteral("window.md");
        if (within(w, plan_)) return manualUrl(window, QStringLiteral("budget-and-plan"));
        if (within(w, editor_)) return manualUrl(window, QStringLiteral("layer-stack"));
        if (within(w, properties_)) return manualUrl(window, QStringLiteral("properties"));
        if (within(w, summary_)) return manualUrl(window, QStringLiteral("summary"));
        if (within(w, runBar_)) return manualUrl(window, QStringLiteral("run-bar"));
        if (within(w, help_)) return manualUrl(QStringLiteral("numbers.md"));
    }
    return manualUrl(manualPages().value(0));
}

void MainWindow::fillRecentMenu() {
    recentMenu_->clear();
    for (const QString& path : recent_) {
        recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] {
            if (!QFileInfo(path).isFile()) {
                recent_.removeAll(path);
                showError(tr("Cannot open"), tr("%1 is no longer there.").arg(path));
                return;
            }
            openFile(path, FileKind::any);
        })->setToolTip(path);
    }
    if (recent_.isEmpty()) recentMenu_->addAction(tr("(none yet)"))->setEnabled(false);
}

void MainWindow::newFromTemplate() {
    TemplateDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted || !maybeSave()) return;
    const auto spec = dialog.model();
    if (!spec) {
        showError(tr("Cannot build the template"), QString::fromStdString(spec.error().message));
        return;
    }
    newModel(*spec, dialog.title());
}

void MainWindow::importConfig() {
    const QString p = QFileDialog::getOpenFileName(this, tr("Import config"), QString(), tr("Hugging Face configs (*.json)"));
    if (p.isEmpty()) return;
    // The config has the architecture; the step's shape is the user's: batch and sequence.
    QDialog ask(this);
    ask.setWindowTitle(tr("Import %1").arg(QFileInfo(p).fileName()));
    auto* form = new QFormLayout(&ask);
    auto* batch = new QSpinBox(&ask);
    batch->setRange(1, 1 << 20);
    batch->setValue(8);
    auto* seq = new QSpinBox(&ask);
    seq->setRange(1, 1 << 20);
    seq->setValue(1024);
    form->addRow(tr("Batch (sequences per step)"), batch);
    form->addRow(tr("Sequence (tokens)"), seq);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &ask);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &ask, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &ask, &QDialog::reject);
    if (ask.exec() != QDialog::Accepted) return;
    importConfigFile(p, batch->value(), seq->value());
}

void MainWindow::importConfigFile(const QString& path, qint64 batch, qint64 seq) {
    if (!maybeSave()) {
        emit fileOpened(path, tr("cancelled"));
        return;
    }
    statusBar()->showMessage(tr("Reading %1…").arg(QFileInfo(path).fileName()));
    loader_->load(path, FileKind::config, batch, seq);
}

// ---- chart and run files ----------------------------------------------------------------------

QString MainWindow::exportChart(Chart which, const QString& path, const ExportOptions& options) {
    QCustomPlot* p = which == Chart::timeline ? static_cast<QCustomPlot*>(timeline())
                   : which == Chart::blockBytes ? tabs_->blockBytes()
                   : which == Chart::blockTime ? tabs_->blockTime()
                   : which == Chart::history ? tabs_->history()
                   : which == Chart::comparison ? tabs_->comparison() : tabs_->pareto();
    return exportPlot(p, path, options);
}

QString MainWindow::exportChart(Chart which, const QString& path, int width, int height) {
    ExportOptions o;
    o.widthPx = width;
    o.heightPx = height;
    return exportChart(which, path, o);
}

QStringList MainWindow::chartFileNames(const QString& suffix) {
    QStringList names;
    for (const char* n : {"timeline", "per-block-bytes", "per-block-recomputation", "step-history", "compare", "pareto"})
        names << QStringLiteral("%1.%2").arg(QLatin1String(n), suffix);
    return names;
}

QString MainWindow::exportAllCharts(const QString& dir, const QString& suffix, const ExportOptions& options,
                                    QStringList* written) {
    if (!QFileInfo(dir).isDir()) return tr("%1 is not a folder").arg(dir);
    // The Pareto chart is drawn on demand, on a worker: draw it for this stack first.
    {
        QEventLoop wait;
        connect(plan_, &PlanPanel::paretoDrawn, &wait, &QEventLoop::quit);
        QTimer::singleShot(60000, &wait, &QEventLoop::quit);
        plan_->refreshPareto();
        wait.exec();
    }
    const Chart charts[] = {Chart::timeline, Chart::blockBytes, Chart::blockTime, Chart::history, Chart::comparison, Chart::pareto};
    const QStringList names = chartFileNames(suffix);
    for (int i = 0; i < names.size(); ++i) {
        const QString path = QDir(dir).filePath(names[i]);
        if (const QString err = exportChart(charts[i], path, options); !err.isEmpty()) return err;
        if (written) *written << path;
    }
    return {};
}

void MainWindow::exportChartDialog() {
    const QList<ExportDialog::NamedChart> charts = tabs_->chartsOf(tabs_->currentIndex());
    if (charts.isEmpty()) return;
    const QString base = QStringList{QStringLiteral("timeline"), QStringLiteral("per-block"), QStringLiteral("step-history"),
                                     QStringLiteral("compare"), QStringLiteral("pareto")}
                             .value(tabs_->currentIndex(), QStringLiteral("chart"));
    const QString dir = QFileInfo(currentFile_).isFile() ? QFileInfo(currentFile_).path() : QDir::homePath();
    ExportDialog dialog(charts, exportOptions_, QDir(dir).filePath(base + QStringLiteral(".png")), false, this);
    if (dialog.exec() != QDialog::Accepted) return;
    exportOptions_ = dialog.options();
    const QString path = dialog.path();
    if (QFileInfo::exists(path) &&
        QMessageBox::question(this, tr("Replace file?"), tr("%1 exists. Replace it?").arg(path)) != QMessageBox::Yes)
        return;
    const QString err = exportPlot(dialog.chart(), path, exportOptions_);
    if (!err.isEmpty()) showError(tr("Export failed"), tr("%1\n\nAn existing file was left as it was.").arg(err));
    else statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
}

void MainWindow::exportAllDialog() {
    const QString dir = QFileInfo(currentFile_).isFile() ? QFileInfo(currentFile_).path() : QDir::homePath();
    ExportDialog dialog(tabs_->chartsOf(tabs_->currentIndex()), exportOptions_, dir, true, this);
    if (dialog.exec() != QDialog::Accepted) return;
    exportOptions_ = dialog.options();
    // Never a file replaced silently: name the ones that exist and ask once.
    QStringList existing;
    for (const QString& n : chartFileNames(dialog.suffix()))
        if (QFileInfo::exists(QDir(dialog.path()).filePath(n))) existing << n;
    if (!existing.isEmpty() &&
        QMessageBox::question(this, tr("Replace files?"),
                              tr("%1 already holds %2. Replace them?").arg(dialog.path(), existing.join(QStringLiteral(", ")))) !=
            QMessageBox::Yes)
        return;
    QStringList written;
    const QString err = exportAllCharts(dialog.path(), dialog.suffix(), exportOptions_, &written);
    if (!err.isEmpty()) showError(tr("Export failed"), err);
    else statusBar()->showMessage(tr("Wrote %1 charts to %2").arg(written.size()).arg(dialog.path()), 5000);
}

void MainWindow::exportRunDialog() {
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
}

QString MainWindow::exportRun(const QString& path) {
    if (!shown_.report) return tr("nothing to export: run a step first");
    // Through QSaveFile: a failure leaves the old file whole.
    const ckpt::StepReport& r = *shown_.report;
    const std::string text = path.endsWith(QLatin1String(".trace.json")) ? ckpt::trace_json(r)
                           : path.endsWith(QLatin1String(".csv"))        ? ckpt::timeline_csv(r)
                                                                         : ckpt::report_to_json(r, shown_.spec, shown_.predictedTime.get());
    return saveFileAtomically(path, QByteArray::fromStdString(text));
}

QString MainWindow::hfPlanError() const {
    // The engine's own test (decoder-layer blocks of one family, no selective policy): the text is
    // a few hundred lines of string building, cheap for any stack.
    const auto text = ckpt::hf_plan_script(model_->spec(), ckpt::TorchExportOptions{});
    return text ? QString() : QString::fromStdString(ckpt::printable(text.error().message, 2000));
}

void MainWindow::exportTorchDialog() {
    QString base = QString::fromStdString(model_->spec().name).replace(QLatin1Char(' '), QLatin1Char('_'));
    bool huggingFace = false;
    if (hfPlanError().isEmpty()) {  // a model imported from a config.json: the user may want its plan instead
        QMessageBox box(QMessageBox::Question, tr("Export as PyTorch script"),
                        tr("This stack is a Hugging Face decoder (imported from a config.json). Export a standalone "
                           "script that builds the same model and runs it, or the few lines that apply this plan to "
                           "your own Hugging Face model (apply_plan(model); what checkpointlab export-torch --hf writes)?"),
                        QMessageBox::Cancel, this);
        QPushButton* standalone = box.addButton(tr("Standalone script"), QMessageBox::AcceptRole);
        QPushButton* plan = box.addButton(tr("Plan for my Hugging Face model"), QMessageBox::AcceptRole);
        box.setDefaultButton(plan);
        box.exec();
        if (box.clickedButton() != standalone && box.clickedButton() != plan) return;
        huggingFace = box.clickedButton() == plan;
        if (huggingFace) base += QStringLiteral("_plan");
    }
    const QString dir = currentFile_.isEmpty() ? QDir::homePath() : QFileInfo(currentFile_).path();
    QString p = QFileDialog::getSaveFileName(this, huggingFace ? tr("Export the plan for a Hugging Face model") : tr("Export as PyTorch script"),
                                             QDir(dir).filePath(base + QStringLiteral(".py")), tr("Python script (*.py)"));
    if (p.isEmpty()) return;
    if (!p.endsWith(QLatin1String(".py"))) p += QStringLiteral(".py");
    exportTorchScript(p, huggingFace);
}

void MainWindow::exportTorchScript(const QString& path, bool huggingFace) {
    // A copy of the stack as it is now: editing on while the worker writes changes nothing.
    const ckpt::ModelSpec spec = model_->spec();
    statusBar()->showMessage(tr("Writing %1…").arg(path));
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, path, huggingFace] {
        const QString err = watcher->result();
        watcher->deleteLater();
        if (!err.isEmpty()) showError(tr("Export failed"), err);
        else if (huggingFace)
            statusBar()->showMessage(tr("Wrote %1: import it and call apply_plan(model) on your Hugging Face model").arg(path), 10000);
        else statusBar()->showMessage(tr("Wrote %1 (run it: python3 %1)").arg(path), 10000);
        emit torchScriptExported(path, err);
    });
    watcher->setFuture(QtConcurrent::run([spec, path, huggingFace] {
        ckpt::TorchExportOptions options;
        options.version = CKPT_VERSION;
        if (huggingFace) {
            const ckpt::Status st = ckpt::export_hf_plan(spec, path.toStdString(), options);
            return st ? QString() : QString::fromStdString(ckpt::printable(st.message(), 2000));
        }
        const auto files = ckpt::export_torch(spec, path.toStdString(), options);
        return files ? QString() : QString::fromStdString(ckpt::printable(files.error().message, 2000));
    }));
}

}  // namespace ckptui
