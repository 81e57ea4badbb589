// The window's responsiveness on a 20,000-block model, in wall-clock time: how long the GUI
// thread goes without running a 5 ms timer while a file is opened and its prediction drawn, a
// plan is made, applied and drawn, and the Pareto sweep is drawn. Each is measured on a quiet
// process and again with busy threads loading every core (a classroom laptop doing other work),
// beside the GUI thread's own CPU time in its largest turn, which tst_gui_safety asserts on
// because the load does not change it.
//   QT_QPA_PLATFORM=offscreen bench_gui_stall [--blocks N] [--load THREADS] [--repeats R]
#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <thread>

#include "ckpt/experiment.h"
#include "../gui_probe.h"
#include "../test_models.h"
#include "ui/main_window.h"
#include "ui/plan_panel.h"
#include "ui/stack_model.h"

using namespace ckptui;

namespace {

// Spinning threads: every core busy while they run.
class Load {
public:
    explicit Load(int threads) {
        for (int i = 0; i < threads; ++i)
            pool_.emplace_back([this] {
                volatile double x = 1;
                while (!stop_) x = x * 1.0000001 + 1e-9;
            });
    }
    ~Load() {
        stop_ = true;
        for (auto& t : pool_) t.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::thread> pool_;
};

struct Figures {
    qint64 wallMs[3];
    double cpuMs[3];
};

bool waitFor(const std::function<bool()>& done, int ms) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < ms) QTest::qWait(5);
    return done();
}

Figures measure(const QString& path) {
    Figures f{};
    MainWindow w;
    w.show();
    w.loadPreset(QStringLiteral("tutorial_mlp"));
    GuiProbe probe;
    auto drawn = [&w] { return w.prediction().ok() && w.prediction().spec == w.stackModel()->spec(); };
    QSignalSpy opened(&w, &MainWindow::fileOpened);
    probe.start();
    w.openFile(path, FileKind::experiment);
    waitFor([&] { return !opened.isEmpty() && drawn(); }, 600000);
    probe.stop();
    f.wallMs[0] = probe.worstWallMs();
    f.cpuMs[0] = probe.worstCpuMs();
    const Prediction& p = w.prediction();
    PlanPanel* plan = w.planPanel();
    QSignalSpy planned(plan, &PlanPanel::planFinished);
    probe.start();
    plan->plan(QString::number(p.minimalPeak + (p.uncheckedPeak - p.minimalPeak) / 2), QStringLiteral("dp"));
    waitFor([&] { return !planned.isEmpty() && drawn(); }, 600000);
    probe.stop();
    f.wallMs[1] = probe.worstWallMs();
    f.cpuMs[1] = probe.worstCpuMs();
    QSignalSpy swept(plan, &PlanPanel::paretoDrawn);
    probe.start();
    plan->refreshPareto();
    waitFor([&] { return !swept.isEmpty(); }, 600000);
    probe.stop();
    f.wallMs[2] = probe.worstWallMs();
    f.cpuMs[2] = probe.worstCpuMs();
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QCommandLineParser cli;
    cli.addOptions({{QStringLiteral("blocks"), QStringLiteral("blocks in the chain"), QStringLiteral("n"), QStringLiteral("20000")},
                    {QStringLiteral("load"), QStringLiteral("busy threads for the loaded runs (default: one per core)"),
                     QStringLiteral("n"), QString::number(std::max(1u, std::thread::hardware_concurrency()))},
                    {QStringLiteral("repeats"), QStringLiteral("runs of each condition"), QStringLiteral("n"), QStringLiteral("3")}});
    cli.addHelpOption();
    cli.process(app);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("chain.json"));
    {
        ckpt::Experiment e;
        e.spec = testmodels::long_chain(cli.value(QStringLiteral("blocks")).toInt());
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly)) return 1;
        f.write(QByteArray::fromStdString(ckpt::to_json(e)));
    }
    const int threads = cli.value(QStringLiteral("load")).toInt(), repeats = cli.value(QStringLiteral("repeats")).toInt();
    std::printf("%s blocks; GUI thread: longest wall-clock stall / most CPU in one event-loop turn (ms)\n",
                qPrintable(cli.value(QStringLiteral("blocks"))));
    std::printf("%-22s %18s %18s %18s\n", "condition", "open+draw", "plan+apply+draw", "pareto");
    // Alternated, so a change in the machine's own load falls on both conditions.
    for (int r = 0; r < repeats; ++r)
        for (int loaded : {0, 1}) {
            std::unique_ptr<Load> load;
            if (loaded) load = std::make_unique<Load>(threads);
            const Figures f = measure(path);
            const std::string label = loaded ? "+" + std::to_string(threads) + " busy threads" : std::string("as is");
            std::printf("%-22s %9lld / %6.1f %9lld / %6.1f %9lld / %6.1f\n", label.c_str(), f.wallMs[0], f.cpuMs[0], f.wallMs[1],
                        f.cpuMs[1], f.wallMs[2], f.cpuMs[2]);
            std::fflush(stdout);
        }
    return 0;
}
