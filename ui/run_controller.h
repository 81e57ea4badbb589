// Runs training steps on a worker thread so the window never waits for the engine. The GUI calls
// start()/stop()/updateSpec() from its thread; results come back as queued signals. Memory
// events are forwarded in batches at most every 17 ms (under 60 per second), the finished step as one
// shared report. With `verify`, an unchecked twin session (same seed, same initial parameters)
// steps in lockstep: its gradient checksum says whether checkpointing changed any bit and its
// step time gives the recomputation overhead.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <QVector>
#include <atomic>
#include <memory>

#include "ckpt/session.h"
#include "ui/experiment.h"

namespace ckptui {

using ReportPtr = std::shared_ptr<const ckpt::StepReport>;

struct StepResult {
    ReportPtr report;
    bool verified = false;          // a twin ran
    bool gradientsAgree = false;    // bitwise, by checksum
    qint64 twinStepNs = 0;          // the unchecked twin's step time
    qint64 twinPeak = 0;            // the unchecked twin's peak: what checkpointing saved
    int step = 0;                   // 1-based within this run
    ckpt::ModelSpec spec;           // what ran
};

class RunController : public QObject {
    Q_OBJECT

public:
    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;

    // steps < 0: until stopped. Returns false (and emits nothing) if a run is going on.
    bool start(const Experiment& e, int steps);
    void stop();                                    // returns at once; the run ends within a layer
    void updateSpec(const ckpt::ModelSpec& spec);   // applied at the next step of a running run
    bool isRunning() const { return running_.load(); }

signals:
    void stepStarted(const ckpt::CategoryBytes& baseline);  // live bytes when the step begins
    void memoryEventsAvailable(const QVector<ckpt::MemoryEvent>& events);
    void stepFinished(const ckptui::StepResult& result);
    // error: "" when the run ended normally or was stopped (stopped says which).
    void runFinished(const QString& error, bool stopped);
    void runFailed(const QString& error);      // the session could not be created

private:
    void run(Experiment e, int steps);  // on the worker thread

    QThread thread_;
    QObject worker_;  // lives in thread_; run() is queued onto it
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};
    QMutex mutex_;
    std::unique_ptr<ckpt::ModelSpec> pending_;
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::StepResult)
Q_DECLARE_METATYPE(ckpt::CategoryBytes)
