// The desktop app end to end, offscreen: a run fills every chart with the engine's numbers (the
// plotted peak equals the report's to the byte); toggling checkpoints between two steps of a
// continuous run moves the next step's peak the expected way; Stop returns within a bounded time
// with balanced memory events; every export writes a file of the right format; a malformed
// experiment is refused with an error and the current experiment stays as it was.
#include <QAbstractButton>
#include <QAbstractItemView>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QLineEdit>
#include <QSpinBox>
#include <QTabBar>
#include <QTabWidget>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QMessageBox>
#include <QtTest>

#include "ckpt/units.h"
#include "ckpt/writers.h"
#include "test_models.h"
#include "ui/main_window.h"
#include "plan_wait.h"
#include "ui/parallel_dialog.h"
#include "ui/plan_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_model.h"
#include "ui/summary_panel.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

// Many rows, narrow layers, no optimizer state: activations dominate the peak.
ckpt::ModelSpec activationHeavy(int64_t rows = 2048) {
    ckpt::ModelSpec s = testmodels::deep_residual(6, rows, 64);
    s.optimizer.type = ckpt::OptimizerType::none;
    return s;
}

QByteArray head(const QString& path, int n) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.read(n) : QByteArray();
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->show();
    }
    void cleanup() {
        w_->stop();
        if (w_->controller()->isRunning()) QSignalSpy(w_->controller(), &RunController::runFinished).wait(30000);
        w_.reset();
    }

    void runFillsEveryChartWithEngineNumbers() {
        QVERIFY(w_->loadPreset(QStringLiteral("tutorial_mlp")).isEmpty());
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        const StepResult& r = w_->lastResult();
        QVERIFY(r.report);
        QCOMPARE(r.report->status, ckpt::StepStatus::ok);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(r.report->peak_total));
        QCOMPARE(w_->timeline()->pointCount(), int(r.report->events.size()) + 1);
        QVERIFY(r.verified && r.gradientsAgree);
        QVERIFY(w_->summary()->text().contains(QStringLiteral("Gradients agree")));
        QVERIFY(w_->summary()->text().contains(QStringLiteral("equals the prediction")));
        // What is drawn after decimation still reaches the peak, to the byte.
        QCOMPARE(w_->timeline()->drawnPeak(), qint64(r.report->peak_total));
        // Per block: kept and avoided bytes and recomputation times are the report's.
        auto* bytes = w_->findChild<QCustomPlot*>(QStringLiteral("blockBytes"));
        auto* time = w_->findChild<QCustomPlot*>(QStringLiteral("blockTime"));
        QVERIFY(bytes && time);
        auto* kept = qobject_cast<QCPBars*>(bytes->plottable(0));
        auto* avoided = qobject_cast<QCPBars*>(bytes->plottable(1));
        auto* rec = qobject_cast<QCPBars*>(time->plottable(0));
        QCOMPARE(kept->dataCount(), int(r.report->blocks.size()));
        for (const ckpt::BlockReport& b : r.report->blocks) {
            QCOMPARE(qint64(kept->data()->at(b.index)->value), qint64(b.kept_bytes));
            QCOMPARE(qint64(avoided->data()->at(b.index)->value), qint64(b.avoided_bytes));
            QCOMPARE(rec->data()->at(b.index)->value, double(b.recompute_ns) / 1e6);
        }
        QVERIFY(r.report->blocks[1].recompute_ns > 0);  // the tutorial's middle block is checkpointed
        // Step history: one point, the step's peak and time.
        auto* history = w_->findChild<QCustomPlot*>(QStringLiteral("history"));
        QCOMPARE(history->graph(0)->dataCount(), 1);
        QCOMPARE(qint64(history->graph(0)->data()->at(0)->value), qint64(r.report->peak_total));
        // The first step is a warm-up: its time is drawn apart (graph 2, grey), not on the line of
        // times that are compared.
        QVERIFY(r.warmup);
        QCOMPARE(history->graph(1)->dataCount(), 0);
        QCOMPARE(history->graph(2)->data()->at(0)->value, double(r.report->step_ns) / 1e6);
        // Compare: the current run's curve reaches the peak.
        auto* comparison = w_->findChild<QCustomPlot*>(QStringLiteral("comparison"));
        QCOMPARE(comparison->graphCount(), 1);
        double top = 0;
        for (auto it = comparison->graph(0)->data()->constBegin(); it != comparison->graph(0)->data()->constEnd(); ++it)
            top = std::max(top, it->value);
        QCOMPARE(qint64(top), qint64(r.report->peak_total));
        // The model's Kept column shows the report's numbers.
        const QModelIndex keptCell = w_->stackModel()->index(1, LayerStackModel::KeptColumn);
        QCOMPARE(w_->stackModel()->data(keptCell).toString(),
                 QString::fromStdString(ckpt::format_bytes(r.report->blocks[1].kept_bytes)));
    }

    void togglingBetweenStepsChangesTheNextPeak() {
        w_->stackModel()->setSpec(activationHeavy());
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(-1);
        QVERIFY(shown.wait(60000));
        const qint64 unchecked = w_->lastResult().report->peak_total;
        w_->stackModel()->setCheckpointAll(true);
        // Steps already under way finish with the old flags; the next one has the new ones.
        bool seen = false;
        for (int i = 0; i < 10 && !seen; ++i) {
            QVERIFY(shown.wait(60000));
            const StepResult& r = w_->lastResult();
            if (r.spec.blocks[1].checkpoint) {
                seen = true;
                QVERIFY2(r.report->peak_total < unchecked,
                         qPrintable(QString("%1 !< %2").arg(r.report->peak_total).arg(unchecked)));
                QVERIFY(r.gradientsAgree);
                // The unchecked twin measures what checkpointing saved; the summary says so.
                QVERIFY(r.verified);
                QCOMPARE(r.twinPeak, unchecked);
                QVERIFY(w_->summary()->text().contains(
                    QStringLiteral("Checkpointing saved %1").arg(QString::fromStdString(ckpt::format_bytes(unchecked - r.report->peak_total)))));
            }
        }
        QVERIFY(seen);
        w_->stop();
        QVERIFY(QSignalSpy(w_->controller(), &RunController::runFinished).wait(30000));
    }

    void stopReturnsWithinBoundedTime() {
        // 24 blocks of short layers: a step takes seconds, a layer milliseconds.
        ckpt::ModelSpec s = testmodels::deep_residual(24, 16384, 64);
        s.optimizer.type = ckpt::OptimizerType::none;
        w_->stackModel()->setSpec(s);
        qint64 received = 0;  // memory events the window got for the step under way
        connect(w_->controller(), &RunController::stepStarted, this, [&] { received = 0; });
        connect(w_->controller(), &RunController::memoryEventsAvailable, this,
                [&](const QVector<ckpt::MemoryEvent>& e) { received += e.size(); });
        QSignalSpy events(w_->controller(), &RunController::memoryEventsAvailable);
        QSignalSpy finished(w_->controller(), &RunController::runFinished);
        QElapsedTimer running;
        running.start();
        w_->runSteps(-1);
        // The batches are emitted on the engine's thread, so a spy's wait() can be woken by a
        // wake-up queued for an earlier batch and return false at once: poll the count instead.
        QTRY_VERIFY_WITH_TIMEOUT(events.count() >= 10, 60000);  // let it stream a while
        QElapsedTimer t;
        t.start();
        w_->stop();
        QVERIFY(finished.wait(10000));
        // Within a layer or two, not a step: generous for a shared machine, far below a step.
        QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        const ckpt::StepReport& r = *w_->lastResult().report;
        QCOMPARE(r.status, ckpt::StepStatus::stopped);
        // Every event reached the window, and the stopped step freed everything it allocated.
        QCOMPARE(received, qint64(r.events.size()));
        // Batches (and so live repaints) came at most 60 times a second, plus the end-of-step flush.
        const qint64 ms = running.elapsed();
        QVERIFY2(events.count() <= ms * 60 / 1000 + 1, qPrintable(QString("%1 batches in %2 ms").arg(events.count()).arg(ms)));
        QCOMPARE(w_->timeline()->pointCount(), int(r.events.size()) + 1);
        ckpt::CategoryBytes live = r.baseline;
        for (const ckpt::MemoryEvent& e : r.events) live[int(e.tag.category)] += e.bytes;
        QVERIFY(live == r.baseline);
        QVERIFY(w_->summary()->text().contains(QStringLiteral("stopped")));
    }

    void exportsWriteTheRightFormats() {
        QVERIFY(w_->loadPreset(QStringLiteral("textbook_mlp")).isEmpty());
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        w_->pinCurrentRun(QStringLiteral("first"));
        QTemporaryDir dir;
        using C = MainWindow::Chart;
        for (C c : {C::timeline, C::blockBytes, C::blockTime, C::history, C::comparison}) {
            const QString base = dir.filePath(QStringLiteral("chart%1").arg(int(c)));
            QCOMPARE(w_->exportChart(c, base + ".png", 800, 500), QString());
            QCOMPARE(w_->exportChart(c, base + ".pdf", 800, 500), QString());
            QCOMPARE(w_->exportChart(c, base + ".svg", 800, 500), QString());
            QCOMPARE(head(base + ".png", 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
            QCOMPARE(head(base + ".pdf", 5), QByteArray("%PDF-"));
            QVERIFY(head(base + ".svg", 400).contains("<svg"));
        }
        QVERIFY(!w_->exportChart(C::timeline, dir.filePath("chart.bmp"), 800, 500).isEmpty());
        QCOMPARE(w_->exportRun(dir.filePath("run.json")), QString());
        QCOMPARE(w_->exportRun(dir.filePath("run.csv")), QString());
        QCOMPARE(w_->exportRun(dir.filePath("run.trace.json")), QString());
        QFile j(dir.filePath("run.json"));
        QVERIFY(j.open(QIODevice::ReadOnly));
        QVERIFY(QJsonDocument::fromJson(j.readAll()).isObject());
        QFile t(dir.filePath("run.trace.json"));
        QVERIFY(t.open(QIODevice::ReadOnly));
        QVERIFY(QJsonDocument::fromJson(t.readAll()).object().contains(QStringLiteral("traceEvents")));
        QFile c(dir.filePath("run.csv"));
        QVERIFY(c.open(QIODevice::ReadOnly | QIODevice::Text));
        const QList<QByteArray> lines = c.readAll().trimmed().split('\n');
        QVERIFY(lines.size() > 10);
        QVERIFY(lines[0].startsWith("time_ns,bytes,category"));
        for (const QByteArray& l : lines) QCOMPARE(l.count(','), lines[0].count(','));
        // Saving and reopening an experiment gives back the same spec.
        const ckpt::ModelSpec spec = w_->stackModel()->spec();
        QCOMPARE(w_->saveExperiment(dir.filePath("exp.json")), QString());
        w_->loadPreset(QStringLiteral("tutorial_mlp"));
        QCOMPARE(w_->openExperiment(dir.filePath("exp.json")), QString());
        QVERIFY(w_->stackModel()->spec() == spec);
    }

    void runSettingsSurviveEditsAndFiles() {
        QTemporaryDir dir;
        QFile f(dir.filePath("exp.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        Experiment e;
        QVERIFY(ckptui::loadPreset(QStringLiteral("tutorial_mlp"), &e).isEmpty());
        e.run.verify = false;
        e.run.settings.memory_limit = 1234567;
        e.run.settings.threads = 1;
        f.write(experimentToJson(e));
        f.close();
        QCOMPARE(w_->openExperiment(f.fileName()), QString());
        QVERIFY(w_->experiment().run == e.run);
        QVERIFY(w_->experiment().spec == e.spec);
        // Editing the stack leaves the run settings alone.
        w_->stackModel()->setCheckpointAll(true);
        QVERIFY(w_->experiment().run == e.run);
        // Saved and reopened, the settings come back exactly.
        QCOMPARE(w_->saveExperiment(dir.filePath("again.json")), QString());
        Experiment back;
        QCOMPARE(loadExperiment(dir.filePath("again.json"), &back), QString());
        QVERIFY(back.run == e.run);
        // Clearing the limit field means no limit.
        auto* limit = w_->findChild<QLineEdit*>(QStringLiteral("memoryLimit"));
        QVERIFY(limit);
        QCOMPARE(limit->text(), QStringLiteral("1234567"));
        limit->clear();
        QCOMPARE(w_->experiment().run.settings.memory_limit, int64_t(0));
    }

    // A pipeline rank: the view draws its stage's step in the whole stack's block numbers (the
    // other stages' blocks empty), its peak predict_rank's to the byte; the summary says which
    // stage; the dialog edits pp and the schedule.
    void pipelineRankIsDrawnInTheWholeStack() {
        QTemporaryDir dir;
        Experiment e;
        QVERIFY(ckptui::loadPreset(QStringLiteral("gpt2_small"), &e).isEmpty());
        e.parallel.pp = 2;
        e.parallel.microbatches = 2;
        e.rank = 1;  // the second stage
        QCOMPARE(saveExperiment(dir.filePath("pipe.json"), e), QString());
        QCOMPARE(w_->openExperiment(dir.filePath("pipe.json")), QString());
        QTRY_VERIFY_WITH_TIMEOUT(w_->prediction().ok() && w_->prediction().layout == e.parallel, 60000);
        const ckpt::Result<ckpt::RankPrediction> engine = ckpt::predict_rank(e.spec, e.parallel, 1, 2, ckpt::DeviceKind::cpu);
        QVERIFY(engine.ok());
        const ckpt::StepReport& shown = *w_->prediction().step;
        QCOMPARE(shown.peak_total, engine->report.peak_total);
        QCOMPARE(shown.blocks.size(), e.spec.blocks.size());
        const ckpt::BlockRange stage = engine->place.blocks;
        QVERIFY(stage.first > 0);
        for (int b = 0; b < int(e.spec.blocks.size()); ++b) {
            QCOMPARE(shown.blocks[size_t(b)].index, b);
            if (b < stage.first) QCOMPARE(shown.blocks[size_t(b)].kept_bytes, int64_t(0));
            else QCOMPARE(shown.blocks[size_t(b)].kept_bytes, engine->report.blocks[size_t(b - stage.first)].kept_bytes);
        }
        for (const ckpt::MemoryEvent& ev : shown.events) QVERIFY(ev.tag.block < 0 || ev.tag.block >= stage.first);
        QVERIFY(w_->findChild<SummaryPanel*>()->toPlainText().contains(QStringLiteral("A pipeline: rank 1 (stage 1")));
        // Plan: each stage planned with its microbatches in flight, applied as one set whose
        // worst stage fits, as the engine's plan_pipeline finds it.
        const ckpt::Result<ckpt::LayoutPrediction> before = ckpt::predict_layout(e.spec, e.parallel, 2, ckpt::DeviceKind::cpu);
        QVERIFY(before.ok());
        // The summary's table: every stage's peak, the engine's, the worst marked.
        const auto& rows = w_->prediction().stagePeaks;
        QCOMPARE(int(rows.size()), 2);
        for (size_t s = 0; s < 2; ++s) QCOMPARE(rows[s].peak, before->stages[s].report.peak_total);
        QCOMPARE(size_t(w_->prediction().worstStage), before->worst);
        QVERIFY(w_->findChild<SummaryPanel*>()->toPlainText().contains(QStringLiteral("← worst")));
        const int64_t budget = before->stages[before->worst].report.peak_total - 1;
        const ckpt::Result<ckpt::PipelinePlan> engine_plan =
            ckpt::plan_pipeline(e.spec, e.parallel, ckpt::PlannerKind::dp, budget, ckpt::DeviceKind::cpu);
        QVERIFY2(engine_plan.ok(), engine_plan.ok() ? "" : engine_plan.error().message.c_str());
        QCOMPARE(planAndWait(w_->planPanel(), QString::number(budget), QStringLiteral("dp")), QString());
        QVERIFY(w_->stackModel()->spec().blocks.size() == e.spec.blocks.size());
        ckpt::ModelSpec applied = e.spec;
        ckpt::apply_checkpoint(applied, engine_plan->set);
        QVERIFY(w_->stackModel()->spec() == applied);
        ParallelDialog d(e.spec, e.parallel, 1, w_.get());
        QCOMPARE(d.layout().pp, 2);
        d.findChild<QSpinBox*>(QStringLiteral("pp"))->setValue(99);
        QVERIFY(d.error().contains(QStringLiteral("pp 99 is more than the model's")));
        d.findChild<QSpinBox*>(QStringLiteral("pp"))->setValue(2);
        d.findChild<QComboBox*>(QStringLiteral("schedule"))->setCurrentIndex(1);
        QCOMPARE(d.layout().schedule, ckpt::PipelineSchedule::gpipe);
        QVERIFY(d.error().isEmpty());
    }

    // A parallel layout from an experiment file: the view predicts that rank (its peak is the
    // engine's predict_rank's, to the byte), says so, cannot run, saves the layout back; the
    // button's dialog refuses a layout the model cannot take; a new model is one device again.
    void parallelLayoutIsPredictedNotRun() {
        QTemporaryDir dir;
        Experiment e;
        QVERIFY(ckptui::loadPreset(QStringLiteral("gpt2_small"), &e).isEmpty());
        e.parallel.dp = 8;
        e.parallel.zero = 3;
        e.parallel.tp = 2;
        e.rank = 3;
        QCOMPARE(saveExperiment(dir.filePath("fsdp.json"), e), QString());
        QSignalSpy shown(w_.get(), &MainWindow::predictionShown);
        QCOMPARE(w_->openExperiment(dir.filePath("fsdp.json")), QString());
        QTRY_VERIFY_WITH_TIMEOUT(w_->prediction().ok() && w_->prediction().layout == e.parallel, 60000);
        const ckpt::Result<ckpt::RankPrediction> engine = ckpt::predict_rank(e.spec, e.parallel, 3, 2, ckpt::DeviceKind::cpu);
        QVERIFY(engine.ok());
        QCOMPARE(w_->prediction().step->peak_total, engine->report.peak_total);
        QCOMPARE(w_->prediction().rank, 3);
        QVERIFY(w_->findChild<SummaryPanel*>()->toPlainText().contains(QStringLiteral("Rank 3 of 16 devices")));
        // The Pareto sweep is the rank's: its unchecked plan peaks where the engine's prediction of
        // that rank without checkpoints does, to the byte, and every point below one device's.
        QVERIFY(paretoAndWait(w_->planPanel()));
        const std::vector<ckpt::ParetoPoint>& points = w_->planPanel()->points();
        QVERIFY(points.size() >= 3);
        ckpt::ModelSpec unchecked = e.spec;
        for (ckpt::BlockSpec& b : unchecked.blocks) b.checkpoint = false;
        unchecked.segments.clear();
        const ckpt::Result<ckpt::RankPrediction> none = ckpt::predict_rank(unchecked, e.parallel, 0, 2, ckpt::DeviceKind::cpu);
        const ckpt::Result<ckpt::StepReport> one = ckpt::predict(unchecked, 2, ckpt::DeviceKind::cpu);
        QVERIFY(none.ok() && one.ok());
        bool seen = false;
        for (const ckpt::ParetoPoint& pt : points) {
            QVERIFY(pt.plan.predicted_peak < one->peak_total);
            if (pt.plan.checkpointed() == 0) {
                QCOMPARE(pt.plan.predicted_peak, none->report.peak_total);
                seen = true;
            }
        }
        QVERIFY(seen);
        QAction* run = w_->runBar()->runActions().first();
        QVERIFY(!run->isEnabled());
        w_->runSteps(1);  // refused: nothing starts
        QVERIFY(!w_->controller()->isRunning());
        QCOMPARE(w_->saveExperiment(dir.filePath("again.json")), QString());
        Experiment back;
        QCOMPARE(loadExperiment(dir.filePath("again.json"), &back), QString());
        QVERIFY(back.parallel == e.parallel);
        QCOMPARE(back.rank, 3);
        // The dialog checks the layout against the model.
        ParallelDialog d(e.spec, e.parallel, 3, w_.get());
        d.findChild<QSpinBox*>(QStringLiteral("tp"))->setValue(5);
        QVERIFY(d.error().contains(QStringLiteral("tp 5 does not divide")));
        d.findChild<QSpinBox*>(QStringLiteral("tp"))->setValue(4);
        QVERIFY(d.error().isEmpty());
        // Sequence parallelism is the tensor ranks': the dialog names tp 1 as the problem.
        d.findChild<QCheckBox*>(QStringLiteral("sp"))->setChecked(true);
        QVERIFY(d.error().isEmpty());
        QVERIFY(d.layout().sp);
        QVERIFY(ParallelDialog::summary(d.layout(), 3).contains(QStringLiteral("tp 4 (SP)")));
        d.findChild<QSpinBox*>(QStringLiteral("tp"))->setValue(1);
        QVERIFY(d.error().contains(QStringLiteral("needs tp 2 or more")));
        d.findChild<QSpinBox*>(QStringLiteral("tp"))->setValue(4);
        // A file whose layout the model cannot take is refused, the experiment kept.
        e.parallel.tp = 5;
        QFile f(dir.filePath("bad.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(experimentToJson(e));
        f.close();
        QVERIFY(w_->openExperiment(f.fileName()).contains(QStringLiteral("parallel: tp 5 does not divide")));
        if (auto* box = w_->findChild<QMessageBox*>(QStringLiteral("errorDialog"))) box->close();
        QCOMPARE(w_->experiment().parallel.tp, 2);
        // Another model: one device, runnable.
        QVERIFY(w_->loadPreset(QStringLiteral("tutorial_mlp")).isEmpty());
        QVERIFY(w_->experiment().parallel.single_device());
        QVERIFY(run->isEnabled());
    }

    void malformedExperimentKeepsTheCurrentOne() {
        QVERIFY(w_->loadPreset(QStringLiteral("textbook_mlp")).isEmpty());
        const ckpt::ModelSpec before = w_->stackModel()->spec();
        QTemporaryDir dir;
        const QStringList bad{QStringLiteral("{\"model\": {\"input\": {\"shape\": [4, 8]}, \"blocks\": []}}"),
                              QStringLiteral("{\"model\": "), QStringLiteral("[1, 2, 3]"),
                              QStringLiteral("{\"model\": {}, \"run\": {\"threads\": -1}}")};
        for (const QString& text : bad) {
            QFile f(dir.filePath("bad.json"));
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(text.toUtf8());
            f.close();
            const QString err = w_->openExperiment(f.fileName());
            QVERIFY2(!err.isEmpty(), qPrintable(text));
            QVERIFY(w_->stackModel()->spec() == before);
            auto* box = w_->findChild<QMessageBox*>(QStringLiteral("errorDialog"));
            QVERIFY(box);
            QVERIFY(box->text().contains(QStringLiteral("bad.json")));
            box->close();
            QCoreApplication::processEvents();
        }
        QVERIFY(!w_->openExperiment(dir.filePath("missing.json")).isEmpty());
    }

    void planFitsTheBudgetAndParetoApplies() {
        const ckpt::ModelSpec spec = activationHeavy();
        w_->stackModel()->setSpec(spec);
        auto m = ckpt::ChainModel::build(spec);
        QVERIFY(m);
        const int64_t lo = ckpt::minimal_segment_peak(*m), hi = m->peak(std::vector<bool>(spec.blocks.size(), false));
        const int64_t budget = lo + (hi - lo) / 2;
        PlanPanel* plan = w_->planPanel();
        QCOMPARE(planAndWait(plan, QString::number(budget), QStringLiteral("dp")), QString());
        QVERIFY(m->peak_and_tag(ckpt::recompute_segments(w_->stackModel()->spec())).first <= budget);
        // The planned step, run for real, stays within the budget.
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QVERIFY(w_->lastResult().report->peak_total <= budget);
        // Too small: the error names the smallest budget that can work.
        const QString err = planAndWait(plan, QString::number(lo - 1), QStringLiteral("dp"));
        QVERIFY2(err.contains(QString::number(lo)), qPrintable(err));
        QVERIFY(!planAndWait(plan, QStringLiteral("lots"), QStringLiteral("dp")).isEmpty());
        // Pareto: every point applies its own checkpoint set.
        QVERIFY(paretoAndWait(plan));
        QVERIFY(plan->points().size() >= 3);
        const int i = int(plan->points().size()) - 1;
        plan->applyPoint(i);
        QVERIFY(ckpt::recompute_segments(w_->stackModel()->spec()) == plan->points()[size_t(i)].plan.runs);
        QTemporaryDir dir;
        QCOMPARE(w_->exportChart(MainWindow::Chart::pareto, dir.filePath("p.svg"), 800, 500), QString());
    }

    void everyControlHasATooltip() {
        // Controls the user touches and every chart explain themselves; Qt's own parts inside
        // composite widgets (a spin box's line edit, a dock's float button) are not ours to label.
        QStringList missing;
        for (QWidget* c : w_->findChildren<QWidget*>()) {
            const bool control = qobject_cast<QAbstractButton*>(c) || qobject_cast<QComboBox*>(c) ||
                                 qobject_cast<QAbstractSpinBox*>(c) || qobject_cast<QLineEdit*>(c) ||
                                 qobject_cast<QCustomPlot*>(c) || qobject_cast<QAbstractItemView*>(c);
            if (!control || c->objectName().startsWith(QLatin1String("qt_"))) continue;
            QWidget* p = c->parentWidget();
            if (p && (qobject_cast<QAbstractSpinBox*>(p) || qobject_cast<QComboBox*>(p) || qobject_cast<QDockWidget*>(p) ||
                      qobject_cast<QTabBar*>(p) || qobject_cast<QAbstractScrollArea*>(p) ||
                      c->inherits("QToolBarExtension") || c->inherits("QComboBoxPrivateContainer") ||
                      (p->parentWidget() && qobject_cast<QComboBox*>(p->parentWidget()))))
                continue;
            if (qobject_cast<QAbstractItemView*>(c) && qobject_cast<QComboBox*>(c->window())) continue;
            if (c->toolTip().isEmpty())
                missing << QStringLiteral("%1 \"%2\" (%3)")
                               .arg(QString::fromLatin1(c->metaObject()->className()), c->objectName(),
                                    qobject_cast<QAbstractButton*>(c) ? qobject_cast<QAbstractButton*>(c)->text() : QString());
        }
        QVERIFY2(missing.isEmpty(), qPrintable(missing.join(QStringLiteral(", "))));
        auto* tabs = w_->findChild<QTabWidget*>();
        for (int i = 0; i < tabs->count(); ++i) QVERIFY2(!tabs->tabToolTip(i).isEmpty(), qPrintable(tabs->tabText(i)));
    }

private:
    std::unique_ptr<MainWindow> w_;
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
