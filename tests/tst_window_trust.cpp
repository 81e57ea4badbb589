// What the window shows can be trusted (issue 26), offscreen, one test per finding of a new
// user's and a teacher's session: the memory limit drawn on the timeline before and after a run
// and flagged in the summary when the prediction exceeds it; the limit and the budget belong to
// the model (reset by another preset, template, import or run); an opened run marked in the run
// bar with its own device and precision; nothing stale (Pareto's measured points, the optimizer's
// form, tooltips, an out-of-memory header, the unsaved-changes prompt); nothing misread (the wheel
// over an unfocused box, recomputation in orange, typed lesson figures, block labels, grouped
// integers, a flat Compare, broken words, two "kept" figures); every chart titled and subtitled.
#include <QAbstractSpinBox>
#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextLayout>
#include <QTimer>
#include <QToolTip>
#include <QTreeView>
#include <QUndoStack>
#include <QWheelEvent>
#include <QtTest>

#include "ckpt/session.h"
#include "dark_palette.h"
#include "test_models.h"
#include "ui/chart_tabs.h"
#include "ui/lessons.h"
#include "ui/main_window.h"
#include "ui/plan_panel.h"
#include "plan_wait.h"
#include "ui/properties_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_model.h"
#include "ui/style.h"
#include "ui/summary_panel.h"
#include "ui/template_dialog.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

// The red limit line on the timeline, or null.
QCPItemStraightLine* limitLine(TimelineChart* t) {
    for (int i = 0; i < t->itemCount(); ++i)
        if (auto* l = qobject_cast<QCPItemStraightLine*>(t->item(i)); l && l->property("ckptLimit").toBool()) return l;
    return nullptr;
}

QString limitLabel(TimelineChart* t) {
    for (QCPItemText* l : t->labels())
        if (l->property("ckptLimit").toBool()) return l->text();
    return {};
}

// Discards the unsaved changes when the next prompt asks.
void discardNextPrompt() {
    auto* timer = new QTimer(qApp);
    timer->setInterval(10);
    QObject::connect(timer, &QTimer::timeout, timer, [timer] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box || box->objectName() != QLatin1String("unsavedPrompt")) return;
        timer->stop();
        timer->deleteLater();
        box->button(QMessageBox::Discard)->click();
    });
    timer->start();
}

bool runAndWait(MainWindow* w, int steps = 1) {
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QSignalSpy shown(w, &MainWindow::resultShown);
    w->runSteps(steps);
    // A tutorial-sized run can be over before this line: the spy has caught it then.
    if (finished.isEmpty() && !finished.wait(120000)) return false;
    // The step reaches the window through the event loop after the run ends (on a busy machine
    // well after): wait for it to be shown (up to 10 s; a step that shows nothing returns then).
    for (int i = 0; i < 100 && shown.isEmpty(); ++i) shown.wait(100);
    return true;
}

bool waitForPrediction(MainWindow* w) {
    auto current = [w] { return w->prediction().ok() && w->prediction().spec == w->stackModel()->spec(); };
    if (current()) return true;
    QSignalSpy shown(w, &MainWindow::predictionShown);
    for (int i = 0; i < 20 && !current(); ++i) shown.wait(3000);
    return current();
}

// The hue of a colour in degrees, -1 for greys.
int hue(const QColor& c) { return c.hsvHue(); }
bool orangeish(const QColor& c) { return c.hsvSaturation() > 80 && hue(c) >= 15 && hue(c) <= 50; }

// WCAG contrast of two colours.
double contrast(const QColor& a, const QColor& b) {
    auto lum = [](const QColor& c) {
        auto ch = [](double v) { return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF());
    };
    const double la = lum(a), lb = lum(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

QList<QCustomPlot*> everyChart(MainWindow* w) {
    ChartTabs* t = w->charts();
    return {t->timeline(), t->blockBytes(), t->blockTime(), t->history(), t->comparison(), t->pareto()};
}

QString titleOf(QCustomPlot* p) {
    auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->element(0, 0));
    return t ? t->text() : QString();
}

}  // namespace

class TestWindowTrust : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->resize(1366, 768);
        w_->show();
        QVERIFY(waitForPrediction(w_.get()));
    }
    void cleanup() {
        if (!w_) return;
        w_->stop();
        if (w_->controller()->isRunning()) QSignalSpy(w_->controller(), &RunController::runFinished).wait(60000);
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();
        w_.reset();
    }

    // ---- limits and budgets ----

    void limitIsDrawnBeforeAndAfterARun() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QVERIFY(waitForPrediction(w_.get()));
        TimelineChart* t = w_->timeline();
        const qint64 limit = qint64(10) << 20;
        // Before the run, over the prediction.
        QCOMPARE(t->mode(), TimelineChart::Mode::predicted);
        QCPItemStraightLine* line = limitLine(t);
        QVERIFY(line);
        QCOMPARE(line->point1->coords().y(), double(limit));
        QVERIFY2(limitLabel(t).contains(QLatin1String("10.00 MiB")), qPrintable(limitLabel(t)));
        QVERIFY(t->yAxis->range().contains(double(limit)));
        // After it (an out-of-memory step), over the measurement.
        QVERIFY(runAndWait(w_.get()));
        QCOMPARE(t->mode(), TimelineChart::Mode::measured);
        QCOMPARE(w_->shownResult().report->status, ckpt::StepStatus::out_of_memory);
        QVERIFY(limitLine(t));
        QCOMPARE(limitLine(t)->point1->coords().y(), double(limit));
        // Another model, no limit: no line.
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson1_activations")), QString());
        QVERIFY(waitForPrediction(w_.get()));
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));
        QVERIFY(!limitLine(t));
        QVERIFY(limitLabel(t).isEmpty());
        // A limit far above the step is named, not drawn to a scale that flattens the step.
        w_->runBar()->setMemoryLimit(qint64(80) << 30);
        QVERIFY(!limitLine(t));
        QVERIFY2(limitLabel(t).contains(QLatin1String("above this chart")), qPrintable(limitLabel(t)));
    }

    void predictionOverTheLimitIsFlaggedBeforeTheRun() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QVERIFY(waitForPrediction(w_.get()));
        const qint64 peak = w_->prediction().step->peak_total, limit = w_->runBar()->memoryLimit();
        QVERIFY(peak > limit);
        const QString text = w_->summary()->text();
        QVERIFY2(text.contains(QStringLiteral("Over the memory limit by %1").arg(humanBytes(peak - limit))), qPrintable(text));
        QVERIFY(w_->summary()->toHtml().contains(QLatin1String("#dd3333")));  // in red
        QVERIFY2(w_->statusBar()->currentMessage().contains(QLatin1String("over the 10.00 MiB memory limit")),
                 qPrintable(w_->statusBar()->currentMessage()));
        // Checkpointing every block fits: the flag goes.
        w_->stackModel()->setCheckpointAll(true);
        QVERIFY(waitForPrediction(w_.get()));
        QVERIFY(w_->prediction().step->peak_total <= limit);
        QVERIFY(!w_->summary()->text().contains(QLatin1String("Over the memory limit")));
    }

    void limitAndBudgetBelongToTheModel() {
        auto budget = w_->findChild<QLineEdit*>(QStringLiteral("budget"));
        QVERIFY(budget);
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(10) << 20);
        budget->setText(QStringLiteral("5MiB"));
        // A template: no limit, no budget.
        TemplateDialog dialog;
        dialog.setFamily(ckpt::TemplateKind::gpt2);
        auto spec = dialog.model();
        QVERIFY(spec);
        w_->newModel(*spec, dialog.title());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));
        QCOMPARE(w_->planPanel()->budgetText(), QString());
        // The lesson sets its own again; any other preset has none, even one typed by hand.
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(10) << 20);
        budget->setText(QStringLiteral("5MiB"));
        QCOMPARE(w_->loadPreset(QStringLiteral("gpt2_small")), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));
        QCOMPARE(w_->planPanel()->budgetText(), QString());
        // An imported config.
        w_->runBar()->setMemoryLimit(qint64(1) << 30);
        budget->setText(QStringLiteral("5MiB"));
        QSignalSpy opened(w_.get(), &MainWindow::fileOpened);
        discardNextPrompt();
        w_->importConfigFile(QStringLiteral(CKPT_SOURCE_DIR "/tests/data/configs/gpt2.json"), 1, 64);
        QTRY_VERIFY_WITH_TIMEOUT(!opened.isEmpty(), 30000);
        QCOMPARE(opened.last().at(1).toString(), QString());
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));
        QCOMPARE(w_->planPanel()->budgetText(), QString());
    }

    void openedRunIsMarkedWithItsOwnSettings() {
        QTemporaryDir dir;
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
        QVERIFY(runAndWait(w_.get()));
        const QString report = dir.filePath(QStringLiteral("run.json"));
        QCOMPARE(w_->exportRun(report), QString());
        // As if recorded on a GPU server with a limit set there.
        QFile f(report);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray json = f.readAll();
        f.close();
        const QByteArray device = QJsonDocument::fromJson(json).object().value(QStringLiteral("device")).toString().toUtf8();
        QVERIFY(!device.isEmpty());
        json.replace("\"" + device + "\"", "\"cuda:0 (NVIDIA H200)\"");
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(json);
        f.close();
        w_->runBar()->setMemoryLimit(qint64(1) << 30);
        QCOMPARE(w_->openRun(report), QString());
        const QString mark = w_->runBar()->recordedText();
        QVERIFY2(mark.contains(QLatin1String("cuda:0 (NVIDIA H200)")) && mark.contains(QLatin1String("f32")) &&
                     mark.contains(QLatin1String("run.json")),
                 qPrintable(mark));
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(0));  // the limit of the model before is gone
        QVERIFY(subtitleOf(w_->timeline()).contains(QLatin1String("cuda:0 (NVIDIA H200)")));
        // An edit: the charts show this machine's prediction, the mark goes.
        w_->stackModel()->setBatch(w_->stackModel()->spec().input_shape[0] + 1);
        QVERIFY(w_->runBar()->recordedText().isEmpty());
        QVERIFY(subtitleOf(w_->timeline()).contains(QLatin1String("predicted for cpu")));
    }

    // ---- nothing stale ----

    void paretoShowsOnlyThisModel() {
        PlanPanel* plan = w_->planPanel();
        QVERIFY(runAndWait(w_.get(), 2));
        w_->charts()->setCurrentIndex(ChartTabs::ParetoTab);
        QVERIFY(paretoAndWait(plan));
        QVERIFY(plan->measuredPointsShown() > 0);  // lesson 1's own steps
        QCOMPARE(w_->loadPreset(QStringLiteral("llama3_8b_8k")), QString());
        QVERIFY(waitForPrediction(w_.get()));
        QVERIFY(paretoAndWait(plan));
        QCOMPARE(plan->measuredPointsShown(), 0);
        QCustomPlot* p = w_->charts()->pareto();
        for (int i = 0; i < p->plottableCount(); ++i) QVERIFY(!p->plottable(i)->name().startsWith(QLatin1String("measured")));
        QCOMPARE(plan->budgetLine(), qint64(0));  // no budget carried over
        // A title and a subtitle naming this model, on screen and in the file.
        QVERIFY(!titleOf(p).isEmpty());
        QVERIFY2(subtitleOf(p).contains(QLatin1String("llama3-8b")), qPrintable(subtitleOf(p)));
        QTemporaryDir dir;
        const QString svg = dir.filePath(QStringLiteral("pareto.svg"));
        QCOMPARE(w_->exportChart(MainWindow::Chart::pareto, svg, 900, 600), QString());
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString written = QString::fromUtf8(f.readAll());
        QVERIFY(written.contains(titleOf(p).left(20).toHtmlEscaped()));
        QVERIFY(written.contains(QLatin1String("llama3-8b")));
    }

    void everyChartHasATitleAndASubtitle() {
        QVERIFY(runAndWait(w_.get()));
        w_->pinCurrentRun();
        for (QCustomPlot* p : everyChart(w_.get())) {
            QVERIFY2(!titleOf(p).isEmpty(), qPrintable(p->objectName()));
            const QString sub = subtitleOf(p);
            QVERIFY2(sub.contains(QLatin1String("lesson1-activations")) && sub.contains(QLatin1String("cpu")) &&
                         sub.contains(QLatin1String("f32")),
                     qPrintable(p->objectName() + QLatin1String(": ") + sub));
        }
        // In an exported file too (an SVG keeps its text).
        QTemporaryDir dir;
        const QString svg = dir.filePath(QStringLiteral("timeline.svg"));
        ExportOptions o;
        o.widthPx = 1200;
        o.heightPx = 700;
        QCOMPARE(w_->exportChart(MainWindow::Chart::timeline, svg, o), QString());
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(QString::fromUtf8(f.readAll()).contains(QLatin1String("lesson1-activations")));
    }

    void optimizerFormFollowsTheOptimizer() {
        PropertiesPanel* props = w_->properties();
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson2_optimizer_state")), QString());  // AdamW
        QVERIFY(props->field(QStringLiteral("beta1")));
        QVERIFY(!props->field(QStringLiteral("momentum")));
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson1_activations")), QString());  // SGD
        QVERIFY(props->field(QStringLiteral("momentum")));
        QVERIFY(!props->field(QStringLiteral("beta1")));
        QVERIFY(!props->field(QStringLiteral("eps")));
        // Switched in the form itself: the box that was used is rebuilt under it, safely.
        auto* opt = qobject_cast<QComboBox*>(props->field(QStringLiteral("optimizer")));
        QVERIFY(opt);
        const int adamw = opt->findData(int(ckpt::OptimizerType::adamw));
        opt->setCurrentIndex(adamw);
        emit opt->activated(adamw);
        QCOMPARE(w_->stackModel()->spec().optimizer.type, ckpt::OptimizerType::adamw);
        QVERIFY(props->field(QStringLiteral("beta2")));
        QVERIFY(!props->field(QStringLiteral("momentum")));
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QVERIFY(props->field(QStringLiteral("beta2")));
    }

    void wheelOverAnUnfocusedBoxScrollsThePanel() {
        PropertiesPanel* props = w_->properties();
        auto* opt = qobject_cast<QComboBox*>(props->field(QStringLiteral("optimizer")));
        QVERIFY(opt);
        QVERIFY(!opt->hasFocus());
        const ckpt::ModelSpec before = w_->stackModel()->spec();
        for (int dy : {-120, 120, -120}) {
            QWheelEvent wheel(QPointF(5, 5), opt->mapToGlobal(QPointF(5, 5)), QPoint(), QPoint(0, dy), Qt::NoButton,
                              Qt::NoModifier, Qt::NoScrollPhase, false);
            QApplication::sendEvent(opt, &wheel);
        }
        QVERIFY(w_->stackModel()->spec() == before);
        QCOMPARE(w_->stackModel()->spec().optimizer.type, ckpt::OptimizerType::sgd);
        QVERIFY(!w_->isModified());
        // Every box of the panel behaves so.
        for (QWidget* w : props->findChildren<QWidget*>())
            if (qobject_cast<QComboBox*>(w) || qobject_cast<QAbstractSpinBox*>(w)) QCOMPARE(w->focusPolicy(), Qt::StrongFocus);
    }

    void tooltipsGoWhenTheirPlotChanges() {
        TimelineChart* t = w_->timeline();
        w_->charts()->setCurrentIndex(ChartTabs::TimelineTab);
        t->replot();
        QCOMPARE(t->mode(), TimelineChart::Mode::predicted);
        const QPoint inside = t->axisRect()->rect().center();
        QTest::mouseMove(t, inside);
        QTRY_VERIFY(QToolTip::isVisible());
        QVERIFY2(QToolTip::text().contains(QLatin1String("predicted")), qPrintable(QToolTip::text()));
        QVERIFY(runAndWait(w_.get()));
        QCOMPARE(t->mode(), TimelineChart::Mode::measured);
        // The prediction's tooltip does not outlive the prediction.
        QTRY_VERIFY_WITH_TIMEOUT(!QToolTip::isVisible(), 2000);
        // The per-block chart's hover tip goes with its data too.
        QCustomPlot* bytes = w_->charts()->blockBytes();
        w_->charts()->setCurrentIndex(ChartTabs::BlocksTab);
        bytes->replot();
        const QPoint bar(int(bytes->xAxis->coordToPixel(0)), int(bytes->yAxis->coordToPixel(bytes->yAxis->range().center())));
        QHelpEvent help(QEvent::ToolTip, bar, bytes->mapToGlobal(bar));
        QApplication::sendEvent(bytes, &help);
        QTRY_VERIFY(QToolTip::isVisible());
        w_->stackModel()->setCheckpointAll(false);  // the bars become the new stack's prediction
        QVERIFY(waitForPrediction(w_.get()));
        QTRY_VERIFY_WITH_TIMEOUT(!QToolTip::isVisible(), 2000);
    }

    void outOfMemoryHeaderGoesWithTheNextEditOrStep() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        QVERIFY(runAndWait(w_.get()));
        QCOMPARE(w_->shownResult().report->status, ckpt::StepStatus::out_of_memory);
        QVERIFY(w_->summary()->hasAlarm());
        QVERIFY(w_->statusBar()->currentMessage().contains(QLatin1String("did not finish")));
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();
        // An edit: the header described a stack that is gone.
        w_->stackModel()->setCheckpointAll(true);
        QVERIFY(!w_->summary()->hasAlarm());
        QVERIFY(!w_->summary()->text().contains(QLatin1String("ran out of memory")));
        QVERIFY(!w_->statusBar()->currentMessage().contains(QLatin1String("did not finish")));
        // Out of memory again, then the next step: gone as it starts.
        w_->stackModel()->setCheckpointAll(false);
        QVERIFY(runAndWait(w_.get()));
        QVERIFY(w_->summary()->hasAlarm());
        for (auto* box : w_->findChildren<QMessageBox*>()) box->close();
        bool alarmAtStart = true;
        QString statusAtStart;
        connect(w_->controller(), &RunController::stepStarted, this, [&] {
            alarmAtStart = w_->summary()->hasAlarm();
            statusAtStart = w_->statusBar()->currentMessage();
        });
        w_->runBar()->setMemoryLimit(0);
        QVERIFY(runAndWait(w_.get()));
        QVERIFY(!alarmAtStart);
        QVERIFY2(!statusAtStart.contains(QLatin1String("did not finish")), qPrintable(statusAtStart));
    }

    void noPromptForAnUneditedPreset() {
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson1_activations")), QString());
        QVERIFY(!w_->isModified());
        QVERIFY(runAndWait(w_.get()));
        QVERIFY(!w_->isModified());  // running a lesson changes nothing to save
        const ckpt::ModelSpec preset = w_->stackModel()->spec();
        w_->stackModel()->setBatch(2048);
        QVERIFY(w_->isModified());
        w_->stackModel()->undoStack()->undo();
        QVERIFY(!w_->isModified());  // undone back to the preset
        QVERIFY(!w_->windowTitle().contains(QLatin1Char('*')) || !w_->isWindowModified());
        w_->stackModel()->setCheckpointAll(false);
        w_->stackModel()->setBatch(512);
        QVERIFY(w_->isModified());
        auto* reset = w_->findChild<QAction*>(QStringLiteral("resetPreset"));
        QVERIFY(reset && reset->isEnabled());
        reset->trigger();
        QVERIFY(w_->stackModel()->spec() == preset);
        QVERIFY(!w_->isModified());
        w_->stackModel()->undoStack()->undo();  // the reset is one undoable edit
        QCOMPARE(w_->stackModel()->spec().input_shape[0], int64_t(512));
        QVERIFY(w_->isModified());
        // The lesson's own limit comes back with Reset.
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson4_memory_limit")), QString());
        w_->runBar()->setMemoryLimit(0);
        QVERIFY(w_->isModified());
        reset->trigger();
        QCOMPARE(w_->runBar()->memoryLimit(), qint64(10) << 20);
        QVERIFY(!w_->isModified());
    }

    // ---- nothing misread ----

    void recomputationHasALookOfItsOwn() {
        TimelineChart* t = w_->timeline();
        QCPGraph *kept = nullptr, *recomputed = nullptr;
        for (int i = 0; i < t->graphCount(); ++i) {
            if (t->graph(i)->name() == categoryLabel(ckpt::Category::activation)) kept = t->graph(i);
            if (t->graph(i)->name() == categoryLabel(ckpt::Category::recomputed)) recomputed = t->graph(i);
        }
        QVERIFY(kept && recomputed);
        QCOMPARE(kept->brush().style(), Qt::SolidPattern);
        QVERIFY(recomputed->brush().style() != Qt::SolidPattern);  // hatched
        QVERIFY(runAndWait(w_.get()));
        auto* rec = qobject_cast<QCPBars*>(w_->charts()->blockTime()->plottable(0));
        QVERIFY(rec && rec->brush().style() != Qt::SolidPattern);
        // The timeline's recomputation bands are hatched, not orange washes.
        bool hatchedBand = false;
        for (int i = 0; i < t->itemCount(); ++i)
            if (auto* r = qobject_cast<QCPItemRect*>(t->item(i)); r && r->brush().style() == Qt::DiagCrossPattern) hatchedBand = true;
        QVERIFY(hatchedBand);
        // Pinned runs and the plans' marker are never orange.
        w_->pinCurrentRun();
        w_->stackModel()->setCheckpointAll(false);
        QVERIFY(runAndWait(w_.get()));
        w_->pinCurrentRun();
        QCustomPlot* cmp = w_->charts()->comparison();
        QCOMPARE(cmp->graphCount(), 3);
        for (int i = 0; i < cmp->graphCount(); ++i)
            QVERIFY2(!orangeish(cmp->graph(i)->pen().color()), qPrintable(cmp->graph(i)->pen().color().name()));
        w_->charts()->setCurrentIndex(ChartTabs::ParetoTab);
        QVERIFY(paretoAndWait(w_->planPanel()));
        QCustomPlot* pareto = w_->charts()->pareto();
        for (int i = 0; i < pareto->plottableCount(); ++i)
            if (auto* g = qobject_cast<QCPGraph*>(pareto->plottable(i)))
                QVERIFY2(!orangeish(g->scatterStyle().pen().color()), qPrintable(g->name()));
    }

    void lessonFiguresAreComputed() {
        static const QRegularExpression typedBytes(QStringLiteral("\\d+(\\.\\d+)? ?[KMGT]i?B\\b|half a [KMG]iB|a few [KMG]iB"));
        for (const Lesson& l : lessons()) {
            Experiment e;
            QCOMPARE(ckptui::loadPreset(l.preset, &e), QString());
            // The only size typed in a lesson is the limit it is about.
            QString raw = QString::fromStdString(e.spec.description);
            if (l.memoryLimit > 0) raw.remove(QStringLiteral("%1 MiB").arg(l.memoryLimit >> 20)).remove(QStringLiteral("%1MiB").arg(l.memoryLimit >> 20));
            QVERIFY2(!raw.contains(typedBytes), qPrintable(l.preset + QLatin1String(": ") + raw));
            const QString shown = describeModel(e.spec);
            QVERIFY2(!shown.contains(QLatin1Char('{')), qPrintable(shown));
        }
        // Lesson 1's weights are what the summary's table says, to the byte.
        const Prediction& p = w_->prediction();
        const QString params = humanBytes(p.step->at_peak[int(ckpt::Category::parameter)]);
        QVERIFY2(describeModel(w_->stackModel()->spec()).contains(QStringLiteral("The weights are %1;").arg(params)),
                 qPrintable(describeModel(w_->stackModel()->spec())));
        QVERIFY(w_->summary()->text().contains(params));
    }

    void perBlockNamesBlocksAndNeverCollides() {
        QCOMPARE(w_->loadPreset(QStringLiteral("gpt2_small")), QString());
        QVERIFY(waitForPrediction(w_.get()));
        w_->charts()->setCurrentIndex(ChartTabs::BlocksTab);
        QCustomPlot* bytes = w_->charts()->blockBytes();
        const std::vector<ckpt::BlockSpec>& blocks = w_->stackModel()->spec().blocks;
        for (int width : {1366, 700}) {
            w_->resize(width, 768);
            QCoreApplication::processEvents();
            bytes->replot();
            bytes->replot();
            const QVector<double> ticks = bytes->xAxis->tickVector();
            const QVector<QString> labels = bytes->xAxis->tickVectorLabels();
            QVERIFY(!ticks.isEmpty());
            const QFontMetrics fm(bytes->xAxis->tickLabelFont());
            for (int i = 0; i < ticks.size(); ++i) {
                const int b = int(ticks[i]);
                QVERIFY(labels[i].startsWith(QString::fromStdString(blocks[size_t(b)].name)));  // names, not indices
                if (i == 0) continue;
                const double gap = bytes->xAxis->coordToPixel(ticks[i]) - bytes->xAxis->coordToPixel(ticks[i - 1]);
                const double need = (fm.horizontalAdvance(labels[i]) + fm.horizontalAdvance(labels[i - 1])) / 2.0;
                QVERIFY2(gap >= need, qPrintable(QStringLiteral("%1 px between \"%2\" and \"%3\" at %4 px")
                                                     .arg(gap).arg(labels[i - 1], labels[i]).arg(width)));
            }
        }
    }

    void legendsNeverCoverTheData() {
        QVERIFY(runAndWait(w_.get()));
        w_->pinCurrentRun();
        w_->charts()->setCurrentIndex(ChartTabs::ParetoTab);
        QVERIFY(paretoAndWait(w_->planPanel()));
        // Each tab shown in turn, so its charts are laid out at their real size.
        for (int tab = 0; tab < w_->charts()->count(); ++tab) {
            w_->charts()->setCurrentIndex(tab);
            QCoreApplication::processEvents();
            for (const auto& [name, p] : w_->charts()->chartsOf(tab)) {
                p->replot();
                if (!p->legend->visible()) continue;
                const QRect legend = p->legend->outerRect(), axes = p->axisRect()->rect();
                QVERIFY2(!legend.intersects(axes), qPrintable(QStringLiteral("%1: legend at %2,%3 over the axes at %4,%5 %6x%7")
                                                                  .arg(name).arg(legend.x()).arg(legend.y()).arg(axes.x())
                                                                  .arg(axes.y()).arg(axes.width()).arg(axes.height())));
            }
        }
    }

    void integersAreGroupedWithoutADecimalLookAlike() {
        const QLocale before;
        QLocale::setDefault(QLocale(QLocale::German, QLocale::Germany));
        {
            TemplateDialog dialog;
            dialog.setFamily(ckpt::TemplateKind::gpt2);
            auto* vocab = dialog.findChild<QSpinBox*>(QStringLiteral("knob_vocab"));
            QVERIFY(vocab);
            QCOMPARE(vocab->text(), QStringLiteral("50") + QChar(0x202F) + QStringLiteral("257"));
            QVERIFY(!dialog.status().contains(QRegularExpression(QStringLiteral("\\d\\.\\d{3}\\b"))));
        }
        QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
        {
            TemplateDialog dialog;
            dialog.setFamily(ckpt::TemplateKind::gpt2);
            auto* vocab = dialog.findChild<QSpinBox*>(QStringLiteral("knob_vocab"));
            QCOMPARE(vocab->text(), QStringLiteral("50,257"));
            vocab->findChild<QLineEdit*>()->setText(QStringLiteral("32,000"));
            QVERIFY(vocab->hasAcceptableInput());
            vocab->interpretText();
            QCOMPARE(vocab->value(), 32000);
            QVERIFY2(dialog.status().contains(QRegularExpression(QStringLiteral("\\d,\\d{3},\\d{3} parameters"))),
                     qPrintable(dialog.status()));
        }
        QLocale::setDefault(before);
    }

    void compareFitsAndScalesRunsOfDifferentSizes() {
        // Two pins of lesson 1 at 1366 px: every legend entry within the chart.
        QVERIFY(runAndWait(w_.get(), 2));
        w_->pinCurrentRun();
        w_->stackModel()->setCheckpointAll(false);
        QVERIFY(runAndWait(w_.get()));
        w_->pinCurrentRun();
        QCustomPlot* cmp = w_->charts()->comparison();
        w_->charts()->setCurrentIndex(ChartTabs::CompareTab);
        cmp->replot();
        for (int i = 0; i < cmp->legend->itemCount(); ++i) {
            QCPAbstractLegendItem* item = cmp->legend->item(i);
            if (!item) continue;
            const QRect r = item->rect();
            QVERIFY2(r.left() >= 0 && r.right() <= cmp->width(), qPrintable(QStringLiteral("%1 px wide chart, entry %2..%3").arg(cmp->width()).arg(r.left()).arg(r.right())));
            QVERIFY2(QFontMetrics(cmp->legend->font()).boundingRect(QRect(), 0, qobject_cast<QCPPlottableLegendItem*>(item)->plottable()->name()).width() + 30 <= cmp->width(),
                     qPrintable(qobject_cast<QCPPlottableLegendItem*>(item)->plottable()->name()));
        }
        // Beside a GiB model's step (its prediction, pinned as an opened GPU run would be).
        Experiment e;
        QCOMPARE(ckptui::loadPreset(QStringLiteral("gpt2_124m"), &e), QString());
        auto big = ckpt::predict(e.spec, 2);
        QVERIFY(big);
        StepResult r;
        r.report = std::make_shared<const ckpt::StepReport>(*big);
        r.spec = e.spec;
        r.step = 2;
        w_->charts()->pin(r, QStringLiteral("GPT-2 124M"));
        cmp->replot();
        QCOMPARE(cmp->yAxis->scaleType(), QCPAxis::stLogarithmic);
        const qint64 small = w_->shownResult().report->peak_total;
        QVERIFY(big->peak_total > 100 * small);
        const double fromBottom = cmp->axisRect()->bottom() - cmp->yAxis->coordToPixel(double(small));
        QVERIFY2(fromBottom > 0.2 * cmp->axisRect()->height(), qPrintable(QString::number(fromBottom)));
        QVERIFY(cmp->yAxis->label().contains(QLatin1String("log scale")));
    }

    void summaryNeverBreaksAWord() {
        QVERIFY(runAndWait(w_.get()));
        SummaryPanel* s = w_->summary();
        QCOMPARE(s->wordWrapMode(), QTextOption::WordWrap);
        // Laid out narrow, as in a 1366-px window's dock: every line ends between words.
        s->document()->setTextWidth(200);
        for (QTextBlock b = s->document()->begin(); b != s->document()->end(); b = b.next()) {
            QTextLayout* layout = b.layout();
            const QString text = b.text();
            for (int i = 0; i + 1 < layout->lineCount(); ++i) {
                const QTextLine line = layout->lineAt(i);
                const int end = line.textStart() + line.textLength();
                if (end <= 0 || end >= text.size()) continue;
                const QChar before = text[end - 1], after = text[end];
                QVERIFY2(!(before.isLetter() && after.isLetter()),
                         qPrintable(QStringLiteral("\"%1|%2\"").arg(text.mid(std::max(0, end - 12), 12), text.mid(end, 12))));
            }
        }
    }

    void twoKeptFiguresSayWhyTheyDiffer() {
        QVERIFY(runAndWait(w_.get()));
        const ckpt::StepReport& r = *w_->shownResult().report;
        SummaryPanel* s = w_->summary();
        const QString kept = humanBytes(r.kept_bytes_total()), atPeak = humanBytes(r.at_peak[int(ckpt::Category::activation)]);
        QVERIFY(kept != atPeak);  // lesson 1: the batch the first block keeps is an input
        for (const QString& where : {QStringLiteral("Kept for backward"), categoryLabel(ckpt::Category::activation)}) {
            const QTextCursor c = s->document()->find(where);
            QVERIFY2(!c.isNull(), qPrintable(where));
            QTextCursor at(s->document());
            at.setPosition(c.selectionStart() + 1);
            const QString tip = at.charFormat().toolTip();
            QVERIFY2(tip.contains(kept) && tip.contains(atPeak) && !tip.contains(QLatin1Char('\n')), qPrintable(where + ": " + tip));
            // What the widget shows when the mouse rests there.
            s->ensureCursorVisible();
            const QPoint pos = s->cursorRect(at).center();
            QCOMPARE(s->toolTipAt(pos), tip);
        }
    }

    // ---- palettes ----

    void readableInADarkPalette() {
        w_.reset();
        const QPalette light = QApplication::palette();
        useDarkTheme();
        w_ = std::make_unique<MainWindow>();  // built under the dark theme: no palette change event
        w_->show();
        QVERIFY(waitForPrediction(w_.get()));
        QVERIFY(runAndWait(w_.get()));
        w_->charts()->setCurrentIndex(ChartTabs::ParetoTab);
        QVERIFY(paretoAndWait(w_->planPanel()));
        for (QCustomPlot* p : everyChart(w_.get())) {
            const QColor bg = chartPalette(p).color(QPalette::Base);
            QVERIFY2(bg.lightness() < 80, qPrintable(p->objectName()));
            for (int i = 0; i < p->plotLayout()->elementCount(); ++i)
                if (auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->elementAt(i)))
                    QVERIFY2(contrast(t->textColor(), bg) >= 4.5, qPrintable(p->objectName() + QLatin1String(": ") + t->text()));
            if (p->legend->visible()) {
                const QColor under = p->legend->brush().style() == Qt::NoBrush ? bg : p->legend->brush().color();
                for (int i = 0; i < p->legend->itemCount(); ++i)
                    if (QCPAbstractLegendItem* item = p->legend->item(i))
                        QVERIFY2(contrast(item->textColor(), under) >= 4.5, qPrintable(p->objectName()));
            }
            QVERIFY(contrast(p->xAxis->tickLabelColor(), bg) >= 4.5);
        }
        // An unchecked Checkpoint box stands out from the row behind it.
        QTreeView* view = w_->findChild<QTreeView*>(QStringLiteral("stackView"));
        QVERIFY(view);
        w_->stackModel()->setCheckpointAll(false);
        const QModelIndex cell = w_->stackModel()->index(0, LayerStackModel::CheckpointColumn);
        const QRect rect = view->visualRect(cell);
        const QImage img = view->viewport()->grab(rect).toImage();
        const QColor base = view->palette().color(QPalette::Base);
        double best = 1;
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) best = std::max(best, contrast(img.pixelColor(x, y), base));
        QVERIFY2(best >= 3.0, qPrintable(QString::number(best)));
        w_.reset();
        QApplication::setPalette(light);
    }

private:
    std::unique_ptr<MainWindow> w_;
};

QTEST_MAIN(TestWindowTrust)
#include "tst_window_trust.moc"
