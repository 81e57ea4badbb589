// Summary and help texts (see summary_panel.h).
#include "ui/summary_panel.h"

#include <QEvent>
#include <QHelpEvent>
#include <QToolTip>
#include <cmath>

#include "ckpt/layer_traits.h"
#include "ckpt/printable.h"
#include "ui/lessons.h"
#include "ui/messages.h"
#include "ui/parallel_dialog.h"
#include "ui/style.h"
#include "ui/time_figures.h"

namespace ckptui {

namespace {

QString percent(double part, double whole) { return QString::number(100.0 * part / std::max(1.0, whole), 'f', 0) + QLatin1Char('%'); }

// "27.3 MFLOP", "1.21 GFLOP": work in the unit its size reaches.
QString flopsText(double f) {
    static const char* units[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"};
    int u = 0;
    while (f >= 999.5 && u < 5) {
        f /= 1000;
        ++u;
    }
    return QStringLiteral("%1 %2").arg(QString::number(f, 'f', f < 9.995 ? 2 : f < 99.95 ? 1 : 0), QLatin1String(units[u]));
}

int checkpointedIn(const ckpt::ModelSpec& s) {
    int n = 0;
    for (const auto& b : s.blocks) n += b.checkpoint ? 1 : 0;
    return n;
}

// Live activation bytes when forward ended (the loss began), from the step's own events.
int64_t activationsAfterForward(const ckpt::StepReport& r) {
    int64_t end = -1;
    for (const ckpt::Span& s : r.spans)
        if (s.phase == ckpt::Phase::loss) end = s.start_ns;
    if (end < 0 || r.events.empty()) return -1;
    int64_t live = r.baseline[int(ckpt::Category::activation)];
    for (const ckpt::MemoryEvent& e : r.events) {
        if (e.time_ns > end) break;
        if (e.tag.category == ckpt::Category::activation) live += e.bytes;
    }
    return live;
}

// Why "kept for backward" and the table's "activations kept" differ, in one line.
QString keptWhy(const ckpt::StepReport& r) {
    const int64_t kept = r.kept_bytes_total(), atPeak = r.at_peak[int(ckpt::Category::activation)];
    QString why = QObject::tr("Kept for backward (%1) counts everything forward keeps, in every category (the batch "
                              "the first block keeps is an input), at the end of forward; the table's activations "
                              "kept (%2) is that category alone, at the peak (%3)")
                      .arg(humanBytes(kept), humanBytes(atPeak), phaseLabel(r.peak_tag.phase));
    const int64_t after = activationsAfterForward(r);
    if (after > atPeak && r.peak_tag.phase != ckpt::Phase::forward)
        why += QObject::tr(", when backward had already freed %1 of them").arg(humanBytes(after - atPeak));
    return why + QLatin1Char('.');
}

}  // namespace

SummaryPanel::SummaryPanel(QWidget* parent) : QTextBrowser(parent) {
    setObjectName(QStringLiteral("summary"));
    setOpenLinks(false);
    setToolTip(tr("The stack's prediction, then the last step in numbers: measured beside predicted, and what "
                  "checkpointing saved and cost."));
    // Whole words only: a narrow dock must not break "measured" into "measur" and "ed".
    setWordWrapMode(QTextOption::WordWrap);
    render();
}

void SummaryPanel::setMemoryLimit(qint64 bytes) {
    if (limit_ == bytes) return;
    limit_ = bytes;
    render();
}

QString SummaryPanel::toolTipAt(const QPoint& pos) const {
    // The character under the mouse, and the one before it (the cursor sits between the two).
    QTextCursor c = cursorForPosition(pos);
    QTextCursor next = c;
    next.movePosition(QTextCursor::NextCharacter);
    const QString tip = next.charFormat().toolTip();
    return tip.isEmpty() ? c.charFormat().toolTip() : tip;
}

bool SummaryPanel::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const QString tip = toolTipAt(viewport()->mapFrom(this, he->pos()));
        if (!tip.isEmpty()) {
            QToolTip::showText(he->globalPos(), tip, this);
            return true;
        }
    }
    return QTextBrowser::event(e);
}

void SummaryPanel::setPrediction(const Prediction* p, const QString& specError) {
    havePrediction_ = p && p->ok();
    if (p) prediction_ = *p;
    specError_ = specError;
    render();
}

void SummaryPanel::setResult(const StepResult& r, bool current) {
    result_ = r;
    current_ = current;
    render();
}

void SummaryPanel::setCurrent(bool current) {
    if (current_ == current) return;
    current_ = current;
    render();
}

void SummaryPanel::setBanner(const QString& text, bool alarm) {
    banner_ = text;
    alarm_ = alarm;
    render();
}

QColor SummaryPanel::mutedColor() const {
    // Between the text and the background: grey on a light theme and on a dark one.
    const QColor t = palette().color(QPalette::Text), b = palette().color(QPalette::Base);
    return QColor((t.red() * 3 + b.red() * 2) / 5, (t.green() * 3 + b.green() * 2) / 5, (t.blue() * 3 + b.blue() * 2) / 5);
}

void SummaryPanel::changeEvent(QEvent* e) {
    QTextBrowser::changeEvent(e);
    if (e->type() == QEvent::PaletteChange) render();
}

QString SummaryPanel::predictionHtml() const {
    const Prediction& p = prediction_;
    const ckpt::StepReport& s = *p.step;
    const int k = checkpointedIn(p.spec), n = int(p.spec.blocks.size());
    QString h;
    if (!p.layout.single_device()) {
        // One rank of a layout: what its bytes are, and that it is not run here.
        const ckpt::CategoryBytes& pk = s.peak;
        h += tr("<p><b>Rank %1 of %2 devices</b> (%3), predicted: each GPU holds its shard of the parameters, gradients "
                "and optimizer state (%4 at their peaks), and gathers and reduces a block at a time "
                "(<i>communication</i>, up to %5). It is not run here: a step runs on one device.</p>")
                 .arg(p.rank)
                 .arg(p.layout.world())
                 .arg(ParallelDialog::summary(p.layout, p.rank).toHtmlEscaped(),
                      humanBytes(pk[int(ckpt::Category::parameter)] + pk[int(ckpt::Category::gradient)] +
                                 pk[int(ckpt::Category::optimizer_state)]),
                      humanBytes(pk[int(ckpt::Category::communication)]));
        // Every stage's peak: which rank is the one that must fit.
        if (!p.stagePeaks.empty()) {
            h += tr("<table cellspacing='0' cellpadding='1'><tr><th align='left'>stage</th><th align='left'>blocks</th>"
                    "<th align='left'>ranks</th><th align='right'>predicted peak</th></tr>");
            for (size_t i = 0; i < p.stagePeaks.size(); ++i) {
                const Prediction::StagePeak& sp = p.stagePeaks[i];
                const int first = sp.place.rank;
                h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td align='right'>%4%5</td></tr>")
                         .arg(sp.place.stage)
                         .arg(QString::fromStdString(ckpt::format_block_range(sp.place.blocks)))
                         .arg(sp.ranks == 1 ? QString::number(first) : QStringLiteral("%1–%2").arg(first).arg(first + sp.ranks - 1))
                         .arg(humanBytes(sp.peak))
                         .arg(int(i) == p.worstStage && p.stagePeaks.size() > 1 ? tr(" ← worst") : QString());
            }
            h += QStringLiteral("</table>");
        }
        // A pipeline rank computes one stage: the stack's other blocks are another GPU's.
        if (p.layout.pp > 1)
            h += tr("<p>A pipeline: %1. Only its stage's blocks are drawn; the others are other GPUs'. The stage also "
                    "holds the activations its other microbatches keep (%2 schedule), as <i>activations kept</i> from "
                    "the step's start.</p>")
                     .arg(QString::fromStdString(ckpt::printable(s.parallel, 300)).toHtmlEscaped(),
                          QString::fromLatin1(ckpt::schedule_name(p.layout.schedule).data(),
                                              qsizetype(ckpt::schedule_name(p.layout.schedule).size())));
    }
    h += tr("<p><b>This stack, predicted</b> (a dry run: exact bytes, nothing computed): peak <b>%1</b> %2, "
            "%3 of %4 blocks checkpointed.")
             .arg(humanBytes(s.peak_total), whereText(s.peak_tag, &p.spec))
             .arg(k)
             .arg(n);
    // The lesson: what checkpointing does here, from the two ends of the trade-off.
    if (k > 0 && p.uncheckedPeak > s.peak_total)
        h += tr(" Without checkpointing it would peak at %1: these %2 blocks save %3 (%4).")
                 .arg(humanBytes(p.uncheckedPeak))
                 .arg(k)
                 .arg(humanBytes(p.uncheckedPeak - s.peak_total), percent(double(p.uncheckedPeak - s.peak_total), double(p.uncheckedPeak)));
    else if (k > 0 && p.uncheckedPeak >= 0)
        h += tr(" Without checkpointing it would peak at %1 too: here checkpointing does not lower the peak, it only "
                "adds recomputation.").arg(humanBytes(p.uncheckedPeak));
    else if (k == 0 && p.allPeak >= 0 && p.allPeak < s.peak_total)
        h += tr(" Checkpointing every block would lower it to %1 (%2 less).")
                 .arg(humanBytes(p.allPeak), percent(double(s.peak_total - p.allPeak), double(s.peak_total)));
    else if (k == 0 && p.minimalPeak >= s.peak_total)
        h += tr(" No checkpoint set lowers this peak: the activations are not what fills memory there.");
    if (p.minimalPeak >= 0 && p.minimalPeak < s.peak_total && p.minimalPeak < p.allPeak)
        h += tr(" The lowest any checkpoint plan reaches is %1.").arg(humanBytes(p.minimalPeak));
    h += QStringLiteral("</p>");
    // Before anything runs: a step over the device's limit will run out of memory.
    if (limit_ > 0 && s.peak_total > limit_) {
        QString fix = p.minimalPeak >= 0 && p.minimalPeak <= limit_
                          ? tr("type %1 in Budget and press Plan, or raise the limit").arg(humanBytes(limit_))
                          : tr("no checkpoint plan fits it (the lowest is %1): raise the limit or shrink the model")
                                .arg(humanBytes(p.minimalPeak));
        h.prepend(tr("<p><font color='#d33'><b>Over the memory limit by %1:</b> the predicted peak %2 exceeds the %3 "
                     "limit, so a step will run out of memory; %4.</font></p>")
                      .arg(humanBytes(s.peak_total - limit_), humanBytes(s.peak_total), humanBytes(limit_), fix));
    }
    if (p.time) {
        // Time, predicted as the bytes are, but from a model: FLOPs and bytes over throughput.
        const ckpt::TimePrediction& t = *p.time;
        h += tr("<p><b>Predicted step time</b> %1 on this machine (forward %2, backward %3").arg(humanTime(t.step_ns), humanTime(t.forward_ns), humanTime(t.backward_ns - t.recompute_ns));
        if (k > 0) h += tr(", recomputation %1").arg(humanTime(t.recompute_ns));
        h += tr(", optimizer %1): each layer's FLOPs and bytes moved over the throughput measured here (%2 GFLOP/s, %3 GB/s).</p>")
                 .arg(humanTime(t.optimizer_ns))
                 .arg(t.throughput.gemm_flops / 1e9, 0, 'f', 0)
                 .arg(t.throughput.bandwidth / 1e9, 0, 'f', 1);
    }
    // Selective checkpointing against full, in work and predicted time: deterministic, so the
    // claim does not depend on how busy the machine is; a run's measured bars are the check.
    if (p.selectiveFlops > 0 && p.fullFlops > 0) {
        h += tr("<p><b>Selective against full recomputation</b>: these policies recompute %1 of work")
                 .arg(flopsText(p.selectiveFlops));
        if (p.selectiveNs > 0) h += tr(" (predicted %1)").arg(humanTime(p.selectiveNs));
        h += tr("; recomputing the same blocks in full would be %1").arg(flopsText(p.fullFlops));
        if (p.fullNs > 0) h += tr(" (predicted %1)").arg(humanTime(p.fullNs));
        h += tr(": <b>%1× the work</b>").arg(p.fullFlops / p.selectiveFlops, 0, 'f', 1);
        if (p.selectiveNs > 0 && p.fullNs > 0) h += tr(", %1× the time").arg(double(p.fullNs) / double(p.selectiveNs), 0, 'f', 1);
        h += QStringLiteral(".</p>");
    }
    h += policyNotesHtml(p.spec);
    return h;
}

// Where a checkpointed block's policy avoids little or nothing (attention_core on fused
// attention, or on a block without attention), one line each, in the engine's words.
QString SummaryPanel::policyNotesHtml(const ckpt::ModelSpec& spec) const {
    QString h;
    for (const std::string& note : ckpt::policy_notes(spec, true)) {
        QString text = QString::fromStdString(note);
        text[0] = text[0].toUpper();
        h += QStringLiteral("<p><font color='%1'>%2.</font></p>").arg(mutedColor().name(), text.toHtmlEscaped());
    }
    return h;
}

QString SummaryPanel::resultHtml() const {
    const StepResult& res = result_;
    const ckpt::StepReport* r = res.report.get();
    const int k = r->checkpointed_blocks();
    if (!current_) {
        // Another stack's step: its own figures, compared with nothing of this one.
        return tr("<p style='color:%7'><b>Last run: step %1, of the stack before your edits</b> (%2 of %3 blocks "
                  "checkpointed, %4): peak %5, step time %6. Those figures belong to that stack; run a step to measure "
                  "this one.</p>")
            .arg(res.step)
            .arg(k)
            .arg(r->blocks.size())
            .arg(modelLabel(res.spec), humanBytes(r->peak_total), humanTime(r->step_ns), mutedColor().name());
    }
    QString h;
    if (r->status != ckpt::StepStatus::ok) {
        // No loss, no phase times: the step ended early, as the line on top says.
        int64_t at = 0;
        for (const ckpt::MemoryEvent& e : r->events) at = std::max(at, e.time_ns);
        return h + tr("<p><b>Step %1</b> on %2 ended %3 into the step, at %4 of memory: nothing after that point ran.</p>")
                       .arg(res.step)
                       .arg(shownText(r->device).toHtmlEscaped(), humanTime(at), humanBytes(r->peak_total));
    }
    h += tr("<p><b>Step %1</b>%2 on %3, %4<br>loss %5")
             .arg(res.step)
             .arg(res.warmup ? tr(" (warm-up: %1; its time includes one-off costs and is compared with nothing)")
                                   .arg(res.warmupReason.isEmpty() ? tr("a new session") : res.warmupReason)
                             : QString(),
                  shownText(r->device).toHtmlEscaped(), QString::fromStdString(r->precision).toHtmlEscaped())
             .arg(r->loss, 0, 'g', 6);
    // fp16 scales the loss; a step whose gradients overflowed changed nothing and says so.
    if (r->precision == "fp16-mixed") {
        h += tr("<br>loss scale %1").arg(double(r->loss_scale), 0, 'g', 6);
        if (r->step_skipped) h += tr("; <b>this step was skipped</b>: its gradients overflowed, so the optimizer did not run and the scale halved");
        if (res.skippedSteps > 0) h += tr("; %n step(s) skipped so far", nullptr, res.skippedSteps);
    }
    if (!res.origin.isEmpty())
        h += tr("<br><i>Opened from %1: recorded there, not run here.</i>").arg(res.origin.toHtmlEscaped());
    h += QStringLiteral("</p>");
    if (const QString busy = busyText(*r); !busy.isEmpty() && !res.warmup)
        h += QStringLiteral("<p><font color='#b35900'><b>%1</b></font></p>").arg(busy.toHtmlEscaped());
    // On a GPU: what the caching allocator held beside the tensors (what nvidia-smi counts).
    const ckpt::DeviceMemoryReport& d = r->device_memory;
    if (d.reserved_peak > 0 && QString::fromStdString(r->device).startsWith(QLatin1String("cuda")))
        h += tr("<p>Reserved by the caching allocator: %1 at most (the tensors' peak is %2); workspaces %3; CUDA context %4.</p>")
                 .arg(humanBytes(d.reserved_peak), humanBytes(r->peak_total), humanBytes(d.workspace), humanBytes(d.context));
    const bool ok = r->status == ckpt::StepStatus::ok;
    if (ok) h += tr("<p>The peak falls <b>%1</b>.</p>").arg(whereText(r->peak_tag, &res.spec));
    // Every time is the median of the step's timed repeats, with its spread; the prediction of
    // the same spec beside it.
    QString time = tr("<p><b>Step time</b> %1 (%2").arg(timedText(r->step_ns, r->step_range, r->repeats), repeatsText(r->repeats));
    if (res.predictedTime && ok) time += tr("; predicted %1").arg(humanTime(res.predictedTime->step_ns));
    time += tr("): forward %1, backward %2").arg(humanTime(r->forward_ns), humanTime(r->backward_ns));
    if (k > 0)
        time += tr(", of which recomputation %1 = %2% of the step").arg(timedText(r->recompute_ns, r->recompute_range, r->repeats))
                    .arg(r->step_ns > 0 ? 100.0 * double(r->recompute_ns) / double(r->step_ns) : 0.0, 0, 'f', 1);
    h += time + tr(", optimizer %1.</p>").arg(humanTime(r->optimizer_ns));
    if (ok && k == 0) {
        h += tr("<p>No block is checkpointed, so nothing is recomputed: tick blocks (or press All) and run again to see "
                "what checkpointing saves and costs.</p>");
    } else if (ok && res.verified) {
        const qint64 saved = res.twinPeak - r->peak_total;
        h += saved > 0 ? tr("<p><b>Checkpointing saved %1</b> of the peak (%2%): unchecked, this step peaks at %3.</p>")
                             .arg(humanBytes(saved))
                             .arg(100.0 * double(saved) / double(std::max<qint64>(1, res.twinPeak)), 0, 'f', 1)
                             .arg(humanBytes(res.twinPeak))
                       : tr("<p><b>Checkpointing did not lower the peak</b> (unchecked, this step also peaks at %1): the "
                            "peak is not made of activations here.</p>").arg(humanBytes(res.twinPeak));
        if (res.warmup) {
            h += tr("<p><b>Recomputation overhead</b>: run another step. This warm-up step's time includes one-off "
                    "costs, so it is compared with nothing.</p>");
        } else {
            // From this step alone: its recomputation against the rest of it, both timed under the
            // same conditions, repeat by repeat (a disturbance that slowed a whole repeat cancels).
            // The twin's step is timed apart, so the difference of the two steps is context, and a
            // finding only when it is larger than the two steps' spreads.
            double lo = 0, hi = 0;
            const double own = 100.0 * r->recompute_overhead(&lo, &hi);
            const int64_t rest = std::max<int64_t>(1, r->step_ns - r->recompute_ns);
            h += tr("<p><b>Recomputation overhead</b> +%1%").arg(own, 0, 'f', 1);
            if (r->repeats > 1) h += tr(" (%1 to %2 % over the middle repeats)").arg(100.0 * lo, 0, 'f', 1).arg(100.0 * hi, 0, 'f', 1);
            h += tr(": recomputing took %1 on top of the %2 the rest of this step took.").arg(humanTime(r->recompute_ns), humanTime(rest));
            if (res.twinStepNs > 0) {
                const double twin = 100.0 * double(r->step_ns - res.twinStepNs) / double(res.twinStepNs);
                h += tr(" The same stack unchecked took %1 in its own step").arg(timedText(res.twinStepNs, res.twinStepRange, r->repeats));
                if (withinNoise(r->step_ns, r->step_range, res.twinStepNs, res.twinStepRange))
                    h += tr(": the two steps differ by less than their spread, which is noise, not a finding.");
                else if (std::fabs(twin - own) <= 10.0)
                    h += QStringLiteral(".");
                else
                    h += (twin >= 0 ? tr(" (this one took %1% longer; across two separate steps the machine's own "
                                         "timing noise counts too).")
                                    : tr(" (this one took %1% less; across two separate steps the machine's own "
                                         "timing noise counts too)."))
                             .arg(std::fabs(twin), 0, 'f', 1);
            }
            h += QStringLiteral("</p>");
        }
    }
    if (ok && res.verified)
        h += res.gradientsAgree
                 ? tr("<p><font color='#1a9e3a'><b>Gradients agree</b> with the unchecked run, bit for bit (checksum %1).</font></p>")
                       .arg(QString::number(r->gradient_checksum, 16))
                 : tr("<p><font color='#d33'><b>Gradients differ</b> from the unchecked run%1.</font></p>")
                       .arg(r->dropout_present && !r->preserve_rng ? tr(": dropout masks are not replayed (preserve_rng off)") : QString());
    if (ok)
        h += tr("<p><span title=\"%3\">Kept for backward: %1</span>; checkpointing avoided %2.</p>")
                 .arg(humanBytes(r->kept_bytes_total()), humanBytes(r->avoided_bytes_total()), keptWhy(*r).toHtmlEscaped()) +
             policyNotesHtml(res.spec);
    return h;
}

void SummaryPanel::render() {
    QString h = QStringLiteral("<style>td{padding:1px 6px} th{text-align:left;padding:1px 6px}</style>");
    if (!specError_.isEmpty()) h += tr("<p><font color='#d33'><b>This stack cannot run:</b> %1</font></p>").arg(specError_.toHtmlEscaped());
    if (!banner_.isEmpty())
        h += QStringLiteral("<p><font color='%1'><b>%2</b></font></p>").arg(alarm_ ? QStringLiteral("#d33") : mutedColor().name(), banner_.toHtmlEscaped());
    if (havePrediction_ && specError_.isEmpty()) h += predictionHtml();
    const ckpt::StepReport* r = result_.report.get();
    const bool compare = r && current_;
    // Measured beside the prediction of that same step; before a run (or after an edit) the
    // prediction of the stack on screen alone.
    const ckpt::StepReport* p = compare ? result_.predicted.get() : (havePrediction_ ? prediction_.step.get() : nullptr);
    if (!r && havePrediction_ && !prediction_.layout.single_device())
        h += tr("<p>To run a step, set the layout back to one device (the devices button in the run bar).</p>");
    else if (!r) h += tr("<p>No run yet. Press <b>Run step</b> to measure what is predicted above.</p>");
    h += tr("<table><tr><th>peak memory</th><th align='right'>measured</th><th align='right'>predicted</th></tr>");
    auto row = [&](const QString& name, const QColor& c, qint64 m, qint64 pr, bool bold, const QString& tip = {},
                   const QString& mark = QStringLiteral("■")) {
        const QString b0 = bold ? QStringLiteral("<b>") : QString(), b1 = bold ? QStringLiteral("</b>") : QString();
        const QString label = tip.isEmpty() ? name : QStringLiteral("<span title=\"%1\">%2</span>").arg(tip.toHtmlEscaped(), name);
        h += QStringLiteral("<tr><td>%1%2%3%4</td><td align='right'>%3%5%4</td><td align='right'>%3%6%4</td></tr>")
                 .arg(c.isValid() ? QStringLiteral("<font color='%1'>%2</font> ").arg(c.name(), mark) : QString(), label, b0, b1,
                      compare ? humanBytes(m) : QStringLiteral("–"), p ? humanBytes(pr) : QStringLiteral("–"));
    };
    row(tr("total"), QColor(), compare ? r->peak_total : 0, p ? p->peak_total : 0, true);
    const bool explainKept = compare && r->status == ckpt::StepStatus::ok;
    for (ckpt::Category c : kStackOrder) {
        // A parallel layout's category, shown for a rank's step only.
        if (c == ckpt::Category::communication && !(compare && r->peak[int(c)] > 0) && !(p && p->peak[int(c)] > 0)) continue;
        if (c == ckpt::Category::unattributed) continue;  // a PyTorch snapshot's only (its own window)
        row(categoryLabel(c), categoryColor(c), compare ? r->at_peak[int(c)] : 0, p ? p->at_peak[int(c)] : 0, false,
            c == ckpt::Category::activation && explainKept ? keptWhy(*r) : QString(), categoryMark(c));
    }
    h += QStringLiteral("</table>");
    if (compare && p) {
        const qint64 d = r->peak_total - p->peak_total;
        if (r->status != ckpt::StepStatus::ok)
            h += tr("<p>The prediction is of the whole step; this one ended early.</p>");
        else
            h += d == 0 ? tr("<p>Measured peak equals the prediction to the byte.</p>")
                        : tr("<p><font color='#d33'>Measured peak differs from the prediction of the same step by %1.</font></p>")
                              .arg(humanBytes(d));
    }
    if (r) h += resultHtml();
    setHtml(h);
}

QString helpHtml(const StepResult* res) {
    const ckpt::StepReport* r = res ? res->report.get() : nullptr;
    QString h = QObject::tr(
        "<h3>What am I looking at?</h3>"
        "<p><b>Activations.</b> To compute gradients, backward needs values that forward produced: a linear layer "
        "needs its input, a ReLU its output. Training keeps them from forward until backward uses them. That memory "
        "grows with the batch, the sequence and the depth.</p>"
        "<p><b>Checkpointing</b> a block keeps only the block's input during forward and throws away everything "
        "else the block computed. <b>Recomputation</b>: when backward reaches the block, it runs the block's forward "
        "again from that input, then backpropagates. Memory goes down; one extra forward of the block is the price. "
        "The gradients are exactly the same numbers.</p>");
    if (res && !res->spec.description.empty())
    {
        QStringList shape;
        for (int64_t d : res->spec.input_shape) shape << QString::number(d);
        h += QObject::tr("<p><b>This model.</b> %1 <i>As run: input %2.</i></p>")
                 .arg(shownText(describeModel(res->spec).toStdString(), 4000).toHtmlEscaped(), shape.join(QStringLiteral(" × ")));
    }
    if (r) {
        h += QObject::tr("<p><b>In your last run</b> %1 of %2 blocks were checkpointed. Forward kept %3 for "
                         "backward; checkpointing avoided keeping %4. Recomputation took %5 of the %6 step. The step "
                         "peaked at %7 during %8.</p>")
                 .arg(r->checkpointed_blocks()).arg(r->blocks.size()).arg(humanBytes(r->kept_bytes_total()), humanBytes(r->avoided_bytes_total()),
                                                       humanTime(r->recompute_ns), humanTime(r->step_ns),
                                                       humanBytes(r->peak_total), phaseLabel(r->peak_tag.phase));
        if (res->verified)
            h += res->twinPeak > r->peak_total
                     ? QObject::tr("<p>Without checkpointing the same step peaks at %1, so checkpointing saved %2 of "
                                   "peak memory for %3 of recomputation.</p>")
                           .arg(humanBytes(res->twinPeak), humanBytes(res->twinPeak - r->peak_total), humanTime(r->recompute_ns))
                     : QObject::tr("<p>Without checkpointing the same step also peaks at %1: here checkpointing did not "
                                   "lower the peak.</p>").arg(humanBytes(res->twinPeak));
        // Which category holds the most at the peak says what would lower it.
        ckpt::Category top = ckpt::Category::activation;
        for (ckpt::Category c : kStackOrder)
            if (r->at_peak[int(c)] > r->at_peak[int(top)]) top = c;
        if (top != ckpt::Category::activation && top != ckpt::Category::recomputed)
            h += QObject::tr("<p>At the peak the largest share is <b>%1</b> (%2 of %3). Checkpointing shrinks only the "
                             "activations kept, so it moves this peak little; it pays off where activations dominate, "
                             "as they do with larger batches and longer sequences.</p>")
                     .arg(categoryLabel(top), humanBytes(r->at_peak[int(top)]), humanBytes(r->peak_total));
        if (r->peak_tag.phase == ckpt::Phase::optimizer)
            h += QObject::tr("<p>Note: this peak is in the optimizer step, where parameters, gradients and optimizer "
                             "state are all alive and no activation is. Checkpointing cannot lower it; a smaller "
                             "optimizer state (SGD) or fewer parameters can.</p>");
    }
    h += QObject::tr("<p><b>The memory timeline</b> stacks live bytes by category over one step. Bands mark forward, "
                     "backward and the optimizer; cross-hatched bands marked ↻ are recomputations. Before a run it shows the "
                     "<i>prediction</i>: a dry run of the engine that counts every byte without computing anything, "
                     "drawn in the order memory is allocated and freed (no time has been measured yet), with a grey "
                     "line where the peak would be without checkpointing. After a run it shows the measurement in "
                     "time, with the prediction of the same step dashed in blue over it.</p><ul>");
    for (ckpt::Category c : kStackOrder) {
        if (c == ckpt::Category::unattributed) continue;  // a PyTorch snapshot's only (its own window)
        h += QStringLiteral("<li><font color='%1'>%4</font> <b>%2</b>: %3</li>")
                 .arg(categoryColor(c).name(), categoryLabel(c), categoryMeaning(c), categoryMark(c));
    }
    h += QObject::tr("</ul><p><b>Per block</b> shows what each block keeps and what checkpointing avoided; a negative "
                     "effect shows where the boundary tensor between two blocks moved. <b>Step history</b> follows the "
                     "steps you run on this model (the first, a warm-up, is slower): toggle a checkpoint and the next "
                     "step's point moves. <b>Compare</b> overlays pinned runs. <b>Pareto</b> places every plan by "
                     "memory and time; click one to apply it.</p>"
                     "<p><b>Times</b> are measured several times: each step runs again from the same state (still one "
                     "step: the same gradients, the same memory), and every time shown is the median of those repeats, "
                     "with its spread (±, whiskers, bands). A difference smaller than the spread is noise. The "
                     "<i>predicted</i> time beside it comes from each layer's FLOPs and bytes over what this machine "
                     "measured it can do.</p>");
    return h;
}

}  // namespace ckptui
