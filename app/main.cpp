// checkpointlab: the GUI when started without arguments where a display exists, otherwise the
// headless command line (run, plan) or, with no arguments at all, a demo that writes files.
#include <cstdlib>

#include "cli.h"

#ifdef CKPT_WITH_UI
#include "ui/gui_main.h"

static bool has_display() {
    for (const char* var : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) {
        const char* v = std::getenv(var);
        if (v && *v) return true;
    }
    return false;
}
#endif

int main(int argc, char** argv) {
#ifdef CKPT_WITH_UI
    if (argc == 1 && has_display()) return checkpointlab_gui_main(argc, argv);
#endif
    return cli::main(argc, argv);
}
