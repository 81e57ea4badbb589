// Starts the desktop application: QApplication, the main window, the event loop.
#pragma once

int checkpointlab_gui_main(int& argc, char** argv);
