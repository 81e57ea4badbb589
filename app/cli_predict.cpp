// `checkpointlab predict`: a step predicted without running it, for one device or for one rank
// of a parallel layout (parallel.h), for models far beyond this machine. It prints the rank's
// peak by category and a table of every pipeline stage's peak with the worst named, and writes
// the same report, timeline and chart files a run writes, marked as predicted.
#include "cli.h"
#include "cli_common.h"

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "ckpt/names.h"
#include "ckpt/parallel.h"
#include "ckpt/printable.h"
#include "ckpt/templates.h"
#include "ckpt/units.h"

namespace cli {

using ckpt::format_bytes;

namespace {

// Where a rank's peak is, in the whole model's block numbers (a stage's report counts its own
// blocks from 0).
std::string model_where(const ckpt::RankPrediction& r) {
    ckpt::MemoryTag t = r.report.peak_tag;
    if (t.block >= 0) t.block += r.place.blocks.first;
    return where(t);
}

}  // namespace

int cmd_predict(const std::vector<std::string>& argv) {
    const Args a = parse_args(argv,
                              with_layout_options({{"checkpoint", true}, {"policy", true}, {"precision", true},
                                                   {"attention", true}, {"rank", true}, {"device", true}, {"steps", true}, {"report", true}, {"trace", true}, {"csv", true},
                               {"plot", true}, {"plot-size", true}, {"plot-dpi", true}, {"plot-font-scale", true},
                                                   {"plot-no-title", false}}),
                              "predict");
    if (a.has("help")) {
        std::fputs(help_text(HelpTopic::predict).c_str(), stdout);
        return kOk;
    }
    if (a.positional.size() != 1) usage_error("predict needs one MODEL: a model or experiment file or a preset name (see checkpointlab predict --help)");
    const int steps = a.has("steps") ? int(parse_int(a.value("steps"), "steps", 1, 100)) : 2;
    ckpt::DeviceKind kind = ckpt::DeviceKind::cuda;
    if (a.has("device")) {
        const std::string d = a.value("device");
        if (d == "cpu") kind = ckpt::DeviceKind::cpu;
        else if (d != "cuda") usage_error("--device: expected cpu or cuda (a prediction needs no device), got \"" + ckpt::printable(d, 200) + "\"");
    }
    const std::optional<ckpt::BlockSpec::Policy> policy = parse_policy(a);
    const std::optional<ckpt::Precision> precision = parse_precision(a);
    const std::optional<ckpt::AttentionImpl> attention = parse_attention(a);
    const Outputs out{a.value("report"), a.value("trace"), a.value("csv"), a.value("plot"), "",
                      a.value("plot-size"), a.value("plot-dpi"), a.value("plot-font-scale"), a.has("plot-no-title")};
    check_plot_path(out);

    auto app = make_app(!out.plot.empty());
    const ckpt::Experiment experiment = load_model(a.positional[0]);
    ckpt::ModelSpec spec = experiment.spec;
    ckpt::ParallelLayout layout = parse_layout(a, experiment.parallel);
    // The stages split the model as its file has it: a plan's segments given below must not move
    // blocks from one stage to another (they are cut at the stage boundaries instead).
    if (layout.pp > 1) {
        if (const std::string bad = ckpt::check_layout(spec, layout); !bad.empty()) usage_error(bad);
        layout.stages = *ckpt::pipeline_stages(spec, layout.pp);
    }
    if (a.has("checkpoint")) {
        auto set = ckpt::parse_checkpoint(a.value("checkpoint"), spec);
        if (!set) usage_error("--checkpoint: " + set.error().message);
        ckpt::apply_checkpoint(spec, *set);
    }
    if (precision) spec.precision = *precision;
    if (attention) ckpt::set_attention_impl(spec, *attention);
    if (policy)
        for (ckpt::BlockSpec& b : spec.blocks) b.policy = *policy;
    if (const std::string bad = ckpt::check_layout(spec, layout); !bad.empty()) usage_error(bad);
    if (!a.has("rank") && experiment.rank >= layout.world())
        usage_error("parallel.rank: the file's rank " + std::to_string(experiment.rank) + " is not one of the " +
                    std::to_string(layout.world()) + " ranks of this layout (choose one with --rank)");
    const int rank = a.has("rank") ? int(parse_int(a.value("rank"), "rank", 0, layout.world() - 1)) : experiment.rank;

    g_stop = false;
    std::signal(SIGINT, on_interrupt);
    ckpt::Result<ckpt::LayoutPrediction> all = ckpt::predict_layout(spec, layout, steps, kind, &g_stop);
    if (!all) fail(all.error());
    ckpt::Result<ckpt::RankPrediction> chosen = ckpt::predict_rank(spec, layout, rank, steps, kind, &g_stop);
    if (!chosen) fail(chosen.error());
    std::signal(SIGINT, SIG_DFL);
    const ckpt::StepReport& r = chosen->report;

    std::printf("%s (%s), predicted for %s on %s\n", ckpt::printable(spec.name, 200).c_str(),
                std::string(ckpt::precision_name(spec.precision)).c_str(), kind == ckpt::DeviceKind::cuda ? "CUDA" : "the CPU",
                ckpt::describe_layout(layout).c_str());
    std::printf("  rank %d: stage %d (blocks %s), tensor rank %d, data rank %d; step %d (the steady state: optimizer "
                "state present from its start)\n",
                rank, chosen->place.stage, ckpt::format_block_range(chosen->place.blocks).c_str(), chosen->place.tp,
                chosen->place.dp, r.step);
    std::printf("  peak              %s %s\n", format_bytes(r.peak_total).c_str(), model_where(*chosen).c_str());
    std::printf("    %-17s %12s %12s\n", "category", "at the peak", "own peak");
    for (int c = 0; c < ckpt::kCategoryCount; ++c)
        std::printf("    %-17s %12s %12s\n", std::string(ckpt::category_name(ckpt::Category(c))).c_str(),
                    format_bytes(r.at_peak[size_t(c)]).c_str(), format_bytes(r.peak[size_t(c)]).c_str());
    if (chosen->accumulating)
        std::printf("  accumulating      the gradients of the step's earlier microbatches are live from its start\n");
    if (chosen->in_flight_microbatches > 1)
        std::printf("  in flight         %s: the kept activations of %d more microbatches (%s schedule)\n",
                    format_bytes(chosen->in_flight_bytes).c_str(), chosen->in_flight_microbatches - 1,
                    std::string(ckpt::schedule_name(layout.schedule)).c_str());
    if (layout.pp > 1 || !layout.single_device()) {
        std::printf("\n  %5s  %-9s %-13s %16s  %s\n", "stage", "blocks", "ranks", "predicted peak", "peak at");
        const int per_stage = layout.tp * layout.dp;
        for (size_t s = 0; s < all->stages.size(); ++s) {
            const ckpt::RankPrediction& st = all->stages[s];
            const std::string ranks = per_stage == 1 ? std::to_string(st.place.rank)
                                                     : std::to_string(st.place.rank) + "-" + std::to_string(st.place.rank + per_stage - 1);
            std::printf("  %5zu  %-9s %-13s %16s  %s%s\n", s, ckpt::format_block_range(st.place.blocks).c_str(), ranks.c_str(),
                        format_bytes(st.report.peak_total).c_str(), model_where(st).c_str(),
                        s == all->worst ? "  <- worst" : "");
        }
    }
    // The files describe the rank's own model: its stage's blocks (numbered from 0 in them), its
    // shard of every layer.
    const ckpt::Result<ckpt::ModelSpec> rs = ckpt::rank_spec(spec, layout, rank);
    if (!rs) fail(rs.error());
    for (const std::string& f : write_outputs(out, r, *rs)) std::printf("wrote %s\n", f.c_str());
    return kOk;
}

}  // namespace cli
