// Starts the desktop application: QApplication (with the names QSettings uses), the main window
// (opening the file named on the command line, if any), the event loop.
#pragma once

int checkpointlab_gui_main(int& argc, char** argv);
