// The prediction of the stack being edited, before and between runs: the engine's dry run of a
// steady-state step (exact bytes, every event, for any size, allocating nothing) plus the
// figures a student compares it with: the peak with no block checkpointed, with every block
// checkpointed, and the smallest any checkpoint set reaches; and the predicted time of the step on
// the device it will run on (each layer's FLOPs and bytes over the device's measured throughput,
// measured once per machine and then cached). Dry runs of big stacks take long
// enough to stall a window, so they run on a worker thread; only the latest request is
// computed, and the window applies a prediction only while its spec is still the one on screen.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <atomic>
#include <memory>
#include <optional>

#include "ckpt/parallel.h"
#include "ckpt/session.h"
#include "ui/run_controller.h"
#include "ui/timeline_series.h"

namespace ckptui {

struct Prediction {
    ckpt::ModelSpec spec;  // what was predicted
    // One rank of a parallel layout (parallel.h), or one device: the step, the peaks and the
    // suggestion are that rank's; no time is predicted for a layout's GPUs from this machine.
    ckpt::ParallelLayout layout;
    int rank = 0;
    QString error;         // "" or why the stack cannot be predicted
    ReportPtr step;        // the steady-state step (the second, optimizer state present), events kept
    qint64 uncheckedPeak = -1;  // the same step with no block checkpointed
    qint64 allPeak = -1;        // with every block checkpointed
    qint64 minimalPeak = -1;    // the smallest peak any checkpoint set reaches (the planner's chain model)
    ckpt::MemoryTag uncheckedPeakTag;
    std::vector<double> recomputeFlops;  // per block: what recomputing it would cost (its policy), in FLOPs
    // The step's memory as the timeline draws it, built on the worker; shared by the copies of
    // this prediction and lent to the timeline while it is drawn (GUI thread only after that).
    std::shared_ptr<TimelineSeries> series;
    TimePtr time;                        // the predicted time (null when the device cannot be calibrated)
    // Selective checkpointing's time claim, deterministic: when a checkpointed block recomputes
    // under a policy other than full, what the same blocks would recompute with full (FLOPs, and
    // the predicted time when there is one); -1 otherwise.
    double selectiveFlops = -1, fullFlops = -1;
    // A layout of more than one device: each pipeline stage's peak (its first rank stands for the
    // stage's: they differ only in which shard they hold), the worst marked; one row without
    // pipeline stages.
    struct StagePeak {
        ckpt::RankPlace place;
        int ranks = 0;  // how many ranks the stage has (dp x tp)
        qint64 peak = 0;
        ckpt::MemoryTag tag;
    };
    std::vector<StagePeak> stagePeaks;
    int worstStage = 0;
    qint64 selectiveNs = -1, fullNs = -1;

    bool ok() const { return step != nullptr; }
};

class Predictor : public QObject {
    Q_OBJECT

public:
    explicit Predictor(QObject* parent = nullptr);
    ~Predictor() override;

    // Predicts `spec` for a device of `kind`, its time on `device` ("cpu", "cuda:0"; "" for the
    // kind's first) with `threads`; a newer request replaces one not yet started and stops the one
    // running. The spec is shared, not copied on the GUI thread.
    void request(std::shared_ptr<const ckpt::ModelSpec> spec, ckpt::DeviceKind kind = ckpt::DeviceKind::cpu,
                 const QString& device = {}, int threads = 0, const ckpt::ParallelLayout& layout = {}, int rank = 0);
    // The whole computation, on the calling thread (the worker calls it; tests may too). Linear
    // in the model's layers, the planner's part bounded (planner.h, PlanLimits); `stop`, once
    // set, ends it early (the result is then of no use).
    static Prediction compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind, const QString& device = {},
                              int threads = 0, const std::atomic<bool>* stop = nullptr,
                              const ckpt::ParallelLayout& layout = {}, int rank = 0);

signals:
    void predictionAvailable(const ckptui::Prediction& prediction);

private:
    void work();  // on the worker thread

    QThread thread_;
    QObject worker_;
    QMutex mutex_;
    struct Job {
        std::shared_ptr<const ckpt::ModelSpec> spec;
        ckpt::DeviceKind kind;
        QString device;
        int threads;
        ckpt::ParallelLayout layout;
        int rank;
    };
    std::optional<Job> pending_;
    bool queued_ = false;
    std::atomic<bool> stop_{false};  // set by a newer request: the running prediction stops
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::Prediction)
