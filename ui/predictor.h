// The prediction of the stack being edited, before and between runs: the engine's dry run of a
// steady-state step (exact bytes, every event, for any size, allocating nothing) plus the
// figures a student compares it with: the peak with no block checkpointed, with every block
// checkpointed, and the smallest any checkpoint set reaches. Dry runs of big stacks take long
// enough to stall a window, so they run on a worker thread; only the latest request is
// computed, and the window applies a prediction only while its spec is still the one on screen.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <atomic>
#include <memory>
#include <optional>

#include "ckpt/session.h"
#include "ui/run_controller.h"

namespace ckptui {

struct Prediction {
    ckpt::ModelSpec spec;  // what was predicted
    QString error;         // "" or why the stack cannot be predicted
    ReportPtr step;        // the steady-state step (the second, optimizer state present), events kept
    qint64 uncheckedPeak = -1;  // the same step with no block checkpointed
    qint64 allPeak = -1;        // with every block checkpointed
    qint64 minimalPeak = -1;    // the smallest peak any checkpoint set reaches (the planner's chain model)
    ckpt::MemoryTag uncheckedPeakTag;
    std::vector<double> recomputeFlops;  // per block: what recomputing it would cost (its policy), in FLOPs

    bool ok() const { return step != nullptr; }
};

class Predictor : public QObject {
    Q_OBJECT

public:
    explicit Predictor(QObject* parent = nullptr);
    ~Predictor() override;

    // Predicts `spec` for a device of `kind`; a newer request replaces one not yet started.
    void request(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind = ckpt::DeviceKind::cpu);
    // The whole computation, on the calling thread (the worker calls it; tests may too). Linear
    // in the model's layers, the planner's part bounded (planner.h, PlanLimits); `stop`, once
    // set, ends it early (the result is then of no use).
    static Prediction compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind,
                              const std::atomic<bool>* stop = nullptr);

signals:
    void predictionAvailable(const ckptui::Prediction& prediction);

private:
    void work();  // on the worker thread

    QThread thread_;
    QObject worker_;
    QMutex mutex_;
    std::optional<std::pair<ckpt::ModelSpec, ckpt::DeviceKind>> pending_;
    bool queued_ = false;
    std::atomic<bool> stop_{false};  // set by a newer request: the running prediction stops
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::Prediction)
