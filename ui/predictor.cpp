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
    thread_.quit();
    thread_.wait();
}

void Predictor::request(std::shared_ptr<const ckpt::ModelSpec> spec, ckpt::DeviceKind kind) {
    QMutexLocker lock(&mutex_);
    pending_ = std::make_pair(std::move(spec), kind);  // shared, not copied on the GUI thread
    if (queued_) return;  // the queued job will take the newest spec
    queued_ = true;
    QMetaObject::invokeMethod(&worker_, [this] { work(); }, Qt::QueuedConnection);
}

void Predictor::work() {
    std::optional<std::pair<std::shared_ptr<const ckpt::ModelSpec>, ckpt::DeviceKind>> job;
    {
        QMutexLocker lock(&mutex_);
        job = std::move(pending_);
        pending_.reset();
        queued_ = false;
    }
    if (job) emit predictionAvailable(compute(*job->first, job->second));
}

Prediction Predictor::compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind) {
    Prediction p;
    p.spec = spec;
    if (const ckpt::Status st = ckpt::validate_model_spec(spec); !st) {
        p.error = QString::fromStdString(st.message());
        return p;
    }
    ckpt::Result<ckpt::StepReport> steady = ckpt::predict(spec, 2, kind);
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
        if (auto r = ckpt::predict(s, 2, kind)) {
            (on ? p.allPeak : p.uncheckedPeak) = r->peak_total;
            if (!on) p.uncheckedPeakTag = r->peak_tag;
        }
    }
    if (auto chain = ckpt::ChainModel::build(spec, {}, kind)) p.minimalPeak = ckpt::minimal_peak(*chain);
    p.recomputeFlops = ckpt::block_recompute_flops(spec);
    return p;
}

}  // namespace ckptui
