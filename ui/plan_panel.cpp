// The planning panel and the Pareto chart (see plan_panel.h).
#include "ui/plan_panel.h"

#include <QComboBox>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QtConcurrent/QtConcurrentRun>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <qcustomplot.h>

#include "ckpt/layer_traits.h"
#include "ckpt/names.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"
#include "ui/charts.h"
#include "ui/messages.h"
#include "ui/parallel_dialog.h"
#include "ui/run_controller.h"
#include "ui/stack_model.h"
#include "ui/style.h"

namespace ckptui {

namespace {

// A plan's blocks as --checkpoint writes them: a block list, or the runs when it groups blocks.
QString planSets(const ckpt::Plan& p) {
    if (!p.grouped()) return QString::fromStdString(ckpt::format_checkpoint_set(p.checkpoint));
    QString s = QStringLiteral("segments:");
    for (size_t i = 0; i < p.runs.size(); ++i)
        s += (i ? QStringLiteral(",") : QString()) + QString::fromStdString(ckpt::format_block_range(p.runs[i]));
    return s;
}

// A budget a user can type, two significant digits rounded up: "15MiB", "3.1GiB".
QString niceBudget(qint64 bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(std::max<qint64>(bytes, 1));
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    const double scale = std::pow(10.0, std::floor(std::log10(v)) - 1);
    const double up = std::ceil(v / scale - 1e-9) * scale;
    return QString::number(up, 'g', 3) + QLatin1String(units[u]);
}

QString planName(const ckpt::Plan& p) {
    return QObject::tr("%1: %2 of %3 blocks checkpointed in %4 segment(s) (%5)")
        .arg(QString::fromStdString(p.planner))
        .arg(p.checkpointed())
        .arg(p.checkpoint.size())
        .arg(p.runs.size())
        .arg(planSets(p));
}

}  // namespace

PlanPanel::PlanPanel(LayerStackModel* model, QCustomPlot* pareto, QWidget* parent)
    : QWidget(parent), model_(model), pareto_(pareto) {
    budget_ = new QLineEdit(this);
    budget_->setPlaceholderText(tr("e.g. 2.5GiB"));
    budget_->setObjectName(QStringLiteral("budget"));
    budget_->setToolTip(tr("The memory a step may use at its peak, e.g. 24GiB for a 24 GB card."));
    planner_ = new QComboBox(this);
    for (const auto& [kind, name] : ckpt::enum_names<ckpt::PlannerKind>())
        planner_->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())));
    planner_->setToolTip(tr("dp: the least recomputation that fits, per block and over segments side by side (exact "
                            "dynamic programs), the cheaper applied; segments: only plans that group blocks into "
                            "segments recomputed as one; sqrt: Chen et al.'s sqrt(n) segments; every-k: every k-th "
                            "unit with the least recomputation that fits; all / none. The same planners as "
                            "`checkpointlab plan`."));
    auto* go = go_ = new QPushButton(tr("Plan"), this);
    go->setToolTip(tr("Tick the blocks the planner chooses for this budget."));
    stop_ = new QPushButton(tr("Stop"), this);
    stop_->setObjectName(QStringLiteral("stopPlanning"));
    stop_->setToolTip(tr("Stop planning and the Pareto sweep. A long chain whose blocks all differ can keep the exact "
                         "planner busy for seconds; a stopped sweep draws the plans it found."));
    stop_->setEnabled(false);
    connect(stop_, &QPushButton::clicked, this, &PlanPanel::stop);
    result_ = new QLabel(this);
    result_->setWordWrap(true);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Budget:"), this));
    row->addWidget(budget_, 1);
    row->addWidget(planner_);
    row->addWidget(go);
    row->addWidget(stop_);
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    v->addLayout(row);
    v->addWidget(result_);
    connect(go, &QPushButton::clicked, this, [this] {
        const QString err = plan(budget_->text(), planner_->currentText());
        if (!err.isEmpty()) emit errorOccurred(tr("No plan"), err);
    });
    connect(budget_, &QLineEdit::returnPressed, go, &QPushButton::click);
    // A typed budget moves the line at once: the sweep on screen is redrawn, not recomputed.
    connect(budget_, &QLineEdit::textChanged, this, [this] {
        if (!pareto_->isVisible()) return;
        if (lastPareto_ && *lastPareto_->spec == model_->spec() && lastPareto_->layout == layout_) drawPareto(*lastPareto_);
        else refreshPareto();
    });
    connect(model_, &LayerStackModel::specChanged, this, &PlanPanel::onSpecChanged);

    setupCommonStyle(pareto_);
    paretoTitle_ = addTitle(pareto_, paretoTitleText());
    pareto_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    pareto_->xAxis->setLabel(tr("predicted peak memory"));
    putLegendBelow(pareto_, 2);  // under the axes, never over the points
    pareto_->setInteractions(QCP::iSelectPlottables);
    pareto_->setToolTip(paretoTip());
    connect(pareto_, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable* p, int index, QMouseEvent*) {
        if (p->property("paretoIndex").isValid()) applyPoint(p->property("paretoIndex").toList().value(index).toInt());
    });
    setHoverTips(pareto_, [this](double x, double y) { return paretoTipAt(x, y); });
}

QString PlanPanel::paretoTitleText() const { return tr("Every planner across budgets: predicted peak against step time"); }

QString PlanPanel::paretoTip() const {
    return tr("Every planner across budgets: memory against time. The line joins the plans no other plan beats on both. "
              "Hover a point for its plan; click a point or the line to apply it.");
}

void PlanPanel::onSpecChanged() {
    // The line under the box describes a plan of one stack; any other stack makes it wrong.
    if (planned_ && planned_ != model_->sharedSpec()) {
        result_->clear();
        planned_.reset();
    }
}

QString PlanPanel::resultText() const { return result_->text(); }
QString PlanPanel::budgetText() const { return budget_->text(); }

void PlanPanel::resetForModel() {
    ++planGeneration_;  // a plan under way was for the model before
    ++paretoGeneration_;
    setPlanning(false);
    {
        const QSignalBlocker quiet(budget_);  // no redraw of the old sweep with an empty budget
        budget_->clear();
    }
    budget_->setPlaceholderText(tr("e.g. 2.5GiB"));
    result_->clear();
    planned_.reset();
    lastPareto_.reset();
    measuredSpec_.reset();
    forwardNs_.clear();
    measuredStepNs_ = 0;
    measuredPoints_.clear();
}
QString PlanPanel::budgetPlaceholder() const { return budget_->placeholderText(); }

void PlanPanel::setMemoryLimit(qint64 bytes) {
    memoryLimit_ = bytes;
    if (pareto_->isVisible()) refreshPareto();
}

void PlanPanel::setThroughput(const ckpt::Throughput& t) {
    const bool changed = t.key != throughput_.key || t.gemm_flops != throughput_.gemm_flops;
    throughput_ = t;
    if (changed && pareto_->isVisible()) refreshPareto();
}

void PlanPanel::setSuggestion(qint64 minimalPeak, qint64 uncheckedPeak) {
    if (minimalPeak <= 0) {
        budget_->setPlaceholderText(tr("e.g. 2.5GiB"));
        return;
    }
    QString tip;
    if (memoryLimit_ >= minimalPeak) {
        budget_->setPlaceholderText(tr("e.g. %1 (the memory limit)").arg(niceBudget(memoryLimit_)));
    } else if (uncheckedPeak > minimalPeak) {
        // Halfway between what no plan can beat and what needs no plan: a budget that asks for one.
        budget_->setPlaceholderText(tr("e.g. %1").arg(niceBudget(minimalPeak + (uncheckedPeak - minimalPeak) / 2)));
    } else {
        budget_->setPlaceholderText(tr("e.g. %1 (no plan goes lower)").arg(niceBudget(minimalPeak)));
    }
    budget_->setToolTip(tr("The memory a step may use at its peak, e.g. 24GiB for a 24 GB card. This stack: %1 "
                           "without checkpointing, %2 at the least any plan reaches.")
                            .arg(humanBytes(uncheckedPeak), humanBytes(minimalPeak)));
}

std::vector<double> PlanPanel::measuredForwardNs() const {
    const bool measured = measuredSpec_ && sameStructure(*measuredSpec_, model_->spec());
    return measured ? forwardNs_ : std::vector<double>{};
}

bool PlanPanel::isPlanning() const { return !go_->isEnabled(); }

bool PlanPanel::measuredHere() const { return measuredStepNs_ > 0 && !measuredForwardNs().empty(); }

double PlanPanel::stepEstimateMs(const ckpt::Plan& p) const {
    // One quantity, a whole step in ms. Measured on this model: the measured step without its
    // recomputation plus the plan's, from the measured forward times (the chain model's costs are
    // those ns then). Else predicted: FLOPs and bytes over this machine's throughput. Without a
    // calibration: 100 x the step's relative cost (a percentage of the unchecked step).
    switch (timeAxis_) {
    case TimeAxis::measured: return (measuredStepNs_ + p.recompute_cost) / 1e6;
    case TimeAxis::predicted:
        // A rank's step runs its microbatches one after another, each predicted alike.
        if (lastPareto_ && lastPareto_->time)
            return double(lastPareto_->time->step_ns_with(p.runs)) * lastPareto_->layout.microbatches / 1e6;
        break;
    case TimeAxis::relative: break;
    }
    return 100.0 * (1.0 + p.overhead_fraction);
}

QString PlanPanel::plan(const QString& budgetText, const QString& planner) {
    const QString typed = budgetText.trimmed();
    auto budget = ckpt::parse_bytes(typed.toStdString());
    if (!budget) return QStringLiteral("budget: ") + QString::fromStdString(budget.error().message);
    if (!model_->validationError().isEmpty()) return model_->validationError();
    auto kind = ckpt::parse_planner(planner.toStdString());
    if (!kind) return QString::fromStdString(kind.error().message);
    // The engine's plan table, as `checkpointlab plan` prints it, computed on a worker (a long
    // chain takes seconds); the window applies its choice if the stack is still the one planned.
    // The stack shared by the worker and the answer, not copied (a 20,000-block spec copied for
    // each of them took a tenth of a second of the GUI thread).
    const auto spec = model_->sharedSpec();
    const std::vector<double> forward = measuredForwardNs();
    const int64_t bytes = *budget;
    const ckpt::PlannerKind k = *kind;
    const int generation = ++planGeneration_;
    if (planStop_) planStop_->store(true);  // a newer request replaces the running one
    planStop_ = std::make_shared<std::atomic<bool>>(false);
    auto* watcher = new QFutureWatcher<ckpt::Result<ckpt::PlanTable>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, spec, bytes, typed, generation, stop = planStop_] {
        watcher->deleteLater();
        if (generation != planGeneration_) return;  // a newer request replaced this one
        setPlanning(false);
        if (*stop) {  // the user pressed Stop: no plan, and nothing to apologise for
            result_->setText(tr("Planning stopped."));
            emit planFinished(tr("planning stopped"));
            return;
        }
        const QString err = applyPlan(watcher->result(), *spec, bytes, typed);
        if (!err.isEmpty()) emit errorOccurred(tr("No plan"), err);
        emit planFinished(err);
    });
    setPlanning(true);
    result_->setText(tr("Planning for %1…").arg(humanBytes(bytes)));
    watcher->setFuture(QtConcurrent::run([spec, k, bytes, forward, stop = planStop_, layout = layout_] {
        ckpt::PlanLimits limits;
        limits.stop = stop.get();
        // A pipeline: each stage planned with its microbatches in flight, applied as one set.
        if (layout.pp > 1) {
            ckpt::Result<ckpt::PipelinePlan> pipe = ckpt::plan_pipeline(*spec, layout, k, bytes, ckpt::DeviceKind::cpu, &limits);
            if (!pipe) return ckpt::Result<ckpt::PlanTable>(pipe.error());
            return ckpt::Result<ckpt::PlanTable>(pipe->as_table(*spec, k, bytes));
        }
        if (!layout.single_device()) return ckpt::plan_table_for_rank(*spec, layout, k, bytes, ckpt::DeviceKind::cpu, &limits);
        return ckpt::plan_table(*spec, k, bytes, forward, ckpt::DeviceKind::cpu, &limits);
    }));
    return {};
}

void PlanPanel::setPlanning(bool on) {
    go_->setEnabled(!on);
    go_->setText(on ? tr("Planning…") : tr("Plan"));
    updateStop();
}

// Enabled rather than shown: a button that appears relays the dock out, and beside a long stack
// that costs the GUI thread more than the planning it waits for.
void PlanPanel::updateStop() { stop_->setEnabled(isPlanning() || sweeping_); }

void PlanPanel::stop() {
    if (planStop_) planStop_->store(true);
    if (paretoStop_) paretoStop_->store(true);
}

QString PlanPanel::applyPlan(const ckpt::Result<ckpt::PlanTable>& table, const ckpt::ModelSpec& spec, int64_t budget,
                             const QString& typed) {
    result_->clear();
    if (!(spec == model_->spec())) return tr("the stack changed while it was being planned: press Plan again");
    if (!table) return QString::fromStdString(table.error().message);
    const ckpt::PlanCandidate* chosen = table->chosen_candidate();
    // A budget typed in bytes gets its answer in bytes too, beside the human size.
    bool bare = false;
    typed.toLongLong(&bare);
    if (!chosen) return noPlanText(*table, bare);
    const ckpt::Plan& p = chosen->plan;
    const QString name = QString::fromStdString(chosen->label());
    model_->setCheckpointSet(chosen->set, tr("plan %1 for %2").arg(name, humanBytes(budget)));
    planned_ = model_->sharedSpec();
    QString text = tr("%1: %2 of %3 blocks checkpointed in %4 segment(s), predicted peak %5 of the %6 budget, "
                      "recomputation +%7% of the step.")
                       .arg(name).arg(p.checkpointed()).arg(p.checkpoint.size()).arg(p.runs.size())
                       .arg(humanBytes(p.predicted_peak), humanBytes(budget))
                       .arg(100.0 * p.overhead_fraction, 0, 'f', 1);
    if (layout_.pp > 1)
        text += tr(" The peak is the worst stage's, with its microbatches in flight; each stage planned its own blocks.");
    // Per block and over segments side by side: which one is cheaper here.
    if (const QString comparison = QString::fromStdString(table->comparison()); !comparison.isEmpty())
        text += QStringLiteral(" ") + comparison.left(1).toUpper() + comparison.mid(1) + QStringLiteral(".");
    // Where the chosen blocks' policy avoids little or nothing, the line says so.
    for (const std::string& note : ckpt::policy_notes(*planned_, true)) {
        QString n = QString::fromStdString(note);
        n[0] = n[0].toUpper();
        text += QStringLiteral(" ") + n + QStringLiteral(".");
    }
    result_->setText(text);
    return {};
}

void PlanPanel::setMeasured(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, bool warmup) {
    if (r.status != ckpt::StepStatus::ok) return;
    if (!measuredSpec_ || !sameStructure(*measuredSpec_, spec)) {
        measuredPoints_.clear();
        forwardNs_.clear();
        measuredStepNs_ = 0;
    }
    measuredSpec_ = spec;
    measuredPoints_ << Measured{r.peak_total, double(r.step_ns) / 1e6, warmup};
    // A warm-up step's times (one-off costs) are no basis for the others'.
    if (warmup) return;
    forwardNs_.clear();
    for (const auto& b : r.blocks) forwardNs_.push_back(double(b.forward_ns));
    measuredStepNs_ = double(r.step_ns - r.recompute_ns);
}

void PlanPanel::setLayout(const ckpt::ParallelLayout& layout) {
    if (layout == layout_) return;
    layout_ = layout;
    ++planGeneration_;  // a plan under way was for the layout before
    if (pareto_->isVisible()) refreshPareto();
}

void PlanPanel::refreshPareto() {
    const int generation = ++paretoGeneration_;
    const QString unavailable = !model_->validationError().isEmpty()
                                    ? tr("This stack cannot run: %1").arg(model_->validationError())
                                : layout_.pp > 1
                                    ? tr("No Pareto sweep for a pipeline: its stages' microbatches in flight keep what "
                                         "a plan keeps, which a sweep of one step cannot show. checkpointlab plan MODEL "
                                         "--pp P --budget B plans each stage with them.")
                                    : QString();
    if (!unavailable.isEmpty()) {
        pareto_->clearPlottables();
        pareto_->clearItems();
        points_.clear();
        paretoNote_.clear();
        paretoTitle_->setText(paretoTitleText());
        budgetLine_ = 0;
        showEmpty(pareto_, unavailable);
        emit paretoDrawn();
        return;
    }
    // Four dry runs and a sweep of every planner, bounded (PlanLimits): on a worker, drawn when
    // it arrives. A newer sweep stops this one.
    const auto spec = model_->sharedSpec();
    const std::vector<double> forward = measuredForwardNs();
    const ckpt::Throughput through = throughput_;
    if (paretoStop_) paretoStop_->store(true);
    paretoStop_ = std::make_shared<std::atomic<bool>>(false);
    sweeping_ = true;
    updateStop();
    auto* watcher = new QFutureWatcher<ParetoWork>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != paretoGeneration_) return;
        sweeping_ = false;
        updateStop();
        const ParetoWork w = watcher->result();
        if (*w.spec == model_->spec() && w.layout == layout_) drawPareto(w);
        else refreshPareto();  // the stack or the layout moved on while this was computed
    });
    watcher->setFuture(QtConcurrent::run([spec, forward, through, stop = paretoStop_, layout = layout_] {
        ParetoWork w;
        w.spec = spec;
        w.layout = layout;
        // A rank of a layout: its chain model from dry runs of its shard (the blocks are the whole
        // model's while pp is 1), its time the rank's own computation (no communication time).
        const bool rank = !layout.single_device();
        const ckpt::Result<ckpt::ModelSpec> timed = rank ? ckpt::rank_spec(*spec, layout, 0) : ckpt::Result<ckpt::ModelSpec>(*spec);
        if (through.valid() && timed) w.time = ckpt::predict_times(*timed, through);
        auto m = rank ? ckpt::chain_model_for_rank(*spec, layout, ckpt::DeviceKind::cpu) : ckpt::ChainModel::build(*spec, forward);
        if (!m) {
            w.error = QString::fromStdString(m.error().message);
            return w;
        }
        ckpt::PlanLimits limits;
        limits.stop = stop.get();
        ckpt::ParetoSweep sweep = ckpt::pareto_sweep(*m, 16, &limits);
        w.points = std::move(sweep.points);
        w.cutShort = QString::fromStdString(sweep.cut_short);
        w.planned = sweep.planned;
        w.budgets = sweep.budgets;
        w.stoppedByUser = *stop;
        w.current = ckpt::evaluate_plan(*m, ckpt::recompute_segments(*spec), "current", 0);
        return w;
    }));
}

void PlanPanel::drawPareto(const ParetoWork& work) {
    const ParetoWork w = work;  // `work` may be lastPareto_ itself
    lastPareto_ = w;
    pareto_->clearPlottables();
    pareto_->clearItems();
    points_.clear();
    paretoNote_ = w.cutShort;
    // A layout's sweep is its rank 0's: the title says which, and that time is computation only.
    const QString title =
        w.layout.single_device()
            ? paretoTitleText()
            : paretoTitleText() + QLatin1Char('\n') +
                  tr("Rank 0 of %1: its own peak; time is its computation, without communication")
                      .arg(ParallelDialog::summary(w.layout, 0).section(QStringLiteral(", rank"), 0, 0));
    // Not every budget planned: the frontier drawn is of the plans found, and the title says so
    // (the chart's tooltip, why).
    paretoTitle_->setText(paretoNote_.isEmpty()
                              ? title
                              : title + QLatin1Char('\n') +
                                    tr("Incomplete: the planner stopped after %1 of %2 budgets (%3); the points are the "
                                       "plans it found")
                                        .arg(w.planned)
                                        .arg(w.budgets)
                                        .arg(w.stoppedByUser ? tr("Stop was pressed")
                                                             : tr("its bound of %1 label comparisons")
                                                                   .arg(QLocale(QLocale::English).toString(qulonglong(ckpt::kDefaultPlanWork)))));
    pareto_->setToolTip(paretoNote_.isEmpty() ? paretoTip() : paretoTip() + QStringLiteral("\n\n") + paretoNote_);
    budgetLine_ = 0;
    if (!w.error.isEmpty()) {
        showEmpty(pareto_, w.error);
        emit paretoDrawn();
        return;
    }
    clearEmpty(pareto_);
    hideChartTip(pareto_);
    points_ = w.points;
    // The time axis: a whole step's time in human units, measured on this model or predicted.
    // A rank's chain model has no measured times: one device's steps are no basis for it.
    timeAxis_ = measuredHere() && w.layout.single_device() ? TimeAxis::measured
                : w.time                                   ? TimeAxis::predicted
                                                           : TimeAxis::relative;
    measuredShown_ = 0;
    static const QSharedPointer<QCPAxisTicker> durationTicker(new DurationTicker);
    static const QSharedPointer<QCPAxisTicker> plainTicker(new QCPAxisTicker);
    pareto_->yAxis->setTicker(timeAxis_ == TimeAxis::relative ? plainTicker : durationTicker);
    pareto_->yAxis->setLabel(timeAxis_ == TimeAxis::measured
                                 ? tr("step time (from this model's measured blocks)")
                             : timeAxis_ == TimeAxis::predicted ? tr("step time, predicted (FLOPs and bytes)")
                                                                : tr("step cost (% of the unchecked step, FLOPs)"));
    // Per-block plans (each checkpointed block recomputed alone) and plans that group blocks into
    // segments, each with its frontier: where the segment line runs below the per-block one,
    // segments recompute less at that budget.
    const QColor blockColor(0x00, 0x72, 0xB2), segmentColor(0xCC, 0x79, 0xA7);
    auto scatter = [&](const QString& name, QCPScatterStyle::ScatterShape shape, const QColor& c) {
        auto* g = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
        g->setName(name);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(shape, c, chartPalette(pareto_).color(QPalette::Base), 8));
        g->setSelectable(QCP::stSingleData);
        return g;
    };
    auto* blocks = scatter(tr("per-block plans (click one to apply)"), QCPScatterStyle::ssCircle, blockColor);
    auto* grouped = scatter(tr("segment plans"), QCPScatterStyle::ssDiamond, segmentColor);
    auto frontier = [&](const QString& name, const QColor& c, Qt::PenStyle style) {
        auto* f = new QCPCurve(pareto_->xAxis, pareto_->yAxis);
        f->setName(name);
        f->setPen(QPen(c, 1.5, style));
        f->setSelectable(QCP::stSingleData);
        return f;
    };
    auto* blockFront = frontier(tr("frontier, per block"), blockColor, Qt::DashLine);
    auto* front = frontier(tr("frontier with segments"), segmentColor, Qt::SolidLine);
    QVariantList blockIndex, groupedIndex, blockFrontIndex, frontIndex;
    // A graph keeps its points sorted by x; remember which sweep point each one is.
    std::vector<int> order(points_.size());
    for (size_t i = 0; i < points_.size(); ++i) order[i] = int(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return points_[size_t(a)].plan.predicted_peak < points_[size_t(b)].plan.predicted_peak; });
    for (int i : order) {
        const ckpt::ParetoPoint& pt = points_[size_t(i)];
        const double x = double(pt.plan.predicted_peak), y = stepEstimateMs(pt.plan);
        (pt.plan.grouped() ? grouped : blocks)->addData(x, y);
        (pt.plan.grouped() ? groupedIndex : blockIndex) << i;
        if (pt.block_frontier) {
            blockFront->addData(x, y);
            blockFrontIndex << i;
        }
        if (pt.frontier) {
            front->addData(x, y);
            frontIndex << i;
        }
    }
    blocks->setProperty("paretoIndex", blockIndex);
    grouped->setProperty("paretoIndex", groupedIndex);
    // A line applies the frontier point nearest the click.
    blockFront->setProperty("paretoIndex", blockFrontIndex);
    front->setProperty("paretoIndex", frontIndex);
    for (QCPAbstractPlottable* empty : {static_cast<QCPAbstractPlottable*>(grouped), static_cast<QCPAbstractPlottable*>(blockFront)})
        if (empty->interface1D()->dataCount() == 0) pareto_->removePlottable(empty);
    auto* current = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
    current->setName(tr("current ticks (predicted)"));
    current->setLineStyle(QCPGraph::lsNone);
    current->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, seriesColor(4), 14));
    const ckpt::Plan& cur = w.current;
    current->addData(double(cur.predicted_peak), stepEstimateMs(cur));
    // Measured points only of this model's structure (another model's steps are no point here).
    if (!measuredPoints_.isEmpty() && timeAxis_ != TimeAxis::relative && w.layout.single_device() && measuredSpec_ &&
        sameStructure(*measuredSpec_, *w.spec)) {
        measuredShown_ = measuredPoints_.size();
        auto* meas = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
        meas->setName(tr("measured steps"));
        meas->setLineStyle(QCPGraph::lsNone);
        meas->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QColor(0x00, 0x9E, 0x73), 10));
        QCPGraph* warm = nullptr;
        for (const Measured& x : measuredPoints_) {
            if (!x.warmup) {
                meas->addData(double(x.peak), x.stepMs);
                continue;
            }
            if (!warm) {
                warm = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
                warm->setName(tr("measured warm-up (one-off costs)"));
                warm->setLineStyle(QCPGraph::lsNone);
                warm->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(0x00, 0x9E, 0x73), 1.5), Qt::NoBrush, 9));
            }
            warm->addData(double(x.peak), x.stepMs);
        }
        if (meas->dataCount() == 0) pareto_->removePlottable(meas);
    }
    pareto_->rescaleAxes();
    // The budget (typed, else the device limit) as a line: plans left of it fit.
    const auto typed = ckpt::parse_bytes(budget_->text().trimmed().toStdString());
    budgetLine_ = typed && *typed > 0 ? *typed : memoryLimit_;
    QCPRange xr = pareto_->xAxis->range();
    if (budgetLine_ > 0) xr.expand(double(budgetLine_));
    const QCPRange yr = pareto_->yAxis->range();
    pareto_->xAxis->setRange(xr.lower - 0.05 * xr.size() - 1, xr.upper + 0.05 * xr.size() + 1);
    pareto_->yAxis->setRange(yr.lower - 0.1 * yr.size() - 1, yr.upper + 0.25 * yr.size() + 1);
    if (budgetLine_ > 0) {
        auto* line = new QCPItemStraightLine(pareto_);
        line->point1->setCoords(double(budgetLine_), 0);
        line->point2->setCoords(double(budgetLine_), 1);
        line->setPen(QPen(QColor(0xCC, 0x00, 0x00), 1.5, Qt::DashLine));
        auto* label = new QCPItemText(pareto_);
        label->position->setTypeX(QCPItemPosition::ptPlotCoords);
        label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        label->position->setCoords(double(budgetLine_), 0.02);
        // On the side of the line with more room: the text was cut where the line is near the left edge.
        const bool leftHalf = double(budgetLine_) < pareto_->xAxis->range().center();
        label->setPositionAlignment((leftHalf ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignTop);
        label->setPadding(QMargins(6, 2, 6, 2));
        label->setColor(QColor(0xCC, 0x00, 0x00));
        // Which is cheaper at this budget: the least recomputation that fits, per block and with segments.
        double bestBlock = -1, bestAny = -1;
        for (const ckpt::ParetoPoint& pt : points_) {
            if (pt.plan.predicted_peak > budgetLine_) continue;
            const double c = 100.0 * pt.plan.overhead_fraction;
            if (bestAny < 0 || c < bestAny) bestAny = c;
            if (!pt.plan.grouped() && (bestBlock < 0 || c < bestBlock)) bestBlock = c;
        }
        QString cheaper;
        if (bestAny >= 0 && bestBlock < 0) cheaper = tr("; only segment plans fit");
        else if (bestAny >= 0 && bestAny < bestBlock - 0.05)
            cheaper = tr("; cheapest: per block +%1%, with segments +%2%").arg(bestBlock, 0, 'f', 1).arg(bestAny, 0, 'f', 1);
        else if (bestAny >= 0) cheaper = tr("; per block and segments: the same +%1%").arg(bestAny, 0, 'f', 1);
        label->setText((typed && *typed > 0 ? tr("budget %1: plans to the left fit").arg(humanBytes(budgetLine_))
                                            : tr("memory limit %1: plans to the left fit").arg(humanBytes(budgetLine_))) +
                       cheaper);
    }
    pareto_->replot(QCustomPlot::rpQueuedReplot);
    emit paretoDrawn();
}

QString PlanPanel::paretoTipAt(double x, double y) const {
    // The point nearest the cursor on screen, within a few pixels.
    int best = -1;
    double bestPx = 12.0;
    for (size_t i = 0; i < points_.size(); ++i) {
        const ckpt::Plan& p = points_[i].plan;
        const double dx = pareto_->xAxis->coordToPixel(double(p.predicted_peak)) - pareto_->xAxis->coordToPixel(x);
        const double dy = pareto_->yAxis->coordToPixel(stepEstimateMs(p)) - pareto_->yAxis->coordToPixel(y);
        const double d = std::hypot(dx, dy);
        if (d < bestPx) {
            bestPx = d;
            best = int(i);
        }
    }
    if (best < 0) return {};
    const ckpt::Plan& p = points_[size_t(best)].plan;
    const ckpt::ParetoPoint& pt = points_[size_t(best)];
    const QString time = timeAxis_ == TimeAxis::measured    ? tr("<br>step time %1 (from measured block times)").arg(humanTime(qint64(stepEstimateMs(p) * 1e6)))
                         : timeAxis_ == TimeAxis::predicted ? tr("<br>step time %1, predicted").arg(humanTime(qint64(stepEstimateMs(p) * 1e6)))
                                                            : QString();
    return tr("<b>%1</b><br>%2<br>predicted peak %3%6<br>recomputation +%4% of the step%5<br><i>click to apply</i>")
        .arg(planName(p).toHtmlEscaped(),
             p.grouped() ? tr("groups blocks into segments recomputed as one") : tr("per block: each checkpointed block alone"),
             humanBytes(p.predicted_peak))
        .arg(100.0 * p.overhead_fraction, 0, 'f', 1)
        .arg(pt.frontier ? tr("<br>on the frontier with segments") : pt.block_frontier ? tr("<br>on the per-block frontier") : QString(), time);
}

void PlanPanel::applyPoint(int index) {
    if (index < 0 || index >= int(points_.size())) return;
    const ckpt::Plan& p = points_[size_t(index)].plan;
    const ckpt::ModelSpec& spec = model_->spec();
    model_->setCheckpointSet(ckpt::checkpoint_from_runs(p.runs, int(spec.blocks.size()), spec.segments),
                             tr("apply %1 (peak %2)").arg(QString::fromStdString(p.planner), humanBytes(p.predicted_peak)));
}

}  // namespace ckptui
