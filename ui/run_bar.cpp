// The run bar (see run_bar.h).
#include "ui/run_bar.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QToolButton>

#include "ckpt/names.h"
#include "ckpt/units.h"
#include "ui/parallel_dialog.h"
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
    // A CPU's full name is long: the box shows its start (the list shows all of it), so Stop
    // and Pin stay on a 1366-pixel screen.
    device_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    device_->setMinimumContentsLength(16);
    for (int i = 0; i < device_->count(); ++i) device_->setItemData(i, device_->itemText(i), Qt::ToolTipRole);
    batch_ = new QSpinBox(this);
    batch_->setRange(1, 1 << 20);
    batch_->setToolTip(tr("Batch size: activations grow in proportion to it; parameters do not."));
    seq_ = new QSpinBox(this);
    seq_->setRange(1, 1 << 20);
    seq_->setToolTip(tr("Sequence length (token models and (batch, sequence, features) inputs). Attention memory grows with its square."));
    optimizer_ = new QComboBox(this);
    optimizer_->addItems({tr("none"), tr("SGD"), tr("AdamW")});
    optimizer_->setToolTip(tr("The optimizer: AdamW keeps two moments per parameter (2x the parameters' memory)."));
    precision_ = new QComboBox(this);
    precision_->setObjectName(QStringLiteral("precision"));
    for (const auto& [p, name] : ckpt::enum_names<ckpt::Precision>())
        precision_->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(p));
    precision_->setToolTip(tr("f32, or mixed precision as PyTorch's autocast: matrix products in bf16 or fp16 (with "
                              "f32 accumulation), weights, gradients and optimizer state in f32. fp16 scales the loss "
                              "and skips a step whose gradients overflow; the summary says so."));
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
    addWidget(new QLabel(tr(" Precision "), this));
    addWidget(precision_);
    addWidget(new QLabel(tr(" Memory limit "), this));
    addWidget(limit_);
    addWidget(verify_);
    // The layout lives in the Run menu; the bar shows it only while it is more than one device
    // (a 1366-pixel screen has no room for a button that says "1 device").
    layoutMenuAction_ = new QAction(tr("Parallel layout…"), this);
    layoutMenuAction_->setObjectName(QStringLiteral("parallelLayoutAction"));
    connect(layoutMenuAction_, &QAction::triggered, this, &RunBar::layoutRequested);
    layout_ = new QToolButton(this);
    layout_->setObjectName(QStringLiteral("parallelLayout"));
    connect(layout_, &QToolButton::clicked, this, &RunBar::layoutRequested);
    layoutButtonAction_ = addWidget(layout_);
    recorded_ = new QLabel(this);
    recorded_->setObjectName(QStringLiteral("recordedRun"));
    recorded_->setToolTip(recordedTip());
    recorded_->setStyleSheet(QStringLiteral("QLabel { background: palette(highlight); color: palette(highlighted-text); "
                                            "border-radius: 3px; padding: 2px 6px; font-weight: bold; }"));
    recorded_->setMaximumWidth(420);
    recordedAction_ = addWidget(recorded_);
    recordedAction_->setVisible(false);
    addSeparator();
    // Shortcuts as debuggers have them: F5 runs, Shift+F5 stops.
    auto action = [this](const QString& text, const QKeySequence& key, void (RunBar::*signal)(), const QString& tip) {
        QAction* a = addAction(text, this, signal);
        a->setShortcut(key);
        a->setToolTip(QStringLiteral("%1 (%2)").arg(tip, key.toString(QKeySequence::NativeText)));
        return a;
    };
    runStep_ = action(tr("Run step"), QKeySequence(Qt::Key_F5), &RunBar::runStepRequested,
                      tr("Run one training step: forward, loss, backward (with recomputation), optimizer. Pressed "
                         "again, it continues the same training: step numbers go on."));
    runCont_ = action(tr("Run continuously"), QKeySequence(Qt::CTRL | Qt::Key_F5), &RunBar::runContinuouslyRequested,
                      tr("Keep running steps; edits apply at the next step."));
    stop_ = action(tr("Stop"), QKeySequence(Qt::SHIFT | Qt::Key_F5), &RunBar::stopRequested,
                   tr("Stop within the layer that is running now; the last complete step stays on screen."));
    stop_->setEnabled(false);
    pin_ = action(tr("Pin run"), QKeySequence(Qt::CTRL | Qt::Key_P), &RunBar::pinRequested,
                  tr("Keep the last step for the Compare tab."));
    for (QAction* a : {runStep_, runCont_, stop_, pin_}) a->setShortcutContext(Qt::WindowShortcut);

    connect(batch_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setBatch(v); });
    connect(seq_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { if (!syncing_) model_->setSequence(v); });
    connect(optimizer_, qOverload<int>(&QComboBox::activated), this, [this](int i) { model_->setOptimizer(ckpt::OptimizerType(i)); });
    connect(precision_, qOverload<int>(&QComboBox::activated), this, [this](int i) {
        model_->setPrecision(ckpt::Precision(precision_->itemData(i).toInt()));
    });
    connect(limit_, &QLineEdit::textChanged, this, [this] {
        if (limitError().isEmpty()) emit memoryLimitChanged(memoryLimit());
        emit settingsChanged();
    });
    connect(device_, qOverload<int>(&QComboBox::currentIndexChanged), this, &RunBar::deviceChanged);
    connect(device_, qOverload<int>(&QComboBox::currentIndexChanged), this, &RunBar::settingsChanged);
    connect(verify_, &QCheckBox::toggled, this, &RunBar::settingsChanged);
}

RunOptions RunBar::runOptions(const RunOptions& base) const {
    RunOptions run = base;
    run.settings.device = device_->currentData().toString().toStdString();
    run.verify = verify_->isChecked();
    run.settings.memory_limit = memoryLimit();
    return run;
}

QString RunBar::recordedTip() {
    return tr("The charts and the summary show a step recorded elsewhere (File > Open run), with its own device and "
              "precision. Run step runs the same model here, with the settings to the left.");
}

QString RunBar::deviceId() const { return device_->currentData().toString(); }

bool RunBar::selectDevice(const QString& id) {
    const int d = device_->findData(id);
    if (d >= 0) device_->setCurrentIndex(d);
    return d >= 0;
}

void RunBar::showRecorded(const QString& text) {
    // Elided to the label's width; the whole line is in its tooltip's first line.
    recorded_->setText(recorded_->fontMetrics().elidedText(text, Qt::ElideRight, recorded_->maximumWidth() - 12));
    recorded_->setProperty("ckptFull", text);
    recorded_->setToolTip(text.isEmpty() ? recordedTip() : text + QStringLiteral("\n\n") + recordedTip());
    recordedAction_->setVisible(!text.isEmpty());
}

QString RunBar::recordedText() const { return recordedAction_->isVisible() ? recorded_->property("ckptFull").toString() : QString(); }

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
    precision_->setCurrentIndex(precision_->findData(int(s.precision)));
    syncing_ = false;
}

void RunBar::setVerify(bool on) { verify_->setChecked(on); }

void RunBar::setRunning(bool running) {
    running_ = running;
    runStep_->setEnabled(!running && runnable_);
    runCont_->setEnabled(!running && runnable_);
    stop_->setEnabled(running);
    device_->setEnabled(!running);
    layout_->setEnabled(!running);
    layoutMenuAction_->setEnabled(!running);
}

void RunBar::setLayout(const ckpt::ParallelLayout& layout, int rank) {
    runnable_ = layout.single_device();
    const QString what = ParallelDialog::summary(layout, rank);
    layout_->setText(tr("%1 devices, rank %2").arg(layout.world()).arg(rank));
    layout_->setToolTip(tr("Parallel layout: %1. Click to change it (Run › Parallel layout…).").arg(what));
    layoutButtonAction_->setVisible(!runnable_);
    layoutMenuAction_->setToolTip(tr("Predict one rank of data (ZeRO, FSDP) and tensor parallelism: now %1.").arg(what));
    const QString why = tr("A layout of %1 devices is predicted, not run: a step runs on one device. Set the layout back "
                           "to one device to run.").arg(layout.world());
    runStep_->setStatusTip(runnable_ ? QString() : why);
    for (QAction* a : {runStep_, runCont_}) {
        a->setEnabled(!running_ && runnable_);
        a->setToolTip(runnable_ ? a->toolTip().section(QStringLiteral(" — "), 0, 0)
                                : a->toolTip().section(QStringLiteral(" — "), 0, 0) + QStringLiteral(" — ") + why);
    }
}

}  // namespace ckptui
