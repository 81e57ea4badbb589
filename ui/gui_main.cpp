// The GUI entry point (see gui_main.h).
#include "ui/gui_main.h"

#include <QApplication>

#include "ui/main_window.h"

int checkpointlab_gui_main(int& argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("CheckpointLab"));
    ckptui::MainWindow w;
    w.show();
    return app.exec();
}
