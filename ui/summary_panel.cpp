// Summary and help texts (see summary_panel.h).
#include "ui/summary_panel.h"

#include "ui/style.h"

namespace ckptui {

SummaryPanel::SummaryPanel(QWidget* parent) : QTextBrowser(parent) {
    setObjectName(QStringLiteral("summary"));
    setOpenLinks(false);
    setToolTip(tr("The last step in numbers: measured beside predicted, and what checkpointing cost."));
    render();
}

void SummaryPanel::setPrediction(const ckpt::StepReport* predicted, const QString& specError) {
    havePrediction_ = predicted != nullptr;
    if (predicted) predictedCopy_ = *predicted;
    specError_ = specError;
    render();
}

void SummaryPanel::setResult(const StepResult& r) {
    result_ = r;
    render();
}

void SummaryPanel::render() {
    QString h = QStringLiteral("<style>td{padding:1px 6px} th{text-align:left;padding:1px 6px}</style>");
    if (!specError_.isEmpty()) h += tr("<p><font color='red'><b>This stack cannot run:</b> %1</font></p>").arg(specError_.toHtmlEscaped());
    const ckpt::StepReport* r = result_.report.get();
    if (r) {
        if (r->status != ckpt::StepStatus::ok)
            h += tr("<p><font color='red'><b>%1</b></font></p>").arg(QString::fromStdString(r->message).toHtmlEscaped());
        h += tr("<p><b>Step %1</b> on %2<br>loss %3</p>").arg(r->step).arg(QString::fromStdString(r->device).toHtmlEscaped()).arg(r->loss, 0, 'g', 6);
    } else {
        h += tr("<p>No run yet. Press <b>Run step</b>.</p>");
    }
    const ckpt::StepReport* p = havePrediction_ ? &predictedCopy_ : nullptr;
    h += tr("<table><tr><th>peak memory</th><th align='right'>measured</th><th align='right'>predicted</th></tr>");
    auto row = [&](const QString& name, const QColor& c, qint64 m, qint64 pr, bool bold) {
        const QString b0 = bold ? QStringLiteral("<b>") : QString(), b1 = bold ? QStringLiteral("</b>") : QString();
        h += QStringLiteral("<tr><td>%1%2%3%4</td><td align='right'>%3%5%4</td><td align='right'>%3%6%4</td></tr>")
                 .arg(c.isValid() ? QStringLiteral("<font color='%1'>■</font> ").arg(c.name()) : QString(), name, b0, b1,
                      r ? humanBytes(m) : QStringLiteral("–"), p ? humanBytes(pr) : QStringLiteral("–"));
    };
    row(tr("total"), QColor(), r ? r->peak_total : 0, p ? p->peak_total : 0, true);
    for (ckpt::Category c : kStackOrder)
        row(categoryLabel(c), categoryColor(c), r ? r->at_peak[int(c)] : 0, p ? p->at_peak[int(c)] : 0, false);
    h += QStringLiteral("</table>");
    if (r && p) {
        const qint64 d = r->peak_total - p->peak_total;
        h += d == 0 ? tr("<p>Measured peak equals the prediction to the byte.</p>")
                    : tr("<p><font color='#b00'>Measured peak differs from the prediction by %1 "
                         "(the prediction is for a steady-state step).</font></p>").arg(humanBytes(d));
    }
    if (r) {
        const ckpt::MemoryTag& t = r->peak_tag;
        h += tr("<p>The peak falls in <b>%1</b>%2.</p>").arg(phaseLabel(t.phase), t.block >= 0 ? tr(" of block %1").arg(t.block) : QString());
        h += tr("<p><b>Step time</b> %1 (forward %2, backward %3, of which recomputation %4 = %6% of the step, "
                "optimizer %5)</p>")
                 .arg(humanTime(r->step_ns), humanTime(r->forward_ns), humanTime(r->backward_ns), humanTime(r->recompute_ns),
                      humanTime(r->optimizer_ns))
                 .arg(r->step_ns > 0 ? 100.0 * double(r->recompute_ns) / double(r->step_ns) : 0.0, 0, 'f', 1);
        if (result_.verified) {
            const qint64 saved = result_.twinPeak - r->peak_total;
            h += saved > 0 ? tr("<p><b>Checkpointing saved %1</b> of the peak (%2%): unchecked, this step peaks at %3.</p>")
                                 .arg(humanBytes(saved))
                                 .arg(100.0 * double(saved) / double(std::max<qint64>(1, result_.twinPeak)), 0, 'f', 1)
                                 .arg(humanBytes(result_.twinPeak))
                           : tr("<p><b>Checkpointing did not lower the peak</b> (unchecked, this step also peaks at %1).</p>")
                                 .arg(humanBytes(result_.twinPeak));
            const double overhead = result_.twinStepNs > 0 ? 100.0 * double(r->step_ns - result_.twinStepNs) / double(result_.twinStepNs) : 0;
            h += tr("<p><b>Recomputation overhead</b> %1% against the same stack unchecked (its step took %2).")
                     .arg(overhead >= 0 ? QStringLiteral("+%1").arg(overhead, 0, 'f', 1) : QString::number(overhead, 'f', 1))
                     .arg(humanTime(result_.twinStepNs));
            if (r->recompute_ns > 0 && overhead < 0)
                h += tr(" The unchecked run was slower this time: on a busy machine step times vary by more than the "
                        "recomputation costs.");
            h += QStringLiteral("</p>");
            h += result_.gradientsAgree
                     ? tr("<p><font color='#060'><b>Gradients agree</b> with the unchecked run, bit for bit (checksum %1).</font></p>")
                           .arg(QString::number(r->gradient_checksum, 16))
                     : tr("<p><font color='red'><b>Gradients differ</b> from the unchecked run%1.</font></p>")
                           .arg(r->dropout_present && !r->preserve_rng ? tr(": dropout masks are not replayed (preserve_rng off)") : QString());
        }
        h += tr("<p>Kept for backward: %1; checkpointing avoided %2.</p>")
                 .arg(humanBytes(r->kept_bytes_total()), humanBytes(r->avoided_bytes_total()));
    }
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
                 .arg(QString::fromStdString(res->spec.description).toHtmlEscaped(), shape.join(QStringLiteral(" × ")));
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
                     "backward and the optimizer; orange bands marked ↻ are recomputations. The dashed blue line is "
                     "the predicted peak, computed from the model alone before running.</p><ul>");
    for (ckpt::Category c : kStackOrder)
        h += QStringLiteral("<li><font color='%1'>■</font> <b>%2</b>: %3</li>")
                 .arg(categoryColor(c).name(), categoryLabel(c), categoryMeaning(c));
    h += QObject::tr("</ul><p><b>Per block</b> shows what each block keeps and what checkpointing avoided; a negative "
                     "effect shows where the boundary tensor between two blocks moved. <b>Step history</b> follows a "
                     "continuous run: toggle a checkpoint and the next step's point moves. <b>Compare</b> overlays "
                     "pinned runs.</p>");
    return h;
}

}  // namespace ckptui
