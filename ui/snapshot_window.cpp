// The PyTorch snapshot window (snapshot_window.h).
#include "ui/snapshot_window.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include "ckpt/names.h"
#include "ui/chart_export.h"
#include "ui/export_dialog.h"
#include "ui/messages.h"
#include "ui/style.h"
#include "ui/timeline_chart.h"

namespace ckptui {

namespace {

QString count(qint64 n) { return groupedCount(n); }

}  // namespace

QString snapshotTitle(const ckpt::TorchSnapshot& s) {
    QString t = QObject::tr("%1: allocated bytes by category, reserved bytes as a line (reserved peak %2)")
                    .arg(shownText(s.report.model_name), humanBytes(s.reserved_peak));
    if (s.ooms > 0)
        t += QLatin1Char('\n') + QObject::tr("out of memory %1: asked for %2 with %3 free")
                                     .arg(s.timed ? QObject::tr("at %1").arg(humanTime(s.oom_time_ns))
                                                  : QObject::tr("at trace entry %1").arg(s.oom_entry),
                                          humanBytes(s.oom_requested), humanBytes(s.oom_device_free));
    return t;
}

QString snapshotSummary(const ckpt::TorchSnapshot& s) {
    const ckpt::StepReport& r = s.report;
    qint64 end = ckpt::total(r.baseline);
    for (const ckpt::MemoryEvent& e : r.events) end += e.bytes;
    QString html = QObject::tr("<b>%1</b>, the trace of %2 (%3 entries%4): %5 allocations, %6 frees; blocks freed in "
                               "the trace but allocated before it began (counted from the start, unattributed): %7.<br>")
                       .arg(shownText(r.model_name), shownText(r.device), count(s.entries),
                            s.device_chosen            ? QObject::tr(", the device asked for")
                            : s.devices_traced > 1 ? QObject::tr(", the longest of %1 devices' traces").arg(s.devices_traced)
                                                   : QString(),
                            count(s.allocs), count(s.frees), count(s.baseline_blocks));
    if (s.devices_traced > 1) {  // which others there are, and how to see one
        QStringList traced;
        for (size_t i = 0; i < s.traces.size() && i < 16; ++i)
            traced << (s.traces[i].entries == 1 ? QObject::tr("cuda:%1 (1 entry)").arg(s.traces[i].device)
                                                : QObject::tr("cuda:%1 (%2 entries)").arg(s.traces[i].device).arg(count(s.traces[i].entries)));
        if (s.traces.size() > 16) traced << QStringLiteral("…");
        html += QObject::tr("<b>Devices traced</b>: %1. This window shows cuda:%2; <tt>checkpointlab import-torch-snapshot "
                            "--device-index N</tt> reads another.<br>")
                    .arg(traced.join(QStringLiteral(", ")))
                    .arg(s.device);
    }
    html += QObject::tr("<b>Allocated</b> (requested bytes, alloc to free_completed): %1 at the start, peak %2, %3 at the end. "
                        "<b>Reserved</b> (the allocator's segments): %4 at the start, peak %5, %6 at the snapshot (%7 segments).<br>")
                .arg(humanBytes(ckpt::total(r.baseline)), humanBytes(r.peak_total), humanBytes(end), humanBytes(s.reserved_start),
                     humanBytes(s.reserved_peak), humanBytes(s.reserved_end), count(s.segments));
    html += s.timed ? QObject::tr("Times are the trace's time_us.")
                    : QObject::tr("The snapshot records no times (PyTorch before 2.1): the x axis is the trace's order.");
    html += QObject::tr("<br><b>Attributed by stack frames</b> (allocations):");
    for (int k = 0; k < ckpt::kSnapshotRuleCount; ++k) {
        const auto rule = ckpt::SnapshotRule(k);
        const qint64 n = s.allocs_by_rule[size_t(k)];
        if (n == 0 && rule != ckpt::SnapshotRule::none) continue;
        QString what;
        switch (rule) {
        case ckpt::SnapshotRule::none: what = QObject::tr("no frame says: unattributed"); break;
        case ckpt::SnapshotRule::recompute: what = QObject::tr("checkpoint recomputation: recomputed"); break;
        case ckpt::SnapshotRule::accumulate_grad: what = QObject::tr("AccumulateGrad: gradients"); break;
        case ckpt::SnapshotRule::optimizer_kept: what = QObject::tr("torch/optim, kept to the end: optimizer state"); break;
        case ckpt::SnapshotRule::optimizer_freed: what = QObject::tr("torch/optim, freed: temporaries"); break;
        case ckpt::SnapshotRule::module_apply: what = QObject::tr("Module._apply (.cuda(), .to()): parameters"); break;
        case ckpt::SnapshotRule::backward: what = QObject::tr("autograd, nothing more specific: unattributed, in backward"); break;
        }
        html += QStringLiteral(" %1 %2;").arg(count(n), what);
    }
    if (s.ooms > 0) html += QObject::tr("<br><b>Out of memory</b> %1 time(s): %2").arg(s.ooms).arg(shownText(s.oom_message));
    return html;
}

SnapshotWindow::SnapshotWindow(std::shared_ptr<const ckpt::TorchSnapshot> snapshot, const QString& path, QWidget* parent)
    : QDialog(parent), snapshot_(std::move(snapshot)) {
    setWindowTitle(tr("PyTorch snapshot %1").arg(shownText(QFileInfo(path).fileName().toStdString())));
    setAttribute(Qt::WA_DeleteOnClose);
    auto* layout = new QVBoxLayout(this);
    chart_ = new TimelineChart(this);
    chart_->setMinimumSize(640, 360);
    layout->addWidget(chart_, 1);
    summary_ = new QLabel(snapshotSummary(*snapshot_), this);
    summary_->setObjectName(QStringLiteral("snapshotSummary"));
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(summary_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    QPushButton* exportButton = buttons->addButton(tr("Export chart…"), QDialogButtonBox::ActionRole);
    exportButton->setObjectName(QStringLiteral("exportSnapshotChart"));
    connect(exportButton, &QPushButton::clicked, this, [this, path] {
        // The main window's export dialog, for this chart: PNG, PDF or SVG at a size and DPI.
        const QFileInfo f(path);
        auto* dialog = new ExportDialog({{tr("Memory timeline"), chart_}}, ExportOptions{},
                                        f.dir().filePath(f.completeBaseName() + QStringLiteral(".png")), false, this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &QDialog::accepted, this, [this, dialog] {
            const QString err = exportPlot(dialog->chart(), dialog->path(), dialog->options());
            if (!err.isEmpty()) QMessageBox::warning(this, tr("Cannot export chart"), err);
        });
        dialog->open();
    });
    QPushButton* compareButton = buttons->addButton(tr("Compare with the prediction"), QDialogButtonBox::ActionRole);
    compareButton->setObjectName(QStringLiteral("compareWithPrediction"));
    compareButton->setToolTip(tr("Pin this snapshot in the main window's Compare tab, over the predicted step of the stack "
                                 "on screen: open the model the snapshot was recorded with. Both peaks and their "
                                 "difference are in the legend."));
    connect(compareButton, &QPushButton::clicked, this, &SnapshotWindow::compareRequested);
    layout->addWidget(buttons);
    chart_->setSnapshot(*snapshot_, snapshotTitle(*snapshot_));
    resize(1100, 680);
}

}  // namespace ckptui
