// Everything about the stack that is not a tick box, editable without touching JSON: the model
// (input features, loss, optimizer and its hyperparameters, every attention layer's kernel, seed,
// dropout replay) and the block or layer selected in the stack editor (a block's name, residual
// and checkpoint flags; a layer's fields as the engine's layer-traits table lists them: widths,
// bias, LayerNorm eps and affine, attention heads, kv heads, causal, dropout and kernel, an
// embedding's vocabulary) and the model's segments as text ("1-2, 3-4"). Every change is one
// undoable edit of the stack model; a value the engine refuses is shown on its row of the tree,
// and segments it refuses are not applied: the field turns red and segmentsRefused carries the
// engine's one-line reason.
#pragma once

#include <QWidget>
#include <functional>

#include "ckpt/model_spec.h"

class QFormLayout;
class QGroupBox;
class QLineEdit;
class QScrollArea;

namespace ckptui {

class LayerStackModel;
class StackEditor;

class PropertiesPanel : public QWidget {
    Q_OBJECT

public:
    PropertiesPanel(LayerStackModel* model, StackEditor* editor, QWidget* parent = nullptr);

    // The editor of a field by its key ("lr", "in_features", "block.name", "layer.heads", ...),
    // for tests; null when the selection has no such field.
    QWidget* field(const QString& key) const;
    QString selectionTitle() const;

signals:
    // Segments typed that the engine refuses (overlapping, empty, out of range, out of order):
    // its one-line error, for a dialog; the stack keeps its segments.
    void segmentsRefused(const QString& message);

protected:
    // The wheel over an unfocused box scrolls the panel instead of changing the box (it switched
    // SGD to AdamW while a user scrolled past, doubling the peak).
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();   // the selection or the model's kind of fields changed: other fields
    void refresh();   // the spec changed: the same fields, new values
    void buildModel();
    void buildAttentionKernel();
    void buildSelection();
    // A line edit for a number: committed on Enter or leaving the field, refused (and reverted)
    // when it does not parse.
    QLineEdit* numberField(QFormLayout* form, const QString& key, const QString& label, const QString& tip,
                           std::function<QString(const ckpt::ModelSpec&)> show,
                           std::function<bool(ckpt::ModelSpec&, const QString&)> set);
    void addField(QFormLayout* form, const QString& key, const QString& label, QWidget* w, const QString& tip);

    LayerStackModel* model_;
    StackEditor* editor_;
    QGroupBox *modelBox_, *selectionBox_;
    QFormLayout *modelForm_, *selectionForm_;
    QMap<QString, QWidget*> fields_;
    QList<std::function<void()>> refreshers_;  // set each field from the spec
    QString modelFormKey() const;
    QString modelKey_;                         // modelFormKey() when the form was built
    int block_ = -1, layer_ = -1;              // what the selection group shows
    ckpt::LayerType layerType_ = ckpt::LayerType::linear;
    QString modelShape_;  // what the model group's fields depend on (the optimizer, the input)
    QScrollArea* scroll_;
    bool refreshing_ = false;
};

}  // namespace ckptui
