// The headless side of the checkpointlab executable: the `run`, `plan`, `predict`, `import` and
// `export-torch` sub-commands, the demo that runs when there is no display, and their manual
// pages. Everything returns an exit status; errors are one line on stderr ("checkpointlab:
// error: ...").
#pragma once

#include <string>

namespace cli {

enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kOutOfMemory = 3 };

// argv[1] is the sub-command ("run", "plan", "import", "help", "--help", "--version").
int main(int argc, char** argv);
// The demo: textbook_mlp unchecked and fully checkpointed, files into ./checkpointlab-demo/.
int demo(int argc, char** argv);

enum class HelpTopic { main, run, plan, import, export_torch, predict, import_torch_snapshot };
std::string help_text(HelpTopic topic);

}  // namespace cli
