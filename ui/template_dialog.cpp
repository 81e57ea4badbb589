// The template dialog (see template_dialog.h).
#include "ui/template_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "ckpt/names.h"
#include "ckpt/units.h"
#include "ui/style.h"

namespace ckptui {

// One knob of ckpt::TemplateKnobs: its editor is a spin box (count), a decimal box (number) or
// a check box (flag).
struct TemplateKnob {
    const char* key;
    const char* label;
    const char* tip;
    int64_t ckpt::TemplateKnobs::*count = nullptr;
    double ckpt::TemplateKnobs::*number = nullptr;
    bool ckpt::TemplateKnobs::*flag = nullptr;
    int lo = 1, hi = 1 << 30;
};

// A family: the knobs it reads, with the values the dialog starts from (small enough to run a
// step on a laptop's CPU).
struct TemplateFamily {
    ckpt::TemplateKind kind;
    const char* title;
    const char* blurb;
    std::vector<std::pair<const char*, double>> knobs;
};

namespace {

using K = ckpt::TemplateKnobs;

// A whole number grouped as the rest of the window writes it (style.h: groupedCount): never
// "50.257" for a vocabulary beside decimals written with a point.
class CountSpinBox : public QSpinBox {
public:
    using QSpinBox::QSpinBox;

protected:
    QString textFromValue(int v) const override { return groupedCount(v); }
    int valueFromText(const QString& text) const override {
        bool ok = false;
        return int(parseGroupedCount(text, &ok));
    }
    QValidator::State validate(QString& text, int&) const override {
        if (text.trimmed().isEmpty()) return QValidator::Intermediate;
        bool ok = false;
        const qint64 v = parseGroupedCount(text, &ok);
        if (!ok) return QValidator::Invalid;
        return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    }
};

const std::vector<TemplateKnob>& knobTable() {
    static const std::vector<TemplateKnob> t{
        {"depth", "Depth", "Blocks (MLPs), transformer layers, or a ResNet's basic blocks per stage.", &K::depth},
        {"width", "Width", "Features of the MLP, the transformer's hidden size d, or a ResNet's first-stage channels.",
         &K::width},
        {"image", "Image size", "A ResNet's square RGB input, this many pixels on a side.", &K::image},
        {"heads", "Heads", "Attention (query) heads; the width must be a multiple of it.", &K::heads},
        {"kv_heads", "KV heads", "Key/value heads: fewer than heads is grouped-query attention.", &K::kv_heads},
        {"ffn", "FFN width", "The SwiGLU width; 0 takes 8/3 of the width, rounded up to a multiple of 64.", &K::ffn,
         nullptr, nullptr, 0},
        {"seq", "Sequence", "Tokens per sequence. Attention memory grows with its square.", &K::seq},
        {"batch", "Batch", "Rows (MLPs), sequences or images per step. Activations grow in proportion.", &K::batch},
        {"vocab", "Vocabulary", "Token ids 0 .. vocab-1: rows of the embedding and width of the head.", &K::vocab},
        {"dropout", "Dropout", "Drop probability after each block (MLPs) or in attention and after each sub-block.",
         nullptr, &K::dropout, nullptr, 0, 1},
        {"tied", "Tied head", "The output head shares the embedding table (one parameter, counted once).", nullptr,
         nullptr, &K::tied},
    };
    return t;
}

const TemplateKnob* findKnob(const QString& key) {
    for (const TemplateKnob& k : knobTable())
        if (key == QLatin1String(k.key)) return &k;
    return nullptr;
}

}  // namespace

const std::vector<TemplateFamily>& templateFamilies() {
    static const std::vector<TemplateFamily> t{
        {ckpt::TemplateKind::mlp, "MLP", "The textbook classifier: hidden Linear + ReLU layers, cross-entropy over 10 classes.",
         {{"depth", 4}, {"width", 512}, {"batch", 256}, {"dropout", 0}}},
        {ckpt::TemplateKind::residual_mlp, "Residual MLP",
         "Pre-norm residual blocks x + Linear(GELU(Linear(LayerNorm(x)))), 4x hidden, MSE loss, AdamW.",
         {{"depth", 8}, {"width", 512}, {"batch", 256}, {"dropout", 0}}},
        {ckpt::TemplateKind::gpt2, "GPT-2", "A GPT-2-style decoder: learned positions, LayerNorm, GELU MLP, causal attention.",
         {{"depth", 4}, {"width", 256}, {"heads", 4}, {"seq", 128}, {"batch", 4}, {"vocab", 50257}, {"dropout", 0.1}, {"tied", 1}}},
        {ckpt::TemplateKind::llama, "LLaMA",
         "A LLaMA-style decoder: RMSNorm, SwiGLU, rotary positions, grouped-query attention.",
         {{"depth", 4}, {"width", 256}, {"heads", 8}, {"kv_heads", 2}, {"ffn", 0}, {"seq", 128}, {"batch", 4}, {"vocab", 32000},
          {"tied", 0}}},
        {ckpt::TemplateKind::resnet, "ResNet",
         "A CIFAR-style ResNet: three stages of basic blocks at width, 2 x width and 4 x width channels, projection "
         "shortcuts, batch norm (depth 3, width 16, image 32 is ResNet-20).",
         {{"depth", 3}, {"width", 16}, {"image", 32}, {"batch", 32}}},
    };
    return t;
}

TemplateDialog::TemplateDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("New from template"));
    setObjectName(QStringLiteral("templateDialog"));
    family_ = new QComboBox(this);
    family_->setObjectName(QStringLiteral("templateFamily"));
    for (const TemplateFamily& f : templateFamilies()) {
        family_->addItem(tr(f.title), int(f.kind));
        family_->setItemData(family_->count() - 1, tr(f.blurb), Qt::ToolTipRole);
    }
    form_ = new QFormLayout;
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("templateStatus"));
    status_->setWordWrap(true);
    buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons_->button(QDialogButtonBox::Ok)->setText(tr("Create"));
    auto* top = new QFormLayout;
    top->addRow(tr("Family"), family_);
    auto* v = new QVBoxLayout(this);
    v->addLayout(top);
    v->addLayout(form_);
    v->addWidget(status_);
    v->addWidget(buttons_);
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(family_, qOverload<int>(&QComboBox::currentIndexChanged), this, &TemplateDialog::rebuild);
    rebuild();
}

void TemplateDialog::setFamily(ckpt::TemplateKind kind) { family_->setCurrentIndex(family_->findData(int(kind))); }

ckpt::TemplateKind TemplateDialog::family() const { return ckpt::TemplateKind(family_->currentData().toInt()); }

void TemplateDialog::rebuild() {
    while (form_->rowCount() > 0) form_->removeRow(0);
    editors_.clear();
    const TemplateFamily* fam = nullptr;
    for (const TemplateFamily& f : templateFamilies())
        if (f.kind == family()) fam = &f;
    if (!fam) return;
    for (const auto& [key, value] : fam->knobs) {
        const TemplateKnob* k = findKnob(QString::fromLatin1(key));
        if (!k) continue;
        QWidget* w = nullptr;
        if (k->count) {
            auto* box = new CountSpinBox(this);
            box->setRange(k->lo, k->hi);
            box->setValue(int(value));
            connect(box, qOverload<int>(&QSpinBox::valueChanged), this, &TemplateDialog::refresh);
            w = box;
        } else if (k->number) {
            auto* box = new QDoubleSpinBox(this);
            box->setRange(k->lo, k->hi - 0.01);
            box->setDecimals(2);
            box->setSingleStep(0.05);
            box->setValue(value);
            connect(box, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &TemplateDialog::refresh);
            w = box;
        } else {
            auto* box = new QCheckBox(this);
            box->setChecked(value != 0);
            connect(box, &QCheckBox::toggled, this, &TemplateDialog::refresh);
            w = box;
        }
        w->setObjectName(QStringLiteral("knob_%1").arg(QLatin1String(key)));
        w->setToolTip(tr(k->tip));
        editors_.insert(QString::fromLatin1(key), w);
        form_->addRow(tr(k->label), w);
    }
    // The transformers' attention kernel: flash by default, as Hugging Face's sdpa.
    if (fam->kind == ckpt::TemplateKind::gpt2 || fam->kind == ckpt::TemplateKind::llama) {
        auto* attention = new QComboBox(this);
        attention->setObjectName(QStringLiteral("knob_attention"));
        for (const auto& [impl, name] : ckpt::enum_names<ckpt::AttentionImpl>())
            attention->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(impl));
        attention->setCurrentIndex(attention->findData(int(ckpt::TemplateKnobs{}.attention)));
        attention->setToolTip(tr("flash: the fused kernel people train with (FlashAttention-2, PyTorch's "
                                 "scaled_dot_product_attention), keeping a log-sum-exp per row and head; eager: explicit "
                                 "attention, keeping the heads x T x T softmax output for backward."));
        connect(attention, qOverload<int>(&QComboBox::currentIndexChanged), this, &TemplateDialog::refresh);
        editors_.insert(QStringLiteral("attention"), attention);
        form_->addRow(tr("Attention"), attention);
    }
    // Every family runs in every precision.
    auto* precision = new QComboBox(this);
    precision->setObjectName(QStringLiteral("knob_precision"));
    for (const auto& [p, name] : ckpt::enum_names<ckpt::Precision>())
        precision->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(p));
    precision->setToolTip(tr("f32, or mixed precision as PyTorch's autocast: 16-bit matrix products, f32 weights, "
                             "gradients and optimizer state."));
    connect(precision, qOverload<int>(&QComboBox::currentIndexChanged), this, &TemplateDialog::refresh);
    editors_.insert(QStringLiteral("precision"), precision);
    form_->addRow(tr("Precision"), precision);
    refresh();
}

void TemplateDialog::setKnob(const QString& key, double value) {
    QWidget* w = editors_.value(key);
    if (auto* s = qobject_cast<QSpinBox*>(w)) s->setValue(int(value));
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(w)) d->setValue(value);
    else if (auto* c = qobject_cast<QCheckBox*>(w)) c->setChecked(value != 0);
    else if (auto* p = qobject_cast<QComboBox*>(w)) p->setCurrentIndex(p->findData(int(value)));
}

ckpt::TemplateKnobs TemplateDialog::knobs() const {
    ckpt::TemplateKnobs k;
    for (auto it = editors_.begin(); it != editors_.end(); ++it) {
        if (it.key() == QLatin1String("precision")) {
            k.precision = ckpt::Precision(qobject_cast<QComboBox*>(it.value())->currentData().toInt());
            continue;
        }
        if (it.key() == QLatin1String("attention")) {
            k.attention = ckpt::AttentionImpl(qobject_cast<QComboBox*>(it.value())->currentData().toInt());
            continue;
        }
        const TemplateKnob* knob = findKnob(it.key());
        if (auto* s = qobject_cast<QSpinBox*>(it.value())) k.*(knob->count) = s->value();
        else if (auto* d = qobject_cast<QDoubleSpinBox*>(it.value())) k.*(knob->number) = d->value();
        else if (auto* c = qobject_cast<QCheckBox*>(it.value())) k.*(knob->flag) = c->isChecked();
    }
    // A family without a kv_heads knob has as many as heads.
    if (!editors_.contains(QStringLiteral("kv_heads"))) k.kv_heads = k.heads;
    return k;
}

ckpt::Result<ckpt::ModelSpec> TemplateDialog::model() const { return ckpt::make_template(family(), knobs()); }

QString TemplateDialog::title() const {
    const ckpt::TemplateKnobs k = knobs();
    return tr("%1 (depth %2, width %3)").arg(family_->currentText()).arg(k.depth).arg(k.width);
}

QString TemplateDialog::status() const { return status_->text(); }

void TemplateDialog::refresh() {
    const ckpt::Result<ckpt::ModelSpec> m = model();
    if (m) {
        status_->setText(tr("%1 blocks, %2 parameters. %3")
                             .arg(m->blocks.size())
                             .arg(groupedCount(ckpt::parameter_count(*m)),
                                  QString::fromStdString(m->description).toHtmlEscaped()));
        status_->setStyleSheet(QString());
    } else {
        status_->setText(QString::fromStdString(m.error().message));
        status_->setStyleSheet(QStringLiteral("color: #c00"));
    }
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(m.ok());
}

}  // namespace ckptui
