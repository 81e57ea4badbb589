// The worker-thread side of a run (see run_controller.h).
#include "ui/run_controller.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QMutexLocker>

#include "ui/messages.h"
#include "ui/time_figures.h"

namespace ckptui {

namespace {

// At most one batch per 17 ms: under 60 a second, so the GUI repaints at most 60 times a second.
constexpr qint64 kBatchMs = 17;

// Collects memory events on the engine's thread and hands them over in batches.
class BatchingSink : public ckpt::EventSink {
public:
    explicit BatchingSink(RunController* c) : c_(c) { clock_.start(); }
    void on_memory(const ckpt::MemoryEvent& e) override {
        batch_.push_back(e);
        if (clock_.elapsed() >= kBatchMs) flush();
    }
    void on_repeat(int repeat, int repeats) override {
        flush();
        emit c_->repeatStarted(repeat, repeats);
    }
    void flush() {
        if (batch_.isEmpty()) return;
        emit c_->memoryEventsAvailable(batch_);
        batch_.clear();
        clock_.restart();
    }

private:
    RunController* c_;
    QVector<ckpt::MemoryEvent> batch_;
    QElapsedTimer clock_;
};


}  // namespace

bool sameStructure(const ckpt::ModelSpec& a, const ckpt::ModelSpec& b) {
    // Without copying either spec (two copies of a 20,000-block spec took tens of milliseconds
    // of the GUI thread at every plan): block by block, then every other field of ModelSpec but
    // its segments (which Session::set_checkpoint changes too).
    if (a.blocks.size() != b.blocks.size()) return false;
    for (size_t i = 0; i < a.blocks.size(); ++i) {
        const ckpt::BlockSpec& x = a.blocks[i];
        const ckpt::BlockSpec& y = b.blocks[i];
        if (x.checkpoint == y.checkpoint) {
            if (!(x == y)) return false;
            continue;
        }
        ckpt::BlockSpec flipped = x;
        flipped.checkpoint = y.checkpoint;
        if (!(flipped == y)) return false;
    }
    return a.name == b.name && a.input_shape == b.input_shape && a.dtype == b.dtype && a.precision == b.precision &&
           a.loss == b.loss && a.optimizer == b.optimizer && a.seed == b.seed && a.preserve_rng == b.preserve_rng &&
           a.description == b.description;
}

RunController::RunController(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ckptui::StepResult>();
    qRegisterMetaType<QVector<ckpt::MemoryEvent>>();
    qRegisterMetaType<ckpt::CategoryBytes>();
    worker_.moveToThread(&thread_);
    thread_.start();
}

RunController::~RunController() {
    stop_ = true;
    // Sessions go where they were made (a device backend may hold per-thread state); a run under
    // way ends within a layer first.
    QMetaObject::invokeMethod(&worker_, [this] { session_.reset(); twin_.reset(); }, Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
}

bool RunController::start(const Experiment& e, int steps) {
    bool expected = false;
    if (!running_.compare_exchange_strong(expected, true)) return false;
    stop_ = false;
    {
        QMutexLocker lock(&mutex_);
        pending_.reset();
    }
    QMetaObject::invokeMethod(&worker_, [this, e, steps] { run(e, steps); }, Qt::QueuedConnection);
    return true;
}

void RunController::stop() { stop_ = true; }

void RunController::updateSpec(const ckpt::ModelSpec& spec) {
    QMutexLocker lock(&mutex_);
    pending_ = std::make_unique<ckpt::ModelSpec>(spec);
}

QString RunController::prepare(const Experiment& e) {
    const bool sameShape = session_ && sameStructure(e.spec, sessionFor_.spec), sameRun = session_ && e.run == sessionFor_.run;
    const bool reuse = sameShape && sameRun && (twinInStep_ || !e.run.verify);
    if (reuse) {
        const ckpt::CheckpointSet set = ckpt::checkpoint_of(e.spec);
        if (set != ckpt::checkpoint_of(sessionFor_.spec) && !session_->set_checkpoint(set).ok())
            session_.reset();  // cannot happen for a valid spec; start afresh rather than run the wrong flags
        else {
            sessionFor_ = e;
            return {};
        }
    }
    sessionReason_ = !session_ || counter_ == 0 ? tr("the first step of this model")
                     : !sameShape           ? tr("the first step since the stack's structure changed")
                     : !sameRun             ? tr("the first step since the run settings changed")
                                            : tr("the first step since the unchecked twin fell out of step");
    session_.reset();
    twin_.reset();
    okSteps_ = 0;
    skippedSteps_ = 0;
    twinInStep_ = true;
    // The device's throughput before the session's first step, so that measuring it never
    // shares the device with a step (once per machine, then from the cache).
    const ckpt::RunSettings& rs = e.run.settings;
    if (auto t = ckpt::cached_throughput(rs.device, rs.threads, throughputCachePath().toStdString())) {
        throughput_ = *t;
        time_.reset();
    }
    auto s = ckpt::Session::create(e.spec, e.run.settings);
    if (!s) return QString::fromStdString(s.error().message);
    session_ = std::move(*s);
    if (e.run.verify) {
        ckpt::ModelSpec plain = e.spec;
        for (auto& b : plain.blocks) b.checkpoint = false;
        ckpt::RunSettings ts = e.run.settings;
        ts.memory_limit = 0;  // the twin is a reference, not a device
        auto t = ckpt::Session::create(plain, ts);
        if (t) twin_ = std::move(*t);
    }
    sessionFor_ = e;
    return {};
}

ReportPtr RunController::predictionFor(const ckpt::ModelSpec& spec, const ckpt::StepReport& measured) {
    if (!(spec == predictedSpec_)) {
        predictedSpec_ = spec;
        predictedFirst_.reset();
        predictedSteady_.reset();
    }
    const ckpt::DeviceKind kind = session_ ? session_->device().kind : ckpt::DeviceKind::cpu;
    // The step with the same starting state: the first (no optimizer state yet) or a later one.
    auto dry = [&](int steps) -> ReportPtr {
        auto p = ckpt::predict(spec, steps, kind);
        return p ? std::make_shared<const ckpt::StepReport>(std::move(*p)) : nullptr;
    };
    if (!predictedSteady_) predictedSteady_ = dry(2);
    if (predictedSteady_ && predictedSteady_->baseline == measured.baseline) return predictedSteady_;
    if (!predictedFirst_) predictedFirst_ = dry(1);
    if (predictedFirst_ && predictedFirst_->baseline == measured.baseline) return predictedFirst_;
    return predictedSteady_;
}

TimePtr RunController::timeFor(const ckpt::ModelSpec& spec) {
    if (!throughput_.valid()) return nullptr;
    if (!time_ || !(spec == timeSpec_)) {
        timeSpec_ = spec;
        time_ = std::make_shared<const ckpt::TimePrediction>(ckpt::predict_times(spec, throughput_));
    }
    return time_;
}

void RunController::run(Experiment e, int steps) {
    if (reset_.exchange(false)) {
        session_.reset();
        counter_ = 0;
    }
    QString message;
    bool stopped = false;
    if (QString err = prepare(e); !err.isEmpty()) {
        running_ = false;
        emit runFailed(err);
        return;
    }
    BatchingSink sink(this);
    for (int i = 1; steps < 0 || i <= steps; ++i) {
        if (stop_) {
            stopped = true;
            break;
        }
        // Edits made while running apply here, at the step boundary.
        std::unique_ptr<ckpt::ModelSpec> next;
        {
            QMutexLocker lock(&mutex_);
            next = std::move(pending_);
        }
        if (reset_.exchange(false)) {
            session_.reset();
            counter_ = 0;
        }
        if (next && ckpt::validate_model_spec(*next).ok()) e.spec = *next;
        if (QString err = prepare(e); !err.isEmpty()) {
            message = err;
            break;
        }
        emit stepStarted(session_->live_bytes());
        ckpt::StepOptions opts;
        opts.sink = &sink;
        opts.stop = &stop_;
        auto report = std::make_shared<ckpt::StepReport>(session_->step(opts));
        sink.flush();
        StepResult r;
        r.spec = e.spec;
        const ckpt::StepStatus status = report->status;
        if (status == ckpt::StepStatus::stopped) {
            r.step = counter_ + 1;  // the number this step would have had; the next one takes it
        } else {
            r.step = ++counter_;
            if (status == ckpt::StepStatus::ok) r.warmup = ++okSteps_ == 1;
            if (r.warmup) r.warmupReason = sessionReason_;
            if (status == ckpt::StepStatus::ok && report->step_skipped) ++skippedSteps_;
            r.skippedSteps = skippedSteps_;
            r.predicted = predictionFor(e.spec, *report);
            r.predictedTime = timeFor(e.spec);
        }
        if (twin_ && twinInStep_ && status == ckpt::StepStatus::ok) {
            ckpt::StepOptions quiet;
            quiet.record_events = false;
            quiet.stop = &stop_;
            const ckpt::StepReport t = twin_->step(quiet);
            if (t.status == ckpt::StepStatus::ok) {
                r.verified = true;
                r.gradientsAgree = t.gradient_checksum == report->gradient_checksum;
                r.twinStepNs = t.step_ns;
                r.twinStepRange = t.step_range;
                r.twinPeak = t.peak_total;
            } else {
                twinInStep_ = false;  // its parameters no longer follow the session's
            }
        }
        r.report = std::move(report);
        emit stepFinished(r);
        if (status != ckpt::StepStatus::ok) {
            // The report says why; stopping is the user's wish, not an error to show.
            stopped = status == ckpt::StepStatus::stopped;
            if (!stopped) message = shownText(r.report->message, 400);
            break;
        }
    }
    running_ = false;
    emit runFinished(message, stopped);
}

}  // namespace ckptui
