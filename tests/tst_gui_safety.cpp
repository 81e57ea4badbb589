// The window against hostile input and failing disks (issue 16), offscreen: planning, the Pareto
// sweep and parsing a large file run on workers and the GUI thread's work between two turns of its
// event loop stays small (the probe, in the thread's own CPU time); a save, a chart export or a run export into a folder without write permission fails
// with an error dialog and leaves the old file byte for byte; files are read with a size cap
// (/dev/zero and an oversized file are one-line errors, not an abort); a forged report is refused
// and a genuine one with hostile names is shown printable.
#include <unistd.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QMessageBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <qcustomplot.h>

#include "ckpt/experiment.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "gui_probe.h"
#include "plan_wait.h"
#include "test_models.h"
#include "ui/chart_tabs.h"
#include "ui/file_loading.h"
#include "ui/main_window.h"
#include "ui/plan_panel.h"
#include "ui/stack_model.h"

using namespace ckptui;

namespace {

QByteArray contents(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("(unreadable)");
}

// Root writes anywhere: the test takes an ordinary user's identity for the writes that must fail.
class AsOrdinaryUser {
public:
    AsOrdinaryUser() : was_(::geteuid()) {
        if (was_ == 0 && ::seteuid(65534) != 0) qFatal("seteuid failed");
    }
    ~AsOrdinaryUser() {
        if (was_ == 0 && ::seteuid(0) != 0) qFatal("seteuid back failed");
    }

private:
    uid_t was_;
};

QMessageBox* errorBox(QWidget* w) {
    for (auto* box : w->findChildren<QMessageBox*>(QStringLiteral("errorDialog")))
        if (box->isVisible()) return box;
    return nullptr;
}

// The most CPU time the GUI thread may spend in one event-loop turn while workers parse, plan and
// sweep a 20,000-block model, and while the answers are applied and drawn. Measured as the thread's
// own CPU time (gui_probe.h), so a loaded machine, which only makes the thread wait longer for a
// core, does not change it; the wall-clock stalls are bench_gui_stall's. On this two-core machine
// the largest turn is about 60 ms (opening: the 20,000-row tree is reset at once); planning or
// parsing on the GUI thread would take seconds.
constexpr double kMostCpuPerTurnMs = 150;

}  // namespace

class TestGuiSafety : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->show();
    }
    void cleanup() {
        w_->stop();
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);
        w_.reset();
    }

    void staysResponsiveWhileItPlansAndParses() {
        const int blocks = qEnvironmentVariableIntValue("CKPT_LONG_CHAIN") > 0 ? qEnvironmentVariableIntValue("CKPT_LONG_CHAIN") : 20000;
        const ckpt::ModelSpec spec = testmodels::long_chain(blocks);
        QTemporaryDir dir;
        const QString path = dir.filePath("chain.json");
        QCOMPARE(w_->saveExperiment(path), QString());  // a file to open, written by the window
        {
            ckpt::Experiment e;
            e.spec = spec;
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(QByteArray::fromStdString(ckpt::to_json(e)));
        }
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
        GuiProbe probe;
        auto predictionDrawn = [this] { return w_->prediction().ok() && w_->prediction().spec == w_->stackModel()->spec(); };
        // Parsing: the file is read and parsed on a worker; then the tree is filled and the
        // prediction (computed on a worker) drawn.
        QSignalSpy opened(w_.get(), &MainWindow::fileOpened);
        QElapsedTimer clock;
        clock.start();
        probe.start();
        w_->openFile(path, FileKind::experiment);
        QTRY_VERIFY_WITH_TIMEOUT(!opened.isEmpty(), 120000);
        QTRY_VERIFY_WITH_TIMEOUT(predictionDrawn(), 120000);
        probe.stop();
        const double openCpu = probe.worstCpuMs();
        qInfo("open %d blocks and draw its prediction: %lld ms, most GUI CPU in one turn %.1f ms (wall-clock stall %lld ms)",
              blocks, clock.elapsed(), openCpu, probe.worstWallMs());
        QCOMPARE(opened.last().at(1).toString(), QString());
        QCOMPARE(int(w_->stackModel()->spec().blocks.size()), blocks);
        // Planning: a budget between the lowest reachable peak and the unchecked one, so the
        // planner has work to do and a plan to apply (20,000 rows), whose prediction is drawn.
        const Prediction& p = w_->prediction();
        QVERIFY(p.minimalPeak > 0 && p.uncheckedPeak > p.minimalPeak);
        const QString budget = QString::number(p.minimalPeak + (p.uncheckedPeak - p.minimalPeak) / 2);
        PlanPanel* plan = w_->planPanel();
        QSignalSpy planned(plan, &PlanPanel::planFinished);
        clock.restart();
        probe.start();
        QCOMPARE(plan->plan(budget, QStringLiteral("dp")), QString());
        QVERIFY(plan->isPlanning());
        QTRY_VERIFY_WITH_TIMEOUT(!planned.isEmpty(), 300000);
        QCOMPARE(planned.last().at(0).toString(), QString());
        QTRY_VERIFY_WITH_TIMEOUT(predictionDrawn(), 120000);
        probe.stop();
        const double planCpu = probe.worstCpuMs();
        qInfo("plan, apply and draw: %lld ms, %d ticks, most GUI CPU in one turn %.1f ms (wall-clock stall %lld ms)",
              clock.elapsed(), probe.ticks(), planCpu, probe.worstWallMs());
        // The Pareto sweep.
        QSignalSpy drawn(plan, &PlanPanel::paretoDrawn);
        clock.restart();
        probe.start();
        plan->refreshPareto();
        QTRY_VERIFY_WITH_TIMEOUT(!drawn.isEmpty(), 300000);
        probe.stop();
        const double paretoCpu = probe.worstCpuMs();
        qInfo("pareto: %lld ms, %d ticks, most GUI CPU in one turn %.1f ms (wall-clock stall %lld ms)", clock.elapsed(),
              probe.ticks(), paretoCpu, probe.worstWallMs());
        QVERIFY2(openCpu < kMostCpuPerTurnMs, qPrintable(QString::number(openCpu)));
        QVERIFY2(planCpu < kMostCpuPerTurnMs, qPrintable(QString::number(planCpu)));
        QVERIFY2(paretoCpu < kMostCpuPerTurnMs, qPrintable(QString::number(paretoCpu)));
    }

    void failedSavesKeepTheOldFile() {
        QTemporaryDir root;
        QVERIFY(QFile::setPermissions(root.path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther |
                                                       QFile::ExeOther));
        QVERIFY(QDir(root.path()).mkdir(QStringLiteral("locked")));
        const QString locked = QDir(root.path()).filePath(QStringLiteral("locked"));
        const QString experiment = locked + QStringLiteral("/mine.json");
        const QString chart = locked + QStringLiteral("/timeline.png");
        const QString report = locked + QStringLiteral("/run.json");
        // The old files, written while the folder is writable.
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);
        QCOMPARE(w_->saveExperiment(experiment), QString());
        QCOMPARE(w_->exportChart(MainWindow::Chart::timeline, chart, 400, 300), QString());
        QCOMPARE(w_->exportRun(report), QString());
        const QByteArray oldExperiment = contents(experiment), oldChart = contents(chart), oldReport = contents(report);
        QVERIFY(!oldExperiment.isEmpty() && !oldChart.isEmpty() && !oldReport.isEmpty());
        // Then the folder loses its write permission, and everything changes.
        QVERIFY(QFile::setPermissions(locked, QFile::ReadOwner | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther));
        w_->stackModel()->setBatch(9);
        QString saveError, chartError, reportError;
        {
            AsOrdinaryUser user;
            saveError = w_->saveExperiment(experiment);
            chartError = w_->exportChart(MainWindow::Chart::timeline, chart, 800, 600);
            reportError = w_->exportRun(report);
        }
        QVERIFY2(saveError.contains(QLatin1String("mine.json")), qPrintable(saveError));
        QVERIFY2(!chartError.isEmpty(), qPrintable(chartError));
        QVERIFY2(!reportError.isEmpty(), qPrintable(reportError));
        QMessageBox* box = errorBox(w_.get());
        QVERIFY(box);
        QVERIFY2(box->text().contains(QLatin1String("mine.json")) && box->text().contains(QLatin1String("left as it was")),
                 qPrintable(box->text()));
        QCOMPARE(contents(experiment), oldExperiment);
        QCOMPARE(contents(chart), oldChart);
        QCOMPARE(contents(report), oldReport);
        QCOMPARE(QDir(locked).entryList(QDir::Files | QDir::Hidden).size(), 3);  // no temporary left behind
        QVERIFY(w_->isModified());  // the edit is still unsaved
        QVERIFY(QFile::setPermissions(locked, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    }

    void readsAreCapped() {
        const ckpt::ModelSpec before = w_->stackModel()->spec();
        // A device that never ends: refused before a byte is read.
        QString err = w_->openExperiment(QStringLiteral("/dev/zero"));
        QVERIFY2(err.contains(QLatin1String("zero")), qPrintable(err));
        err = w_->openRun(QStringLiteral("/dev/zero"));
        QVERIFY(!err.isEmpty());
        // A file over the cap (sparse: no disk used).
        QTemporaryDir dir;
        QFile big(dir.filePath("big.json"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        QVERIFY(big.resize((qint64(64) << 20) + 1));
        big.close();
        QElapsedTimer clock;
        clock.start();
        err = w_->openExperiment(big.fileName());
        QVERIFY2(err.contains(QLatin1String("MiB")), qPrintable(err));
        QVERIFY(clock.elapsed() < 2000);  // refused by its size, not parsed
        QString why;
        QVERIFY(readCapped(big.fileName(), 1024, &why).isEmpty());
        QVERIFY2(why.contains(QLatin1String("big.json")), qPrintable(why));
        QVERIFY(w_->stackModel()->spec() == before);
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();
    }

    // Stop ends a running Pareto sweep at once: the chart draws the plans it found and its
    // title says the sweep is incomplete and why.
    void stopEndsTheSweep() {
        w_->stackModel()->setSpec(testmodels::long_chain(2000), QStringLiteral("long chain"));
        PlanPanel* plan = w_->planPanel();
        QSignalSpy drawn(plan, &PlanPanel::paretoDrawn);
        plan->refreshPareto();
        QVERIFY(plan->isSweeping());
        plan->stop();
        QTRY_VERIFY_WITH_TIMEOUT(!drawn.isEmpty(), 120000);
        QVERIFY(!plan->isSweeping());
        QVERIFY2(plan->paretoNote().contains(QLatin1String("planning stopped")), qPrintable(plan->paretoNote()));
        QVERIFY(plan->points().size() >= 2);  // none, all and the fixed patterns, planned before the sweep
        QVERIFY(w_->charts()->pareto()->toolTip().contains(plan->paretoNote()));
    }

    // A report from another machine (issue 27): a forged or oversized one is refused with a
    // one-line dialog and the experiment on screen stays; a genuine one whose names hold line
    // breaks, escape sequences and direction overrides opens, and the window shows those names
    // on one printable line.
    void hostileReportsAreRefusedOrShownPrintable() {
        const ckpt::ModelSpec before = w_->stackModel()->spec();
        for (const char* file : {"report_category_minus_1tib.json", "report_duplicate_key.json",
                                 "report_layer_int32_max.json", "report_peak_ten_times.json"}) {
            const QString err = w_->openRun(QStringLiteral(CKPT_SOURCE_DIR "/tests/data/malformed/") + QLatin1String(file));
            QVERIFY2(!err.isEmpty(), file);
            QVERIFY2(!err.contains('\n') && err.startsWith(QLatin1String(file)), qPrintable(err));
            QVERIFY(w_->stackModel()->spec() == before);
        }
        QVERIFY(!w_->findChildren<QMessageBox*>(QStringLiteral("errorDialog")).isEmpty());
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();

        // 48 MiB of numbers under a key the reader ignores: refused at the value cap.
        auto spec = ckpt::load_model_spec(CKPT_SOURCE_DIR "/resources/presets/tutorial_mlp.json");
        QVERIFY(spec);
        auto session = ckpt::Session::create(*spec);
        QVERIFY(session);
        (*session)->step();
        ckpt::StepReport r = (*session)->step();
        std::string text = ckpt::report_to_json(r, *spec);
        std::string junk = "\"junk\": [0";
        while (junk.size() < (size_t(48) << 20)) junk += ",0";
        text.insert(text.find("\"model\":"), junk + "],\n  ");
        QTemporaryDir dir;
        QFile big(dir.filePath("junk.json"));
        QVERIFY(big.open(QIODevice::WriteOnly) && big.write(text.data(), qint64(text.size())) == qint64(text.size()));
        big.close();
        QString err = w_->openRun(big.fileName());
        QVERIFY2(err.contains(QLatin1String("the file has more than 4000000 JSON values")), qPrintable(err));
        QVERIFY(w_->stackModel()->spec() == before);
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();

        // Genuine, with hostile names.
        r.model_name = "evil\nname \x1b[31mred\xe2\x80\xae";
        r.device = "cpu\r\x1b]0;title\x07";
        ckpt::ModelSpec named = *spec;
        named.name = r.model_name;
        named.blocks[0].name = r.blocks[0].name = "block\n\xe2\x80\xaezero";
        QFile good(dir.filePath("named.json"));
        const std::string genuine = ckpt::report_to_json(r, named);
        QVERIFY(good.open(QIODevice::WriteOnly) && good.write(genuine.data(), qint64(genuine.size())) == qint64(genuine.size()));
        good.close();
        err = w_->openRun(good.fileName());
        QVERIFY2(err.isEmpty(), qPrintable(err));
        const QString status = w_->statusBar()->currentMessage();
        QVERIFY2(status.contains(QLatin1String("evil\\x0Aname \\x1B[31mred\\u202E")), qPrintable(status));
        for (const QChar c : status) QVERIFY2(c.isPrint() && c != QChar(0x202E), qPrintable(status));
        const QString shownName = w_->stackModel()->data(w_->stackModel()->index(0, 0), Qt::DisplayRole).toString();
        QCOMPARE(shownName, QStringLiteral("block\\x0A\\u202Ezero"));
        QCOMPARE(w_->stackModel()->spec().blocks[0].name, named.blocks[0].name);  // kept exactly
    }

private:
    std::unique_ptr<MainWindow> w_;
};

QTEST_MAIN(TestGuiSafety)
#include "tst_gui_safety.moc"
