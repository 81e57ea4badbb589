// The desktop app's figures are true in ordinary use, offscreen: the stack's prediction is drawn
// before any run (and follows every tick, for any size); a run overlays its own prediction; an
// edit after a run never compares the old measurement with the new prediction and clears what
// belonged to the old stack (Kept column, plan line); Stop keeps the last complete step; no
// overhead is claimed when nothing is checkpointed and the warm-up step is labelled; step numbers
// continue across Run presses; every byte count in the planner's and the out-of-memory dialogs
// is human; empty charts say so; the Pareto chart and the pinned runs work by hand.
#include <QCheckBox>
#include <QMessageBox>
#include <QRegularExpression>
#include <QtTest>

#include "ckpt/planner.h"
#include "ckpt/units.h"
#include "test_models.h"
#include "ui/chart_tabs.h"
#include "ui/depth_chart.h"
#include "ui/lessons.h"
#include "ui/main_window.h"
#include "ui/messages.h"
#include "plan_wait.h"
#include "ui/plan_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_model.h"
#include "ui/summary_panel.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

QString bytes(int64_t b) { return QString::fromStdString(ckpt::format_bytes(b)); }

// A raw byte count: five or more digits in a row (checksums are hex, sizes human).
const QRegularExpression kRawBytes(QStringLiteral("\\b\\d{5,}\\b"));

}  // namespace

class TestMainWindowFigures : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->show();
        // The startup preset's prediction, from its worker.
        if (!w_->prediction().ok()) QVERIFY(QSignalSpy(w_.get(), &MainWindow::predictionShown).wait(30000));
    }
    void cleanup() {
        w_->stop();
        if (w_->controller()->isRunning()) QSignalSpy(w_->controller(), &RunController::runFinished).wait(60000);
        w_.reset();
    }

    // ---- 1 and 2: the prediction before any run ----

    void startupShowsTheTradeOffBeforeARun() {
        QCOMPARE(w_->stackModel()->spec().name, std::string("lesson1-activations"));
        const Prediction& p = w_->prediction();
        QVERIFY(p.ok());
        TimelineChart* t = w_->timeline();
        QCOMPARE(t->mode(), TimelineChart::Mode::predicted);
        QVERIFY(t->title().contains(QLatin1String("Predicted")));
        QCOMPARE(t->pointCount(), int(p.step->events.size()) + 1);
        QCOMPARE(t->plottedPeak(), qint64(p.step->peak_total));
        // Checkpointing the startup stack cuts its predicted peak by more than half, and says so.
        QVERIFY(2 * p.step->peak_total < p.uncheckedPeak);
        const QString s = w_->summary()->text();
        QVERIFY2(s.contains(QStringLiteral("Without checkpointing it would peak at %1").arg(bytes(p.uncheckedPeak))), qPrintable(s));
        QVERIFY(s.contains(QLatin1String("No run yet")));
        // The per-block tab and the Kept column come from the prediction.
        auto* kept = qobject_cast<QCPBars*>(w_->charts()->blockBytes()->plottable(0));
        QCOMPARE(kept->dataCount(), int(p.step->blocks.size()));
        for (const ckpt::BlockReport& b : p.step->blocks) QCOMPARE(qint64(kept->data()->at(b.index)->value), qint64(b.kept_bytes));
        QVERIFY(w_->stackModel()->reportIsPredicted());
        QCOMPARE(w_->stackModel()->data(w_->stackModel()->index(1, LayerStackModel::KeptColumn)).toString(),
                 bytes(p.step->blocks[1].kept_bytes));
        // A budget the stack can meet, not a fixed example that fails.
        const QString hint = w_->planPanel()->budgetPlaceholder();
        const auto suggested = ckpt::parse_bytes(hint.section(QLatin1Char(' '), 1, 1).toStdString());
        QVERIFY2(suggested, qPrintable(hint));
        QCOMPARE(planAndWait(w_->planPanel(), hint.section(QLatin1Char(' '), 1, 1), QStringLiteral("dp")), QString());
    }

    void predictionFollowsEveryTick() {
        QSignalSpy shown(w_.get(), &MainWindow::predictionShown);
        w_->stackModel()->setCheckpointAll(false);
        QVERIFY(shown.wait(30000));
        auto none = ckpt::predict(w_->stackModel()->spec(), 2);
        QVERIFY(none);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(none->peak_total));
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::predicted);
        QVERIFY(w_->summary()->text().contains(QLatin1String("Checkpointing every block would lower it")));
        w_->stackModel()->setCheckpoint(3, true);
        QVERIFY(shown.wait(30000));
        auto one = ckpt::predict(w_->stackModel()->spec(), 2);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(one->peak_total));
    }

    // Lesson 5 checkpointed with attention_core: on flash attention the summary and the plan line
    // say that the policy avoids little there, and nothing in the MLP blocks.
    void summarySaysWhereAttentionCoreAvoidsLittle() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson5_fused_attention")), QString());
        w_->stackModel()->applyEdit([](ckpt::ModelSpec& s) { ckpt::set_attention_impl(s, ckpt::AttentionImpl::flash); },
                                    QStringLiteral("flash"));
        w_->stackModel()->setCheckpointAll(true);
        QTRY_VERIFY_WITH_TIMEOUT(w_->prediction().ok() && w_->prediction().spec == w_->stackModel()->spec(), 30000);
        QTRY_VERIFY_WITH_TIMEOUT(w_->summary()->text().contains(QLatin1String("attention_core saves little here")), 30000);
        QVERIFY(w_->summary()->text().contains(QLatin1String("attention_core saves nothing here")));
        // Eager attention: the policy avoids what it is meant to, and no such line.
        w_->stackModel()->applyEdit([](ckpt::ModelSpec& s) { ckpt::set_attention_impl(s, ckpt::AttentionImpl::eager); },
                                    QStringLiteral("eager"));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->summary()->text().contains(QLatin1String("saves little")), 30000);
    }

    void predictsModelsTooBigToRunHere() {
        // 15 GiB of activations: far past this machine's step budget, predicted at once.
        QSignalSpy shown(w_.get(), &MainWindow::predictionShown);
        QCOMPARE(w_->loadPreset(QStringLiteral("gpt2_small_gpu")), QString());
        QVERIFY(shown.wait(60000));
        auto p = ckpt::predict(w_->stackModel()->spec(), 2);
        QVERIFY(p);
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::predicted);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(p->peak_total));
        QVERIFY(p->peak_total > (int64_t(8) << 30));
    }

    void runOverlaysItsOwnPrediction() {
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        const StepResult& r = w_->lastResult();
        QVERIFY(r.predicted);
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::measured);
        QCOMPARE(w_->timeline()->overlayPoints() > 0, true);
        QCOMPARE(r.predicted->peak_total, r.report->peak_total);
        QVERIFY(w_->summary()->text().contains(QLatin1String("equals the prediction")));
        QVERIFY(!w_->stackModel()->reportIsPredicted());
    }

    // ---- 3: no stale or mixed figures ----

    void editAfterRunNeverShowsAMismatch_data() {
        QTest::addColumn<QString>("edit");
        for (const char* e : {"tick", "untick all", "batch", "optimizer", "add block", "remove block"}) QTest::newRow(e) << e;
    }

    void editAfterRunNeverShowsAMismatch() {
        QFETCH(QString, edit);
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QSignalSpy predicted(w_.get(), &MainWindow::predictionShown);
        LayerStackModel* m = w_->stackModel();
        if (edit == QLatin1String("tick")) m->setCheckpoint(2, false);
        else if (edit == QLatin1String("untick all")) m->setCheckpointAll(false);
        else if (edit == QLatin1String("batch")) m->setBatch(512);
        else if (edit == QLatin1String("optimizer")) m->setOptimizer(ckpt::OptimizerType::adamw);
        else if (edit == QLatin1String("add block")) m->addBlock(8);
        else m->removeBlock(0);
        QVERIFY(predicted.wait(30000));
        const QString s = w_->summary()->text();
        QVERIFY2(!s.contains(QLatin1String("differs")), qPrintable(s));
        QVERIFY2(s.contains(QLatin1String("before your edits")), qPrintable(s));
        // What is drawn and listed is the new stack's prediction, never the old measurement.
        auto p = ckpt::predict(m->spec(), 2);
        QVERIFY(p);
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::predicted);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(p->peak_total));
        QVERIFY(w_->stackModel()->reportIsPredicted());
        QCOMPARE(m->data(m->index(1, LayerStackModel::KeptColumn)).toString(), bytes(p->blocks[1].kept_bytes));
        // Running the edited stack compares it with its own prediction.
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QVERIFY2(w_->summary()->text().contains(QLatin1String("equals the prediction")), qPrintable(w_->summary()->text()));
    }

    void undoLeadsBackToTheMeasurement() {
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        const StepResult r = w_->lastResult();
        QSignalSpy predicted(w_.get(), &MainWindow::predictionShown);
        w_->stackModel()->setCheckpointAll(false);
        QVERIFY(predicted.wait(30000));
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::predicted);
        w_->stackModel()->undoStack()->undo();  // the stack that ran
        QVERIFY(predicted.wait(30000));
        QCOMPARE(w_->timeline()->mode(), TimelineChart::Mode::measured);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(r.report->peak_total));
        QVERIFY(!w_->stackModel()->reportIsPredicted());
        QVERIFY(w_->summary()->text().contains(QLatin1String("equals the prediction")));
        QVERIFY(!w_->summary()->text().contains(QLatin1String("before your edits")));
    }

    void lessonLimitComesAndGoes() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), findLesson(QStringLiteral("lesson4_memory_limit"))->memoryLimit);
        QVERIFY(w_->planPanel()->budgetPlaceholder().contains(QLatin1String("10MiB (the memory limit)")) ||
                QSignalSpy(w_.get(), &MainWindow::predictionShown).wait(30000));
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson1_activations")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));  // the lesson's limit leaves with it
        w_->runBar()->setMemoryLimit(qint64(64) << 20);     // a limit typed for this model
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));   // belongs to it, not to the next one
    }

    void planLineFollowsTheStack() {
        PlanPanel* plan = w_->planPanel();
        QCOMPARE(planAndWait(plan, QStringLiteral("12MiB"), QStringLiteral("dp")), QString());
        QVERIFY(plan->resultText().contains(QLatin1String("checkpointed")));
        w_->stackModel()->setBatch(2048);
        QVERIFY(plan->resultText().isEmpty());
    }

    // ---- 4: Stop keeps the last complete step ----

    void stopKeepsTheLastCompleteStep() {
        // A step of a second or so, so the second step is still under way when Stop comes.
        ckpt::ModelSpec s = testmodels::deep_residual(16, 8192, 64);
        s.optimizer.type = ckpt::OptimizerType::sgd;
        w_->stackModel()->setSpec(s);
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        QSignalSpy started(w_->controller(), &RunController::stepStarted);
        QSignalSpy events(w_->controller(), &RunController::memoryEventsAvailable);
        QSignalSpy finished(w_->controller(), &RunController::runFinished);
        w_->runSteps(-1);
        QVERIFY(shown.wait(120000));
        const StepResult first = w_->lastResult();
        QCOMPARE(first.report->status, ckpt::StepStatus::ok);
        QTRY_VERIFY_WITH_TIMEOUT(started.count() >= 2, 60000);  // polled: emitted on the engine's thread
        const int before = events.count();
        QTRY_VERIFY_WITH_TIMEOUT(events.count() >= before + 3, 30000);
        w_->stop();
        QVERIFY(finished.wait(30000));
        QCOMPARE(w_->lastResult().report->status, ckpt::StepStatus::stopped);
        QCOMPARE(w_->lastResult().step, first.step + 1);
        // On screen: the complete step, whole, and a line saying where the other one stopped.
        QCOMPARE(w_->shownResult().report, first.report);
        QCOMPARE(w_->timeline()->pointCount(), int(first.report->events.size()) + 1);
        QCOMPARE(w_->timeline()->plottedPeak(), qint64(first.report->peak_total));
        QVERIFY(w_->timeline()->title().contains(QStringLiteral("step %1 was stopped").arg(first.step + 1)));
        const QString sum = w_->summary()->text();
        QVERIFY2(sum.contains(QStringLiteral("Step %1 was stopped in block").arg(first.step + 1)), qPrintable(sum));
        QVERIFY(sum.contains(QStringLiteral("The charts show step %1, the last complete one").arg(first.step)));
        QCOMPARE(w_->charts()->historySize(), 1);
        // The next step takes the stopped one's number.
        w_->runSteps(1);
        QVERIFY(shown.wait(120000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QCOMPARE(w_->lastResult().step, first.step + 1);
    }

    // ---- 5: true time figures ----

    void noOverheadWhenNothingIsCheckpointed() {
        w_->stackModel()->setCheckpointAll(false);
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(2);
        for (int i = 0; i < 2; ++i) {
            QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= i + 1, 60000);  // step 2 may land while step 1 is checked
            QCOMPARE(w_->lastResult().report->checkpointed_blocks(), 0);
            const QString s = w_->summary()->text();
            QVERIFY2(!s.contains(QLatin1String("overhead")), qPrintable(s));
            QVERIFY2(!s.contains(QLatin1String("did not lower")), qPrintable(s));
            QVERIFY(!s.contains(QLatin1String("of which recomputation")));
            QVERIFY(s.contains(QLatin1String("No block is checkpointed")));
            QVERIFY(isEmptyShown(w_->charts()->blockTime()));  // no recomputation bars over nothing
        }
    }

    void warmupIsLabelledAndStepsContinue() {
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        const StepResult first = w_->lastResult();
        QCOMPARE(first.step, 1);
        QVERIFY(first.warmup);
        QString s = w_->summary()->text();
        QVERIFY(s.contains(QLatin1String("Step 1 (warm-up")));
        QVERIFY2(s.contains(QLatin1String("Recomputation overhead: run another step")), qPrintable(s));
        // A second press continues the same training: step 2, no warm-up, an overhead figure.
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        const StepResult second = w_->lastResult();
        QCOMPARE(second.step, 2);
        QVERIFY(!second.warmup);
        QCOMPARE(second.report->step, 2);  // the same session
        s = w_->summary()->text();
        QVERIFY(s.contains(QLatin1String("Step 2 on")));
        // The overhead comes from this step's own recomputation against the rest of it, timed
        // under the same conditions (not from a separate step of the twin), repeat by repeat.
        const ckpt::StepReport& rep = *second.report;
        const double own = 100.0 * rep.recompute_overhead();
        QVERIFY2(s.contains(QStringLiteral("Recomputation overhead +%1%").arg(own, 0, 'f', 1)), qPrintable(s));
        QVERIFY(w_->timeline()->title().contains(QLatin1String("step 2")));
        // The history numbers the same steps, and the Pareto chart has measured points already.
        QCustomPlot* h = w_->charts()->history();
        QCOMPARE(h->graph(0)->dataCount(), 2);
        QCOMPARE(h->graph(0)->data()->at(0)->key, 1.0);
        QCOMPARE(h->graph(0)->data()->at(1)->key, 2.0);
        QVERIFY(paretoAndWait(w_->planPanel()));
        int measured = 0;
        for (int i = 0; i < w_->charts()->pareto()->plottableCount(); ++i)
            if (w_->charts()->pareto()->plottable(i)->name().startsWith(QLatin1String("measured")))
                measured += qobject_cast<QCPGraph*>(w_->charts()->pareto()->plottable(i))->dataCount();
        QCOMPARE(measured, 2);
        // Loading a model starts the numbering again.
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QCOMPARE(w_->lastResult().step, 1);
        QVERIFY(w_->lastResult().warmup);
    }

    // ---- 6: human messages ----

    void plannerDialogsSpeakHuman_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("planner");
        QTest::addColumn<QString>("budget");
        QTest::addColumn<bool>("fits");
        for (const QString planner : {"dp", "sqrt", "every-k", "all", "none"}) {
            QTest::newRow(qPrintable("lesson1 " + planner)) << "lesson1_activations" << planner << "1KiB" << false;
            // 7 MiB: only sets near "all" reach it (dp finds one; all is one).
            QTest::newRow(qPrintable("lesson4 7MiB " + planner))
                << "lesson4_memory_limit" << planner << "7MiB" << (planner == "dp" || planner == "all" || planner == "every-k");
            QTest::newRow(qPrintable("deep 2GiB " + planner)) << "deep_residual_mlp" << planner << "2GiB" << false;
        }
    }

    void plannerDialogsSpeakHuman() {
        QFETCH(QString, preset);
        QFETCH(QString, planner);
        QFETCH(QString, budget);
        QFETCH(bool, fits);
        QCOMPARE(w_->loadPreset(preset), QString());
        const QString err = planAndWait(w_->planPanel(), budget, planner);
        QCOMPARE(err.isEmpty(), fits);
        if (fits) return;
        QVERIFY2(!err.contains(kRawBytes), qPrintable(err));
        QVERIFY2(err.contains(QLatin1String("iB")), qPrintable(err));
        // The budget it suggests is one that works.
        const QString suggested = err.section(QStringLiteral("A budget of "), 1).section(QLatin1Char(' '), 0, 0);
        QVERIFY2(!suggested.isEmpty(), qPrintable(err));
        QCOMPARE(planAndWait(w_->planPanel(), suggested, QStringLiteral("dp")), QString());
    }

    void outOfMemoryIsReportedOnceInHumanUnits() {
        QSignalSpy predicted(w_.get(), &MainWindow::predictionShown);
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QVERIFY(predicted.wait(30000));
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(10) << 20);  // the lesson's limit
        QSignalSpy finished(w_->controller(), &RunController::runFinished);
        w_->runSteps(-1);  // even continuously, one out-of-memory ends it with one report
        QVERIFY(finished.wait(60000));
        QCOMPARE(w_->lastResult().report->status, ckpt::StepStatus::out_of_memory);
        QCoreApplication::processEvents();
        const QList<QMessageBox*> boxes = w_->findChildren<QMessageBox*>(QStringLiteral("errorDialog"));
        QCOMPARE(boxes.size(), 1);
        const QString text = boxes.first()->text();
        QVERIFY2(text.contains(QLatin1String("ran out of memory in block")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("10.00 MiB limit")), qPrintable(text));
        QVERIFY2(!text.contains(kRawBytes), qPrintable(text));
        QVERIFY(w_->summary()->text().contains(text));
        // The timeline marks where; its label and the prediction's do not overlap.
        const QList<QCPItemText*> labels = w_->timeline()->labels();
        QCPItemText *oom = nullptr, *pred = nullptr;
        for (QCPItemText* l : labels) {
            if (l->text().startsWith(QLatin1String("out of memory here"))) oom = l;
            if (l->text().startsWith(QLatin1String("predicted peak"))) pred = l;
        }
        QVERIFY(oom && pred);
        QVERIFY(!oom->text().contains(kRawBytes));
        w_->timeline()->replot();
        const QRectF a(oom->topLeft->pixelPosition(), oom->bottomRight->pixelPosition());
        const QRectF b(pred->topLeft->pixelPosition(), pred->bottomRight->pixelPosition());
        QVERIFY2(!a.intersects(b), qPrintable(QStringLiteral("%1 over %2").arg(oom->text(), pred->text())));
        // Then the plan the lesson asks for fits the limit.
        boxes.first()->close();
        QCOMPARE(planAndWait(w_->planPanel(), QStringLiteral("10MiB"), QStringLiteral("dp")), QString());
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        QCOMPARE(w_->lastResult().report->status, ckpt::StepStatus::ok);
        QVERIFY(w_->lastResult().report->peak_total <= (int64_t(10) << 20));
    }

    void wordsForWhere() {
        ckpt::MemoryTag outside;
        outside.phase = ckpt::Phase::optimizer;
        QCOMPARE(whereText(outside), QStringLiteral("outside any block, optimizer"));
        ckpt::MemoryTag in{ckpt::Category::activation, 3, 1, ckpt::Phase::backward};
        const ckpt::ModelSpec s = testmodels::deep_residual(4, 8, 16);
        QCOMPARE(whereText(in, &s), QStringLiteral("in block 3 layer 1 (linear), backward"));
        QCOMPARE(budgetAtLeast((int64_t(12) << 20) + 1), QStringLiteral("12.01MiB"));
        QVERIFY(*ckpt::parse_bytes(budgetAtLeast(123456789).toStdString()) >= 123456789);
    }

    void emptyChartsSaySo() {
        for (QCustomPlot* p : {w_->charts()->history(), w_->charts()->comparison()}) {
            QVERIFY(isEmptyShown(p));
            QVERIFY(!p->xAxis->visible() && !p->yAxis->visible());
        }
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        for (QCustomPlot* p : {w_->charts()->history(), w_->charts()->comparison()}) {
            QVERIFY(!isEmptyShown(p));
            QVERIFY(p->xAxis->visible() && p->yAxis->visible());
        }
    }

    void liveAxisSpeaksMilliseconds() {
        TimelineChart* t = w_->timeline();
        t->beginLive({});
        QVector<ckpt::MemoryEvent> batch;
        for (int i = 1; i <= 50; ++i) batch << ckpt::MemoryEvent{int64_t(i) * 100'000'000, 1024, {}, 1024 * i};
        t->appendLive(batch);  // five seconds of step
        QVERIFY(dynamic_cast<DurationTicker*>(t->xAxis->ticker().data()));
        t->replot();
        const QVector<QString> labels = t->xAxis->tickVectorLabels();
        QVERIFY(!labels.isEmpty());
        for (const QString& l : labels) QVERIFY2(l == QLatin1String("0") || l.endsWith(QLatin1String(" s")), qPrintable(l));
    }

    // ---- 7: Pareto and Compare by hand ----

    void paretoWorksByHand() {
        PlanPanel* plan = w_->planPanel();
        QCustomPlot* pareto = w_->charts()->pareto();
        w_->charts()->setCurrentIndex(ChartTabs::ParetoTab);
        QCoreApplication::processEvents();
        QVERIFY(paretoAndWait(plan));
        pareto->replot();
        QVERIFY(plan->points().size() >= 3);
        QCPCurve* frontier = nullptr;
        for (int i = 0; i < pareto->plottableCount(); ++i)
            if (auto* c = qobject_cast<QCPCurve*>(pareto->plottable(i))) frontier = c;
        QVERIFY(frontier && frontier->dataCount() >= 2);
        // A click on the frontier line applies the frontier point it lands on.
        const int k = frontier->dataCount() / 2;
        const int sweep = frontier->property("paretoIndex").toList().value(k).toInt();
        emit pareto->plottableClick(frontier, k, nullptr);
        QVERIFY(ckpt::recompute_segments(w_->stackModel()->spec()) == plan->points()[size_t(sweep)].plan.runs);
        // Hover names the plan under the cursor (the chart was redrawn for the new ticks).
        QVERIFY(paretoAndWait(plan));
        pareto->replot();
        for (int i = 0; i < pareto->plottableCount(); ++i)
            if (auto* c = qobject_cast<QCPCurve*>(pareto->plottable(i))) frontier = c;
        const ckpt::Plan& p = plan->points()[size_t(sweep)].plan;
        const auto it = frontier->data()->at(k);
        const QString tip = plan->paretoTipAt(it->key, it->value);
        QVERIFY2(tip.contains(QString::fromStdString(p.planner)) && tip.contains(bytes(p.predicted_peak)), qPrintable(tip));
        QVERIFY(plan->paretoTipAt(-1e12, -1e12).isEmpty());
        // The budget, typed, is a line on the chart.
        auto* box = w_->findChild<QLineEdit*>(QStringLiteral("budget"));
        box->setText(QStringLiteral("12MiB"));
        QCOMPARE(plan->budgetLine(), qint64(12) << 20);
    }

    void pinnedRunsNameTheirModelAndCanBeRemoved() {
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        w_->pinCurrentRun();
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());
        w_->runSteps(1);
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);  // the run has wound down
        w_->pinCurrentRun();
        const QStringList names = w_->charts()->pinNames();
        QCOMPARE(names.size(), 2);
        QVERIFY2(names[0].contains(QLatin1String("lesson1-activations")), qPrintable(names[0]));
        QVERIFY2(names[1].contains(QLatin1String("lesson2-optimizer-state")), qPrintable(names[1]));
        QCustomPlot* chart = w_->charts()->comparison();
        QCOMPARE(chart->graphCount(), 3);  // two pins and the current step
        // Two models: each legend entry names its own.
        QVERIFY2(chart->graph(0)->name().contains(QLatin1String("lesson1-activations")), qPrintable(chart->graph(0)->name()));
        QVERIFY2(chart->graph(2)->name().contains(QLatin1String("lesson2-optimizer-state")), qPrintable(chart->graph(2)->name()));
        QCOMPARE(chart->xAxis->label(), QStringLiteral("time in step"));
        w_->charts()->unpin(0);
        QCOMPARE(w_->charts()->pinNames().size(), 1);
        QVERIFY(w_->charts()->pinNames()[0].contains(QLatin1String("lesson2")));
        QCOMPARE(chart->graphCount(), 2);
        // One model: named once, under the axis, so the entries keep room for peak and time.
        QVERIFY2(chart->xAxis->label().contains(QLatin1String("lesson2-optimizer-state")), qPrintable(chart->xAxis->label()));
        for (int i = 0; i < chart->graphCount(); ++i)
            QVERIFY2(!chart->graph(i)->name().contains(QLatin1String("lesson2")), qPrintable(chart->graph(i)->name()));
    }

    // Lesson 6's Depth tab: the engine's depth sweep drawn as three curves (the numbers are the
    // sweep's, which tst_planner fits to n and sqrt(n)), and a measured step of the lesson lands
    // on the prediction of its own checkpointing at the stack's depth.
    void depthTabShowsTheSweepAndTheMeasuredStep() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson6_sublinear_memory")), QString());
        w_->stackModel()->setCheckpointFlags(std::vector<bool>(64, true), QStringLiteral("all"));
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(2);
        QTRY_VERIFY_WITH_TIMEOUT(shown.count() >= 2, 120000);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);
        QSignalSpy drawn(w_->depthChart(), &DepthChart::drawn);
        w_->charts()->setCurrentIndex(ChartTabs::DepthTab);
        QVERIFY(drawn.wait(120000));
        const std::vector<ckpt::DepthPoint>& points = w_->depthChart()->points();
        QCOMPARE(int(points.size()), int(DepthChart::depthsFor(64).size()));
        QCustomPlot* memory = w_->charts()->depthMemory();
        // Three policies, the two reference curves and the measured step.
        QCOMPARE(memory->graphCount(), 6);
        QCOMPARE(memory->graph(0)->dataCount(), int(points.size()));
        const QCPGraph* measured = memory->graph(5);
        QCOMPARE(measured->dataCount(), 1);
        auto at64 = std::find_if(points.begin(), points.end(), [](const ckpt::DepthPoint& p) { return p.depth == 64; });
        QVERIFY(at64 != points.end());
        QCOMPARE(measured->dataMainValue(0), double(at64->activation[size_t(ckpt::DepthPolicy::per_block)]) / double(1 << 20));
    }

private:
    std::unique_ptr<MainWindow> w_;
};

QTEST_MAIN(TestMainWindowFigures)
#include "tst_main_window_figures.moc"
