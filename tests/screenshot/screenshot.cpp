// Renders the main window after a real run of a preset and saves it as a PNG (the README's
// screenshot). Run it under a display, e.g. xvfb-run, through tests/screenshot/screenshot.sh:
//   checkpointlab_screenshot OUT.png [PRESET] [CHECKPOINT-POLICY] [TAB]
#include <QApplication>
#include <QDockWidget>
#include <QEventLoop>
#include <QTabWidget>
#include <QTimer>
#include <QTreeView>

#include "ui/main_window.h"
#include "ui/stack_model.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    if (argc < 2) {
        qWarning("usage: checkpointlab_screenshot OUT.png [PRESET] [POLICY] [TAB]");
        return 2;
    }
    const QString out = QString::fromLocal8Bit(argv[1]);
    const QString preset = argc > 2 ? QString::fromLocal8Bit(argv[2]) : QStringLiteral("deep_residual_mlp");
    const QString policy = argc > 3 ? QString::fromLocal8Bit(argv[3]) : QStringLiteral("every:3");
    const int tab = argc > 4 ? QString::fromLocal8Bit(argv[4]).toInt() : 0;
    ckptui::MainWindow w;
    w.resize(1600, 950);
    w.show();
    if (!w.loadPreset(preset).isEmpty()) return 1;
    auto flags = ckpt::parse_checkpoint_policy(policy.toStdString(), int(w.stackModel()->spec().blocks.size()));
    if (!flags) return 1;
    w.stackModel()->setCheckpointFlags(*flags, QStringLiteral("screenshot"));
    if (auto* view = w.findChild<QTreeView*>(QStringLiteral("stackView"))) view->expand(w.stackModel()->index(1, 0));
    QEventLoop loop;
    QObject::connect(&w, &ckptui::MainWindow::resultShown, &loop, &QEventLoop::quit);
    QObject::connect(w.controller(), &ckptui::RunController::runFinished, &loop, &QEventLoop::quit);
    w.runSteps(2);  // the second step is the steady state
    QTimer::singleShot(600000, &loop, &QEventLoop::quit);
    int shown = 0;
    while (shown < 2 && w.controller()->isRunning()) {
        loop.exec();
        ++shown;
    }
    if (auto* tabs = w.findChild<QTabWidget*>()) tabs->setCurrentIndex(tab);
    QTimer::singleShot(500, &loop, &QEventLoop::quit);  // let queued replots land
    loop.exec();
    return w.grab().save(out) ? 0 : 1;
}
