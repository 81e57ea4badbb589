// File > New from template: a model family (MLP, residual MLP, GPT-2, LLaMA, ResNet) and its
// knobs (depth, width, heads, kv heads, ffn, sequence, image size, batch, vocabulary, dropout,
// tied head, the transformers' attention kernel, precision). The knobs a family reads come from one small table in template_dialog.cpp, so a
// new family (a ResNet) is one row there; the model is the engine's make_template, and the
// dialog shows its parameter count, or the engine's one-line reason it cannot be built, as the
// knobs change.
#pragma once

#include <QDialog>
#include <QMap>

#include "ckpt/templates.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QDialogButtonBox;

namespace ckptui {

struct TemplateKnob;
struct TemplateFamily;

// The families the dialog offers, in menu order, with their knobs and defaults.
const std::vector<TemplateFamily>& templateFamilies();

class TemplateDialog : public QDialog {
    Q_OBJECT

public:
    explicit TemplateDialog(QWidget* parent = nullptr);

    void setFamily(ckpt::TemplateKind kind);
    // "depth", "width", ...; "precision" and "attention" take the enum's value (tests and scripts).
    void setKnob(const QString& key, double value);
    ckpt::TemplateKind family() const;
    ckpt::TemplateKnobs knobs() const;
    // The model the knobs make, or the engine's reason in `error`.
    ckpt::Result<ckpt::ModelSpec> model() const;
    QString title() const;  // "GPT-2 (12 layers, d 768)"
    QString status() const;

private:
    void rebuild();   // the form for the chosen family
    void refresh();   // the parameter count or the error, and OK

    QComboBox* family_;
    QFormLayout* form_;
    QLabel* status_;
    QDialogButtonBox* buttons_;
    QMap<QString, QWidget*> editors_;  // knob key -> its spin box, check box or combo
};

}  // namespace ckptui
