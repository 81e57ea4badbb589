// Runs training steps on a worker thread so the window never waits for the engine. The GUI calls
// start()/stop()/updateSpec() from its thread; results come back as queued signals. Memory
// events are forwarded in batches at most every 17 ms (under 60 per second), the finished step as one
// shared report. With `verify`, an unchecked twin session (same seed, same initial parameters)
// steps in lockstep: its gradient checksum says whether checkpointing changed any bit and its
// step time gives the recomputation overhead.
//
// The sessions outlive a Run press: pressing Run step again continues the same training (step
// numbers go on, the optimizer state is kept, checkpoint ticks apply through set_checkpoint) until
// the model's structure or the run settings change, or resetSteps() says another model was loaded.
// Every step also carries the dry run of its own spec for the same kind of step, so a measurement
// is only ever compared with the prediction of what actually ran, and the predicted time of that
// spec on this device (its throughput measured before the session's first step).
//
// Each step is timed RunSettings::repeats times (the engine puts the state back between repeats,
// so it stays one step: one optimizer update, one step number); its times are medians with
// quartiles. The first step of a session is its warm-up (one-off costs), and says why a session
// began there: another model, a changed structure, changed run settings.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <QVector>
#include <atomic>
#include <memory>

#include "ckpt/session.h"
#include "ckpt/timing.h"
#include "ui/experiment.h"

namespace ckptui {

using ReportPtr = std::shared_ptr<const ckpt::StepReport>;
using TimePtr = std::shared_ptr<const ckpt::TimePrediction>;

struct StepResult {
    ReportPtr report;
    ReportPtr predicted;            // the dry run of `spec` for a step with the same starting state
    TimePtr predictedTime;          // the predicted time of `spec` on this device (null: no calibration)
    bool verified = false;          // a twin ran
    bool gradientsAgree = false;    // bitwise, by checksum
    qint64 twinStepNs = 0;          // the unchecked twin's step time (the median of its repeats)
    ckpt::TimeRange twinStepRange;  // and their quartiles
    qint64 twinPeak = 0;            // the unchecked twin's peak: what checkpointing saved
    // Numbered from 1 since the model was loaded, across Run presses; a stopped step takes no
    // number (the next step gets it).
    int step = 0;
    // The session's first complete step: its time includes one-off costs (creating the optimizer
    // state, first touches of memory, the BLAS threads starting), so it is no time to compare.
    bool warmup = false;
    QString warmupReason;           // why a session began at this step: "the first step of this model", ...
    int skippedSteps = 0;           // fp16: steps of this session skipped so far (gradients overflowed)
    ckpt::ModelSpec spec;           // what ran
    QString origin;                 // "" for a step run here; the report's file name for a run opened from one
};

// Same model apart from which blocks are checkpointed and how they group into segments (what
// Session::set_checkpoint can change).
bool sameStructure(const ckpt::ModelSpec& a, const ckpt::ModelSpec& b);

class RunController : public QObject {
    Q_OBJECT

public:
    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;

    // steps < 0: until stopped. Returns false (and emits nothing) if a run is going on.
    bool start(const Experiment& e, int steps);
    void stop();                                    // returns at once; the run ends within a layer
    void updateSpec(const ckpt::ModelSpec& spec);   // applied at the next step of a running run
    // Another model was loaded: the next step starts new sessions and is numbered 1.
    void resetSteps() { reset_ = true; }
    bool isRunning() const { return running_.load(); }

signals:
    void stepStarted(const ckpt::CategoryBytes& baseline);  // live bytes when the step begins
    void repeatStarted(int repeat, int repeats);           // a later timed repeat of the same step
    void memoryEventsAvailable(const QVector<ckpt::MemoryEvent>& events);
    void stepFinished(const ckptui::StepResult& result);
    // error: "" when the run ended normally or was stopped (stopped says which).
    void runFinished(const QString& error, bool stopped);
    void runFailed(const QString& error);      // the session could not be created

private:
    void run(Experiment e, int steps);  // on the worker thread
    // Worker thread: the sessions for `e`, reused when only checkpoint ticks changed.
    QString prepare(const Experiment& e);
    TimePtr timeFor(const ckpt::ModelSpec& spec);
    ReportPtr predictionFor(const ckpt::ModelSpec& spec, const ckpt::StepReport& measured);

    QThread thread_;
    QObject worker_;  // lives in thread_; run() is queued onto it
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> reset_{false};
    QMutex mutex_;
    std::unique_ptr<ckpt::ModelSpec> pending_;

    // Worker thread only.
    std::unique_ptr<ckpt::Session> session_, twin_;
    Experiment sessionFor_;      // the experiment the sessions were made for (flags as last set)
    bool twinInStep_ = true;     // false once a twin step failed: the two no longer match
    int okSteps_ = 0;            // complete steps of session_
    int skippedSteps_ = 0;       // of those, fp16 steps skipped because the gradients overflowed
    int counter_ = 0;            // the last step number handed out
    QString sessionReason_;      // why the current session was made (for its warm-up step)
    ckpt::Throughput throughput_;  // of the session's device, measured or cached before its first step
    ckpt::ModelSpec timeSpec_;
    TimePtr time_;               // predict_times(timeSpec_, throughput_)
    ckpt::ModelSpec predictedSpec_;
    ReportPtr predictedFirst_, predictedSteady_;  // cached dry runs of predictedSpec_
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::StepResult)
Q_DECLARE_METATYPE(ckpt::CategoryBytes)
