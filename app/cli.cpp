// The headless sub-commands: `run` (train steps of a model or experiment file, print a summary,
// write report/trace/CSV/plot/tensor files), `plan` (print the engine's plan table for a
// budget), `import` (a Hugging Face config), `export-torch` (a PyTorch script of the model
// and its plan) and `import-torch-snapshot` (what PyTorch measured, cli_snapshot.cpp), plus the
// no-display demo. The CLI only parses options and prints: loading, planning
// and running are engine calls, and an engine error's kind decides the exit code (cli.h);
// every error is one line on stderr.
#include "cli.h"
#include "cli_common.h"
#include "cli_progress.h"

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
#include "ckpt/layer_traits.h"
#include "ckpt/model_spec.h"
#include "ckpt/names.h"
#include "ckpt/planner.h"
#include "ckpt/printable.h"
#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "ckpt/timing.h"
#include "ckpt/torch_export.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"

#ifdef CKPT_WITH_UI
#include <QApplication>

#include "ui/chart_export.h"
#endif

namespace cli {
namespace {

using ckpt::format_bytes;
using ckpt::format_duration_ns;

// ---- run ----------------------------------------------------------------------------------

void print_summary(const ckpt::Session& session, const ckpt::StepReport& r, int steps,
                   const ckpt::TimePrediction* predicted) {
    std::printf("%s on %s, step %d of %d\n", ckpt::printable(r.model_name, 200).c_str(), r.device.c_str(), r.step,
                steps);
    std::printf("  parameters        %lld (%s)\n", static_cast<long long>(session.parameter_count()),
                format_bytes(r.baseline[int(ckpt::Category::parameter)]).c_str());
    std::printf("  loss              %.6g\n", r.loss);
    if (r.precision != "f32") {
        std::printf("  precision         %s (matrix products in 16 bits, f32 accumulation; f32 parameters, "
                    "gradients, optimizer)", r.precision.c_str());
        if (r.precision == "fp16-mixed")
            std::printf("; loss scale %g%s", double(r.loss_scale), r.step_skipped ? ", step skipped: gradients overflowed" : "");
        std::printf("\n");
    }
    std::printf("  step time         %s  (forward %s, loss %s, backward %s incl. recompute %s, optimizer %s)\n",
                timed(r.step_ns, r.step_range, r.repeats).c_str(), format_duration_ns(r.forward_ns).c_str(),
                format_duration_ns(r.loss_ns).c_str(), format_duration_ns(r.backward_ns).c_str(),
                timed(r.recompute_ns, r.recompute_range, r.repeats).c_str(), format_duration_ns(r.optimizer_ns).c_str());
    if (r.repeats > 1)
        std::printf("                    each time the median of %d timed repeats of this step (+-: half the range of the "
                    "middle ones)\n", r.repeats);
    else
        std::printf("                    one timed sample (--repeats 5 for a median a busy machine cannot sway)\n");
    if (predicted)
        std::printf("  predicted time    %s  (forward %s, backward %s incl. recompute %s, optimizer %s; from this "
                    "machine's measured throughput)\n",
                    format_duration_ns(predicted->step_ns).c_str(), format_duration_ns(predicted->forward_ns).c_str(),
                    format_duration_ns(predicted->backward_ns).c_str(), format_duration_ns(predicted->recompute_ns).c_str(),
                    format_duration_ns(predicted->optimizer_ns).c_str());
    std::printf("  peak              %s %s\n", format_bytes(r.peak_total).c_str(), where(r.peak_tag).c_str());
    std::printf("    %-17s %12s %12s\n", "category", "at the peak", "own peak");
    for (int c = 0; c < ckpt::kCategoryCount; ++c)
        if (ckpt::Category(c) != ckpt::Category::unattributed)  // a PyTorch snapshot's only
            std::printf("    %-17s %12s %12s\n", std::string(ckpt::category_name(ckpt::Category(c))).c_str(),
                        format_bytes(r.at_peak[size_t(c)]).c_str(), format_bytes(r.peak[size_t(c)]).c_str());
    int runs = 0;
    for (const ckpt::BlockReport& b : r.blocks) runs += b.segment_last == b.index ? 1 : 0;
    std::printf("  checkpointed      %d of %zu blocks in %d segment%s; kept for backward %s, avoided %s\n",
                r.checkpointed_blocks(), r.blocks.size(), runs, runs == 1 ? "" : "s",
                format_bytes(r.kept_bytes_total()).c_str(), format_bytes(r.avoided_bytes_total()).c_str());
    if (session.device().kind == ckpt::DeviceKind::cuda) {
        // What nvidia-smi shows is more than the tensors: the pool's cache, cuBLAS, the context.
        const ckpt::DeviceMemoryReport& d = r.device_memory;
        std::printf("  device memory     reserved %s (peak %s) for %s of tensors at peak; workspace %s; "
                    "context %s; %s on the device%s\n",
                    format_bytes(d.reserved).c_str(), format_bytes(d.reserved_peak).c_str(),
                    format_bytes(r.peak_total).c_str(), format_bytes(d.workspace).c_str(),
                    format_bytes(d.context).c_str(), format_bytes(d.total).c_str(), r.tf32 ? "; TF32 GEMMs" : "");
    }
    std::printf("  gradient checksum 0x%016llx (sum %.6g, abs sum %.6g)\n",
                static_cast<unsigned long long>(r.gradient_checksum), r.gradient_sum, r.gradient_abs_sum);

    // ckpt: no, yes (alone), or the segment a block is recomputed with ("4-7").
    std::printf("\n  %5s  %-14s %9s  %11s %11s %10s %10s %10s\n", "block", "name", "ckpt", "kept", "avoided", "forward",
                "backward", "recompute");
    // Long chains: the first and the last blocks tell the story; the files hold every block.
    const size_t n = r.blocks.size(), head = n > 40 ? 16 : n, tail = n > 40 ? 8 : 0;
    for (size_t i = 0; i < n; ++i) {
        if (i == head && tail > 0) {
            std::printf("  %5s  (%zu more blocks; see --report)\n", "...", n - head - tail);
            i = n - tail;
        }
        const ckpt::BlockReport& b = r.blocks[i];
        const std::string name = shown_name(b.name, 14);
        const std::string ckpt = !b.checkpoint ? "no"
                                 : b.segment_first == b.segment_last
                                     ? "yes"
                                     : std::to_string(b.segment_first) + "-" + std::to_string(b.segment_last);
        std::printf("  %5d  %-14s %9s  %11s %11s %10s %10s %10s\n", b.index, name.c_str(), ckpt.c_str(),
                    format_bytes(b.kept_bytes).c_str(), format_bytes(b.avoided_bytes).c_str(),
                    format_duration_ns(b.forward_ns).c_str(), format_duration_ns(b.backward_ns).c_str(),
                    format_duration_ns(b.recompute_ns).c_str());
    }
    for (const std::string& note : ckpt::policy_notes(session.spec(), true))
        std::printf("  note: %s\n", ckpt::printable(note, 2000).c_str());
}

int cmd_run(const std::vector<std::string>& argv) {
    const Args a = parse_args(argv,
                              {{"device", true}, {"checkpoint", true}, {"steps", true}, {"threads", true},
                               {"memory-limit", true}, {"no-preserve-rng", false}, {"tf32", false}, {"precision", true},
                               {"policy", true}, {"repeats", true}, {"report", true},
                               {"trace", true}, {"csv", true}, {"plot", true}, {"dump-tensors", true},
                               {"plot-size", true}, {"plot-dpi", true}, {"plot-font-scale", true}, {"plot-no-title", false},
                               {"quiet", false}},
                              "run");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::run).c_str(), stdout);
        return kOk;
    }
    if (a.positional.empty()) usage_error("run needs a MODEL: a model or experiment file or a preset name (see checkpointlab run --help)");
    if (a.positional.size() > 1) usage_error("run takes one MODEL, got also \"" + a.positional[1] + "\"");
    // Options are checked before the file is read, so a typo is named before a slow load; they
    // override the experiment file's run settings once it is.
    const int steps = a.has("steps") ? int(parse_int(a.value("steps"), "steps", 1, 1000000)) : 1;
    const int threads = a.has("threads") ? int(parse_int(a.value("threads"), "threads", 1, 4096)) : 0;
    const int repeats = a.has("repeats") ? int(parse_int(a.value("repeats"), "repeats", 0, ckpt::kMaxRepeats)) : 0;
    int64_t memory_limit = 0;
    if (a.has("memory-limit") && a.value("memory-limit") != "none") {
        ckpt::Result<int64_t> limit = ckpt::parse_bytes(a.value("memory-limit"));
        if (!limit) usage_error("--memory-limit: " + limit.error().message);
        if (*limit <= 0) usage_error("--memory-limit: must be more than 0 bytes (or none)");
        memory_limit = *limit;
    }
    const std::optional<ckpt::BlockSpec::Policy> policy = parse_policy(a);
    const std::optional<ckpt::Precision> precision = parse_precision(a);
    const Outputs out{a.value("report"),    a.value("trace"),    a.value("csv"),
                      a.value("plot"),      a.value("dump-tensors"), a.value("plot-size"),
                      a.value("plot-dpi"),  a.value("plot-font-scale"), a.has("plot-no-title")};
    check_plot_path(out);
    const bool quiet = a.has("quiet");

    auto app = make_app(!out.plot.empty());
    ckpt::Experiment experiment = load_model(a.positional[0]);
    if (!experiment.parallel.single_device())
        usage_error("parallel: " + ckpt::describe_layout(experiment.parallel) +
                    " is predicted, not run (a step runs on one device): checkpointlab predict " + a.positional[0]);
    ckpt::ModelSpec& spec = experiment.spec;
    ckpt::RunSettings settings = experiment.run.settings;
    if (a.has("device")) settings.device = a.value("device");
    if (a.has("threads")) settings.threads = threads;
    if (a.has("memory-limit")) settings.memory_limit = memory_limit;
    if (a.has("tf32")) settings.tf32 = true;
    if (a.has("repeats")) settings.repeats = repeats;
    if (a.has("checkpoint")) {
        auto set = ckpt::parse_checkpoint(a.value("checkpoint"), spec);
        if (!set) usage_error("--checkpoint: " + set.error().message);
        ckpt::apply_checkpoint(spec, *set);
    }
    if (a.has("no-preserve-rng")) spec.preserve_rng = false;
    if (precision) spec.precision = *precision;
    if (policy)
        for (ckpt::BlockSpec& b : spec.blocks) b.policy = *policy;
    ckpt::Result<ckpt::DeviceInfo> device = ckpt::find_device(settings.device);
    if (!device) fail(device.error(), a.has("device") ? "--device: " : "run.device: ");

    // The prediction first: its calibration (once per machine, then cached) must not share the
    // device with a step.
    const std::optional<ckpt::TimePrediction> predicted = predicted_time(spec, settings.device, settings.threads);
    auto session = ckpt::Session::create(spec, settings);
    if (!session) fail(session.error());

    g_stop = false;
    std::signal(SIGINT, on_interrupt);
    // Progress for long steps on a terminal; the prediction's event count says how far a step is.
    std::FILE* progress_out = ProgressLine::stream_for(quiet);
    int64_t expected_events = 0;
    if (progress_out)
        if (auto p = ckpt::predict((*session)->spec(), 1, device->kind)) expected_events = int64_t(p->events.size());
    ProgressLine progress(progress_out, steps, int((*session)->spec().blocks.size()), expected_events);
    ckpt::StepReport last;
    for (int s = 1; s <= steps; ++s) {
        ckpt::StepOptions opts;
        opts.stop = &g_stop;
        opts.sink = &progress;
        progress.begin_step(s);
        opts.record_events = true;  // the files describe the last step, or the one that failed
        opts.capture_tensors = s == steps && !out.tensors.empty();
        (*session)->recycle(std::move(last));  // its timeline's vectors, for this step to fill
        last = (*session)->step(opts);
        progress.end_step();
        if (last.status != ckpt::StepStatus::ok) break;
        if (steps > 1 && !quiet)
            std::fprintf(stderr, "step %d/%d  loss %.6g  %s  peak %s\n", s, steps, last.loss,
                         timed(last.step_ns, last.step_range, last.repeats).c_str(), format_bytes(last.peak_total).c_str());
    }
    std::signal(SIGINT, SIG_DFL);

    // An out-of-memory step still has a report and a timeline up to the failing allocation:
    // exactly what the user needs to see, so the files are written before the error.
    const std::vector<std::string> written = write_outputs(out, last, (*session)->spec(), predicted ? &*predicted : nullptr);
    if (last.status == ckpt::StepStatus::stopped)
        fail({last.message, ckpt::ErrorKind::stopped}, "step " + std::to_string(last.step) + ": ");
    if (last.status != ckpt::StepStatus::ok) fail({last.message, ckpt::error_kind(last.status)});
    if (!quiet) {
        print_summary(**session, last, steps, predicted ? &*predicted : nullptr);
        for (const std::string& f : written) std::printf("wrote %s\n", f.c_str());
    }
    return kOk;
}

// ---- plan ---------------------------------------------------------------------------------

// The options as given that the command line a plan suggests must repeat for the same peaks
// (" --precision bf16-mixed --dp 8 --zero 3").
std::string replay_args(const Args& a) {
    std::string s;
    for (const char* o : {"precision", "dp", "zero", "tp", "pp", "microbatches", "schedule", "states"})
        if (a.has(o)) s += std::string(" --") + o + " " + ckpt::printable(a.value(o), 100);
    if (a.has("sp")) s += " --sp";
    return s;
}

// `plan --pp P`: each stage planned on its own rank with its microbatches in flight, one line each.
int plan_pipeline_cmd(const Args& a, const ckpt::ModelSpec& spec, const ckpt::ParallelLayout& layout,
                      ckpt::PlannerKind planner, int64_t budget) {
    const ckpt::Result<ckpt::PipelinePlan> plan = ckpt::plan_pipeline(spec, layout, planner, budget);
    if (!plan) fail(plan.error());
    std::printf("%s (%s): %zu blocks in %d stages, budget %s per GPU, planner %s\n", ckpt::printable(spec.name, 200).c_str(),
                std::string(ckpt::precision_name(spec.precision)).c_str(), spec.blocks.size(), layout.pp,
                format_bytes(budget).c_str(), std::string(ckpt::planner_name(planner)).c_str());
    std::printf("each stage's first rank of %s, planned with its microbatches in flight\n\n",
                ckpt::describe_layout(plan->layout).c_str());
    std::printf("  %5s  %-8s %-14s %9s %14s %9s %15s %15s %15s  %s\n", "stage", "blocks", "plan", "in flight",
                "checkpointed", "segments", "planned step to", "in flight", "predicted peak", "peak in");
    for (size_t s = 0; s < plan->stages.size(); ++s) {
        const ckpt::StagePlan& st = plan->stages[s];
        const ckpt::PlanCandidate& c = *st.table.chosen_candidate();
        std::printf("  %5zu  %-8s %-14s %9d %14s %9zu %15s %15s %15s  %s%s\n", s,
                    ckpt::format_block_range(st.place.blocks).c_str(), c.plan.planner.c_str(), st.in_flight_microbatches,
                    (std::to_string(c.plan.checkpointed()) + " of " + std::to_string(c.plan.checkpoint.size())).c_str(),
                    c.plan.runs.size(), format_bytes(st.inner_budget).c_str(), format_bytes(st.in_flight_bytes).c_str(),
                    format_bytes(st.peak).c_str(), std::string(ckpt::phase_name(st.peak_tag.phase)).c_str(),
                    s == plan->worst ? "  <- worst" : "");
    }
    std::printf("\n  in flight: microbatches whose activations the stage holds when its first backward starts, and the\n"
                "  bytes the others keep; planned step to: the budget the stage's step alone was planned to, so that\n"
                "  the whole fits (the highest such, found by bisection)\n\n");
    const ckpt::StagePlan& worst = plan->stages[plan->worst];
    std::printf("chosen: checkpoint %s\n", plan->checkpoint_arg.c_str());
    std::printf("predicted peak %s (stage %zu) of the %s budget\n", format_bytes(worst.peak).c_str(), plan->worst,
                format_bytes(budget).c_str());
    std::printf("see it: checkpointlab predict %s --checkpoint %s%s --rank %d\n", ckpt::printable(a.positional[0], 2000).c_str(),
                plan->checkpoint_arg.c_str(), replay_args(a).c_str(), worst.place.rank);
    return worst.peak <= budget ? kOk : kOutOfMemory;
}

int cmd_plan(const std::vector<std::string>& argv) {
    const Args a = parse_args(argv, with_layout_options({{"budget", true}, {"planner", true}, {"precision", true}}), "plan");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::plan).c_str(), stdout);
        return kOk;
    }
    if (a.positional.empty()) usage_error("plan needs a MODEL: a model or experiment file or a preset name (see checkpointlab plan --help)");
    if (a.positional.size() > 1) usage_error("plan takes one MODEL, got also \"" + a.positional[1] + "\"");
    if (!a.has("budget")) usage_error("plan needs --budget BYTES, e.g. --budget 2GiB");
    ckpt::Result<int64_t> budget = ckpt::parse_bytes(a.value("budget"));
    if (!budget) usage_error("--budget: " + budget.error().message);
    if (*budget <= 0) usage_error("--budget: must be more than 0 bytes");
    ckpt::Result<ckpt::PlannerKind> planner = ckpt::parse_planner(a.has("planner") ? a.value("planner") : "dp");
    if (!planner) fail(planner.error(), "--planner: ");

    auto app = make_app(false);
    const std::optional<ckpt::Precision> precision = parse_precision(a);
    const ckpt::Experiment experiment = load_model(a.positional[0]);
    ckpt::ModelSpec spec = experiment.spec;
    if (precision) spec.precision = *precision;
    const ckpt::ParallelLayout layout = parse_layout(a, experiment.parallel);
    if (const std::string bad = ckpt::check_layout(spec, layout); !bad.empty()) usage_error(bad);
    if (layout.pp > 1) return plan_pipeline_cmd(a, spec, layout, *planner, *budget);
    // One device plans for this machine's CPU as ever; a layout plans rank 0 on a GPU.
    const ckpt::Result<ckpt::PlanTable> table = layout.single_device()
                                                    ? ckpt::plan_table(spec, *planner, *budget)
                                                    : ckpt::plan_table_for_rank(spec, layout, *planner, *budget);
    if (!table) fail(table.error());
    // Predicted step time of each plan on this machine's CPU (its throughput measured once).
    // (A layout's ranks are GPUs: this machine's CPU says nothing of their time.)
    const std::optional<ckpt::TimePrediction> time =
        layout.single_device() ? predicted_time(spec, "cpu", 0) : std::optional<ckpt::TimePrediction>();

    const int n = table->blocks;
    std::printf("%s (%s): %d blocks, budget %s, planner %s\n", ckpt::printable(spec.name, 200).c_str(),
                std::string(ckpt::precision_name(spec.precision)).c_str(), n, format_bytes(*budget).c_str(),
                std::string(ckpt::planner_name(*planner)).c_str());
    if (!layout.single_device())
        std::printf("each rank of %s: its peak as checkpointlab predict counts it\n", ckpt::describe_layout(layout).c_str());
    std::printf("\n");
    std::printf("  %-22s %14s %9s %16s  %-10s %11s %15s  %s\n", "plan", "checkpointed", "segments", "predicted peak",
                "peak in", "recompute", "predicted step", "fits");
    for (const ckpt::PlanCandidate& c : table->candidates) {
        char overhead[32];
        std::snprintf(overhead, sizeof overhead, "+%.1f%%", 100.0 * c.plan.overhead_fraction);
        const std::string step = time ? format_duration_ns(time->step_ns_with(c.plan.runs)) : std::string("-");
        std::printf("  %-22s %14s %9s %16s  %-10s %11s %s  %s\n", c.label().c_str(),
                    (std::to_string(c.plan.checkpointed()) + " of " + std::to_string(n)).c_str(),
                    std::to_string(c.plan.runs.size()).c_str(), format_bytes(c.plan.predicted_peak).c_str(),
                    std::string(ckpt::phase_name(c.peak_tag.phase)).c_str(), overhead, right_aligned(step, 15).c_str(),
                    c.plan.fits ? "yes" : "no");
    }
    std::printf("\n  segments: the runs recomputed as one (a block checkpointed alone is a run of one)\n"
                "  recompute: the recomputed layers' forward FLOPs over the step's (~3x forward)\n");
    // Where a block's policy avoids little or nothing when it is checkpointed, the table says so.
    for (const std::string& note : ckpt::policy_notes(spec, false))
        std::printf("  when checkpointed, %s\n", ckpt::printable(note, 2000).c_str());
    if (time) {
        const ckpt::Throughput& t = time->throughput;
        std::printf("  predicted step: each layer's FLOPs and bytes over this machine's measured throughput (%s: %.1f "
                    "GFLOP/s, %.1f GB/s; measured %s)\n",
                    ckpt::printable(t.key, 200).c_str(), t.gemm_flops / 1e9, t.bandwidth / 1e9, t.measured.c_str());
    }
    std::printf("\n");
    if (const std::string line = table->comparison(); !line.empty()) std::printf("%s\n", line.c_str());
    const ckpt::PlanCandidate* chosen = table->chosen_candidate();
    if (!chosen) fail(table->no_fit_error());
    std::printf("chosen: %s - checkpoint %d of %d blocks in %zu segment%s: %s\n", chosen->plan.planner.c_str(),
                chosen->plan.checkpointed(), n, chosen->plan.runs.size(), chosen->plan.runs.size() == 1 ? "" : "s",
                chosen->checkpoint_arg.c_str());
    std::printf("predicted peak %s of the %s budget\n", format_bytes(chosen->plan.predicted_peak).c_str(),
                format_bytes(*budget).c_str());
    if (layout.single_device())
        std::printf("run it: checkpointlab run %s --checkpoint %s%s\n", ckpt::printable(a.positional[0], 2000).c_str(),
                    chosen->checkpoint_arg.c_str(), replay_args(a).c_str());
    else
        std::printf("see it: checkpointlab predict %s --checkpoint %s%s\n", ckpt::printable(a.positional[0], 2000).c_str(),
                    chosen->checkpoint_arg.c_str(), replay_args(a).c_str());
    return kOk;
}

// `import CONFIG.json --batch B --seq S [-o model.json]`: a model spec from a Hugging Face
// config. Without -o the spec goes to stdout (for a pipe) and the summary to stderr.
int cmd_import(std::vector<std::string> argv) {
    for (std::string& arg : argv)
        if (arg == "-o") arg = "--output";
    const Args a = parse_args(argv, {{"batch", true}, {"seq", true}, {"output", true}, {"precision", true}, {"attention", true}},
                              "import");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::import).c_str(), stdout);
        return kOk;
    }
    if (a.positional.empty()) usage_error("import needs a CONFIG: a Hugging Face config.json (see checkpointlab import --help)");
    if (a.positional.size() > 1) usage_error("import takes one CONFIG, got also \"" + a.positional[1] + "\"");
    if (!a.has("batch")) usage_error("import needs --batch B, the sequences per step");
    if (!a.has("seq")) usage_error("import needs --seq S, the tokens per sequence");
    const int64_t batch = parse_int(a.value("batch"), "batch", 1, 1 << 30);
    const int64_t seq = parse_int(a.value("seq"), "seq", 1, 1 << 30);
    const std::optional<ckpt::Precision> precision = parse_precision(a);

    const std::optional<ckpt::AttentionImpl> attention = parse_attention(a);

    ckpt::Result<ckpt::ModelSpec> spec = ckpt::import_hf_config_file(a.positional[0], batch, seq);
    if (!spec) fail(spec.error());
    if (precision) spec->precision = *precision;
    if (attention) ckpt::set_attention_impl(*spec, *attention);
    const std::string summary = ckpt::printable(spec->name, 200) + ": " + std::to_string(spec->blocks.size()) + " blocks, " +
                                ckpt::format_count(ckpt::parameter_count(*spec)) + " parameters, batch " +
                                std::to_string(batch) + " x " + std::to_string(seq) + " tokens, " +
                                std::string(ckpt::precision_name(spec->precision)) + ", " +
                                std::string(ckpt::attention_impl_name(attention.value_or(ckpt::AttentionImpl::flash))) +
                                " attention";
    if (!a.has("output")) {
        std::fputs(ckpt::to_json(*spec).c_str(), stdout);
        std::fprintf(stderr, "%s\n", summary.c_str());
        return kOk;
    }
    const ckpt::Status st = ckpt::save_model_spec(a.value("output"), *spec);
    if (!st) fail(*st.err);
    const std::string out = ckpt::printable(a.value("output"), 2000);
    std::printf("wrote %s - %s\n", out.c_str(), summary.c_str());
    std::printf("will it fit: checkpointlab plan %s --budget 80GB\n", out.c_str());
    return kOk;
}

int dispatch(const std::vector<std::string>& args) {
    const std::string& cmd = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "plan") return cmd_plan(rest);
    if (cmd == "predict") return cmd_predict(rest);
    if (cmd == "import") return cmd_import(rest);
    if (cmd == "export-torch") return cmd_export_torch(rest);
    if (cmd == "import-torch-snapshot") return cmd_import_torch_snapshot(rest);
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        const std::string topic = rest.empty() ? "" : rest[0];
        if (topic == "run") std::fputs(help_text(HelpTopic::run).c_str(), stdout);
        else if (topic == "plan") std::fputs(help_text(HelpTopic::plan).c_str(), stdout);
        else if (topic == "predict") std::fputs(help_text(HelpTopic::predict).c_str(), stdout);
        else if (topic == "import") std::fputs(help_text(HelpTopic::import).c_str(), stdout);
        else if (topic == "export-torch") std::fputs(help_text(HelpTopic::export_torch).c_str(), stdout);
        else if (topic == "import-torch-snapshot") std::fputs(help_text(HelpTopic::import_torch_snapshot).c_str(), stdout);
        else if (topic.empty()) std::fputs(help_text(HelpTopic::main).c_str(), stdout);
        else usage_error("no help for \"" + topic + "\" (commands: run, plan, predict, import, export-torch, import-torch-snapshot)");
        return kOk;
    }
    if (cmd == "--version") {
        std::printf("checkpointlab %s\n", CKPT_VERSION);
        return kOk;
    }
    std::string hint = " (expected run, plan, predict, import, export-torch, import-torch-snapshot or help; see checkpointlab --help)";
    if (QString::fromStdString(cmd).endsWith(".json")) hint = " (did you mean: checkpointlab run " + cmd + "?)";
    usage_error("unknown command \"" + cmd + "\"" + hint);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return demo(argc, argv);
    try {
        return dispatch(args);
    } catch (const CliError& e) {
        print_error(e.message);
        return e.code;
    } catch (const std::exception& e) {
        print_error(std::string("unexpected failure: ") + e.what());
        return kFailure;
    }
}

// ---- demo ---------------------------------------------------------------------------------

int demo(int, char**) {
    try {
        auto app = make_app(true);
        // The startup lesson: activations dominate, so the two peaks differ by more than half.
        const ckpt::ModelSpec base = load_model("lesson1_activations").spec;
        const QString dir = QDir::current().absoluteFilePath("checkpointlab-demo");
        if (!QDir().mkpath(dir)) throw CliError{kFailure, "cannot create \"" + dir.toStdString() + "\""};
        std::printf("CheckpointLab demo: %s, two training steps without and with checkpointing.\n"
                    "(Start with a display for the GUI; `checkpointlab --help` for the command line.)\n\n",
                    ckpt::printable(base.name, 200).c_str());
        std::vector<std::string> written;
        std::vector<ckpt::StepReport> reports;
        for (const char* policy : {"none", "all"}) {
            ckpt::ModelSpec spec = base;
            ckpt::apply_checkpoint(spec, *ckpt::parse_checkpoint(policy, spec));
            auto session = ckpt::Session::create(spec, {});
            if (!session) fail(session.error());
            (*session)->step({});  // the first step; the second is the steady state shown
            ckpt::StepReport r = (*session)->step({});
            if (r.status != ckpt::StepStatus::ok) fail({r.message, ckpt::error_kind(r.status)});
            const std::string stem = (dir + "/checkpoint-" + policy).toStdString();
            Outputs out;
            out.report = stem + ".report.json";
            out.trace = stem + ".trace.json";
            out.csv = stem + ".timeline.csv";
#ifdef CKPT_WITH_UI
            out.plot = stem + ".chart.png";
#endif
            for (const std::string& f : write_outputs(out, r, spec)) written.push_back(f);
            std::printf("checkpoint %-4s  peak %10s  activations kept %10s  step %9s  recompute %9s  checksum 0x%016llx\n",
                        policy, format_bytes(r.peak_total).c_str(), format_bytes(r.kept_bytes_total()).c_str(),
                        format_duration_ns(r.step_ns).c_str(), format_duration_ns(r.recompute_ns).c_str(),
                        static_cast<unsigned long long>(r.gradient_checksum));
            reports.push_back(std::move(r));
        }
        std::printf("\ngradients bitwise identical: %s\n",
                    reports[0].gradient_checksum == reports[1].gradient_checksum ? "yes" : "NO");
        std::printf("\nwrote %zu files to %s/:\n", written.size(), dir.toStdString().c_str());
        for (const std::string& f : written) std::printf("  %s\n", QFileInfo(QString::fromStdString(f)).fileName().toStdString().c_str());
        std::printf("open the .trace.json files in https://ui.perfetto.dev to see memory per category over the step.\n");
        return kOk;
    } catch (const CliError& e) {
        print_error(e.message);
        return e.code;
    }
}

}  // namespace cli
