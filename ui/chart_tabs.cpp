// The chart tabs (see chart_tabs.h).
#include "ui/chart_tabs.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "ui/messages.h"
#include "ui/timeline_chart.h"

namespace ckptui {

ChartTabs::ChartTabs(QWidget* parent) : QTabWidget(parent) {
    timeline_ = new TimelineChart(this);
    timeline_->setObjectName(QStringLiteral("timeline"));
    blockBytes_ = new QCustomPlot(this);
    blockTime_ = new QCustomPlot(this);
    history_ = new QCustomPlot(this);
    comparison_ = new QCustomPlot(this);
    pareto_ = new QCustomPlot(this);
    depthMemory_ = new QCustomPlot(this);
    depthRecompute_ = new QCustomPlot(this);
    depthMemory_->setObjectName(QStringLiteral("depthMemory"));
    depthRecompute_->setObjectName(QStringLiteral("depthRecompute"));
    blockBytes_->setObjectName(QStringLiteral("blockBytes"));
    blockTime_->setObjectName(QStringLiteral("blockTime"));
    history_->setObjectName(QStringLiteral("history"));
    comparison_->setObjectName(QStringLiteral("comparison"));
    pareto_->setObjectName(QStringLiteral("pareto"));
    // A click gives a chart the keyboard focus, so F1 after it opens that chart's manual page.
    for (QCustomPlot* p : {static_cast<QCustomPlot*>(timeline_), blockBytes_, blockTime_, history_, comparison_, pareto_})
        p->setFocusPolicy(Qt::ClickFocus);
    setupBlockBars(blockBytes_, blockTime_);
    setupHistory(history_);
    setupComparison(comparison_);
    addTab(chartPage(timeline_), tr("Memory timeline"));
    addTab(chartPage(blockBytes_, blockTime_), tr("Per block"));
    addTab(chartPage(history_), tr("Step history"));
    addTab(chartPage(comparison_, nullptr, pinList()), tr("Compare"));
    addTab(chartPage(pareto_), tr("Pareto"));
    addTab(chartPage(depthMemory_, depthRecompute_), tr("Depth"));
    setTabToolTip(TimelineTab, tr("Live bytes over one step, stacked by category: predicted before a run, measured "
                                  "after. Drag to pan, wheel to zoom, hover for details."));
    setTabToolTip(BlocksTab, tr("What each block keeps for backward, what checkpointing avoided, and what recomputing it "
                                "costs."));
    setTabToolTip(HistoryTab, tr("Peak memory and step time of every step run on this model."));
    setTabToolTip(CompareTab, tr("Pinned runs overlaid on the current one."));
    setTabToolTip(ParetoTab, tr("Planners across budgets: predicted peak against step time. Hover a point to name it, "
                                "click it to apply it."));
    setTabToolTip(DepthTab, tr("Memory against depth (Chen et al. 2016): the stack's repeated block made shallower and "
                               "deeper, predicted with no checkpointing, every block alone and sqrt(n) segments."));
    showHistory(history_, history_points_);
    redrawComparison();
}

QString ChartTabs::manualSection(const QWidget* w) const {
    if (!w || !(w == this || isAncestorOf(w))) return {};
    static const char* const sections[] = {"memory-timeline", "per-block", "step-history", "compare", "pareto"};
    // The chart itself wherever its tab is; anything else here (the tab bar, a button, the pin
    // list) stands for the tab on screen.
    const std::pair<const QWidget*, int> charts[] = {{timeline_, TimelineTab}, {blockBytes_, BlocksTab},
                                                     {blockTime_, BlocksTab},  {history_, HistoryTab},
                                                     {comparison_, CompareTab}, {pareto_, ParetoTab}};
    for (const auto& [chart, tab] : charts)
        if (chart == w || chart->isAncestorOf(w)) return QLatin1String(sections[tab]);
    const int tab = currentIndex();
    return tab >= 0 && tab <= ParetoTab ? QLatin1String(sections[tab]) : QString();
}

QWidget* ChartTabs::chartPage(QCustomPlot* plot, QCustomPlot* second, QWidget* side) {
    auto* page = new QWidget(this);
    auto* v = new QVBoxLayout(page);
    auto* charts = new QHBoxLayout;
    auto* plots = new QVBoxLayout;
    plots->addWidget(plot, 1);
    if (second) plots->addWidget(second, 1);
    charts->addLayout(plots, 1);
    if (side) charts->addWidget(side);
    v->addLayout(charts, 1);
    auto* row = new QHBoxLayout;
    row->addStretch();
    auto* exp = new QPushButton(tr("Export chart…"), page);
    exp->setToolTip(tr("Save this chart as PNG, PDF or SVG for a paper or a slide: size, DPI, font scale, title, with a "
                       "preview (Ctrl+E)."));
    row->addWidget(exp);
    v->addLayout(row);
    connect(exp, &QPushButton::clicked, this, &ChartTabs::exportRequested);
    return page;
}

QWidget* ChartTabs::pinList() {
    auto* box = new QWidget(this);
    box->setMaximumWidth(200);
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    v->addWidget(new QLabel(tr("Pinned runs"), box));
    pins_ = new QListWidget(box);
    pins_->setObjectName(QStringLiteral("pinList"));
    pins_->setWordWrap(true);
    pins_->setToolTip(tr("The runs kept for comparison, each with the model it came from. Select one and press "
                         "Remove, or Clear to start over."));
    v->addWidget(pins_, 1);
    auto* row = new QHBoxLayout;
    auto* remove = new QPushButton(tr("Remove"), box);
    remove->setObjectName(QStringLiteral("unpin"));
    remove->setToolTip(tr("Remove the selected pinned run from the comparison."));
    auto* clear = new QPushButton(tr("Clear"), box);
    clear->setToolTip(tr("Remove every pinned run."));
    row->addWidget(remove);
    row->addWidget(clear);
    v->addLayout(row);
    connect(remove, &QPushButton::clicked, this, [this] {
        if (pins_->currentRow() >= 0) unpin(pins_->currentRow());
    });
    connect(clear, &QPushButton::clicked, this, &ChartTabs::clearPins);
    return box;
}

void ChartTabs::showPrediction(const Prediction& p) {
    if (!p.ok()) {
        showNothing(p.error);
        return;
    }
    timeline_->setPredicted(*p.step, p.uncheckedPeak, p.series, p.step);
    showBlockBars(blockBytes_, blockTime_, *p.step, p.recomputeFlops, -1, &p.spec, p.time.get());
}

QList<QPair<QString, QCustomPlot*>> ChartTabs::chartsOf(int tab) const {
    switch (tab) {
    case TimelineTab: return {{tr("Memory timeline"), timeline_}};
    case BlocksTab: return {{tr("Per block: bytes kept and avoided"), blockBytes_}, {tr("Per block: recomputation"), blockTime_}};
    case HistoryTab: return {{tr("Step history"), history_}};
    case CompareTab: return {{tr("Compare"), comparison_}};
    case ParetoTab: return {{tr("Pareto"), pareto_}};
    case DepthTab: return {{tr("Memory against depth"), depthMemory_}, {tr("Recomputation against depth"), depthRecompute_}};
    }
    return {};
}

void ChartTabs::showStep(const StepResult& r) {
    if (r.report->events.empty() && r.report->spans.empty() && !r.origin.isEmpty()) {
        // A report written before reports carried their memory events: its figures are real, its
        // timeline is not in the file, and nothing is drawn in its place.
        timeline_->showMessage(tr("%1 has no memory timeline: it was written before reports carried their events.\n"
                                  "The per-block bars, the step history and the summary are its own. Record the run again "
                                  "with checkpointlab run --report to see it here.").arg(r.origin));
        if (r.report->status == ckpt::StepStatus::ok) showBlockBars(blockBytes_, blockTime_, *r.report, {}, r.step, &r.spec, r.predictedTime.get());
        return;
    }
    timeline_->setReport(*r.report, r.predicted.get(), r.step, r.report);
    if (r.report->status == ckpt::StepStatus::ok) showBlockBars(blockBytes_, blockTime_, *r.report, {}, r.step, &r.spec, r.predictedTime.get());
}

void ChartTabs::setSubtitle(const QString& text) {
    for (QCustomPlot* p : {static_cast<QCustomPlot*>(timeline_), blockBytes_, blockTime_, history_, comparison_, pareto_})
        ckptui::setSubtitle(p, text);
}

void ChartTabs::showNothing(const QString& why) {
    timeline_->showMessage(tr("Nothing to predict: %1").arg(why));
    showEmpty(blockBytes_, tr("This stack cannot run"));
    showEmpty(blockTime_, why);
}

void ChartTabs::addHistory(const StepResult& r, bool modelChanged) {
    const ckpt::StepReport& rep = *r.report;
    history_points_ << HistoryPoint{r.step, rep.peak_total, rep.step_ns, rep.checkpointed_blocks(), int(rep.blocks.size()),
                                    r.warmup, modelChanged, rep.step_range, rep.repeats};
    showHistory(history_, history_points_);
}

void ChartTabs::clearHistory() {
    history_points_.clear();
    showHistory(history_, history_points_);
}

void ChartTabs::setCurrentRun(const StepResult& r) {
    const ckpt::StepReport& rep = *r.report;
    current_ = pinnedFrom(rep, tr("step %1 (current), %2/%3 ✓").arg(r.step).arg(rep.checkpointed_blocks()).arg(rep.blocks.size()));
    current_->model = modelLabel(r.spec);
    current_->warmup = r.warmup;
    redrawComparison();
}

void ChartTabs::pin(const StepResult& r, const QString& name) {
    const ckpt::StepReport& rep = *r.report;
    PinnedRun p = pinnedFrom(rep, name.isEmpty() ? tr("pinned %1, %2/%3 ✓")
                                                       .arg(pinned_.size() + 1)
                                                       .arg(rep.checkpointed_blocks())
                                                       .arg(rep.blocks.size())
                                                 : name);
    p.model = modelLabel(r.spec);
    p.warmup = r.warmup;
    pinned_ << p;
    redrawComparison();
}

void ChartTabs::unpin(int index) {
    if (index < 0 || index >= pinned_.size()) return;
    pinned_.remove(index);
    redrawComparison();
}

void ChartTabs::clearPins() {
    pinned_.clear();
    redrawComparison();
}

QStringList ChartTabs::pinNames() const {
    QStringList out;
    for (const PinnedRun& p : pinned_) out << (p.model.isEmpty() ? p.name : p.name + QStringLiteral(" · ") + p.model);
    return out;
}

void ChartTabs::pinSnapshot(const ckpt::TorchSnapshot& s, const QString& fileName) {
    PinnedRun p = pinnedFrom(s.report, tr("PyTorch snapshot %1 (cuda:%2)").arg(fileName).arg(s.device));
    p.kind = PinnedRun::Kind::snapshot;
    p.timed = s.timed;
    p.repeats = 1;
    pinned_ << p;  // its model is not known: the user names the model it was of by the stack on screen
    redrawComparison();
}

void ChartTabs::setPrediction(const Prediction* prediction) {
    if (prediction && prediction->ok()) {
        predicted_ = pinnedFrom(*prediction->step, tr("predicted step of the stack on screen, %1/%2 ✓")
                                                       .arg(prediction->step->checkpointed_blocks())
                                                       .arg(prediction->step->blocks.size()));
        predicted_->kind = PinnedRun::Kind::prediction;
        predicted_->model = modelLabel(prediction->spec);
    } else {
        predicted_.reset();
    }
    if (hasPinnedSnapshot()) redrawComparison();
}

bool ChartTabs::hasPinnedSnapshot() const {
    for (const PinnedRun& p : pinned_)
        if (p.kind == PinnedRun::Kind::snapshot) return true;
    return false;
}

void ChartTabs::redrawComparison() {
    QVector<PinnedRun> runs = pinned_;
    if (predicted_ && hasPinnedSnapshot()) runs << *predicted_;
    if (current_) runs << *current_;
    // Runs of one model name it once (under the axis); runs of several each name theirs. A
    // snapshot's model is not known, and it names none.
    QString model;
    bool oneModel = true;
    for (const PinnedRun& p : runs) {
        if (p.model.isEmpty()) continue;
        if (model.isEmpty()) model = p.model;
        oneModel &= p.model == model;
    }
    if (!oneModel)
        for (PinnedRun& p : runs)
            if (!p.model.isEmpty()) p.name += QStringLiteral(" · ") + p.model;
    showComparison(comparison_, runs, oneModel ? model : QString());
    if (pins_) {
        pins_->clear();
        pins_->addItems(pinNames());
    }
}

}  // namespace ckptui
