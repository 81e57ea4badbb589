// Renders the main window after real runs of a preset and saves it as a PNG (the README's
// screenshot). Optionally runs other checkpoint policies first and pins them, so the Compare tab
// overlays them on the final run, and writes every tab as its own PNG for review. With --steps 0
// nothing runs: the window shows the prediction, as a student first sees it. Run it under a
// display, e.g. xvfb-run, through tests/screenshot/screenshot.sh.
// With --attention eager,flash the preset runs on each attention kernel but the last, each pinned,
// and the final run takes the last (lesson 5's comparison).
//   checkpointlab_screenshot OUT.png [--preset NAME] [--batch N] [--optimizer none|sgd|adamw]
//       [--policy POLICY] [--compare POLICY,POLICY] [--attention KERNEL,KERNEL] [--steps N] [--tab N]
//       [--tabs-dir DIR] [--help-panel] [--threads N] [--size WxH] [--dark] [--manual PAGE[#SECTION]]
//       [--open-run REPORT.json [--while-sweeping]] [--experiment FILE.json]
//       [--open-snapshot SNAPSHOT.pickle] [--compare-snapshot SNAPSHOT.pickle]
// With --manual, OUT is Help › Manual's window at that page instead.
#include <algorithm>
#include <QApplication>
#include <QCheckBox>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QTreeView>

#include "ckpt/names.h"
#include "ckpt/templates.h"
#include "../dark_palette.h"
#include "ui/chart_tabs.h"
#include "ui/depth_chart.h"
#include "ui/lessons.h"
#include "ui/main_window.h"
#include "ui/manual_window.h"
#include "ui/plan_panel.h"
#include "ui/stack_model.h"

namespace {

// Runs `steps` steps with the window's current settings and waits for the last one.
bool runAndWait(ckptui::MainWindow& w, int steps) {
    QEventLoop loop;
    const auto done = QObject::connect(w.controller(), &ckptui::RunController::runFinished, &loop, &QEventLoop::quit);
    w.runSteps(steps);
    if (!w.controller()->isRunning()) return false;
    QTimer::singleShot(1800000, &loop, &QEventLoop::quit);
    loop.exec();
    QObject::disconnect(done);
    QCoreApplication::processEvents();
    return w.lastResult().report && w.lastResult().report->status == ckpt::StepStatus::ok;
}

// `policy`, or the preset's own ticks when it is empty.
bool applyPolicy(ckptui::MainWindow& w, const QString& policy, const std::vector<bool>& presetFlags) {
    if (policy.isEmpty()) {
        w.stackModel()->setCheckpointFlags(presetFlags, QStringLiteral("preset"));
        return true;
    }
    // Segments too (sqrt is Chen et al.'s sqrt(n) segments): the set with its grouping.
    auto set = ckpt::parse_checkpoint(policy.toStdString(), w.stackModel()->spec());
    if (!set) {
        qWarning("%s", set.error().message.c_str());
        return false;
    }
    w.stackModel()->setCheckpointSet(*set, policy);
    return true;
}

QString policyName(const QString& p) {
    if (p == QLatin1String("none")) return QStringLiteral("checkpoint none");
    if (p == QLatin1String("all")) return QStringLiteral("checkpoint all");
    if (p.startsWith(QLatin1String("every:"))) {
        const int k = p.mid(6).toInt();
        const char* th = k % 10 == 1 && k != 11 ? "st" : k % 10 == 2 && k != 12 ? "nd" : k % 10 == 3 && k != 13 ? "rd" : "th";
        return QStringLiteral("checkpoint every %1%2 block").arg(k).arg(QLatin1String(th));
    }
    return QStringLiteral("checkpoint ") + p;
}

void settle(int ms) {
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);  // let queued replots land
    loop.exec();
}

}  // namespace

int main(int argc, char** argv) {
    // Grabbing a window renders its hidden tab pages too; QCustomPlot complains about their
    // empty paint buffers, which says nothing about the picture.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString& msg) {
        if (msg.contains(QLatin1String("paint buffer returned inactive painter")) ||
            msg.contains(QLatin1String("Paint device returned engine == 0")) || msg.contains(QLatin1String("XDG_RUNTIME_DIR")))
            return;
        fprintf(stderr, "%s\n", qPrintable(msg));
        if (type == QtFatalMsg) abort();
    });
    QApplication app(argc, argv);
    QCommandLineParser cli;
    cli.addPositionalArgument(QStringLiteral("out"), QStringLiteral("the PNG to write"));
    cli.addOptions({{QStringLiteral("preset"), QStringLiteral("preset"), QStringLiteral("name"), ckptui::startupPreset()},
                    {QStringLiteral("batch"), QStringLiteral("batch size"), QStringLiteral("n")},
                    {QStringLiteral("optimizer"), QStringLiteral("none, sgd or adamw"), QStringLiteral("type")},
                    {QStringLiteral("policy"), QStringLiteral("checkpoint policy of the final run (default: the preset's)"), QStringLiteral("policy")},
                    {QStringLiteral("compare"), QStringLiteral("policies run and pinned first"), QStringLiteral("list")},
                    {QStringLiteral("attention"), QStringLiteral("attention kernels: each but the last run and pinned "
                                                                 "first, the last for the final run"),
                     QStringLiteral("list")},
                    {QStringLiteral("steps"), QStringLiteral("steps of the final run (0: none, the prediction only)"), QStringLiteral("n"), QStringLiteral("1")},
                    {QStringLiteral("tab"), QStringLiteral("tab shown in OUT"), QStringLiteral("n"), QStringLiteral("0")},
                    {QStringLiteral("tabs-dir"), QStringLiteral("also write every tab here"), QStringLiteral("dir")},
                    {QStringLiteral("help-panel"), QStringLiteral("show \"What am I looking at?\" instead of the summary")},
                    {QStringLiteral("threads"), QStringLiteral("CPU threads of the runs (0: the default)"), QStringLiteral("n")},
                    {QStringLiteral("size"), QStringLiteral("window size (a 1366 x 768 laptop by default)"), QStringLiteral("WxH"),
                     QStringLiteral("1366x768")},
                    {QStringLiteral("manual"), QStringLiteral("picture Help › Manual at this page instead"),
                     QStringLiteral("page.md#section")},
                    {QStringLiteral("open-run"), QStringLiteral("show a run recorded with `checkpointlab run --report` "
                                                                "(File > Open run) instead of running"),
                     QStringLiteral("report.json")},
                    {QStringLiteral("experiment"), QStringLiteral("open an experiment file and show its prediction"),
                     QStringLiteral("file")},
                    {QStringLiteral("while-sweeping"), QStringLiteral("with --open-run on the Pareto tab: the picture while it "
                                                                      "sweeps, not of its answer")},
                    {QStringLiteral("open-snapshot"), QStringLiteral("picture the window of a PyTorch memory snapshot "
                                                                     "(File > Open PyTorch snapshot) instead"),
                     QStringLiteral("snapshot.pickle")},
                    {QStringLiteral("compare-snapshot"), QStringLiteral("picture Compare with a PyTorch memory snapshot "
                                                                        "laid over the preset's prediction"),
                     QStringLiteral("snapshot.pickle")},
                    {QStringLiteral("dark"), QStringLiteral("a dark desktop theme (Breeze Dark's palette, Fusion style)")}});
    cli.addHelpOption();
    cli.process(app);
    if (cli.positionalArguments().size() != 1) cli.showHelp(2);
    const QString out = cli.positionalArguments().first();
    if (cli.isSet(QStringLiteral("dark"))) useDarkTheme();

    ckptui::MainWindow w;
    const QStringList size = cli.value(QStringLiteral("size")).split(QLatin1Char('x'));
    w.resize(size.value(0).toInt(), size.value(1).toInt());
    w.show();
    if (!w.loadPreset(cli.value(QStringLiteral("preset"))).isEmpty()) return 1;
    if (cli.isSet(QStringLiteral("threads"))) {
        // Run settings come with an experiment: save the preset with the thread count and open it.
        ckptui::Experiment e = w.experiment();
        e.run.settings.threads = cli.value(QStringLiteral("threads")).toInt();
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("experiment.json"));
        if (!ckptui::saveExperiment(path, e).isEmpty() || !w.openExperiment(path).isEmpty()) return 1;
    }
    if (cli.isSet(QStringLiteral("manual"))) {
        const QStringList at = cli.value(QStringLiteral("manual")).split(QLatin1Char('#'));
        w.showManual(ckptui::manualUrl(at.value(0), at.value(1)));
        settle(500);
        return w.manualWindow()->grab().save(out) ? 0 : 1;
    }
    if (cli.isSet(QStringLiteral("open-snapshot"))) {  // File > Open PyTorch snapshot: its own window
        const QString err = w.openTorchSnapshot(cli.value(QStringLiteral("open-snapshot")));
        if (!err.isEmpty()) {
            fprintf(stderr, "%s\n", qPrintable(err));
            return 1;
        }
        settle(800);
        return w.snapshotWindow()->grab().save(out) ? 0 : 1;
    }
    if (cli.isSet(QStringLiteral("compare-snapshot"))) {  // the snapshot window's Compare with the prediction
        const QString err = w.openTorchSnapshot(cli.value(QStringLiteral("compare-snapshot")));
        for (int i = 0; i < 600 && !w.prediction().ok(); ++i) settle(100);
        const QString why = err.isEmpty() ? w.compareSnapshot(w.snapshotWindow()->snapshotPtr(), cli.value(QStringLiteral("compare-snapshot"))) : err;
        if (!why.isEmpty()) {
            fprintf(stderr, "%s\n", qPrintable(why));
            return 1;
        }
        w.snapshotWindow()->close();
        settle(1000);
        return w.grab().save(out) ? 0 : 1;
    }
    if (cli.isSet(QStringLiteral("experiment"))) {  // a saved experiment (a parallel layout's, say), predicted
        const QString err = w.openExperiment(cli.value(QStringLiteral("experiment")));
        if (!err.isEmpty()) {
            fprintf(stderr, "%s\n", qPrintable(err));
            return 1;
        }
        settle(1500);
        if (auto* tabs = w.findChild<QTabWidget*>()) tabs->setCurrentIndex(cli.value(QStringLiteral("tab")).toInt());
        settle(1000);
        return w.grab().save(out) ? 0 : 1;
    }
    if (cli.isSet(QStringLiteral("open-run"))) {  // a run recorded elsewhere, a GPU server's say
        const QString err = w.openRun(cli.value(QStringLiteral("open-run")));
        if (!err.isEmpty()) {
            fprintf(stderr, "%s\n", qPrintable(err));
            return 1;
        }
        settle(1000);
        if (auto* tabs = w.findChild<QTabWidget*>()) tabs->setCurrentIndex(cli.value(QStringLiteral("tab")).toInt());
        settle(500);
        // The Pareto tab sweeps on a worker: the picture is of its answer (or of it sweeping).
        for (int i = 0; i < 1200 && !cli.isSet(QStringLiteral("while-sweeping")) && w.planPanel()->isSweeping(); ++i) settle(100);
        settle(300);
        return w.grab().save(out) ? 0 : 1;
    }
    std::vector<bool> presetFlags;
    for (const auto& b : w.stackModel()->spec().blocks) presetFlags.push_back(b.checkpoint);
    if (cli.isSet(QStringLiteral("batch"))) w.stackModel()->setBatch(cli.value(QStringLiteral("batch")).toLongLong());
    if (cli.isSet(QStringLiteral("optimizer"))) {
        const QString o = cli.value(QStringLiteral("optimizer"));
        w.stackModel()->setOptimizer(o == QLatin1String("adamw") ? ckpt::OptimizerType::adamw
                                     : o == QLatin1String("sgd") ? ckpt::OptimizerType::sgd
                                                                 : ckpt::OptimizerType::none);
    }
    QCheckBox* verify = nullptr;
    for (QCheckBox* c : w.findChildren<QCheckBox*>())
        if (c->text() == QLatin1String("verify")) verify = c;
    // The pinned runs are references for the overlay: no unchecked twin needed. Each pins the
    // last of as many steps as the final run takes (at least two): the session's first step
    // is a cold one (first-touch pages; 65 ms against 43 for lesson 1 on the CLI), and the
    // overlay compares policies, not warm against cold.
    const QStringList compare = cli.value(QStringLiteral("compare")).split(QLatin1Char(','), Qt::SkipEmptyParts);
    const int steps = cli.value(QStringLiteral("steps")).toInt();
    for (const QString& p : compare) {
        if (verify) verify->setChecked(false);
        if (!applyPolicy(w, p, presetFlags) || !runAndWait(w, std::max(2, steps))) return 1;
        w.pinCurrentRun(policyName(p));
        qInfo("pinned %s", qPrintable(p));
    }
    const QStringList kernels = cli.value(QStringLiteral("attention")).split(QLatin1Char(','), Qt::SkipEmptyParts);
    auto setKernel = [&w](const QString& k) {
        const auto impl = ckpt::enum_from_name<ckpt::AttentionImpl>(k.toStdString());
        if (impl) w.stackModel()->applyEdit([impl](ckpt::ModelSpec& s) { ckpt::set_attention_impl(s, *impl); }, k);
        return impl.has_value();
    };
    for (int i = 0; i + 1 < kernels.size(); ++i) {
        if (verify) verify->setChecked(false);
        if (!setKernel(kernels[i]) || !applyPolicy(w, cli.value(QStringLiteral("policy")), presetFlags) ||
            !runAndWait(w, std::max(2, steps)))
            return 1;
        w.pinCurrentRun(kernels[i] + QStringLiteral(" attention"));
        qInfo("pinned %s", qPrintable(kernels[i]));
    }
    if (!kernels.isEmpty() && !setKernel(kernels.last())) return 1;
    if (verify) verify->setChecked(true);
    if (!applyPolicy(w, cli.value(QStringLiteral("policy")), presetFlags)) return 1;
    if (auto* view = w.findChild<QTreeView*>(QStringLiteral("stackView"))) view->expand(w.stackModel()->index(1, 0));
    // A step that ends out of memory is a picture too (the memory-limit lesson).
    if (steps > 0 && !runAndWait(w, steps)) qWarning("the final run did not end with a complete step");
    if (steps == 0) settle(1000);  // the prediction arrives from its worker
    auto* tabs = w.findChild<QTabWidget*>();
    if (!tabs) return 1;
    if (cli.isSet(QStringLiteral("tabs-dir"))) {
        const QDir dir(cli.value(QStringLiteral("tabs-dir")));
        dir.mkpath(QStringLiteral("."));
        for (int i = 0; i < tabs->count(); ++i) {
            tabs->setCurrentIndex(i);
            settle(300);
            w.grab().save(dir.filePath(QStringLiteral("tab-%1.png").arg(i)));
        }
    }
    if (cli.isSet(QStringLiteral("help-panel")))
        if (auto* help = w.findChild<QDockWidget*>(QStringLiteral("helpDock"))) help->raise();
    if (cli.value(QStringLiteral("tab")).toInt() == ckptui::ChartTabs::DepthTab) {
        // The depth sweep runs on a worker when its tab opens: wait for the chart (at most a minute).
        QEventLoop loop;
        QObject::connect(w.depthChart(), &ckptui::DepthChart::drawn, &loop, &QEventLoop::quit);
        QTimer::singleShot(60000, &loop, &QEventLoop::quit);
        tabs->setCurrentIndex(ckptui::ChartTabs::DepthTab);
        loop.exec();
    }
    tabs->setCurrentIndex(cli.value(QStringLiteral("tab")).toInt());
    settle(500);
    return w.grab().save(out) ? 0 : 1;
}
