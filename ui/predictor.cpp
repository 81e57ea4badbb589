// The worker-thread prediction (see predictor.h).
#include "ui/predictor.h"

#include <QMetaObject>
#include <QMutexLocker>

#include "ckpt/planner.h"
#include "ui/time_figures.h"

namespace ckptui {

Predictor::Predictor(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ckptui::Prediction>();
    worker_.moveToThread(&thread_);
    thread_.start();
}

Predictor::~Predictor() {
    stop_ = true;
    thread_.quit();
    thread_.wait();
}

void Predictor::request(std::shared_ptr<const ckpt::ModelSpec> spec, ckpt::DeviceKind kind, const QString& device, int threads,
                        const ckpt::ParallelLayout& layout, int rank) {
    QMutexLocker lock(&mutex_);
    stop_ = true;  // the prediction running, if any, is of a spec no longer wanted
    pending_ = Job{std::move(spec), kind, device, threads, layout, rank};  // shared, not copied on the GUI thread
    if (queued_) return;  // the queued job will take the newest spec
    queued_ = true;
    QMetaObject::invokeMethod(&worker_, [this] { work(); }, Qt::QueuedConnection);
}

void Predictor::work() {
    std::optional<Job> job;
    {
        QMutexLocker lock(&mutex_);
        job = std::move(pending_);
        pending_.reset();
        queued_ = false;
        stop_ = false;
    }
    if (!job) return;
    Prediction p = compute(*job->spec, job->kind, job->device, job->threads, &stop_, job->layout, job->rank);
    if (!stop_) emit predictionAvailable(p);  // stopped: a newer request is queued behind
}

namespace {

// One rank of a layout: its step, its two ends of the trade-off and the lowest peak a plan
// reaches on it, all from the rank's dry runs (parallel.h).
Prediction computeRank(Prediction p, ckpt::DeviceKind kind, const std::atomic<bool>* stop) {
    const ckpt::ModelSpec& spec = p.spec;
    if (const std::string bad = ckpt::check_layout(spec, p.layout); !bad.empty()) {
        p.error = QString::fromStdString("parallel: " + bad);
        return p;
    }
    ckpt::Result<ckpt::RankPrediction> steady = ckpt::predict_rank(spec, p.layout, p.rank, 2, kind, stop);
    if (!steady) {
        p.error = QString::fromStdString(steady.error().message);
        return p;
    }
    // A pipeline stage's blocks are a part of the stack: its report in the stack's block numbers,
    // the other stages' blocks empty, so the window's views follow the whole stack.
    p.step = std::make_shared<const ckpt::StepReport>(
        ckpt::in_whole_model(std::move(steady->report), spec, steady->place.blocks));
    p.series = std::make_shared<TimelineSeries>();
    p.series->fill(*p.step, true);
    for (bool on : {false, true}) {
        ckpt::ModelSpec s = spec;
        for (auto& b : s.blocks) b.checkpoint = on;
        if (auto r = ckpt::predict_rank(s, p.layout, p.rank, 2, kind, stop)) {
            (on ? p.allPeak : p.uncheckedPeak) = r->report.peak_total;
            if (!on) p.uncheckedPeakTag = r->report.peak_tag;
        }
    }
    // Every stage's peak, for the summary's table (the rank's own stage from its step above).
    for (int s = 0; s < p.layout.pp; ++s) {
        const int first = s * p.layout.tp * p.layout.dp;
        Prediction::StagePeak row;
        row.ranks = p.layout.tp * p.layout.dp;
        if (steady->place.stage == s) {
            row.place = steady->place;
            row.peak = p.step->peak_total;
            row.tag = p.step->peak_tag;
        } else if (auto r = ckpt::predict_rank(spec, p.layout, first, 2, kind, stop)) {
            row.place = r->place;
            row.peak = r->report.peak_total;
            row.tag = r->report.peak_tag;
        } else {
            continue;  // stopped
        }
        if (!p.stagePeaks.empty() && row.peak > p.stagePeaks[size_t(p.worstStage)].peak) p.worstStage = int(p.stagePeaks.size());
        p.stagePeaks.push_back(row);
    }
    // The lowest peak a plan reaches is a single step's (the planner's chain model): a pipeline
    // stage's microbatches in flight keep what the plan keeps, so it has none to quote.
    ckpt::PlanLimits limits;
    limits.stop = stop;
    if (p.layout.pp == 1)
        if (auto m = ckpt::minimal_peak_for_rank(spec, p.layout, kind, &limits)) p.minimalPeak = *m;
    p.recomputeFlops = ckpt::recompute_flops_as_grouped(spec);
    return p;
}

}  // namespace

Prediction Predictor::compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind, const QString& device, int threads,
                              const std::atomic<bool>* stop, const ckpt::ParallelLayout& layout, int rank) {
    Prediction p;
    p.spec = spec;
    p.layout = layout;
    p.rank = rank;
    if (const ckpt::Status st = ckpt::validate_model_spec(spec); !st) {
        p.error = QString::fromStdString(st.message());
        return p;
    }
    if (!layout.single_device()) return computeRank(std::move(p), kind, stop);
    ckpt::Result<ckpt::StepReport> steady = ckpt::predict(spec, 2, kind, stop);
    if (!steady) {
        p.error = QString::fromStdString(steady.error().message);
        return p;
    }
    p.step = std::make_shared<const ckpt::StepReport>(std::move(*steady));
    p.series = std::make_shared<TimelineSeries>();
    p.series->fill(*p.step, true);
    // The two ends of the trade-off, for the sentence "without checkpointing it would peak at".
    for (bool on : {false, true}) {
        ckpt::ModelSpec s = spec;
        for (auto& b : s.blocks) b.checkpoint = on;
        if (s == spec) {
            (on ? p.allPeak : p.uncheckedPeak) = p.step->peak_total;
            if (!on) p.uncheckedPeakTag = p.step->peak_tag;
            continue;
        }
        if (auto r = ckpt::predict(s, 2, kind, stop)) {
            (on ? p.allPeak : p.uncheckedPeak) = r->peak_total;
            if (!on) p.uncheckedPeakTag = r->peak_tag;
        }
    }
    // Bounded (planner.h, PlanLimits): past the bound, the smaller of none's and all's peaks. The
    // lowest any plan reaches: segment plans include the per-block ones.
    ckpt::PlanLimits limits;
    limits.stop = stop;
    if (auto chain = ckpt::ChainModel::build(spec, {}, kind)) p.minimalPeak = ckpt::minimal_segment_peak(*chain, &limits);
    // What each block reruns: inside a segment's run also the trailing layers that feed the next.
    p.recomputeFlops = ckpt::recompute_flops_as_grouped(spec);
    const QString dev = !device.isEmpty() ? device : kind == ckpt::DeviceKind::cuda ? QStringLiteral("cuda") : QStringLiteral("cpu");
    if (auto t = throughputFor(dev, threads)) p.time = std::make_shared<const ckpt::TimePrediction>(ckpt::predict_times(spec, *t));
    // The same checkpointed blocks recomputed in full, beside their selective policies.
    bool selective = false;
    ckpt::ModelSpec full = spec;
    for (ckpt::BlockSpec& b : full.blocks)
        if (b.checkpoint && b.policy != ckpt::BlockSpec::Policy::full) {
            selective = true;
            b.policy = ckpt::BlockSpec::Policy::full;
        }
    if (selective && ckpt::validate_model_spec(full).ok()) {
        const std::vector<double> all = ckpt::recompute_flops_as_grouped(full);
        p.selectiveFlops = p.fullFlops = 0;
        for (size_t b = 0; b < spec.blocks.size(); ++b)
            if (spec.blocks[b].checkpoint) {
                p.selectiveFlops += p.recomputeFlops[b];
                p.fullFlops += all[b];
            }
        if (p.time) {
            p.selectiveNs = p.time->recompute_ns;
            p.fullNs = ckpt::predict_times(full, p.time->throughput).recompute_ns;
        }
    }
    return p;
}

}  // namespace ckptui
