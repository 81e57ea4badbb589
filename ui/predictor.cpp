// The worker-thread prediction (see predictor.h).
#include "ui/predictor.h"

#include <QMetaObject>
#include <QMutexLocker>

#include "ckpt/planner.h"

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

void Predictor::request(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind) {
    QMutexLocker lock(&mutex_);
    stop_ = true;  // the prediction running, if any, is of a spec no longer wanted
    pending_ = std::make_pair(spec, kind);
    if (queued_) return;  // the queued job will take the newest spec
    queued_ = true;
    QMetaObject::invokeMethod(&worker_, [this] { work(); }, Qt::QueuedConnection);
}

void Predictor::work() {
    std::optional<std::pair<ckpt::ModelSpec, ckpt::DeviceKind>> job;
    {
        QMutexLocker lock(&mutex_);
        job = std::move(pending_);
        pending_.reset();
        queued_ = false;
        stop_ = false;
    }
    if (!job) return;
    Prediction p = compute(job->first, job->second, &stop_);
    if (!stop_) emit predictionAvailable(p);  // stopped: a newer request is queued behind
}

Prediction Predictor::compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind, const std::atomic<bool>* stop) {
    Prediction p;
    p.spec = spec;
    if (const ckpt::Status st = ckpt::validate_model_spec(spec); !st) {
        p.error = QString::fromStdString(st.message());
        return p;
    }
    ckpt::Result<ckpt::StepReport> steady = ckpt::predict(spec, 2, kind, stop);
    if (!steady) {
        p.error = QString::fromStdString(steady.error().message);
        return p;
    }
    p.step = std::make_shared<const ckpt::StepReport>(std::move(*steady));
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
    // Bounded (planner.h, PlanLimits): past the bound, the smaller of none's and all's peaks.
    ckpt::PlanLimits limits;
    limits.stop = stop;
    if (auto chain = ckpt::ChainModel::build(spec, {}, kind)) p.minimalPeak = ckpt::minimal_peak(*chain, &limits);
    p.recomputeFlops = ckpt::block_recompute_flops(spec);
    return p;
}

}  // namespace ckptui
