// What every sub-command shares: the one-line errors and their exit codes, the option parser,
// the model lookup (a file or a preset name), the output files a step writes (report, trace,
// CSV, chart, tensors) and the options that override a model file (precision, policy,
// attention). The commands themselves are cli.cpp (run, plan, import), cli_export.cpp and
// cli_predict.cpp.
#include "cli_common.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QString>
#include <QStringList>

#include "ckpt/experiment.h"
#include "ckpt/names.h"
#include "ckpt/parallel.h"
#include "ckpt/printable.h"
#include "ckpt/timing.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"

#ifdef CKPT_WITH_UI
#include <QApplication>

#include "ui/chart_export.h"
#endif

namespace cli {

using ckpt::format_bytes;
using ckpt::format_duration_ns;


[[noreturn]] void usage_error(const std::string& message) { throw CliError{kUsage, message}; }

// The exit status of an engine error, by its kind (the EXIT STATUS section of the manual).
int exit_code(ckpt::ErrorKind kind) {
    switch (kind) {
    case ckpt::ErrorKind::bad_input: return kUsage;
    case ckpt::ErrorKind::out_of_memory: return kOutOfMemory;
    case ckpt::ErrorKind::io:
    case ckpt::ErrorKind::stopped:
    case ckpt::ErrorKind::device: return kFailure;
    }
    return kFailure;
}

[[noreturn]] void fail(const ckpt::Error& e, const std::string& prefix) {
    throw CliError{exit_code(e.kind), prefix + e.message};
}

// Messages echo file names, keys and arguments a user (or a hostile file) chose: one line, no
// escape sequences, bounded (printable.h).
void print_error(const std::string& message) {
    std::fprintf(stderr, "checkpointlab: error: %s\n", ckpt::printable(message, 2000).c_str());
}

// A name from the model file, shown in at most `width` bytes and whole characters.
std::string shown_name(const std::string& name, size_t width) {
    std::string s = ckpt::printable(name, 200);
    if (s.size() <= width) return s;
    size_t cut = width - 1;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return s.substr(0, cut) + "~";
}

// Ctrl-C asks the engine to stop at the next layer; a second one kills the process as usual.
std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) {
    g_stop.store(true);
    std::signal(SIGINT, SIG_DFL);
}

// ---- arguments ----------------------------------------------------------------------------



// "--name value", "--name=value", flags, "-h"/"--help", and "--" before positionals that
// start with a dash.
Args parse_args(const std::vector<std::string>& args, const std::vector<OptionDef>& defs, const std::string& command) {
    Args out;
    bool options_done = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (options_done || a.empty() || a[0] != '-' || a == "-") {
            out.positional.push_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            out.flags.insert("help");
            continue;
        }
        if (a.rfind("--", 0) != 0)
            usage_error("unknown option " + a + " for " + command + " (see checkpointlab " + command + " --help)");
        const size_t eq = a.find('=');
        const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        const OptionDef* def = nullptr;
        for (const OptionDef& d : defs)
            if (name == d.name) def = &d;
        if (!def) usage_error("unknown option --" + name + " for " + command + " (see checkpointlab " + command + " --help)");
        if (out.has(name)) usage_error("--" + name + " given twice");
        if (!def->takes_value) {
            if (eq != std::string::npos) usage_error("--" + name + " takes no value");
            out.flags.insert(name);
            continue;
        }
        if (eq != std::string::npos) {
            out.values[name] = a.substr(eq + 1);
        } else {
            if (i + 1 >= args.size()) usage_error("--" + name + " needs a value");
            out.values[name] = args[++i];
        }
        if (out.values[name].empty()) usage_error("--" + name + " needs a non-empty value");
    }
    return out;
}

int64_t parse_int(const std::string& text, const std::string& option, int64_t lo, int64_t hi) {
    size_t used = 0;
    long long v = 0;
    bool ok = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-');
    if (ok) {
        try {
            v = std::stoll(text, &used);
        } catch (...) {
            ok = false;
        }
    }
    if (!ok || used != text.size() || v < lo || v > hi)
        usage_error("--" + option + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", got \"" + text + "\"");
    return v;
}

// ---- Qt application and model lookup ------------------------------------------------------

// The CLI never hands its own arguments to Qt (it would eat "-platform" and friends). Chart
// export draws QCustomPlot widgets, which need a QApplication; offscreen needs no display.
std::unique_ptr<QCoreApplication> make_app(bool widgets) {
    static int argc = 1;
    static char name[] = "checkpointlab";
    static char* argv[] = {name, nullptr};
#ifdef CKPT_WITH_UI
    if (widgets) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
        // The offscreen platform wants a runtime directory; without one Qt warns on stderr,
        // which is reserved for progress and the one-line errors.
        if (qEnvironmentVariableIsEmpty("XDG_RUNTIME_DIR")) {
            const QByteArray dir = QDir::tempPath().toUtf8() + "/checkpointlab-runtime-" + QByteArray::number(getuid());
            QDir().mkpath(QString::fromUtf8(dir));
            QFile::setPermissions(QString::fromUtf8(dir), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
            qputenv("XDG_RUNTIME_DIR", dir);
        }
        return std::make_unique<QApplication>(argc, argv);
    }
#else
    (void)widgets;
#endif
    return std::make_unique<QCoreApplication>(argc, argv);
}

QStringList preset_dirs() {
    const QString exe = QCoreApplication::applicationDirPath();
    return {exe + "/presets", exe + "/../share/checkpointlab/presets", QStringLiteral(CKPT_INSTALL_PRESET_DIR),
            QStringLiteral(CKPT_SOURCE_PRESET_DIR)};
}

QString preset_names() {
    for (const QString& dir : preset_dirs()) {
        QStringList names = QDir(dir).entryList({"*.json"}, QDir::Files, QDir::Name);
        if (names.isEmpty()) continue;
        for (QString& n : names) n.chop(5);
        return names.join(", ");
    }
    return QStringLiteral("none found");
}

// A path to a model or experiment file, or a preset name such as "textbook_mlp". A bad file is
// a usage error (exit 2), an unreadable one a failure (exit 1).
ckpt::Experiment load_model(const std::string& arg) {
    const QString a = QString::fromStdString(arg);
    std::string path = arg;
    if (QFileInfo(a).isDir()) usage_error("\"" + arg + "\" is a directory, not a model file");
    if (!QFileInfo::exists(a)) {
        if (a.contains('/')) usage_error("cannot open model file \"" + arg + "\": no such file");
        const QString file = a.endsWith(".json") ? a : a + ".json";
        path.clear();
        for (const QString& dir : preset_dirs()) {
            if (QFileInfo(dir + "/" + file).isFile()) {
                path = QDir::cleanPath(dir + "/" + file).toStdString();
                break;
            }
        }
        if (path.empty())
            usage_error("no model file \"" + arg + "\" and no preset of that name (presets: " +
                        preset_names().toStdString() + ")");
    }
    ckpt::Result<ckpt::Experiment> e = ckpt::load_experiment(path);
    if (!e) fail(e.error());
    return std::move(*e);
}

// ---- printing -----------------------------------------------------------------------------

// "at block 3 layer 1, backward (...)" or "outside any block, optimizer (...)".
std::string where(const ckpt::MemoryTag& t) {
    std::string s = t.block >= 0 ? "at block " + std::to_string(t.block) : std::string("outside any block");
    if (t.layer >= 0) s += " layer " + std::to_string(t.layer);
    return s + ", " + std::string(ckpt::phase_name(t.phase)) + " (" + std::string(ckpt::category_name(t.category)) +
           " allocation)";
}

// Where this machine's measured throughputs are kept: $XDG_CACHE_HOME/checkpointlab, else
// ~/.cache/checkpointlab (the GUI keeps its own in the desktop's cache folder).
std::string throughput_cache() {
    const QString xdg = qEnvironmentVariable("XDG_CACHE_HOME");
    const QString base = !xdg.isEmpty() ? xdg : QDir::homePath() + "/.cache";
    return (base + "/checkpointlab/throughput.json").toStdString();
}

// The predicted time of `spec` on this device, or nothing when the calibration cannot run.
std::optional<ckpt::TimePrediction> predicted_time(const ckpt::ModelSpec& spec, const std::string& device, int threads) {
    ckpt::Result<ckpt::Throughput> t = ckpt::cached_throughput(device, threads, throughput_cache());
    if (!t) return std::nullopt;
    return ckpt::predict_times(spec, *t);
}

// `s` right-aligned in `width` characters: printf pads bytes, and the "µ" of "µs" is two.
std::string right_aligned(const std::string& s, size_t width) {
    size_t chars = 0;
    for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
    return chars >= width ? s : std::string(width - chars, ' ') + s;
}

// "5.20 ms +-3 %", or the time alone for one repeat.
std::string timed(int64_t ns, const ckpt::TimeRange& range, int repeats) {
    std::string s = format_duration_ns(ns);
    if (repeats > 1) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " +-%.0f %%", 100.0 * range.relative(ns));
        s += buf;
    }
    return s;
}

// ---- outputs ------------------------------------------------------------------------------


#ifdef CKPT_WITH_UI
// --plot-size, --plot-dpi, --plot-font-scale, --plot-no-title: the export dialog's options.
ckptui::ExportOptions plot_options(const Outputs& o) {
    ckptui::ExportOptions opt;
    auto number = [](const std::string& text, const char* option, double lo, double hi) {
        bool ok = false;
        const double v = QString::fromStdString(text).toDouble(&ok);
        if (!ok || !(v >= lo && v <= hi))
            usage_error(std::string("--") + option + ": expected a number from " + QString::number(lo).toStdString() + " to " +
                        QString::number(hi).toStdString() + ", got \"" + text + "\"");
        return v;
    };
    if (!o.plot_dpi.empty()) opt.dpi = number(o.plot_dpi, "plot-dpi", 10, 2400);
    if (!o.plot_font_scale.empty()) opt.fontScale = number(o.plot_font_scale, "plot-font-scale", 0.25, 8);
    if (!o.plot_size.empty()) {  // after the DPI: a size in cm or inches is converted at it
        const QString err = ckptui::parsePlotSize(QString::fromStdString(o.plot_size), &opt);
        if (!err.isEmpty()) usage_error("--plot-size: " + err.toStdString());
        if (opt.widthPx < 16 || opt.heightPx < 16 || opt.widthPx > 20000 || opt.heightPx > 20000)
            usage_error("--plot-size: " + std::to_string(opt.widthPx) + " x " + std::to_string(opt.heightPx) +
                        " pixels is not a size between 16 and 20000 on each side");
    }
    opt.title = !o.plot_no_title;
    return opt;
}
#endif

void check_plot_path(const Outputs& o) {
    const std::string& plot = o.plot;
    if (plot.empty()) {
        if (!o.plot_size.empty() || !o.plot_dpi.empty() || !o.plot_font_scale.empty() || o.plot_no_title)
            usage_error("--plot-size, --plot-dpi, --plot-font-scale and --plot-no-title go with --plot FILE");
        return;
    }
#ifndef CKPT_WITH_UI
    usage_error("--plot needs the UI build, and this checkpointlab was built with CKPT_BUILD_UI=OFF "
                "(--csv and --trace give the same timeline)");
#else
    plot_options(o);  // a bad option is named before the model is loaded
#endif
    const QString suffix = QFileInfo(QString::fromStdString(plot)).suffix().toLower();
    if (suffix != "png" && suffix != "pdf" && suffix != "svg")
        usage_error("--plot: cannot tell the format of \"" + plot + "\" (expected a .png, .pdf or .svg file)");
}

// Writes what was asked; returns the files written. Throws CliError (exit 1) on failure.
std::vector<std::string> write_outputs(const Outputs& o, const ckpt::StepReport& r, const ckpt::ModelSpec& spec,
                                       const ckpt::TimePrediction* predicted) {
    std::vector<std::string> written;
    auto check = [&](const ckpt::Status& st, const std::string& path) {
        if (!st) fail(*st.err);
        written.push_back(path);
    };
    if (!o.report.empty()) check(ckpt::write_report_json(o.report, r, spec, predicted), o.report);
    if (!o.csv.empty()) check(ckpt::write_timeline_csv(o.csv, r), o.csv);
    if (!o.trace.empty()) check(ckpt::write_trace_json(o.trace, r), o.trace);
    if (!o.tensors.empty() && r.status == ckpt::StepStatus::ok)
        check(ckpt::write_safetensors(o.tensors, r.tensors), o.tensors);
#ifdef CKPT_WITH_UI
    if (!o.plot.empty()) {
        const QString err = ckptui::exportMemoryChart(r, QString::fromStdString(o.plot), plot_options(o));
        if (!err.isEmpty()) throw CliError{kFailure, "cannot write \"" + o.plot + "\": " + err.toStdString()};
        written.push_back(o.plot);
    }
#endif
    return written;
}

// ---- options that override the model file ---------------------------------------------------

// --precision f32|bf16-mixed|fp16-mixed, replacing the model file's "precision".
std::optional<ckpt::Precision> parse_precision(const Args& a) {
    if (!a.has("precision")) return std::nullopt;
    const std::optional<ckpt::Precision> p = ckpt::enum_from_name<ckpt::Precision>(a.value("precision"));
    if (!p)
        usage_error("--precision: unknown precision \"" + a.value("precision") + "\" (expected " +
                    ckpt::enum_choices<ckpt::Precision>() + ")");
    return p;
}

std::optional<ckpt::AttentionImpl> parse_attention(const Args& a) {
    if (!a.has("attention")) return std::nullopt;
    const std::optional<ckpt::AttentionImpl> impl = ckpt::enum_from_name<ckpt::AttentionImpl>(a.value("attention"));
    if (!impl)
        usage_error("--attention: unknown kernel \"" + ckpt::printable(a.value("attention"), 200) + "\" (expected " +
                    ckpt::enum_choices<ckpt::AttentionImpl>() + ")");
    return impl;
}

std::optional<ckpt::BlockSpec::Policy> parse_policy(const Args& a) {
    if (!a.has("policy")) return std::nullopt;
    // custom needs per-layer "save" flags, which only a model file can give.
    const std::optional<ckpt::BlockSpec::Policy> policy = ckpt::enum_from_name<ckpt::BlockSpec::Policy>(a.value("policy"));
    if (!policy || *policy == ckpt::BlockSpec::Policy::custom)
        usage_error("--policy: unknown policy \"" + a.value("policy") + "\" (expected full, save_matmuls or attention_core)");
    return policy;
}

// ---- parallel layouts ---------------------------------------------------------------------

std::vector<OptionDef> with_layout_options(std::vector<OptionDef> defs) {
    for (const char* o : {"dp", "zero", "tp", "pp", "microbatches", "schedule", "world", "states"}) defs.push_back({o, true});
    defs.push_back({"sp", false});
    return defs;
}

// The layout options, checked for range here and against the model by the engine.
ckpt::ParallelLayout parse_layout(const Args& a, const ckpt::ParallelLayout& base) {
    ckpt::ParallelLayout p = base;
    auto degree = [&](const char* name, int fallback) {
        return a.has(name) ? int(parse_int(a.value(name), name, 1, 1 << 16)) : fallback;
    };
    p.dp = degree("dp", p.dp);
    p.tp = degree("tp", p.tp);
    p.pp = degree("pp", p.pp);
    p.microbatches = degree("microbatches", p.microbatches);
    p.zero = a.has("zero") ? int(parse_int(a.value("zero"), "zero", 0, 3)) : p.zero;
    if (a.has("schedule")) {
        const std::string s = a.value("schedule");
        if (s == "1f1b") p.schedule = ckpt::PipelineSchedule::one_f_one_b;
        else if (s == "gpipe") p.schedule = ckpt::PipelineSchedule::gpipe;
        else usage_error("--schedule: unknown schedule \"" + ckpt::printable(s, 200) + "\" (expected 1f1b or gpipe)");
    }
    if (a.has("sp")) p.sp = true;
    if (a.has("states")) {
        const std::string s = a.value("states");
        if (s == "fsdp") p.states = ckpt::ModelStates::fsdp;
        else if (s == "deepspeed") p.states = ckpt::ModelStates::deepspeed;
        else usage_error("--states: unknown convention \"" + ckpt::printable(s, 200) + "\" (expected fsdp or deepspeed)");
    }
    if (a.has("world")) {
        const int64_t world = parse_int(a.value("world"), "world", 1, int64_t(1) << 20);
        if (world != int64_t(p.dp) * p.tp * p.pp)
            usage_error("--world " + std::to_string(world) + " is not dp x tp x pp = " + std::to_string(p.dp) + " x " +
                        std::to_string(p.tp) + " x " + std::to_string(p.pp) + " = " +
                        std::to_string(int64_t(p.dp) * p.tp * p.pp));
    }
    return p;
}

}  // namespace cli
