// The window as a desktop program (issue 15), offscreen: settings survive a restart (QSettings in
// a temporary folder), unsaved changes are asked about before New/Open/Quit lose them (the
// prompt answered by a timer), recent files, `checkpointlab FILE.json`, a file dropped on the
// window, a minimum size that fits a 1280 x 720 laptop, the export dialog's size and DPI found
// again in the written file, File > Open run drawing the same charts as the step run here, and
// File > Export as PyTorch script.
#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMessageBox>
#include <QMimeData>
#include <QProcess>
#include <QPushButton>
#include <QScreen>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <qcustomplot.h>

#include "ckpt/recorded_run.h"
#include "ckpt/templates.h"
#include "ui/chart_tabs.h"
#include "ui/export_dialog.h"
#include "ui/file_loading.h"
#include "ui/main_window.h"
#include "ui/run_bar.h"
#include "ui/stack_model.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

// Answers the next modal message box called `name` with `button` once it is shown; *asked
// counts the boxes answered.
void answerNext(const QString& name, QMessageBox::StandardButton button, int* asked) {
    auto* timer = new QTimer(qApp);
    timer->setInterval(10);
    QObject::connect(timer, &QTimer::timeout, timer, [timer, name, button, asked] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box || box->objectName() != name) return;
        ++*asked;
        timer->stop();
        timer->deleteLater();
        box->button(button)->click();
    });
    timer->start();
}

// Every plottable's name and points: what a chart shows, to compare two windows.
QStringList chartData(QCustomPlot* plot) {
    QStringList out;
    for (int i = 0; i < plot->plottableCount(); ++i) {
        QCPAbstractPlottable* p = plot->plottable(i);
        QString line = p->name() + QLatin1Char(':');
        if (QCPPlottableInterface1D* d = p->interface1D())
            for (int k = 0; k < d->dataCount(); ++k)
                line += QStringLiteral(" %1,%2").arg(d->dataMainKey(k), 0, 'g', 17).arg(d->dataMainValue(k), 0, 'g', 17);
        out << line;
    }
    return out;
}

QString fileOpenedError(QSignalSpy& spy) { return spy.isEmpty() ? QStringLiteral("not opened") : spy.last().at(1).toString(); }

}  // namespace

class TestDesktop : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(settingsDir_.isValid());
        // An organisation name turns settings on; they go to a temporary folder.
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
        QCoreApplication::setOrganizationName(QStringLiteral("CheckpointLabTest"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_desktop"));
    }
    void init() { QSettings().clear(); }

    void settingsRoundTrip() {
        QTemporaryDir dir;
        const QString file = dir.filePath("mine.json");
        ExportOptions o;
        o.widthPx = 1234;
        o.heightPx = 567;
        o.dpi = 200;
        o.fontScale = 1.25;
        o.title = false;
        {
            MainWindow w;
            w.show();
            QCOMPARE(w.loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
            QCOMPARE(w.saveExperiment(file), QString());
            w.runBar()->setMemoryLimit(qint64(96) << 20);  // changed after the save: a run setting
            QVERIFY(w.isModified());
            QCOMPARE(w.saveExperiment(file), QString());
            w.setExportOptions(o);
            w.resize(1300, 720);
            QVERIFY(w.close());
        }
        MainWindow w;
        QSignalSpy opened(&w, &MainWindow::fileOpened);
        QVERIFY(opened.wait(30000));  // the last file, read on the worker
        QCOMPARE(fileOpenedError(opened), QString());
        QCOMPARE(w.currentFile(), QFileInfo(file).absoluteFilePath());
        QCOMPARE(w.runBar()->memoryLimit(), qint64(96) << 20);
        QCOMPARE(w.exportOptions(), o);
        QCOMPARE(w.size(), QSize(1300, 720));
        QVERIFY(!w.isModified());
        QCOMPARE(w.recentFiles(), QStringList{QFileInfo(file).absoluteFilePath()});
        // A preset (no file) comes back as that preset.
        QCOMPARE(w.loadPreset(QStringLiteral("textbook_mlp")), QString());
        const ckpt::ModelSpec spec = w.stackModel()->spec();
        QVERIFY(w.close());
        MainWindow again;
        QVERIFY(again.stackModel()->spec() == spec);
        QVERIFY(again.windowTitle().contains(QLatin1String("textbook_mlp")));
    }

    void unsavedChangesAreAskedAbout() {
        QTemporaryDir dir;
        const QString a = dir.filePath("a.json"), b = dir.filePath("b.json");
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        QCOMPARE(w.saveExperiment(b), QString());
        QCOMPARE(w.loadPreset(QStringLiteral("lesson1_activations")), QString());
        QCOMPARE(w.saveExperiment(a), QString());
        QVERIFY(!w.isModified() && !w.isWindowModified());
        QVERIFY(w.windowTitle().startsWith(QLatin1String("a.json")));
        w.stackModel()->setBatch(w.stackModel()->spec().input_shape[0] + 1);
        QVERIFY(w.isModified() && w.isWindowModified());
        int asked = 0;
        QSignalSpy opened(&w, &MainWindow::fileOpened);
        // Cancel: nothing is opened, the edit stays.
        answerNext(QStringLiteral("unsavedPrompt"), QMessageBox::Cancel, &asked);
        w.openFile(b);
        QCOMPARE(asked, 1);
        QCOMPARE(fileOpenedError(opened), QStringLiteral("cancelled"));
        QCOMPARE(w.currentFile(), QFileInfo(a).absoluteFilePath());
        QVERIFY(w.isModified());
        // Discard: b opens, a on disk is as saved.
        answerNext(QStringLiteral("unsavedPrompt"), QMessageBox::Discard, &asked);
        w.openFile(b);
        QCOMPARE(asked, 2);
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 2, 30000);
        QCOMPARE(fileOpenedError(opened), QString());
        QCOMPARE(w.currentFile(), QFileInfo(b).absoluteFilePath());
        QVERIFY(!w.isModified());
        QVERIFY(loadFile(a, FileKind::experiment).experiment.spec.input_shape[0] !=
                w.stackModel()->spec().input_shape[0] + 1);
        // Quit with an edit: Cancel keeps the window, Save writes b and closes.
        w.stackModel()->setBatch(3);
        answerNext(QStringLiteral("unsavedPrompt"), QMessageBox::Cancel, &asked);
        QVERIFY(!w.close());
        QCOMPARE(asked, 3);
        QVERIFY(w.isVisible());
        answerNext(QStringLiteral("unsavedPrompt"), QMessageBox::Save, &asked);
        QVERIFY(w.close());
        QCOMPARE(asked, 4);
        const LoadedFile saved = loadFile(b, FileKind::experiment);
        QVERIFY2(saved.ok(), qPrintable(saved.error));
        QCOMPARE(saved.experiment.spec.input_shape[0], int64_t(3));
        // Nothing changed: no question.
        MainWindow clean;
        QVERIFY(clean.close());
        QCOMPARE(asked, 4);
    }

    void recentFilesAreRemembered() {
        QTemporaryDir dir;
        MainWindow w;
        QStringList expected;
        for (int i = 0; i < 10; ++i) {
            const QString p = dir.filePath(QStringLiteral("m%1.json").arg(i));
            QCOMPARE(w.saveExperiment(p), QString());
            expected.prepend(QFileInfo(p).absoluteFilePath());
        }
        // Opening one again moves it to the top; the list keeps the newest eight.
        QCOMPARE(w.openExperiment(expected[5]), QString());
        expected.move(5, 0);
        expected = expected.mid(0, 8);
        QCOMPARE(w.recentFiles(), expected);
        auto* menu = w.findChild<QMenu*>(QStringLiteral("recentMenu"));
        QVERIFY(menu);
        emit menu->aboutToShow();
        QStringList shown;
        for (QAction* a : menu->actions())
            if (a->isEnabled()) shown << a->toolTip();
        QCOMPARE(shown, expected);
        QVERIFY(w.close());
        MainWindow next;
        QCOMPARE(next.recentFiles(), expected);
    }

    void openFromArgument() {
        QTemporaryDir dir;
        const QString p = dir.filePath("arg.json");
        {
            MainWindow w;
            QCOMPARE(w.loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
            QCOMPARE(w.saveExperiment(p), QString());
        }
        QSettings().clear();
        QCOMPARE(MainWindow::fileArgument({QStringLiteral("checkpointlab"), p}), p);
        QVERIFY(MainWindow::fileArgument({QStringLiteral("checkpointlab")}).isEmpty());
        QVERIFY(MainWindow::fileArgument({QStringLiteral("checkpointlab"), QStringLiteral("--help")}).isEmpty());
        MainWindow w;
        QSignalSpy opened(&w, &MainWindow::fileOpened);
        w.openArguments({QStringLiteral("checkpointlab"), p});
        QVERIFY(opened.wait(30000));
        QCOMPARE(fileOpenedError(opened), QString());
        QCOMPARE(w.currentFile(), QFileInfo(p).absoluteFilePath());
        QCOMPARE(w.stackModel()->spec().name, std::string("lesson2-optimizer-state"));
    }

    void dropAFileOnTheWindow() {
        QTemporaryDir dir;
        const QString p = dir.filePath("dropped.json");
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        QCOMPARE(w.saveExperiment(p), QString());
        QCOMPARE(w.loadPreset(QStringLiteral("lesson1_activations")), QString());
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(p)});
        QDragEnterEvent enter(QPoint(100, 100), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QSignalSpy opened(&w, &MainWindow::fileOpened);
        QDropEvent drop(QPointF(100, 100), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &drop);
        QVERIFY(drop.isAccepted());
        QVERIFY(opened.wait(30000));
        QCOMPARE(fileOpenedError(opened), QString());
        QCOMPARE(w.currentFile(), QFileInfo(p).absoluteFilePath());
        QCOMPARE(w.stackModel()->spec().name, std::string("lesson2-optimizer-state"));
        // Not a model file: refused at the door.
        QMimeData text;
        text.setUrls({QUrl::fromLocalFile(dir.filePath("notes.txt"))});
        QDragEnterEvent refused(QPoint(100, 100), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
        refused.setAccepted(false);
        QApplication::sendEvent(&w, &refused);
        QVERIFY(!refused.isAccepted());
    }

    void fitsASmallScreen() {
        MainWindow w;
        w.show();
        const QSize hint = w.minimumSizeHint();
        if (qEnvironmentVariableIsSet("CKPT_DEBUG_SIZE"))
            for (QWidget* c : w.findChildren<QWidget*>())
                if (c->minimumSizeHint().width() > 180)
                    qInfo() << c->metaObject()->className() << c->objectName() << c->minimumSizeHint() << c->minimumSize()
                            << (c->parentWidget() ? c->parentWidget()->objectName() : QString());
        QVERIFY2(hint.width() <= 1200 && hint.height() <= 700, qPrintable(QStringLiteral("%1 x %2").arg(hint.width()).arg(hint.height())));
        QVERIFY(w.minimumSize().width() <= 1200 && w.minimumSize().height() <= 700);
        w.resize(1200, 700);
        QCOMPARE(w.size(), QSize(1200, 700));
    }

    // Whatever the screen (a 1280 x 720 projector: tst_desktop_projector; 150 %: _scaled), the
    // window opens inside its available area, and so does one remembered on a larger screen.
    void opensInsideTheScreen() {
        {
            MainWindow w;
            w.show();
            const QRect avail = w.screen()->availableGeometry();
            QVERIFY2(avail.contains(w.frameGeometry()), qPrintable(QStringLiteral("%1 x %2 at %3,%4 on %5 x %6")
                                                                      .arg(w.frameGeometry().width()).arg(w.frameGeometry().height())
                                                                      .arg(w.x()).arg(w.y()).arg(avail.width()).arg(avail.height())));
            // As if it had been left maximised on a 2560 x 1440 monitor.
            w.setGeometry(40, 30, 2500, 1380);
            QVERIFY(w.close());
        }
        MainWindow again;
        again.show();
        const QRect avail = again.screen()->availableGeometry();
        QVERIFY2(avail.contains(again.frameGeometry()),
                 qPrintable(QStringLiteral("%1 x %2 on %3 x %4").arg(again.width()).arg(again.height()).arg(avail.width()).arg(avail.height())));
    }

    // The memory limit belongs to the model: a limit typed for one preset is not the next
    // session's (lesson 4's 10 MiB made the next GPT-2 run out of memory).
    void limitIsNotRemembered() {
        int asked = 0;
        {
            MainWindow w;
            w.show();
            QCOMPARE(w.loadPreset(QStringLiteral("textbook_mlp")), QString());
            w.runBar()->setMemoryLimit(qint64(64) << 20);
            answerNext(QStringLiteral("unsavedPrompt"), QMessageBox::Discard, &asked);
            QVERIFY(w.close());
        }
        MainWindow w;
        QVERIFY(w.windowTitle().contains(QLatin1String("textbook_mlp")));
        QCOMPARE(w.runBar()->memoryLimit(), qint64(0));
        QVERIFY(!QSettings().contains(QStringLiteral("run/memoryLimit")));
        // A lesson's own limit comes with the lesson.
        QCOMPARE(w.loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QVERIFY(w.close());
        MainWindow lesson;
        QCOMPARE(lesson.runBar()->memoryLimit(), qint64(10) << 20);
    }

    void exportDialogOptionsReachTheFile() {
        MainWindow w;
        w.show();
        QTemporaryDir dir;
        ExportDialog dialog(w.charts()->chartsOf(0), w.exportOptions(), dir.filePath("timeline.png"), false, &w);
        dialog.setFormat(QStringLiteral("png"));
        dialog.setDpi(300);
        dialog.setSize(10, 5, ExportOptions::Unit::cm);  // 10 cm at 300 DPI: 1181 px
        dialog.setTitleShown(false);
        dialog.setFontScale(2);
        const ExportOptions o = dialog.options();
        QCOMPARE(o.widthPx, 1181);
        QCOMPARE(o.heightPx, 591);
        QCOMPARE(o.dpi, 300.0);
        QCOMPARE(o.fontScale, 2.0);
        QVERIFY(!o.title);
        QVERIFY2(dialog.summary().contains(QLatin1String("1181")), qPrintable(dialog.summary()));
        QCOMPARE(w.exportChart(MainWindow::Chart::timeline, dialog.path(), o), QString());
        QImage png(dialog.path());
        QCOMPARE(png.size(), QSize(1181, 591));
        QCOMPARE(qRound(png.dotsPerMeterX() * 0.0254), 300);
        QCOMPARE(qRound(png.dotsPerMeterY() * 0.0254), 300);
        // A PDF's page is the size in points (1/72 in): 10 cm = 283.5 pt.
        dialog.setFormat(QStringLiteral("pdf"));
        const QString pdf = dir.filePath("timeline.pdf");
        QCOMPARE(w.exportChart(MainWindow::Chart::timeline, pdf, dialog.options()), QString());
        QFile f(pdf);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        const int at = bytes.indexOf("/MediaBox");
        QVERIFY(at >= 0);
        const QList<QByteArray> box = bytes.mid(at, 80).split('[').value(1).split(']').value(0).simplified().split(' ');
        QCOMPARE(box.size(), 4);
        QVERIFY2(std::abs(box[2].toDouble() - 283.5) < 1.0, box[2].constData());
        QVERIFY2(std::abs(box[3].toDouble() - 141.7) < 1.0, box[3].constData());
    }

    void exportAllChartsToAFolder() {
        MainWindow w;
        w.show();
        QTemporaryDir dir;
        ExportOptions o;
        o.widthPx = 640;
        o.heightPx = 400;
        o.dpi = 96;
        QStringList written;
        QCOMPARE(w.exportAllCharts(dir.path(), QStringLiteral("png"), o, &written), QString());
        QCOMPARE(written.size(), 6);
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files), [] {
            QStringList n = MainWindow::chartFileNames(QStringLiteral("png"));
            n.sort();
            return n;
        }());
        for (const QString& f : written) {
            const QImage png(f);
            QCOMPARE(png.size(), QSize(640, 400));
            QCOMPARE(qRound(png.dotsPerMeterX() * 0.0254), 96);
        }
        QVERIFY(!w.exportAllCharts(dir.filePath("missing"), QStringLiteral("png"), o).isEmpty());
    }

    void openRunDrawsTheLiveRun() {
        QTemporaryDir dir;
        const QString report = dir.filePath("run.json");
        QStringList live[4];
        qint64 livePeak = 0;
        {
            MainWindow w;
            w.show();
            QCOMPARE(w.loadPreset(QStringLiteral("tutorial_mlp")), QString());
            QSignalSpy shown(&w, &MainWindow::resultShown);
            w.runSteps(1);
            QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= 1, 60000);
            QTRY_VERIFY_WITH_TIMEOUT(!w.controller()->isRunning(), 30000);
            QCOMPARE(w.exportRun(report), QString());  // the writer `checkpointlab run --report` uses
            live[0] = chartData(w.charts()->timeline());
            live[1] = chartData(w.charts()->blockBytes());
            live[2] = chartData(w.charts()->blockTime());
            live[3] = chartData(w.charts()->history());
            livePeak = w.timeline()->plottedPeak();
            for (const QStringList& chart : live) QVERIFY(chart.join(QString()).contains(QLatin1Char(',')));  // points drawn
            QVERIFY(livePeak > 0);
        }
        QSettings().clear();
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        QCOMPARE(w.openRun(report), QString());
        QCOMPARE(w.timeline()->mode(), TimelineChart::Mode::measured);
        QCOMPARE(w.timeline()->plottedPeak(), livePeak);
        QCOMPARE(chartData(w.charts()->timeline()), live[0]);
        QCOMPARE(chartData(w.charts()->blockBytes()), live[1]);
        QCOMPARE(chartData(w.charts()->blockTime()), live[2]);
        QCOMPARE(chartData(w.charts()->history()), live[3]);
        QVERIFY(w.windowTitle().contains(QLatin1String("run.json")));
    }

    void progressBarSaysWhereTheStepIs() {
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("lesson1_activations")), QString());
        QTRY_VERIFY_WITH_TIMEOUT(w.prediction().ok(), 30000);  // the estimate counts the prediction's events
        QSignalSpy shown(&w, &MainWindow::resultShown);
        QStringList seen;
        QTimer poll;
        poll.setInterval(1);
        connect(&poll, &QTimer::timeout, &w, [&] {
            if (w.progressBar()->isVisible() && !seen.contains(w.progressBar()->format())) seen << w.progressBar()->format();
        });
        poll.start();
        w.runSteps(1);
        QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= 1, 60000);
        poll.stop();
        bool phaseAndBlock = false;
        for (const QString& f : seen)
            if (f.contains(QLatin1String("block")) && f.contains(QLatin1Char('%'))) phaseAndBlock = true;
        QVERIFY2(phaseAndBlock, qPrintable(seen.join(QLatin1String(" | "))));
        QTRY_VERIFY_WITH_TIMEOUT(!w.progressBar()->isVisible(), 30000);
    }

    // A report from `checkpointlab run --report` (as on a headless GPU server) opens with its step.
    void openRunFromTheCommandLine() {
        QTemporaryDir dir;
        QProcess cli;
        cli.setWorkingDirectory(dir.path());
        cli.start(QStringLiteral(CKPT_BINARY_DIR "/app/checkpointlab"),
                  {QStringLiteral("run"), QStringLiteral("lesson1_activations"), QStringLiteral("--steps"), QStringLiteral("2"),
                   QStringLiteral("--report"), QStringLiteral("r.json"), QStringLiteral("--quiet")});
        QVERIFY(cli.waitForFinished(120000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const auto recorded = ckpt::load_recorded_run(QFile::encodeName(dir.filePath("r.json")).toStdString());
        QVERIFY(recorded);
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::fileOpened);
        w.openFile(dir.filePath("r.json"), FileKind::run);
        QTRY_VERIFY_WITH_TIMEOUT(!opened.isEmpty(), 30000);
        QCOMPARE(fileOpenedError(opened), QString());
        QCOMPARE(w.shownResult().step, 2);
        QVERIFY(w.stackModel()->spec() == recorded->spec);
        QCOMPARE(w.timeline()->mode(), TimelineChart::Mode::measured);
        QCOMPARE(w.timeline()->plottedPeak(), qint64(recorded->report.peak_total));
        QCOMPARE(w.timeline()->pointCount(), int(recorded->report.events.size()) + 1);
        QCOMPARE(w.charts()->history()->graph(0)->dataCount(), 1);
        QVERIFY(!w.isModified());
        QVERIFY(w.recentFiles().contains(QFileInfo(dir.filePath("r.json")).absoluteFilePath()));
    }

    // File › Export run writes reports the window opens again, byte for byte: of a step run
    // here, of an opened run, and of a report recorded before reports carried a timeline (its
    // export once wrote an empty timeline that the reader refused).
    void exportedRunsOpenAgain() {
        QTemporaryDir dir;
        MainWindow w;
        w.show();
        auto reopen = [&](const QString& path) {
            QSignalSpy opened(&w, &MainWindow::fileOpened);
            w.openFile(path, FileKind::run);
            if (opened.isEmpty() && !opened.wait(60000)) return QStringLiteral("not opened");
            return fileOpenedError(opened);
        };
        auto contents = [](const QString& path) {
            QFile f(path);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        };
        // A step run here.
        QCOMPARE(w.loadPreset(QStringLiteral("tutorial_mlp")), QString());
        QSignalSpy shown(&w, &MainWindow::resultShown);
        w.runSteps(2);
        QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= 2, 60000);
        const QString live = dir.filePath("live.json"), again = dir.filePath("again.json");
        QCOMPARE(w.exportRun(live), QString());
        QCOMPARE(reopen(live), QString());
        QCOMPARE(w.exportRun(again), QString());
        QCOMPARE(contents(again), contents(live));
        // Recorded on the H200, with and without a timeline.
        for (const char* file : {"gpu_h200_2026-11-29_run2/gpu_gpt2_every2.json", "gpu_h200_2026-11-29/gpu_report.json"}) {
            QCOMPARE(reopen(QStringLiteral(CKPT_SOURCE_DIR "/tests/data/") + QLatin1String(file)), QString());
            const QString first = dir.filePath("first.json"), second = dir.filePath("second.json");
            QCOMPARE(w.exportRun(first), QString());
            QCOMPARE(reopen(first), QString());
            QCOMPARE(w.exportRun(second), QString());
            QCOMPARE(contents(second), contents(first));
            QCOMPARE(contents(first).contains("\"events\""), w.shownResult().report->has_timeline);
        }
        QVERIFY(!w.shownResult().report->has_timeline);  // the older report came last
    }

    // File > Export as PyTorch script: the stack with the plan ticked in the window, written on a
    // worker, one checkpoint() call per ticked block and the tensors file beside it; into a
    // folder that does not exist, an error dialog, and the stack and its plan are kept.
    void exportsAPyTorchScript() {
        QTemporaryDir dir;
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("tutorial_mlp")), QString());
        w.stackModel()->setCheckpointAll(false);
        w.stackModel()->setCheckpoint(1, true);
        const ckpt::ModelSpec before = w.stackModel()->spec();
        QSignalSpy exported(&w, &MainWindow::torchScriptExported);
        const QString script = dir.filePath("tutorial.py");
        w.exportTorchScript(script);
        QVERIFY(exported.wait(60000));
        QCOMPARE(exported.last().at(1).toString(), QString());
        const QByteArray text = [&] {
            QFile f(script);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        }();
        QCOMPARE(text.count("h = checkpoint(self.blocks["), 1);
        QVERIFY(text.contains("h = checkpoint(self.blocks[1], h, use_reentrant=False"));
        QVERIFY(QFile::exists(dir.filePath("tutorial.safetensors")));

        w.exportTorchScript(dir.filePath("no/such/folder/tutorial.py"));
        QVERIFY(exported.wait(60000));
        QVERIFY(!exported.last().at(1).toString().isEmpty());
        bool shown = false;
        for (auto* box : w.findChildren<QMessageBox*>(QStringLiteral("errorDialog")))
            if (box->isVisible()) {
                shown = true;
                box->close();
            }
        QVERIFY(shown);
        QVERIFY(w.stackModel()->spec() == before);
    }

    // File > Export as PyTorch script offers, for a model imported from a config.json, the plan
    // for the user's own Hugging Face model (export-torch --hf): the layers the window's ticks
    // checkpoint, wrapped whole or by submodule. A model of no decoder layers is not offered it.
    void exportsTheHuggingFacePlan() {
        QTemporaryDir dir;
        MainWindow w;
        w.show();
        QCOMPARE(w.loadPreset(QStringLiteral("tutorial_mlp")), QString());
        QVERIFY2(w.hfPlanError().contains(QLatin1String("no decoder-layer blocks")), qPrintable(w.hfPlanError()));
        auto spec = ckpt::import_hf_config_file(CKPT_SOURCE_DIR "/tests/data/configs/gpt2.json", 1, 8);
        QVERIFY(spec);
        spec->blocks.erase(spec->blocks.begin() + 7, spec->blocks.end() - 1);  // three decoder layers
        std::erase_if(spec->segments, [](const ckpt::BlockRange& r) { return r.last > 6; });
        w.newModel(*spec, QStringLiteral("gpt2"));
        // Blocks: 0 the embedding, 1 + 2i layer i's attention, 2 + 2i its MLP, 7 the head. (A
        // tick checkpoints a whole layer's segment; a plan may take one of its blocks.)
        std::vector<bool> flags(8, false);
        for (int b : {1, 2, 3, 6}) flags[size_t(b)] = true;
        w.stackModel()->setCheckpointFlags(flags, QStringLiteral("plan"));
        QCOMPARE(w.hfPlanError(), QString());
        QSignalSpy exported(&w, &MainWindow::torchScriptExported);
        const QString module = dir.filePath("gpt2_plan.py");
        w.exportTorchScript(module, true);
        QVERIFY(exported.wait(60000));
        QCOMPARE(exported.last().at(1).toString(), QString());
        QFile f(module);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("(checkpointlab export-torch --hf)"));
        QVERIFY(text.contains("ALL = False"));
        QVERIFY(text.contains("WHOLE_LAYERS = [0, ]"));
        QVERIFY(text.contains("PARTS = {1: \"attn\", 2: \"mlp\", }"));
        QVERIFY(text.contains("def apply_plan(model):"));
        QVERIFY(!QFile::exists(dir.filePath("gpt2_plan.safetensors")));  // a plan, no tensors
    }

private:
    QTemporaryDir settingsDir_;
};

QTEST_MAIN(TestDesktop)
#include "tst_desktop.moc"
