// The planning panel and the Pareto chart (see plan_panel.h).
#include "ui/plan_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <qcustomplot.h>

#include "ckpt/names.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"
#include "ui/charts.h"
#include "ui/stack_model.h"
#include "ui/style.h"

namespace ckptui {

namespace {

ckpt::ModelSpec withoutFlags(ckpt::ModelSpec s) {
    for (auto& b : s.blocks) b.checkpoint = false;
    return s;
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
    planner_->setToolTip(tr("dp: the least recomputation that fits (exact, dynamic programming over the blocks); "
                            "sqrt: Chen et al.'s spacing; every-k: the evenly spread every k-th block with the least "
                            "recomputation that fits; all / none. The same planners as `checkpointlab plan`."));
    auto* go = new QPushButton(tr("Plan"), this);
    go->setToolTip(tr("Tick the blocks the planner chooses for this budget."));
    result_ = new QLabel(this);
    result_->setWordWrap(true);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Budget:"), this));
    row->addWidget(budget_, 1);
    row->addWidget(planner_);
    row->addWidget(go);
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    v->addLayout(row);
    v->addWidget(result_);
    connect(go, &QPushButton::clicked, this, [this] {
        const QString err = plan(budget_->text(), planner_->currentText());
        if (!err.isEmpty()) emit errorOccurred(tr("No plan"), err);
    });
    connect(budget_, &QLineEdit::returnPressed, go, &QPushButton::click);

    setupCommonStyle(pareto_);
    pareto_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new BytesTicker));
    pareto_->xAxis->setLabel(tr("predicted peak memory"));
    pareto_->legend->setVisible(true);
    pareto_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    pareto_->setInteractions(QCP::iSelectPlottables);
    pareto_->setToolTip(tr("Every planner across budgets: memory against time. The line joins the plans no other "
                           "plan beats on both. Click a point to apply that plan."));
    connect(pareto_, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable* p, int index, QMouseEvent*) {
        if (p->property("paretoIndex").isValid()) applyPoint(p->property("paretoIndex").toList().value(index).toInt());
    });
}

std::vector<double> PlanPanel::measuredForwardNs() const {
    const bool measured = measuredSpec_ && withoutFlags(*measuredSpec_) == withoutFlags(model_->spec());
    return measured ? forwardNs_ : std::vector<double>{};
}

ckpt::Result<ckpt::ChainModel> PlanPanel::chainModel() const {
    return ckpt::ChainModel::build(model_->spec(), measuredForwardNs());
}

double PlanPanel::stepEstimateMs(const ckpt::Plan& p) const {
    // With a measured unchecked step: that time plus the plan's recomputation. Before any run:
    // 100 x the step's relative cost (a percentage of the unchecked step).
    if (measuredStepNs_ > 0 && !forwardNs_.empty()) return (measuredStepNs_ + p.recompute_cost) / 1e6;
    return 100.0 * (1.0 + p.overhead_fraction);
}

QString PlanPanel::plan(const QString& budgetText, const QString& planner) {
    auto budget = ckpt::parse_bytes(budgetText.trimmed().toStdString());
    if (!budget) return QStringLiteral("budget: ") + QString::fromStdString(budget.error().message);
    if (!model_->validationError().isEmpty()) return model_->validationError();
    auto kind = ckpt::parse_planner(planner.toStdString());
    if (!kind) return QString::fromStdString(kind.error().message);
    // The engine's plan table, as `checkpointlab plan` prints it; the window applies its choice.
    auto table = ckpt::plan_table(model_->spec(), *kind, *budget, measuredForwardNs());
    if (!table) return QString::fromStdString(table.error().message);
    const ckpt::PlanCandidate* chosen = table->chosen_candidate();
    if (!chosen) return QString::fromStdString(table->no_fit_error().message);
    const ckpt::Plan& p = chosen->plan;
    const QString name = QString::fromStdString(chosen->label());
    model_->setCheckpointFlags(p.checkpoint, tr("plan %1 for %2").arg(name, humanBytes(*budget)));
    result_->setText(tr("%1: %2 of %3 blocks checkpointed, predicted peak %4, recomputation +%5% of the step.")
                         .arg(name).arg(p.checkpointed()).arg(p.checkpoint.size()).arg(humanBytes(p.predicted_peak))
                         .arg(100.0 * p.overhead_fraction, 0, 'f', 1));
    return {};
}

void PlanPanel::setMeasured(const ckpt::StepReport& r, const ckpt::ModelSpec& spec) {
    if (r.status != ckpt::StepStatus::ok) return;
    if (!measuredSpec_ || withoutFlags(*measuredSpec_) != withoutFlags(spec)) measuredPoints_.clear();
    measuredSpec_ = spec;
    forwardNs_.clear();
    for (const auto& b : r.blocks) forwardNs_.push_back(double(b.forward_ns));
    measuredStepNs_ = double(r.step_ns - r.recompute_ns);
    if (r.step >= 2) measuredPoints_ << Measured{r.peak_total, double(r.step_ns) / 1e6};  // step 1 warms up
}

void PlanPanel::refreshPareto() {
    pareto_->clearPlottables();
    points_.clear();
    if (!model_->validationError().isEmpty()) {
        pareto_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    auto m = chainModel();
    if (!m) return;
    points_ = ckpt::pareto_sweep(*m, 16);
    const bool measured = measuredStepNs_ > 0 && !forwardNs_.empty();
    pareto_->yAxis->setLabel(measured ? tr("predicted step time (ms, from the last run's block times)")
                                      : tr("predicted step cost (% of the unchecked step, from FLOPs)"));
    auto* all = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
    all->setName(tr("plans (click to apply)"));
    all->setLineStyle(QCPGraph::lsNone);
    all->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(0x00, 0x72, 0xB2), Qt::white, 8));
    auto* front = new QCPCurve(pareto_->xAxis, pareto_->yAxis);
    front->setName(tr("Pareto frontier"));
    front->setPen(QPen(QColor(0x00, 0x72, 0xB2), 1.5));
    QVariantList indexOf;
    // A graph keeps its points sorted by x; remember which sweep point each one is.
    std::vector<int> order(points_.size());
    for (size_t i = 0; i < points_.size(); ++i) order[i] = int(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return points_[size_t(a)].plan.predicted_peak < points_[size_t(b)].plan.predicted_peak; });
    for (int i : order) {
        const ckpt::Plan& p = points_[size_t(i)].plan;
        all->addData(double(p.predicted_peak), stepEstimateMs(p));
        indexOf << i;
        if (points_[size_t(i)].frontier) front->addData(double(p.predicted_peak), stepEstimateMs(p));
    }
    all->setProperty("paretoIndex", indexOf);
    all->setSelectable(QCP::stSingleData);
    auto* current = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
    current->setName(tr("current ticks (predicted)"));
    current->setLineStyle(QCPGraph::lsNone);
    current->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QColor(0xD5, 0x5E, 0x00), 14));
    std::vector<bool> flags;
    for (const auto& b : model_->spec().blocks) flags.push_back(b.checkpoint);
    const ckpt::Plan cur = ckpt::evaluate_plan(*m, flags, "current", 0);
    current->addData(double(cur.predicted_peak), stepEstimateMs(cur));
    if (!measuredPoints_.isEmpty() && !forwardNs_.empty()) {
        auto* meas = new QCPGraph(pareto_->xAxis, pareto_->yAxis);
        meas->setName(tr("measured runs"));
        meas->setLineStyle(QCPGraph::lsNone);
        meas->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QColor(0x00, 0x9E, 0x73), 10));
        for (const Measured& x : measuredPoints_) meas->addData(double(x.peak), x.stepMs);
    }
    pareto_->rescaleAxes();
    const QCPRange xr = pareto_->xAxis->range(), yr = pareto_->yAxis->range();
    pareto_->xAxis->setRange(xr.lower - 0.05 * xr.size() - 1, xr.upper + 0.05 * xr.size() + 1);
    pareto_->yAxis->setRange(yr.lower - 0.1 * yr.size() - 1, yr.upper + 0.25 * yr.size() + 1);
    pareto_->replot(QCustomPlot::rpQueuedReplot);
}

void PlanPanel::applyPoint(int index) {
    if (index < 0 || index >= int(points_.size())) return;
    const ckpt::Plan& p = points_[size_t(index)].plan;
    model_->setCheckpointFlags(p.checkpoint, tr("apply %1 (peak %2)").arg(QString::fromStdString(p.planner), humanBytes(p.predicted_peak)));
}

}  // namespace ckptui
