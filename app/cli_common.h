// What every sub-command of the CLI shares (cli_common.cpp): errors that carry their exit
// code, the option parser, the model lookup, the files a step writes and the options that
// override a model file.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <QCoreApplication>

#include "cli.h"
#include "ckpt/experiment.h"
#include "ckpt/memory.h"
#include "ckpt/model_spec.h"
#include "ckpt/parallel.h"
#include "ckpt/report.h"
#include "ckpt/result.h"
#include "ckpt/timing.h"

#ifdef CKPT_WITH_UI
#include "ui/chart_export.h"
#endif

namespace cli {

struct CliError {
    int code;
    std::string message;
};

struct OptionDef {
    const char* name;  // without the leading "--"
    bool takes_value;
};

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> values;
    std::set<std::string> flags;

    bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
    std::string value(const std::string& name) const {
        auto it = values.find(name);
        return it == values.end() ? std::string() : it->second;
    }
};

struct Outputs {
    std::string report, trace, csv, plot, tensors;
    // The chart's options, as the GUI's export dialog has them (empty: the dialog's defaults).
    std::string plot_size, plot_dpi, plot_font_scale;
    bool plot_no_title = false;
};

[[noreturn]] void usage_error(const std::string& message);
// The exit status of an engine error, by its kind (the EXIT STATUS section of the manual).
int exit_code(ckpt::ErrorKind kind);
[[noreturn]] void fail(const ckpt::Error& e, const std::string& prefix = {});
// One line on stderr, made printable (printable.h).
void print_error(const std::string& message);
// A name from the model file, shown in at most `width` bytes and whole characters.
std::string shown_name(const std::string& name, size_t width);

// Ctrl-C asks the engine to stop at the next layer (on_interrupt sets g_stop); a second one
// kills the process as usual.
extern std::atomic<bool> g_stop;
extern "C" void on_interrupt(int);

Args parse_args(const std::vector<std::string>& args, const std::vector<OptionDef>& defs, const std::string& command);
int64_t parse_int(const std::string& text, const std::string& option, int64_t lo, int64_t hi);

// The Qt application a command needs: widgets (offscreen) to draw a chart, else a core one.
std::unique_ptr<QCoreApplication> make_app(bool widgets);
// A path to a model or experiment file, or a preset name such as "textbook_mlp".
ckpt::Experiment load_model(const std::string& arg);

// "at block 3 layer 1, backward (...)" or "outside any block, optimizer (...)".
std::string where(const ckpt::MemoryTag& t);
std::string throughput_cache();
// The predicted time of `spec` on this device, or nothing when the calibration cannot run.
std::optional<ckpt::TimePrediction> predicted_time(const ckpt::ModelSpec& spec, const std::string& device, int threads);
// `s` right-aligned in `width` characters.
std::string right_aligned(const std::string& s, size_t width);
// "5.20 ms +-3 %", or the time alone for one repeat.
std::string timed(int64_t ns, const ckpt::TimeRange& range, int repeats);

// A bad --plot path or option is named before the model is loaded.
void check_plot_path(const Outputs& o);
#ifdef CKPT_WITH_UI
// --plot-size, --plot-dpi, --plot-font-scale, --plot-no-title: the export dialog's options.
ckptui::ExportOptions plot_options(const Outputs& o);
#endif
// Writes what was asked; returns the files written. Throws CliError (exit 1) on failure.
std::vector<std::string> write_outputs(const Outputs& o, const ckpt::StepReport& r, const ckpt::ModelSpec& spec,
                                       const ckpt::TimePrediction* predicted = nullptr);

// --checkpoint, --policy, --precision and --attention applied to a model (what `run`,
// `predict` and `export-torch` accept).
std::optional<ckpt::Precision> parse_precision(const Args& a);
std::optional<ckpt::AttentionImpl> parse_attention(const Args& a);
std::optional<ckpt::BlockSpec::Policy> parse_policy(const Args& a);

// --dp, --zero, --tp, --sp, --pp, --microbatches, --schedule and --world: added to a
// command's options, and read into a layout over `base` (an experiment file's), each option
// given replacing its field (ranges checked here, the model's fit by the engine).
std::vector<OptionDef> with_layout_options(std::vector<OptionDef> defs);
ckpt::ParallelLayout parse_layout(const Args& a, const ckpt::ParallelLayout& base = {});

// Commands in files of their own.
int cmd_export_torch(std::vector<std::string> argv);  // cli_export.cpp
int cmd_predict(const std::vector<std::string>& argv);  // cli_predict.cpp
int cmd_import_torch_snapshot(std::vector<std::string> argv);  // cli_snapshot.cpp

}  // namespace cli
