// Run › Parallel layout…: one rank of a layout over several GPUs (ckpt/parallel.h) for the view
// to predict: data-parallel replicas and their ZeRO stage (3 is FSDP), the tensor-parallel degree
// and sequence parallelism, pipeline stages and their schedule, microbatches and the rank shown.
// The engine checks the layout against the model as the fields change; a layout it refuses is
// named in red and cannot be applied. A pipeline rank's step is drawn in the whole stack's block
// numbers (in_whole_model).
#pragma once

#include <QDialog>

#include "ckpt/model_spec.h"
#include "ckpt/parallel.h"

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QSpinBox;

namespace ckptui {

class ParallelDialog : public QDialog {
    Q_OBJECT

public:
    ParallelDialog(const ckpt::ModelSpec& spec, const ckpt::ParallelLayout& layout, int rank, QWidget* parent = nullptr);

    ckpt::ParallelLayout layout() const;
    int rank() const;
    QString error() const;  // "" when the layout fits the model

    // "one device", or "dp 8 (ZeRO-3, FSDP) × tp 2, rank 0" for the run bar.
    static QString summary(const ckpt::ParallelLayout& layout, int rank);

private:
    void check();

    ckpt::ModelSpec spec_;
    ckpt::ParallelLayout base_;  // what the dialog does not edit (pipeline stages) is kept
    QSpinBox *dp_, *tp_, *pp_, *microbatches_, *rank_;
    QCheckBox* sp_;
    QComboBox *zero_, *schedule_;
    QLabel* world_;
    QLabel* error_;
    QDialogButtonBox* buttons_;
};

}  // namespace ckptui
