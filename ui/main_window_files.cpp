// The window as a document (see main_window.h): the current file and its title with a modified
// mark, opening (at once for scripts and tests, on a worker for the menus, drops and the command
// line), saving (through the engine's atomic writer: a failed save keeps the old file and says
// why), the unsaved-changes prompt, recent files, and the settings remembered between sessions.
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <algorithm>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QUndoStack>

#include "ui/chart_tabs.h"
#include "ui/lessons.h"
#include "ui/main_window.h"
#include "ui/run_bar.h"
#include "ui/messages.h"
#include "ui/style.h"
#include "ui/stack_model.h"
#include "ui/summary_panel.h"

namespace ckptui {

namespace {

constexpr int kRecentFiles = 8;

// What a drop opens: JSON files (by their content) and PyTorch snapshots (.pickle, .pkl).
bool isOpenableFile(const QUrl& url) {
    const QString f = url.toLocalFile();
    return url.isLocalFile() && (f.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) || f.endsWith(QLatin1String(".pickle")) ||
                                 f.endsWith(QLatin1String(".pkl")));
}

}  // namespace

// ---- opening --------------------------------------------------------------------------------

QString MainWindow::openExperiment(const QString& path) {
    LoadedFile f = loadFile(path, FileKind::experiment);
    if (!f.ok()) {
        showError(tr("Cannot open experiment"), f.error);
        return f.error;
    }
    applyLoaded(f);
    return {};
}

QString MainWindow::openRun(const QString& path) {
    LoadedFile f = loadFile(path, FileKind::run);
    if (!f.ok()) {
        showError(tr("Cannot open run"), f.error);
        return f.error;
    }
    applyLoaded(f);
    return {};
}

QString MainWindow::openTorchSnapshot(const QString& path) {
    const LoadedFile f = loadFile(path, FileKind::torch_snapshot);
    applyLoaded(f);
    return f.error;
}

void MainWindow::showSnapshot(const LoadedFile& f) {
    // A window per snapshot, beside the main one: the model and its runs stay as they were.
    snapshotWindow_ = new SnapshotWindow(f.snapshot, f.path, this);
    connect(snapshotWindow_, &SnapshotWindow::compareRequested, this,
            [this, snapshot = f.snapshot, path = f.path] { compareSnapshot(snapshot, path); });
    snapshotWindow_->show();
    statusBar()->showMessage(tr("Opened PyTorch snapshot %1: peak %2 allocated, %3 reserved")
                                 .arg(shownText(QFileInfo(f.path).fileName().toStdString()),
                                      humanBytes(f.snapshot->report.peak_total), humanBytes(f.snapshot->reserved_peak)),
                             5000);
}

QString MainWindow::compareSnapshot(const std::shared_ptr<const ckpt::TorchSnapshot>& snapshot, const QString& path) {
    if (!prediction_.ok()) {
        const QString why = prediction_.error.isEmpty()
                                ? tr("the stack on screen has no prediction yet: wait for it, then compare again")
                                : tr("the stack on screen cannot be predicted: %1").arg(prediction_.error);
        showError(tr("Cannot compare with the prediction"), why);
        return why;
    }
    tabs_->pinSnapshot(*snapshot, shownText(QFileInfo(path).fileName().toStdString()));
    tabs_->setCurrentIndex(ChartTabs::CompareTab);
    raise();
    activateWindow();
    statusBar()->showMessage(tr("PyTorch snapshot %1 pinned in Compare over the predicted step: peak %2 against %3")
                                 .arg(shownText(QFileInfo(path).fileName().toStdString()), humanBytes(snapshot->report.peak_total),
                                      humanBytes(prediction_.step->peak_total)),
                             8000);
    return {};
}

void MainWindow::openFile(const QString& path, FileKind kind) {
    if (!maybeSave()) {
        emit fileOpened(path, tr("cancelled"));
        return;
    }
    statusBar()->showMessage(tr("Reading %1…").arg(QFileInfo(path).fileName()));
    loader_->load(path, kind);
}

void MainWindow::applyLoaded(const LoadedFile& f) {
    if (!f.ok()) {
        showError(f.kind == FileKind::run              ? tr("Cannot open run")
                  : f.kind == FileKind::torch_snapshot ? tr("Cannot open PyTorch snapshot")
                                                       : tr("Cannot open file"),
                  f.error);
        emit fileOpened(f.path, f.error);
        return;
    }
    if (f.kind == FileKind::torch_snapshot) {
        showSnapshot(f);
        emit fileOpened(f.path, QString());
        return;
    }
    const QString name = QFileInfo(f.path).fileName();
    if (f.kind == FileKind::run) {
        startAfresh();
        model_->setSpec(f.experiment.spec, tr("open run %1").arg(name));
        // The run's own settings where the report has them: its device when this machine has
        // it, the limit it ran out of memory against.
        runBar_->selectDevice(QString::fromStdString(f.run->report.device).section(QLatin1Char(' '), 0, 0));
        if (f.run->report.status == ckpt::StepStatus::out_of_memory && !f.run->report.oom.device)
            runBar_->setMemoryLimit(f.run->report.oom.limit);
        setCurrentFile({}, tr("%1 (recorded run)").arg(name));
        markClean();
        showRecordedRun(f);
        addRecent(f.path);
    } else if (f.kind == FileKind::config) {
        newModel(f.experiment.spec, tr("%1 (imported)").arg(QString::fromStdString(f.experiment.spec.name)));
        statusBar()->showMessage(tr("Imported %1").arg(f.path), 5000);
    } else {
        applyExperiment(f.experiment, f.path, tr("open %1").arg(name));
        statusBar()->showMessage(tr("Opened %1").arg(f.path), 5000);
    }
    emit fileOpened(f.path, QString());
}

void MainWindow::applyExperiment(const Experiment& e, const QString& path, const QString& what) {
    startAfresh();
    runOptions_ = e.run;  // first: the new spec's prediction is timed with its threads, for its layout
    setLayout(e.parallel, e.rank);
    model_->setSpec(e.spec, what);
    if (const QString warning = runBar_->applyRunOptions(e.run); !warning.isEmpty()) statusBar()->showMessage(warning);
    setCurrentFile(path, QFileInfo(path).fileName());
    markClean();
    addRecent(path);
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
    // The limit belongs to the model: a lesson about one sets it, any other preset has none.
    const Lesson* lesson = findLesson(name);
    runBar_->setMemoryLimit(lesson ? lesson->memoryLimit : 0);
    lastPreset_ = name;
    setCurrentFile({}, tr("%1 (preset)").arg(name));
    markClean();
    return {};
}

QString MainWindow::resetToPreset() {
    if (lastPreset_.isEmpty() || !currentFile_.isEmpty()) return tr("the experiment on screen is not a preset");
    Experiment e;
    if (const QString err = ckptui::loadPreset(lastPreset_, &e); !err.isEmpty()) return err;
    // One undoable edit back to the preset as loaded (undo returns to the edits).
    model_->setSpec(e.spec, tr("reset to preset %1").arg(lastPreset_));
    const Lesson* lesson = findLesson(lastPreset_);
    runBar_->setMemoryLimit(lesson ? lesson->memoryLimit : 0);
    updateTitle();
    return {};
}

void MainWindow::newModel(const ckpt::ModelSpec& spec, const QString& title) {
    startAfresh();
    model_->setSpec(spec, tr("new %1").arg(title));
    setCurrentFile({}, title);
    markClean();
}

QString MainWindow::fileArgument(const QStringList& arguments) {
    // `checkpointlab FILE`: one argument that is not an option names the file to open.
    if (arguments.size() != 2 || arguments[1].startsWith(QLatin1Char('-'))) return {};
    return arguments[1];
}

void MainWindow::openArguments(const QStringList& arguments) {
    const QString file = fileArgument(arguments);
    if (file.isEmpty()) return;
    // Nothing to lose yet at start-up: no prompt.
    statusBar()->showMessage(tr("Reading %1…").arg(QFileInfo(file).fileName()));
    loader_->load(QFileInfo(file).absoluteFilePath(), FileKind::any);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && isOpenableFile(urls.first())) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() != 1 || !isOpenableFile(urls.first())) return;
    event->acceptProposedAction();
    // After the drop has returned: the prompt must not run inside the drag's event.
    const QString path = urls.first().toLocalFile();
    QMetaObject::invokeMethod(this, [this, path] { openFile(path, FileKind::any); }, Qt::QueuedConnection);
}

// ---- saving -----------------------------------------------------------------------------------

QString MainWindow::saveExperiment(const QString& path) {
    const Experiment e = experiment();
    const QString err = ckptui::saveExperiment(path, e);
    if (!err.isEmpty()) {
        showError(tr("Cannot save experiment"), tr("%1\n\nThe file on disk was left as it was.").arg(err));
        return err;
    }
    runOptions_ = e.run;
    setCurrentFile(path, QFileInfo(path).fileName());
    markClean();
    addRecent(path);
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    return {};
}

bool MainWindow::save() {
    if (currentFile_.isEmpty()) return saveAs();
    return saveExperiment(currentFile_).isEmpty();
}

bool MainWindow::saveAs() {
    const QString start = currentFile_.isEmpty()
                              ? QDir::home().filePath(QString::fromStdString(model_->spec().name).replace(QLatin1Char(' '), QLatin1Char('_')) +
                                                      QStringLiteral(".json"))
                              : currentFile_;
    QString p = QFileDialog::getSaveFileName(this, tr("Save experiment as"), start, tr("Experiments (*.json)"));
    if (p.isEmpty()) return false;
    if (!p.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) p += QStringLiteral(".json");
    return saveExperiment(p).isEmpty();
}

bool MainWindow::isModified() const {
    // By content, not by the undo stack's position: an undo (or Reset to preset) back to what was
    // loaded or saved is no change to ask about.
    return !(model_->spec() == savedSpec_) || !(runBar_->runOptions(runOptions_) == savedRun_) ||
           !(layout_ == savedLayout_) || rank_ != savedRank_;
}

void MainWindow::markClean() {
    model_->undoStack()->setClean();
    savedSpec_ = model_->spec();
    savedRun_ = runBar_->runOptions(runOptions_);
    savedLayout_ = layout_;
    savedRank_ = rank_;
    updateTitle();
}

bool MainWindow::maybeSave() {
    if (!isModified()) return true;
    QMessageBox box(QMessageBox::Warning, tr("Unsaved changes"),
                    tr("%1 has changes that are not saved.").arg(title_.isEmpty() ? tr("The experiment") : title_),
                    QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
    box.setObjectName(QStringLiteral("unsavedPrompt"));
    box.setInformativeText(tr("Save them first?"));
    box.setDefaultButton(QMessageBox::Save);
    switch (box.exec()) {
    case QMessageBox::Save: return save();
    case QMessageBox::Discard: return true;
    default: return false;
    }
}

void MainWindow::setCurrentFile(const QString& path, const QString& title) {
    currentFile_ = path;
    title_ = title;
    updateTitle();
}

void MainWindow::updateTitle() {
    if (resetPreset_) resetPreset_->setEnabled(!lastPreset_.isEmpty() && currentFile_.isEmpty() && title_.endsWith(tr("(preset)")));
    setWindowModified(isModified());
    setWindowTitle(tr("%1[*] — CheckpointLab").arg(title_.isEmpty() ? tr("Untitled") : title_));
}

void MainWindow::addRecent(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    recent_.removeAll(abs);
    recent_.prepend(abs);
    while (recent_.size() > kRecentFiles) recent_.removeLast();
    if (settings_) settings_->setValue(QStringLiteral("recentFiles"), recent_);
}

// ---- closing and settings ---------------------------------------------------------------------

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!maybeSave()) {
        event->ignore();
        return;
    }
    saveSettings();
    controller_->stop();
    event->accept();
}

void MainWindow::restoreSettings() {
    // Only an application with an organisation name remembers anything (gui_main sets one); the
    // tests that want settings point QSettings at a temporary folder.
    if (QCoreApplication::organizationName().isEmpty()) return;
    settings_ = new QSettings(this);
    QSettings& s = *settings_;
    recent_ = s.value(QStringLiteral("recentFiles")).toStringList();
    restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    fitToScreen();  // remembered on a larger screen, or another one
    ExportOptions& o = exportOptions_;
    o.widthPx = s.value(QStringLiteral("export/width"), o.widthPx).toInt();
    o.heightPx = s.value(QStringLiteral("export/height"), o.heightPx).toInt();
    o.dpi = s.value(QStringLiteral("export/dpi"), o.dpi).toDouble();
    o.fontScale = s.value(QStringLiteral("export/fontScale"), o.fontScale).toDouble();
    o.title = s.value(QStringLiteral("export/title"), o.title).toBool();
    // What was open: the last file (on the worker, like any open), else the last preset.
    const QString file = s.value(QStringLiteral("lastFile")).toString();
    const QString preset = s.value(QStringLiteral("lastPreset")).toString();
    if (!preset.isEmpty() && preset != lastPreset_ && presetNames().contains(preset)) loadPreset(preset);
    // The run settings as the user left them (a file opened below brings its own). Not the memory
    // limit: it belongs to the model (the preset's, the file's), and a lesson's 10 MiB must not
    // make the next session's model run out of memory.
    RunOptions run = runBar_->runOptions(runOptions_);
    run.settings.device = s.value(QStringLiteral("run/device"), QString::fromStdString(run.settings.device)).toString().toStdString();
    run.settings.threads = s.value(QStringLiteral("run/threads"), run.settings.threads).toInt();
    run.settings.repeats = std::clamp(s.value(QStringLiteral("run/repeats"), run.settings.repeats).toInt(), 0, ckpt::kMaxRepeats);
    run.verify = s.value(QStringLiteral("run/verify"), run.verify).toBool();
    runOptions_ = run;
    runBar_->applyRunOptions(run);
    markClean();
    if (!file.isEmpty() && QFileInfo(file).isFile()) loader_->load(file, FileKind::any);
}

void MainWindow::saveSettings() {
    if (!settings_) return;
    QSettings& s = *settings_;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("lastFile"), currentFile_);
    s.setValue(QStringLiteral("lastPreset"), currentFile_.isEmpty() ? lastPreset_ : QString());
    const RunOptions run = runBar_->runOptions(runOptions_);
    s.setValue(QStringLiteral("run/device"), QString::fromStdString(run.settings.device));
    s.remove(QStringLiteral("run/memoryLimit"));  // written by earlier versions
    s.setValue(QStringLiteral("run/threads"), run.settings.threads);
    s.setValue(QStringLiteral("run/repeats"), run.settings.repeats);
    s.setValue(QStringLiteral("run/verify"), run.verify);
    s.setValue(QStringLiteral("recentFiles"), recent_);
    s.setValue(QStringLiteral("export/width"), exportOptions_.widthPx);
    s.setValue(QStringLiteral("export/height"), exportOptions_.heightPx);
    s.setValue(QStringLiteral("export/dpi"), exportOptions_.dpi);
    s.setValue(QStringLiteral("export/fontScale"), exportOptions_.fontScale);
    s.setValue(QStringLiteral("export/title"), exportOptions_.title);
    s.sync();
}

}  // namespace ckptui
