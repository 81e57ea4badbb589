// The layer-stack editor's model: blocks at the top level, their layers as children. Every edit
// goes through one function that validates the new spec and pushes an undo command holding the
// spec before and after, so undo/redo restores exactly what the user had. Feature sizes are
// re-chained after each edit (a linear's input follows the layer before it), so the user only
// edits what is theirs to choose: output widths, dropout rates, heads, checkpoint flags. Blocks
// grouped in a segment (a transformer layer's two blocks) are checkpointed together: one tick
// checkpoints the segment, and moving, adding or removing blocks keeps the segments on their
// blocks. A stack the engine refuses still shows; the block and layer its error names are
// highlighted.
#pragma once

#include <QAbstractItemModel>
#include <QUndoStack>
#include <functional>
#include <memory>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/timing.h"
#include "ui/time_figures.h"

namespace ckptui {

using SpecPtr = std::shared_ptr<const ckpt::ModelSpec>;

class LayerStackModel : public QAbstractItemModel {
    Q_OBJECT

public:
    enum Column { NameColumn, CheckpointColumn, SizeColumn, KeptColumn, RecomputeColumn, ColumnCount };

    explicit LayerStackModel(QObject* parent = nullptr);

    const ckpt::ModelSpec& spec() const { return *spec_; }
    // The same, shared: a worker or a "still the same stack?" check needs no copy of it (each
    // edit makes a new one, an undo brings back the one before).
    SpecPtr sharedSpec() const { return spec_; }
    QString validationError() const { return error_; }
    // Where the error is (block and layer, -1 when it names none) and the error in words:
    // "block 2 (attn), layer 1 (attention): heads: ..." instead of "blocks[2].layers[1].heads: ...".
    struct ErrorPlace {
        int block = -1, layer = -1;
    };
    ErrorPlace errorPlace() const { return errorPlace_; }
    QString errorText() const;
    QUndoStack* undoStack() { return &undo_; }

    // Replaces the whole stack (loading a file or preset); undoable unless `undoable` is false.
    void setSpec(const ckpt::ModelSpec& spec, const QString& what = QStringLiteral("load"), bool undoable = true);

    // Block operations (rows of the top level).
    void addBlock(int row);            // a Linear + ReLU block at `row`, sized to fit
    void removeBlock(int row);
    void duplicateBlock(int row);
    void moveBlock(int from, int to);  // `to` is the final row
    void addLayer(int block, ckpt::LayerType type);
    void insertLayer(int block, int position, ckpt::LayerType type);  // before layer `position`
    void repeatBlock(int row, int times);  // the block `times` times in a row (copies follow it)
    void removeLayer(int block, int layer);
    void setCheckpoint(int block, bool on);
    void setCheckpointAll(bool on);
    void setCheckpointRows(const QList<int>& rows, bool on);  // several blocks, one undoable edit
    void setCheckpointEvery(int k);
    void setCheckpointFlags(const std::vector<bool>& flags, const QString& what);
    // Flags and segments at once (a plan that groups blocks into segments).
    void setCheckpointSet(const ckpt::CheckpointSet& set, const QString& what);
    // Blocks first..last as one segment (segments they overlap are merged into it); the
    // segment holding `block` split back into single blocks.
    void groupBlocks(int first, int last);
    void ungroupBlock(int block);
    // The unit a block is checkpointed with: its segment, or the block alone.
    ckpt::BlockRange unitOf(int block) const;
    void setPolicy(int block, ckpt::BlockSpec::Policy policy);
    void setPolicyAll(ckpt::BlockSpec::Policy policy);  // one undoable edit
    void setBatch(int64_t batch);
    void setSequence(int64_t seq);
    void setOptimizer(ckpt::OptimizerType type);
    void setPrecision(ckpt::Precision precision);
    // Any other edit (the properties panel: model, block and layer fields), undoable like the rest.
    void applyEdit(const std::function<void(ckpt::ModelSpec&)>& change, const QString& what, bool structural = false);

    // Per-block and per-layer numbers of the stack as it is now, shown in the Kept/Recompute
    // columns: a prediction (report.dry_run: bytes only, in italics) or a measured step. Any edit
    // clears them, so they never describe a stack that is no longer there; a report whose block
    // count differs from the stack is ignored.
    void setReport(const ckpt::StepReport& report);
    bool reportIsPredicted() const { return predicted_; }
    bool hasReport() const { return !report_.empty(); }
    // The predicted time of the stack as it is (null: none). The Recompute column is time in one
    // unit, stated in its header: predicted (in italics) before a run of this stack, the
    // measured median after one, for blocks and for the layers a recomputation runs again; the
    // bytes a layer rematerialises are in its tooltip. Cleared by any edit, like the report.
    // `announce` false: the caller sets a report next, which announces the columns once.
    void setPredictedTime(const ckpt::TimePrediction* time, bool announce = true);
    TimeUnit recomputeUnit() const { return recomputeUnit_; }

    // QAbstractItemModel
    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::DropActions supportedDropActions() const override { return Qt::CopyAction; }
    QStringList mimeTypes() const override;
    QMimeData* mimeData(const QModelIndexList& indexes) const override;
    bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                      const QModelIndex& parent) override;

signals:
    // After every change: the new spec and "" or the reason it cannot run.
    void specChanged(const ckpt::ModelSpec& spec, const QString& error);

private:
    friend class SpecCommand;
    void edit(ckpt::ModelSpec next, const QString& what, bool structural);
    void applyFromUndo(SpecPtr spec, bool structural);
    static void rechain(ckpt::ModelSpec& spec);
    // The segments of `before` carried onto `after`, whose block i came from block from[i] of
    // `before` (-1: a new block). A segment keeps its blocks, and takes in new blocks inserted
    // between them; one whose blocks no longer sit together, or that keeps fewer than two, goes.
    static void carrySegments(const ckpt::ModelSpec& before, ckpt::ModelSpec& after, const std::vector<int>& from);
    QString layerSize(const ckpt::LayerSpec& l) const;

    SpecPtr spec_ = std::make_shared<const ckpt::ModelSpec>();
    QString error_;
    ErrorPlace errorPlace_;
    QUndoStack undo_;
    void announceReportColumns();

    std::vector<ckpt::BlockReport> report_;  // empty until a prediction or a run of this spec
    bool predicted_ = false;
    int repeats_ = 1;  // of the measured report
    // Recomputation per block and per layer (ns; -1: not recomputed): predicted, and measured
    // (the layers' from the spans of the repeat with the median step time).
    std::vector<std::vector<qint64>> predictedLayerNs_, measuredLayerNs_;
    std::vector<qint64> predictedBlockNs_;
    TimeUnit recomputeUnit_;
    void updateRecomputeUnit();
    // What the Recompute column shows for a block (layer -1) or a layer: ns and whether predicted; -1 for nothing.
    std::pair<qint64, bool> recomputeShown(int block, int layer) const;
};

}  // namespace ckptui
