// The properties panel (see properties_panel.h). The layer fields come from the engine's
// layer-traits table (ckpt/layer_traits.h), the one place a layer type's fields are listed; the
// field that follows the layer before (a linear's "in") is shown but not editable.
#include "ui/properties_panel.h"

#include <QCheckBox>
#include <QAbstractSpinBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QScrollBar>
#include <QWheelEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSet>
#include <QTreeView>
#include <QVBoxLayout>

#include "ckpt/layer_traits.h"
#include "ckpt/names.h"
#include "ckpt/templates.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"
#include "ui/style.h"

namespace ckptui {

namespace {

QString num(double v) { return QString::number(v, 'g', 10); }

bool parseCount(const QString& text, int64_t lo, int64_t* out) {
    bool ok = false;
    const qlonglong v = text.trimmed().toLongLong(&ok);
    if (!ok || v < lo || v > (qlonglong(1) << 31) - 1) return false;
    *out = v;
    return true;
}

// The fields the model group has depend on these: the optimizer's hyperparameters, the input's
// features. When they change, the group is built again, not just refilled.
QString modelShape(const ckpt::ModelSpec& s) {
    return QStringLiteral("%1/%2/%3").arg(int(s.optimizer.type)).arg(s.token_input()).arg(s.input_shape.empty());
}

bool parseNumber(const QString& text, double* out) {
    bool ok = false;
    const double v = text.trimmed().toDouble(&ok);
    if (!ok || !std::isfinite(v)) return false;
    *out = v;
    return true;
}

}  // namespace

PropertiesPanel::PropertiesPanel(LayerStackModel* model, StackEditor* editor, QWidget* parent)
    : QWidget(parent), model_(model), editor_(editor) {
    setObjectName(QStringLiteral("properties"));
    auto* inner = new QWidget;
    auto* v = new QVBoxLayout(inner);
    v->setContentsMargins(4, 4, 4, 4);
    modelBox_ = new QGroupBox(tr("Model"), inner);
    modelForm_ = new QFormLayout(modelBox_);
    selectionBox_ = new QGroupBox(inner);
    selectionForm_ = new QFormLayout(selectionBox_);
    for (QFormLayout* f : {modelForm_, selectionForm_}) f->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    v->addWidget(selectionBox_);
    v->addWidget(modelBox_);
    v->addStretch();
    auto* scroll = scroll_ = new QScrollArea(this);
    scroll->setWidget(inner);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(scroll);
    connect(editor_->view()->selectionModel(), &QItemSelectionModel::currentChanged, this, &PropertiesPanel::rebuild);
    connect(model_, &LayerStackModel::specChanged, this, [this] {
        // A structural edit can move the selection's target: rebuild; otherwise new values only.
        const QModelIndex i = editor_->view()->currentIndex();
        const int b = i.isValid() ? (i.parent().isValid() ? i.parent().row() : i.row()) : -1;
        const int l = i.isValid() && i.parent().isValid() ? i.row() : -1;
        const auto& blocks = model_->spec().blocks;
        const bool same = b == block_ && l == layer_ && modelShape(model_->spec()) == modelShape_ &&
                          (l < 0 || (b < int(blocks.size()) && l < int(blocks[size_t(b)].layers.size()) &&
                                     blocks[size_t(b)].layers[size_t(l)].type == layerType_));
        if (!same) rebuild();
        else if (modelFormKey() != modelKey_)
            // Other model fields (an optimizer's, the attention kernel): rebuilt once the edit
            // that changed them, maybe from one of these fields, has returned.
            QMetaObject::invokeMethod(this, &PropertiesPanel::rebuild, Qt::QueuedConnection);
        else refresh();
    });
    rebuild();
}

QWidget* PropertiesPanel::field(const QString& key) const { return fields_.value(key); }

bool PropertiesPanel::eventFilter(QObject* watched, QEvent* event) {
    auto* w = qobject_cast<QWidget*>(watched);
    if (event->type() != QEvent::Wheel || !w || w->hasFocus()) return QWidget::eventFilter(watched, event);
    // Scroll the panel as if the box were not there.
    QCoreApplication::sendEvent(scroll_->verticalScrollBar(), event);
    return true;
}
QString PropertiesPanel::selectionTitle() const { return selectionBox_->isVisible() ? selectionBox_->title() : QString(); }

void PropertiesPanel::addField(QFormLayout* form, const QString& key, const QString& label, QWidget* w, const QString& tip) {
    w->setObjectName(QStringLiteral("prop_") + key);
    if (qobject_cast<QCheckBox*>(w)) w->setStyle(contrastCheckStyle());
    if (qobject_cast<QComboBox*>(w) || qobject_cast<QAbstractSpinBox*>(w)) {
        w->setFocusPolicy(Qt::StrongFocus);  // not Qt::WheelFocus: the wheel alone gives no focus
        w->installEventFilter(this);
    }
    w->setToolTip(tip);
    auto* l = new QLabel(label);
    l->setToolTip(tip);
    form->addRow(l, w);
    fields_.insert(key, w);
}

QLineEdit* PropertiesPanel::numberField(QFormLayout* form, const QString& key, const QString& label, const QString& tip,
                                        std::function<QString(const ckpt::ModelSpec&)> show,
                                        std::function<bool(ckpt::ModelSpec&, const QString&)> set) {
    auto* e = new QLineEdit;
    addField(form, key, label, e, tip);
    refreshers_ << [this, e, show] {
        e->setText(show(model_->spec()));
        e->setStyleSheet(QString());
    };
    connect(e, &QLineEdit::editingFinished, this, [this, e, show, set, label] {
        if (refreshing_ || e->text() == show(model_->spec())) return;
        ckpt::ModelSpec n = model_->spec();
        if (!set(n, e->text())) {
            // Not a number of the right kind: say so on the field, keep the stack as it is.
            e->setStyleSheet(QStringLiteral("QLineEdit { border: 1px solid #c00; }"));
            e->setToolTip(tr("\"%1\" is not a value %2 can take.").arg(e->text(), label.toLower()));
            return;
        }
        model_->applyEdit([&n](ckpt::ModelSpec& s) { s = n; }, tr("edit %1").arg(label.toLower()));
    });
    return e;
}

// What decides which model fields there are: the input's kind, the optimizer's hyperparameters,
// whether any layer is attention (its kernel). A change of it rebuilds the form.
QString PropertiesPanel::modelFormKey() const {
    const ckpt::ModelSpec& s = model_->spec();
    bool attention = false;
    for (const ckpt::BlockSpec& b : s.blocks)
        for (size_t l = 0; l < b.layer_count() && !attention; ++l) attention = b.layer(l).type == ckpt::LayerType::attention;
    return QStringLiteral("%1 %2 %3").arg(s.token_input()).arg(int(s.optimizer.type)).arg(attention);
}

void PropertiesPanel::rebuild() {
    modelKey_ = modelFormKey();
    const QModelIndex i = editor_->view()->currentIndex();
    block_ = i.isValid() ? (i.parent().isValid() ? i.parent().row() : i.row()) : -1;
    layer_ = i.isValid() && i.parent().isValid() ? i.row() : -1;
    fields_.clear();
    refreshers_.clear();
    modelShape_ = modelShape(model_->spec());
    // Taken out now, deleted later: the edit that rebuilds the form may come from one of its own
    // boxes (the optimizer combo), still on the stack.
    for (QFormLayout* f : {modelForm_, selectionForm_})
        while (f->rowCount() > 0) {
            const QFormLayout::TakeRowResult row = f->takeRow(0);
            for (QLayoutItem* item : {row.labelItem, row.fieldItem}) {
                if (!item) continue;
                if (QWidget* w = item->widget()) {
                    w->hide();
                    w->deleteLater();
                }
                delete item;
            }
        }
    buildSelection();
    buildModel();
    refresh();
}

void PropertiesPanel::refresh() {
    refreshing_ = true;
    for (const auto& r : refreshers_) r();
    refreshing_ = false;
}

void PropertiesPanel::buildModel() {
    const ckpt::ModelSpec& s = model_->spec();
    using S = ckpt::ModelSpec;
    if (!s.token_input() && !s.input_shape.empty())
        numberField(modelForm_, QStringLiteral("in_features"), tr("Input features"),
                    tr("Features of each input row: the width the first layer takes."),
                    [](const S& s) { return s.input_shape.empty() ? QString() : QString::number(s.input_shape.back()); },
                    [](S& s, const QString& t) {
                        int64_t v = 0;
                        if (s.input_shape.empty() || !parseCount(t, 1, &v)) return false;
                        s.input_shape.back() = v;
                        return true;
                    });
    auto* loss = new QComboBox;
    for (const auto& [value, name] : ckpt::enum_names<ckpt::LossType>())
        loss->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(value));
    addField(modelForm_, QStringLiteral("loss"), tr("Loss"), loss,
             tr("mse against a target of the output's shape, or cross_entropy over class ids (it keeps the softmax for backward)."));
    refreshers_ << [this, loss] { loss->setCurrentIndex(loss->findData(int(model_->spec().loss))); };
    connect(loss, qOverload<int>(&QComboBox::activated), this, [this, loss](int i) {
        model_->applyEdit([t = ckpt::LossType(loss->itemData(i).toInt())](S& s) { s.loss = t; }, tr("loss"));
    });
    auto* opt = new QComboBox;
    for (const auto& [value, name] : ckpt::enum_names<ckpt::OptimizerType>())
        opt->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(value));
    addField(modelForm_, QStringLiteral("optimizer"), tr("Optimizer"), opt,
             tr("none, SGD (momentum adds one buffer per parameter) or AdamW (two moments per parameter)."));
    refreshers_ << [this, opt] { opt->setCurrentIndex(opt->findData(int(model_->spec().optimizer.type))); };
    connect(opt, qOverload<int>(&QComboBox::activated), this, [this, opt](int i) {
        model_->applyEdit([t = ckpt::OptimizerType(opt->itemData(i).toInt())](S& s) { s.optimizer.type = t; }, tr("optimizer"));
    });
    // The hyperparameters of the optimizer chosen.
    auto hyper = [this](const QString& key, const QString& label, const QString& tip, double ckpt::OptimizerSpec::*m, bool positive) {
        numberField(modelForm_, key, label, tip, [m](const S& s) { return num(s.optimizer.*m); },
                    [m, positive](S& s, const QString& t) {
                        double v = 0;
                        if (!parseNumber(t, &v) || v < 0 || (positive && v == 0)) return false;
                        s.optimizer.*m = v;
                        return true;
                    });
    };
    if (s.optimizer.type != ckpt::OptimizerType::none)
        hyper(QStringLiteral("lr"), tr("Learning rate"), tr("The step size of every update."), &ckpt::OptimizerSpec::lr, false);
    if (s.optimizer.type == ckpt::OptimizerType::sgd)
        hyper(QStringLiteral("momentum"), tr("Momentum"), tr("0: no momentum buffer; above 0 SGD keeps one per parameter."),
              &ckpt::OptimizerSpec::momentum, false);
    if (s.optimizer.type == ckpt::OptimizerType::adamw) {
        hyper(QStringLiteral("beta1"), tr("Beta 1"), tr("Decay of AdamW's first moment (0.9)."), &ckpt::OptimizerSpec::beta1, false);
        hyper(QStringLiteral("beta2"), tr("Beta 2"), tr("Decay of AdamW's second moment (0.999)."), &ckpt::OptimizerSpec::beta2, false);
        hyper(QStringLiteral("eps"), tr("Epsilon"), tr("Added to the second moment's root (1e-8)."), &ckpt::OptimizerSpec::eps, true);
    }
    if (s.optimizer.type != ckpt::OptimizerType::none)
        hyper(QStringLiteral("weight_decay"), tr("Weight decay"), tr("AdamW: decoupled; SGD: L2."), &ckpt::OptimizerSpec::weight_decay, false);
    buildAttentionKernel();
    numberField(modelForm_, QStringLiteral("seed"), tr("Seed"), tr("Parameters, the batch and dropout masks are drawn from it."),
                [](const S& s) { return QString::number(s.seed); },
                [](S& s, const QString& t) {
                    bool ok = false;
                    const qulonglong v = t.trimmed().toULongLong(&ok);
                    if (!ok) return false;
                    s.seed = v;
                    return true;
                });
    // Segments: runs of blocks checkpointed as one, typed as block ranges.
    auto* segments = new QLineEdit;
    addField(modelForm_, QStringLiteral("segments"), tr("Segments"), segments,
             tr("Runs of blocks checkpointed as one, e.g. \"1-2, 3-4\": when their blocks are checkpointed, a segment "
                "keeps only its first block's input and recomputes all of them at once in backward (Chen et al. 2016). "
                "A transformer layer's two blocks are one. Ctrl+G groups the selected blocks."));
    auto segmentsText = [](const S& s) {
        QStringList parts;
        for (const ckpt::BlockRange& g : s.segments) parts << QString::fromStdString(ckpt::format_block_range(g));
        return parts.join(QStringLiteral(", "));
    };
    segments->setPlaceholderText(tr("none: every block alone"));
    refreshers_ << [this, segments, segmentsText] {
        segments->setText(segmentsText(model_->spec()));
        segments->setStyleSheet(QString());
    };
    connect(segments, &QLineEdit::editingFinished, this, [this, segments, segmentsText] {
        if (refreshing_ || segments->text() == segmentsText(model_->spec())) return;
        // Read and judged by the engine, with its messages; nothing changes until they pass.
        std::vector<ckpt::BlockRange> typed;
        std::string error;
        const QStringList parts = segments->text().split(QLatin1Char(','));
        for (int i = 0; i < parts.size() && error.empty(); ++i) {
            if (parts.size() == 1 && parts[i].trimmed().isEmpty()) break;  // cleared: no segments
            ckpt::Result<ckpt::BlockRange> r = ckpt::parse_block_range(parts[i].toStdString());
            if (r) typed.push_back(*r);
            else error = "segments[" + std::to_string(i) + "]: " + r.error().message;
        }
        if (error.empty()) error = ckpt::check_segments(typed, int(model_->spec().blocks.size()));
        if (!error.empty()) {
            segments->setStyleSheet(QStringLiteral("QLineEdit { border: 1px solid #c00; }"));
            segments->setToolTip(QString::fromStdString(error));
            emit segmentsRefused(QString::fromStdString(error));
            return;
        }
        model_->applyEdit([typed](S& s) { s.segments = typed; }, tr("edit segments"));
    });
    auto* rng = new QCheckBox(tr("replay dropout masks"));
    addField(modelForm_, QStringLiteral("preserve_rng"), tr("Recompute"), rng,
             tr("Recomputation replays the same dropout masks, so checkpointed gradients are bitwise the unchecked ones. "
                "Untick to see them differ."));
    refreshers_ << [this, rng] { rng->setChecked(model_->spec().preserve_rng); };
    connect(rng, &QCheckBox::toggled, this, [this](bool on) {
        if (!refreshing_) model_->applyEdit([on](S& s) { s.preserve_rng = on; }, tr("preserve rng"));
    });
}

// Every attention layer's kernel at once (a layer's own is in its selection): "mixed" when they
// differ, not offered for a model without attention.
void PropertiesPanel::buildAttentionKernel() {
    using S = ckpt::ModelSpec;
    auto kernels = [](const S& s) {
        QSet<int> k;
        for (const ckpt::BlockSpec& b : s.blocks)
            for (size_t l = 0; l < b.layer_count(); ++l)
                if (b.layer(l).type == ckpt::LayerType::attention) k.insert(int(b.layer(l).impl));
        return k;
    };
    if (kernels(model_->spec()).isEmpty()) return;
    auto* c = new QComboBox;
    for (const auto& [value, name] : ckpt::enum_names<ckpt::AttentionImpl>())
        c->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(value));
    addField(modelForm_, QStringLiteral("attention_impl"), tr("Attention"), c,
             tr("The kernel of every attention layer. eager keeps the softmax output (heads x T x T floats per sequence) "
                "for backward, as PyTorch's explicit attention; flash (FlashAttention-2, PyTorch's "
                "scaled_dot_product_attention) keeps a log-sum-exp per row and head and recomputes the rest in its "
                "backward."));
    refreshers_ << [this, c, kernels] {
        const QSet<int> k = kernels(model_->spec());
        if (c->findData(-1) >= 0) c->removeItem(c->findData(-1));
        if (k.size() > 1) c->addItem(tr("mixed"), -1);
        c->setCurrentIndex(c->findData(k.size() == 1 ? *k.begin() : -1));
    };
    connect(c, qOverload<int>(&QComboBox::activated), this, [this, c](int i) {
        const int v = c->itemData(i).toInt();
        if (v < 0) return;
        model_->applyEdit([v](S& s) { ckpt::set_attention_impl(s, ckpt::AttentionImpl(v)); }, tr("attention kernel"));
    });
}

void PropertiesPanel::buildSelection() {
    const ckpt::ModelSpec& s = model_->spec();
    using S = ckpt::ModelSpec;
    if (block_ < 0 || block_ >= int(s.blocks.size())) {
        selectionBox_->hide();
        return;
    }
    selectionBox_->show();
    const int b = block_;
    if (layer_ < 0) {
        selectionBox_->setTitle(tr("Block %1").arg(b));
        auto* name = new QLineEdit;
        addField(selectionForm_, QStringLiteral("block.name"), tr("Name"), name, tr("Shown in the charts and the report."));
        refreshers_ << [this, name, b] { name->setText(QString::fromStdString(model_->spec().blocks[size_t(b)].name)); };
        connect(name, &QLineEdit::editingFinished, this, [this, name, b] {
            const std::string v = name->text().trimmed().toStdString();
            if (refreshing_ || v.empty() || v == model_->spec().blocks[size_t(b)].name) return;
            model_->applyEdit([b, v](S& s) { s.blocks[size_t(b)].name = v; }, tr("rename block"));
        });
        auto flag = [this, b](const QString& key, const QString& label, const QString& tip, bool ckpt::BlockSpec::*m) {
            auto* c = new QCheckBox;
            addField(selectionForm_, key, label, c, tip);
            refreshers_ << [this, c, b, m] { c->setChecked(model_->spec().blocks[size_t(b)].*m); };
            connect(c, &QCheckBox::toggled, this, [this, b, m, label](bool on) {
                if (!refreshing_) model_->applyEdit([b, m, on](S& s) { s.blocks[size_t(b)].*m = on; }, label.toLower());
            });
        };
        flag(QStringLiteral("block.checkpoint"), tr("Checkpoint"),
             tr("Keep only the block's input in forward; recompute it in backward. In a segment the stack's tick "
                "covers all its blocks; this box sets this block alone."),
             &ckpt::BlockSpec::checkpoint);
        flag(QStringLiteral("block.residual"), tr("Residual"), tr("y = x + layers(x): the output width must equal the input's."),
             &ckpt::BlockSpec::residual);
        return;
    }
    const ckpt::LayerSpec& layer = s.blocks[size_t(b)].layers[size_t(layer_)];
    layerType_ = layer.type;
    const ckpt::LayerTraits& t = ckpt::layer_traits(layer.type);
    selectionBox_->setTitle(tr("Block %1, layer %2: %3").arg(b).arg(layer_).arg(QString::fromUtf8(t.name)));
    selectionBox_->setToolTip(QString::fromUtf8(t.summary));
    const int l = layer_;
    for (const ckpt::LayerField& f : t.fields) {
        const QString key = QStringLiteral("layer.") + QString::fromUtf8(f.key);
        const QString tip = QString::fromUtf8(f.help);
        if (t.input_field && QString::fromUtf8(t.input_field) == QString::fromUtf8(f.key)) {
            // Follows the layer before: shown, not edited.
            auto* shown = new QLabel;
            addField(selectionForm_, key, QString::fromUtf8(f.key), shown, tip + tr(" (follows the layer before)"));
            refreshers_ << [this, shown, b, l, f] {
                shown->setText(tr("%1 (from the layer before)").arg(model_->spec().blocks[size_t(b)].layers[size_t(l)].*(f.dim)));
            };
            continue;
        }
        if (f.kind == ckpt::LayerField::Kind::flag) {
            auto* c = new QCheckBox;
            addField(selectionForm_, key, QString::fromUtf8(f.key), c, tip);
            refreshers_ << [this, c, b, l, f] { c->setChecked(model_->spec().blocks[size_t(b)].layers[size_t(l)].*(f.flag)); };
            connect(c, &QCheckBox::toggled, this, [this, b, l, f](bool on) {
                if (!refreshing_)
                    model_->applyEdit([b, l, f, on](S& s) { s.blocks[size_t(b)].layers[size_t(l)].*(f.flag) = on; },
                                      tr("edit %1").arg(QString::fromUtf8(f.key)));
            });
            continue;
        }
        if (f.kind == ckpt::LayerField::Kind::choice) {
            auto* c = new QComboBox;
            for (const std::string_view name : f.choices) c->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())));
            addField(selectionForm_, key, QString::fromUtf8(f.key), c, tip);
            refreshers_ << [this, c, b, l, f] { c->setCurrentIndex(f.get_choice(model_->spec().blocks[size_t(b)].layers[size_t(l)])); };
            connect(c, qOverload<int>(&QComboBox::activated), this, [this, b, l, f](int i) {
                model_->applyEdit([b, l, f, i](S& s) { f.set_choice(s.blocks[size_t(b)].layers[size_t(l)], i); },
                                  tr("edit %1").arg(QString::fromUtf8(f.key)));
            });
            continue;
        }
        const bool dim = f.kind == ckpt::LayerField::Kind::dim;
        numberField(selectionForm_, key, QString::fromUtf8(f.key), tip,
                    [b, l, f, dim](const S& s) {
                        const ckpt::LayerSpec& x = s.blocks[size_t(b)].layers[size_t(l)];
                        return dim ? QString::number(x.*(f.dim)) : num(x.*(f.number));
                    },
                    [b, l, f, dim](S& s, const QString& text) {
                        ckpt::LayerSpec& x = s.blocks[size_t(b)].layers[size_t(l)];
                        if (dim) {
                            int64_t v = 0;
                            if (!parseCount(text, f.required ? 1 : 0, &v)) return false;
                            x.*(f.dim) = v;
                        } else {
                            double v = 0;
                            if (!parseNumber(text, &v)) return false;
                            x.*(f.number) = v;  // the engine checks its range and says so on the row
                        }
                        return true;
                    });
    }
    if (t.fields.empty()) selectionForm_->addRow(new QLabel(tr("No settings: %1").arg(QString::fromUtf8(t.summary))));
}

}  // namespace ckptui
