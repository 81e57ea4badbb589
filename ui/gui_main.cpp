// The GUI entry point (see gui_main.h).
#include "ui/gui_main.h"

#include <QApplication>
#include <QIcon>

#include "ui/main_window.h"

int checkpointlab_gui_main(int& argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("CheckpointLab"));
    // With an organisation name the window remembers its geometry, docks, last file and run
    // settings (QSettings: ~/.config/CheckpointLab/CheckpointLab.conf).
    QApplication::setOrganizationName(QStringLiteral("CheckpointLab"));
    QApplication::setApplicationVersion(QStringLiteral(CKPT_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("checkpointlab"));
    ckptui::MainWindow w;
    QApplication::setWindowIcon(w.windowIcon());
    w.show();
    w.openArguments(QApplication::arguments());  // checkpointlab FILE.json
    return app.exec();
}
