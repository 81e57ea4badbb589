// The run bar (see run_bar.h).
#include "ui/run_bar.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

#include "ckpt/units.h"
#include "ui/stack_model.h"
#include "ui/style.h"

namespace ckptui {

RunBar::RunBar(LayerStackModel* model, QWidget* parent) : QToolBar(tr("Run"), parent), model_(model) {
    setObjectName(QStringLiteral("runBar"));
    device_ = new QComboBox(this);
    for (const ckpt::DeviceInfo& d : ckpt::available_devices())
        device_->addItem(QStringLiteral("%1 — %2, %3").arg(QString::fromStdString(d.id()), QString::fromStdString(d.name),
                                                           humanBytes(d.total_bytes)),
                         QString::fromStdString(d.id()));
    device_->setToolTip(tr("Where the steps run: the CPU, or a CUDA GPU when this build has one."));
    batch_ = new QSpinBox(this);
    batch_->setRange(1, 1 << 20);
    batch_->setToolTip(tr("Batch size: activations grow in proportion to it; parameters do not."));
    seq_ = new QSpinBox(this);
    seq_->setRange(1, 1 << 20);
    seq_->setToolTip(tr("Sequence length (token models and (batch, sequence, features) inputs). Attention memory grows with its square."));
    optimizer_ = new QComboBox(this);
    optimizer_->addItems({tr("none"), tr("SGD"), tr("AdamW")});
    optimizer_->setToolTip(tr("The optimizer: AdamW keeps two moments per parameter (2x the parameters' memory)."));
    limit_ = new QLineEdit(this);
    limit_->setObjectName(QStringLiteral("memoryLimit"));
    limit_->setPlaceholderText(tr("no limit"));
    limit_->setMaximumWidth(110);
    limit_->setToolTip(tr("Device memory limit, e.g. 16GiB: allocations past it fail as out of memory, as on a smaller card."));
    verify_ = new QCheckBox(tr("verify"), this);
    verify_->setChecked(true);
    verify_->setToolTip(tr("Also run the same stack unchecked, to compare gradients bit for bit and measure the overhead."));
    addWidget(new QLabel(tr(" Device "), this));
    addWidget(device_);
    addWidget(new QLabel(tr(" Batch "), this));
    addWidget(batch_);
    addWidget(new QLabel(tr(" Sequence "), this));
    addWidget(seq_);
    addWidget(new QLabel(tr(" Optimizer "), this));
    addWidget(optimizer_);
    addWidget(new QLabel(tr(" Memory limit "), this));
    addWidget(limit_);
    addWidget(verify_);
    addSeparator();
    runStep_ = addAction(tr("Run step"), this, &RunBar::runStepRequested);
    runStep_->setToolTip(tr("Run one training step: forward, loss, backward (with recomputation), optimizer. Pressed "
                            "again, it continues the same training: step numbers go on."));
    runCont_ = addAction(tr("Run continuously"), this, &RunBar::runContinuouslyRequested);
    runCont_->setToolTip(tr("Keep running steps; edits apply at the next step."));
    stop_ = addAction(tr("Stop"), this, &RunBar::stopRequested);
    stop_->setToolTip(tr("Stop within the layer that is running now; the last complete step stays on screen."));
    stop_->setEnabled(false);
    auto* pin = addAction(tr("Pin run"), this, &RunBar::pinRequested);
    pin->setToolTip(tr("Keep the last step for the Compare tab."));

    connect(batch_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setBatch(v); });
    connect(seq_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setSequence(v); });
    connect(optimizer_, qOverload<int>(&QComboBox::activated), this, [this](int i) { model_->setOptimizer(ckpt::OptimizerType(i)); });
    connect(limit_, &QLineEdit::textChanged, this, [this] {
        if (limitError().isEmpty()) emit memoryLimitChanged(memoryLimit());
    });
    connect(device_, qOverload<int>(&QComboBox::currentIndexChanged), this, &RunBar::deviceChanged);
}

RunOptions RunBar::runOptions(const RunOptions& base) const {
    RunOptions run = base;
    run.settings.device = device_->currentData().toString().toStdString();
    run.verify = verify_->isChecked();
    run.settings.memory_limit = memoryLimit();
    return run;
}

ckpt::DeviceKind RunBar::deviceKind() const {
    auto d = ckpt::find_device(device_->currentData().toString().toStdString());
    return d ? d->kind : ckpt::DeviceKind::cpu;
}

QString RunBar::limitError() const {
    const QString lim = limit_->text().trimmed();
    if (lim.isEmpty() || ckpt::parse_bytes(lim.toStdString())) return {};
    return tr("memory limit: \"%1\" is not a size such as 16GiB").arg(limit_->text());
}

qint64 RunBar::memoryLimit() const {
    const QString lim = limit_->text().trimmed();
    const auto bytes = ckpt::parse_bytes(lim.toStdString());
    return !lim.isEmpty() && bytes ? *bytes : 0;  // an empty field means no limit
}

void RunBar::setMemoryLimit(qint64 limit) {
    // Exact, so saving the experiment again writes the same number: "1536MiB" or plain bytes.
    QString text;
    if (limit > 0) {
        text = QString::number(limit);
        for (auto [unit, name] : {std::pair{qint64(1) << 30, "GiB"}, {qint64(1) << 20, "MiB"}, {qint64(1) << 10, "KiB"}})
            if (limit % unit == 0) {
                text = QString::number(limit / unit) + QLatin1String(name);
                break;
            }
    }
    limit_->setText(text);
}

QString RunBar::applyRunOptions(const RunOptions& run) {
    QString warning;
    const QString device = QString::fromStdString(run.settings.device);
    const int d = device_->findData(device);
    if (d >= 0) device_->setCurrentIndex(d);
    else warning = tr("Device %1 is not available here; runs use %2.").arg(device, device_->currentText());
    verify_->setChecked(run.verify);
    setMemoryLimit(run.settings.memory_limit);
    return warning;
}

void RunBar::syncFromSpec(const ckpt::ModelSpec& s) {
    syncing_ = true;
    if (!s.input_shape.empty()) batch_->setValue(int(s.input_shape[0]));
    const bool hasSeq = s.token_input() ? s.input_shape.size() >= 2 : s.input_shape.size() >= 3 && !s.image_input();
    seq_->setEnabled(hasSeq);
    seq_->setValue(hasSeq ? int(s.input_shape[1]) : 1);
    optimizer_->setCurrentIndex(int(s.optimizer.type));
    syncing_ = false;
}

void RunBar::setRunning(bool running) {
    runStep_->setEnabled(!running);
    runCont_->setEnabled(!running);
    stop_->setEnabled(running);
    device_->setEnabled(!running);
}

}  // namespace ckptui
