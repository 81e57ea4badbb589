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
#include <memory>
#include <optional>

#include "ckpt/session.h"
#include "ui/run_controller.h"
#include "ui/timeline_series.h"

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
    // The step's memory as the timeline draws it, built on the worker; shared by the copies of
    // this prediction and lent to the timeline while it is drawn (GUI thread only after that).
    std::shared_ptr<TimelineSeries> series;

    bool ok() const { return step != nullptr; }
};

class Predictor : public QObject {
    Q_OBJECT

public:
    explicit Predictor(QObject* parent = nullptr);
    ~Predictor() override;

    // Predicts `spec` for a device of `kind`; a newer request replaces one not yet started.
    void request(std::shared_ptr<const ckpt::ModelSpec> spec, ckpt::DeviceKind kind = ckpt::DeviceKind::cpu);
    // The whole computation, on the calling thread (the worker calls it; tests may too).
    static Prediction compute(const ckpt::ModelSpec& spec, ckpt::DeviceKind kind);

signals:
    void predictionAvailable(const ckptui::Prediction& prediction);

private:
    void work();  // on the worker thread

    QThread thread_;
    QObject worker_;
    QMutex mutex_;
    std::optional<std::pair<std::shared_ptr<const ckpt::ModelSpec>, ckpt::DeviceKind>> pending_;
    bool queued_ = false;
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::Prediction)
