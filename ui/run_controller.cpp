// The worker-thread side of a run (see run_controller.h).
#include "ui/run_controller.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QMutexLocker>

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

// Same model apart from which blocks are checkpointed (what Session::set_checkpoint can change).
bool sameStructure(ckpt::ModelSpec a, ckpt::ModelSpec b) {
    for (auto& blk : a.blocks) blk.checkpoint = false;
    for (auto& blk : b.blocks) blk.checkpoint = false;
    return a == b;
}

std::vector<bool> flagsOf(const ckpt::ModelSpec& s) {
    std::vector<bool> f;
    for (const auto& b : s.blocks) f.push_back(b.checkpoint);
    return f;
}

}  // namespace

RunController::RunController(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ckptui::StepResult>();
    qRegisterMetaType<QVector<ckpt::MemoryEvent>>();
    qRegisterMetaType<ckpt::CategoryBytes>();
    worker_.moveToThread(&thread_);
    thread_.start();
}

RunController::~RunController() {
    stop_ = true;
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

void RunController::run(Experiment e, int steps) {
    const ckpt::RunSettings settings = e.run.settings;
    std::unique_ptr<ckpt::Session> session, twin;
    auto rebuild = [&](const ckpt::ModelSpec& spec) -> QString {
        session.reset();
        twin.reset();
        auto s = ckpt::Session::create(spec, settings);
        if (!s) return QString::fromStdString(s.error().message);
        session = std::move(*s);
        if (e.run.verify) {
            ckpt::ModelSpec plain = spec;
            for (auto& b : plain.blocks) b.checkpoint = false;
            ckpt::RunSettings ts = settings;
            ts.memory_limit = 0;  // the twin is a reference, not a device
            auto t = ckpt::Session::create(plain, ts);
            if (t) twin = std::move(*t);
        }
        return {};
    };
    QString message;
    bool stopped = false;
    if (QString err = rebuild(e.spec); !err.isEmpty()) {
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
        if (next && ckpt::validate_model_spec(*next).ok()) {
            if (sameStructure(*next, e.spec)) {
                session->set_checkpoint(flagsOf(*next));
            } else if (QString err = rebuild(*next); !err.isEmpty()) {
                message = err;
                break;
            }
            e.spec = *next;
        }
        emit stepStarted(session->live_bytes());
        ckpt::StepOptions opts;
        opts.sink = &sink;
        opts.stop = &stop_;
        auto report = std::make_shared<ckpt::StepReport>(session->step(opts));
        sink.flush();
        StepResult r;
        r.step = i;
        r.spec = e.spec;
        if (twin && report->status == ckpt::StepStatus::ok) {
            ckpt::StepOptions quiet;
            quiet.record_events = false;
            quiet.stop = &stop_;
            const ckpt::StepReport t = twin->step(quiet);
            if (t.status == ckpt::StepStatus::ok) {
                r.verified = true;
                r.gradientsAgree = t.gradient_checksum == report->gradient_checksum;
                r.twinStepNs = t.step_ns;
                r.twinPeak = t.peak_total;
            }
        }
        const ckpt::StepStatus status = report->status;
        r.report = std::move(report);
        emit stepFinished(r);
        if (status != ckpt::StepStatus::ok) {
            // The report says why; stopping is the user's wish, not an error to show.
            stopped = status == ckpt::StepStatus::stopped;
            if (!stopped) message = QString::fromStdString(r.report->message);
            break;
        }
    }
    running_ = false;
    emit runFinished(message, stopped);
}

}  // namespace ckptui
