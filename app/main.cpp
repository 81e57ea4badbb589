// checkpointlab: the GUI when started without arguments (or with one file to open, as a desktop
// launcher starts it) where a display exists, otherwise the headless command line (run, plan,
// import) or, with no arguments at all, a demo that writes files.
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

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

// `checkpointlab FILE`: one argument, not an option or a sub-command, naming an existing file.
static bool is_file_argument(const char* arg) {
    if (arg[0] == '-' || !std::strcmp(arg, "run") || !std::strcmp(arg, "plan") || !std::strcmp(arg, "import") ||
        !std::strcmp(arg, "help"))
        return false;
    struct stat st{};
    return ::stat(arg, &st) == 0 && S_ISREG(st.st_mode);
}
#endif

int main(int argc, char** argv) {
#ifdef CKPT_WITH_UI
    if (has_display() && (argc == 1 || (argc == 2 && is_file_argument(argv[1])))) return checkpointlab_gui_main(argc, argv);
#endif
    return cli::main(argc, argv);
}
