// The parallel layout dialog (see parallel_dialog.h).
#include "ui/parallel_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace ckptui {

ParallelDialog::ParallelDialog(const ckpt::ModelSpec& spec, const ckpt::ParallelLayout& layout, int rank, QWidget* parent)
    : QDialog(parent), spec_(spec), base_(layout) {
    setWindowTitle(tr("Parallel layout"));
    setObjectName(QStringLiteral("parallelDialog"));
    auto* form = new QFormLayout;
    auto spin = [&](const char* name, int lo, int hi, int value, const QString& tip) {
        auto* s = new QSpinBox(this);
        s->setObjectName(QLatin1String(name));
        s->setRange(lo, hi);
        s->setValue(value);
        s->setToolTip(tip);
        connect(s, &QSpinBox::valueChanged, this, &ParallelDialog::check);
        return s;
    };
    dp_ = spin("dp", 1, 1 << 16, layout.dp, tr("Data-parallel replicas: each computes the same step on its own batch."));
    zero_ = new QComboBox(this);
    zero_->setObjectName(QStringLiteral("zero"));
    zero_->addItems({tr("0: replicated (DDP)"), tr("1: optimizer state sharded"), tr("2: + gradients sharded"),
                     tr("3: + parameters sharded (FSDP)")});
    zero_->setCurrentIndex(layout.zero);
    zero_->setToolTip(tr("ZeRO stage over the replicas. Stage 3 is FSDP's full sharding: each block's parameters are "
                         "gathered while it computes and its gradients reduce-scattered after its backward "
                         "(the 'communication' band on the timeline)."));
    connect(zero_, &QComboBox::currentIndexChanged, this, &ParallelDialog::check);
    tp_ = spin("tp", 1, 1 << 16, layout.tp,
               tr("Tensor-parallel degree (Megatron-LM): projections split column- and row-wise, attention by heads, "
                  "the embedding and the head by vocabulary."));
    sp_ = new QCheckBox(tr("Sequence parallel (sp)"), this);
    sp_->setObjectName(QStringLiteral("sp"));
    sp_->setChecked(layout.sp);
    sp_->setToolTip(tr("With tp > 1: norms, dropout and the residual stream work on 1/tp of the sequence (Korthikanti et "
                       "al. 2022). Projections gather the sequence and keep only their part for backward."));
    connect(sp_, &QCheckBox::toggled, this, &ParallelDialog::check);
    pp_ = spin("pp", 1, 1 << 16, layout.pp,
               tr("Pipeline stages: the stack's units (segments and the blocks outside them) dealt out in order, the "
                  "earlier stages taking one more. The window draws the chosen rank's stage."));
    schedule_ = new QComboBox(this);
    schedule_->setObjectName(QStringLiteral("schedule"));
    schedule_->addItems({tr("1F1B: stage s holds min(pp − s, microbatches) microbatches"),
                         tr("GPipe: every stage holds all microbatches")});
    schedule_->setCurrentIndex(layout.schedule == ckpt::PipelineSchedule::gpipe ? 1 : 0);
    schedule_->setToolTip(tr("How many microbatches' activations a stage holds when its first backward starts."));
    connect(schedule_, &QComboBox::currentIndexChanged, this, &ParallelDialog::check);
    microbatches_ = spin("microbatches", 1, 1 << 16, layout.microbatches,
                         tr("Microbatches per step (gradient accumulation): each computes batch / microbatches rows."));
    rank_ = spin("rank", 0, (1 << 20) - 1, rank,
                 tr("The rank whose step the window shows (tensor rank fastest, then data rank, then stage)."));
    form->addRow(tr("Data parallel (dp)"), dp_);
    form->addRow(tr("ZeRO stage"), zero_);
    form->addRow(tr("Tensor parallel (tp)"), tp_);
    form->addRow(QString(), sp_);
    form->addRow(tr("Pipeline stages (pp)"), pp_);
    form->addRow(tr("Schedule"), schedule_);
    form->addRow(tr("Microbatches"), microbatches_);
    form->addRow(tr("Rank shown"), rank_);
    world_ = new QLabel(this);
    form->addRow(tr("Devices"), world_);
    error_ = new QLabel(this);
    error_->setObjectName(QStringLiteral("layoutError"));
    error_->setWordWrap(true);
    auto* note = new QLabel(tr("The window predicts one rank; nothing runs on more than one device yet. A pipeline is "
                               "planned on the command line: <tt>checkpointlab plan MODEL --pp P --budget B</tt>."),
                            this);
    note->setWordWrap(true);
    buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel | QDialogButtonBox::Reset, this);
    buttons_->button(QDialogButtonBox::Reset)->setText(tr("One device"));
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(buttons_->button(QDialogButtonBox::Reset), &QPushButton::clicked, this, [this] {
        dp_->setValue(1);
        zero_->setCurrentIndex(0);
        tp_->setValue(1);
        sp_->setChecked(false);
        pp_->setValue(1);
        schedule_->setCurrentIndex(0);
        microbatches_->setValue(1);
        rank_->setValue(0);
    });
    auto* box = new QVBoxLayout(this);
    box->addLayout(form);
    box->addWidget(error_);
    box->addWidget(note);
    box->addWidget(buttons_);
    check();
}

ckpt::ParallelLayout ParallelDialog::layout() const {
    ckpt::ParallelLayout p = base_;
    p.dp = dp_->value();
    p.zero = zero_->currentIndex();
    p.tp = tp_->value();
    p.sp = sp_->isChecked();
    p.pp = pp_->value();
    p.schedule = schedule_->currentIndex() == 1 ? ckpt::PipelineSchedule::gpipe : ckpt::PipelineSchedule::one_f_one_b;
    if (p.pp != base_.pp) p.stages.clear();  // a file's split has its own number of stages
    p.microbatches = microbatches_->value();
    return p;
}

int ParallelDialog::rank() const { return rank_->value(); }

QString ParallelDialog::error() const {
    const ckpt::ParallelLayout p = layout();
    if (const std::string bad = ckpt::check_layout(spec_, p); !bad.empty()) return QString::fromStdString(bad);
    if (rank() >= p.world()) return tr("rank %1 is not one of the %2 ranks").arg(rank()).arg(p.world());
    return {};
}

void ParallelDialog::check() {
    const ckpt::ParallelLayout p = layout();
    world_->setText(tr("%1 (dp × tp × pp)").arg(p.world()));
    schedule_->setEnabled(p.pp > 1);
    const QString e = error();
    error_->setText(e.isEmpty() ? QString() : QStringLiteral("<font color='#d33'>%1</font>").arg(e.toHtmlEscaped()));
    error_->setVisible(!e.isEmpty());
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(e.isEmpty());
}

QString ParallelDialog::summary(const ckpt::ParallelLayout& p, int rank) {
    if (p.single_device()) return tr("One device");
    QString s = tr("dp %1").arg(p.dp);
    if (p.zero > 0) s += p.zero == 3 ? tr(" (ZeRO-3, FSDP)") : tr(" (ZeRO-%1)").arg(p.zero);
    if (p.tp > 1) s += p.sp ? tr(" × tp %1 (SP)").arg(p.tp) : tr(" × tp %1").arg(p.tp);
    if (p.pp > 1) s += tr(" × pp %1").arg(p.pp);
    if (p.microbatches > 1) s += tr(", %1 microbatches").arg(p.microbatches);
    return s + tr(", rank %1").arg(rank);
}

}  // namespace ckptui
