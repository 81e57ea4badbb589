// `checkpointlab import-torch-snapshot`: a PyTorch memory snapshot read by the restricted
// unpickler (torch_snapshot.h), its summary printed a line per figure (where each comes from is
// in the manual, command-line.md, import-torch-snapshot) and its timeline files written.
#include <cstdio>
#include <string>
#include <vector>

#include <QString>

#include "ckpt/names.h"
#include "ckpt/printable.h"
#include "ckpt/torch_snapshot.h"
#include "ckpt/units.h"
#include "cli_common.h"

namespace cli {

namespace {

void print_snapshot_summary(const ckpt::TorchSnapshot& s) {
    using ckpt::format_bytes;
    using ckpt::format_count;
    const ckpt::StepReport& r = s.report;
    int64_t end = ckpt::total(r.baseline);
    for (const ckpt::MemoryEvent& e : r.events) end += e.bytes;
    std::printf("%s\n", ckpt::printable(r.model_name, 400).c_str());
    std::printf("  trace             %s, %s %s%s, %s\n", ckpt::printable(r.device, 200).c_str(),
                format_count(s.entries).c_str(), s.entries == 1 ? "entry" : "entries",
                s.device_chosen ? " (chosen with --device-index)"
                : s.devices_traced > 1 ? (" (the longest of " + std::to_string(s.devices_traced) + " devices' traces)").c_str()
                                       : "",
                s.timed ? "timed (time_us)" : "untimed: events in the trace's order");
    if (s.devices_traced > 1) {  // the others, and how to read one
        std::printf("  devices traced   ");
        for (size_t i = 0; i < s.traces.size() && i < 16; ++i)
            std::printf("%s cuda:%d (%s %s)", i ? "," : "", s.traces[i].device, format_count(s.traces[i].entries).c_str(),
                        s.traces[i].entries == 1 ? "entry" : "entries");
        std::printf("%s; --device-index N reads another\n", s.traces.size() > 16 ? ", ..." : "");
    }
    std::printf("  entries           %s alloc, %s free_completed, %s free_requested, %s segment, %s other\n",
                format_count(s.allocs).c_str(), format_count(s.frees).c_str(), format_count(s.free_requests).c_str(),
                format_count(s.segment_entries).c_str(), format_count(s.other_entries).c_str());
    std::printf("  allocated         start %s, peak %s, end %s (blocks from before the trace: %s)\n",
                format_bytes(ckpt::total(r.baseline)).c_str(), format_bytes(r.peak_total).c_str(), format_bytes(end).c_str(),
                format_count(s.baseline_blocks).c_str());
    std::printf("  reserved          start %s, peak %s, at the snapshot %s (%s segments)\n",
                format_bytes(s.reserved_start).c_str(), format_bytes(s.reserved_peak).c_str(),
                format_bytes(s.reserved_end).c_str(), format_count(s.segments).c_str());
    std::printf("    %-17s %12s %12s %12s\n", "category", "allocations", "at the peak", "own peak");
    for (int c = 0; c < ckpt::kCategoryCount; ++c)
        if (s.allocs_by_category[size_t(c)] || r.peak[size_t(c)])
            std::printf("    %-17s %12s %12s %12s\n", std::string(ckpt::category_name(ckpt::Category(c))).c_str(),
                        format_count(s.allocs_by_category[size_t(c)]).c_str(), format_bytes(r.at_peak[size_t(c)]).c_str(),
                        format_bytes(r.peak[size_t(c)]).c_str());
    std::printf("  attributed by     ");
    const char* sep = "";
    for (int k = 0; k < ckpt::kSnapshotRuleCount; ++k)
        if (s.allocs_by_rule[size_t(k)]) {
            std::printf("%s%s %s", sep, std::string(ckpt::snapshot_rule_name(ckpt::SnapshotRule(k))).c_str(),
                        format_count(s.allocs_by_rule[size_t(k)]).c_str());
            sep = ", ";
        }
    std::printf("%s\n", *sep ? " (allocations per frame rule; none: unattributed)" : "no allocations");
    if (s.ooms > 0)
        std::printf("  out of memory     %s time%s; first: %s\n", format_count(s.ooms).c_str(), s.ooms == 1 ? "" : "s",
                    ckpt::printable(s.oom_message, 400).c_str());
}

}  // namespace

// `import-torch-snapshot SNAPSHOT.pickle [--device-index N] [--report r.json] [--csv] [--trace] [--plot]`: what
// PyTorch measured, read by the restricted unpickler (torch_snapshot.h) and written as the
// timeline files of a run. An oom in the trace is reported, not an error: the import worked.
int cmd_import_torch_snapshot(std::vector<std::string> argv) {
    const Args a = parse_args(argv, {{"report", true}, {"csv", true}, {"trace", true}, {"plot", true}, {"plot-size", true},
                                     {"plot-dpi", true}, {"plot-font-scale", true}, {"plot-no-title", false},
                                     {"device-index", true}},
                              "import-torch-snapshot");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::import_torch_snapshot).c_str(), stdout);
        return kOk;
    }
    if (a.positional.size() != 1)
        usage_error("import-torch-snapshot needs one SNAPSHOT.pickle (see checkpointlab import-torch-snapshot --help)");
    Outputs out;
    out.csv = a.value("csv");
    out.trace = a.value("trace");
    out.plot = a.value("plot");
    out.plot_size = a.value("plot-size");
    out.plot_dpi = a.value("plot-dpi");
    out.plot_font_scale = a.value("plot-font-scale");
    out.plot_no_title = a.has("plot-no-title");
    check_plot_path(out);
    auto app = make_app(!out.plot.empty());
    const int device = a.has("device-index") ? int(parse_int(a.value("device-index"), "device-index", 0, 1 << 20)) : -1;
    ckpt::Result<ckpt::TorchSnapshot> s = ckpt::load_torch_snapshot(a.positional[0], device);
    if (!s) fail(s.error());
    print_snapshot_summary(*s);
    std::vector<std::string> written;
    if (a.has("report")) {
        if (ckpt::Status st = ckpt::write_torch_snapshot_json(a.value("report"), *s); !st) fail(*st.err);
        written.push_back(a.value("report"));
    }
    const std::string plot = out.plot;
    out.plot.clear();  // the snapshot's own chart, below
    for (const std::string& f : write_outputs(out, s->report, ckpt::ModelSpec{})) written.push_back(f);
#ifdef CKPT_WITH_UI
    if (!plot.empty()) {
        const QString err = ckptui::exportSnapshotChart(*s, QString::fromStdString(plot), plot_options(out));
        if (!err.isEmpty()) throw CliError{kFailure, "cannot write \"" + plot + "\": " + err.toStdString()};
        written.push_back(plot);
    }
#endif
    for (const std::string& f : written) std::printf("wrote %s\n", ckpt::printable(f, 2000).c_str());
    return kOk;
}

}  // namespace cli
