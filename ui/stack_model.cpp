// The layer-stack model (see stack_model.h). Internal ids: 0 for a block, block + 1 for a layer
// of that block, so parent() needs no pointers into the spec.
#include "ui/stack_model.h"

#include <algorithm>
#include <climits>

#include <QColor>
#include <QFont>
#include <QMimeData>
#include <QRegularExpression>

#include "ckpt/layer_traits.h"
#include "ui/messages.h"
#include "ui/style.h"

namespace ckptui {

namespace {

constexpr quintptr kBlockId = 0;

QString policyText(ckpt::BlockSpec::Policy p) { return QString::fromUtf8(ckpt::policy_name(p).data()); }

}  // namespace

// One undoable edit: the spec before and after, shared with the model rather than copied (a
// copy of a 20,000-block spec is tens of milliseconds of the GUI thread).
class SpecCommand : public QUndoCommand {
public:
    SpecCommand(LayerStackModel* m, SpecPtr before, SpecPtr after, const QString& text, bool structural)
        : QUndoCommand(text), m_(m), before_(std::move(before)), after_(std::move(after)), structural_(structural) {}
    void undo() override { m_->applyFromUndo(before_, structural_); }
    void redo() override { m_->applyFromUndo(after_, structural_); }

private:
    LayerStackModel* m_;
    SpecPtr before_, after_;
    bool structural_;
};

LayerStackModel::LayerStackModel(QObject* parent) : QAbstractItemModel(parent) {}

void LayerStackModel::rechain(ckpt::ModelSpec& spec) {
    // Each layer takes the width coming in and passes on its own (the engine's traits table); a
    // residual block's shortcut starts from the block's input and post from the sum.
    auto chain = [](std::vector<ckpt::LayerSpec>& layers, ckpt::Features f) {
        for (ckpt::LayerSpec& l : layers) {
            const ckpt::LayerTraits& t = ckpt::layer_traits(l.type);
            t.take_input(l, f);
            f = t.out_features(l, f);
        }
        return f;
    };
    ckpt::Features f = spec.input_shape_features();
    for (ckpt::BlockSpec& b : spec.blocks) {
        const ckpt::Features in = f;
        f = chain(b.layers, in);
        if (b.residual) {
            chain(b.shortcut, in);
            f = chain(b.post, f);
        }
    }
}

void LayerStackModel::carrySegments(const ckpt::ModelSpec& before, ckpt::ModelSpec& after, const std::vector<int>& from) {
    std::vector<int> to(before.blocks.size(), -1);  // where each old block went
    for (size_t i = 0; i < from.size(); ++i)
        if (from[i] >= 0 && size_t(from[i]) < to.size()) to[size_t(from[i])] = int(i);
    after.segments.clear();
    for (const ckpt::BlockRange& g : before.segments) {
        int lo = INT_MAX, hi = -1, kept = 0;
        for (int b = g.first; b <= g.last && size_t(b) < to.size(); ++b)
            if (to[size_t(b)] >= 0) lo = std::min(lo, to[size_t(b)]), hi = std::max(hi, to[size_t(b)]), ++kept;
        if (kept < 2) continue;
        bool together = true;  // nothing from outside the segment between its blocks
        for (int i = lo; i <= hi && together; ++i)
            together = from[size_t(i)] < 0 || (from[size_t(i)] >= g.first && from[size_t(i)] <= g.last);
        if (together) after.segments.push_back({lo, hi});
    }
    std::sort(after.segments.begin(), after.segments.end(),
              [](const ckpt::BlockRange& a, const ckpt::BlockRange& b) { return a.first < b.first; });
}

namespace {

// The block map of an edit that inserts `count` new blocks at `row` (from[i] = old index or -1).
std::vector<int> inserting(int blocks, int row, int count) {
    std::vector<int> from;
    for (int b = 0; b < row; ++b) from.push_back(b);
    for (int i = 0; i < count; ++i) from.push_back(-1);
    for (int b = row; b < blocks; ++b) from.push_back(b);
    return from;
}

}  // namespace

void LayerStackModel::applyFromUndo(SpecPtr spec, bool structural) {
    if (structural) beginResetModel();
    spec_ = std::move(spec);
    report_.clear();  // it described the stack before this edit
    predictedBlockNs_.clear();
    predictedLayerNs_.clear();
    measuredLayerNs_.clear();
    if (structural) {
        endResetModel();
    } else if (!spec_->blocks.empty()) {
        emit dataChanged(index(0, 0), index(int(spec_->blocks.size()) - 1, ColumnCount - 1));
        announceReportColumns();  // the layers' rows too
    }
    const ckpt::Status st = ckpt::validate_model_spec(*spec_);
    error_ = st ? QString() : QString::fromStdString(st.message());
    // The row the error names, so the view can mark it.
    static const QRegularExpression place(QStringLiteral("^blocks\\[(\\d+)\\](?:\\.layers\\[(\\d+)\\])?"));
    const ErrorPlace before = errorPlace_;
    errorPlace_ = {};
    if (const QRegularExpressionMatch m = place.match(error_); m.hasMatch()) {
        errorPlace_.block = m.captured(1).toInt();
        errorPlace_.layer = m.captured(2).isEmpty() ? -1 : m.captured(2).toInt();
    }
    if (!structural)
        for (int b : {before.block, errorPlace_.block})
            if (b >= 0 && b < int(spec_->blocks.size())) {
                emit dataChanged(index(b, 0), index(b, ColumnCount - 1));
                const QModelIndex p = index(b, 0);
                if (rowCount(p) > 0) emit dataChanged(index(0, 0, p), index(rowCount(p) - 1, ColumnCount - 1, p));
            }
    emit specChanged(*spec_, error_);
}

QString LayerStackModel::errorText() const {
    if (error_.isEmpty() || errorPlace_.block < 0 || errorPlace_.block >= int(spec_->blocks.size())) return error_;
    // "blocks[2].layers[1].heads: reason" -> "block 2 (attn), layer 1 (attention): heads: reason"
    const ckpt::BlockSpec& b = spec_->blocks[size_t(errorPlace_.block)];
    QString where = tr("block %1 (%2)").arg(errorPlace_.block).arg(shownText(b.name));
    if (errorPlace_.layer >= 0 && errorPlace_.layer < int(b.layers.size()))
        where += tr(", layer %1 (%2)").arg(errorPlace_.layer).arg(QString::fromUtf8(ckpt::layer_type_name(b.layers[size_t(errorPlace_.layer)].type).data()));
    static const QRegularExpression parts(QStringLiteral("^blocks\\[\\d+\\](?:\\.layers\\[\\d+\\])?\\.?([^:]*):\\s*(.*)$"));
    const QRegularExpressionMatch m = parts.match(error_);
    if (!m.hasMatch()) return error_;
    const QString rest = m.captured(1), reason = m.captured(2);
    return rest.isEmpty() ? QStringLiteral("%1: %2").arg(where, reason) : QStringLiteral("%1: %2: %3").arg(where, rest, reason);
}

void LayerStackModel::edit(ckpt::ModelSpec next, const QString& what, bool structural) {
    // By value and moved along: every copy of a 20,000-block spec is milliseconds of the GUI thread.
    rechain(next);
    if (next == *spec_) return;
    undo_.push(new SpecCommand(this, spec_, std::make_shared<const ckpt::ModelSpec>(std::move(next)), what, structural));
}

void LayerStackModel::setSpec(const ckpt::ModelSpec& spec, const QString& what, bool undoable) {
    if (undoable) {
        edit(spec, what, true);
    } else {
        undo_.clear();
        applyFromUndo(std::make_shared<const ckpt::ModelSpec>(spec), true);
    }
}

void LayerStackModel::addBlock(int row) {
    ckpt::ModelSpec n = *spec_;
    row = std::clamp(row, 0, int(n.blocks.size()));
    ckpt::BlockSpec b;
    b.name = "block" + std::to_string(n.blocks.size());
    ckpt::LayerSpec lin, relu;
    lin.type = ckpt::LayerType::linear;
    lin.out = 256;
    relu.type = ckpt::LayerType::relu;
    b.layers = {lin, relu};
    n.blocks.insert(n.blocks.begin() + row, b);
    carrySegments(*spec_, n, inserting(int(spec_->blocks.size()), row, 1));
    edit(std::move(n), tr("add block"), true);
}

void LayerStackModel::removeBlock(int row) {
    if (row < 0 || row >= int(spec_->blocks.size())) return;
    ckpt::ModelSpec n = *spec_;
    n.blocks.erase(n.blocks.begin() + row);
    std::vector<int> from;
    for (int b = 0; b < int(spec_->blocks.size()); ++b)
        if (b != row) from.push_back(b);
    carrySegments(*spec_, n, from);
    edit(std::move(n), tr("remove block"), true);
}

void LayerStackModel::duplicateBlock(int row) {
    if (row < 0 || row >= int(spec_->blocks.size())) return;
    ckpt::ModelSpec n = *spec_;
    ckpt::BlockSpec copy = n.blocks[size_t(row)];
    copy.name += " copy";
    n.blocks.insert(n.blocks.begin() + row + 1, copy);
    carrySegments(*spec_, n, inserting(int(spec_->blocks.size()), row + 1, 1));
    edit(std::move(n), tr("duplicate block"), true);
}

void LayerStackModel::moveBlock(int from, int to) {
    const int count = int(spec_->blocks.size());
    if (from < 0 || from >= count || to < 0 || to >= count || from == to) return;
    ckpt::ModelSpec n = *spec_;
    ckpt::BlockSpec b = n.blocks[size_t(from)];
    n.blocks.erase(n.blocks.begin() + from);
    n.blocks.insert(n.blocks.begin() + to, b);
    std::vector<int> order;
    for (int i = 0; i < count; ++i)
        if (i != from) order.push_back(i);
    order.insert(order.begin() + to, from);
    carrySegments(*spec_, n, order);
    edit(std::move(n), tr("move block"), true);
}

void LayerStackModel::addLayer(int block, ckpt::LayerType type) {
    if (block < 0 || block >= int(spec_->blocks.size())) return;
    insertLayer(block, int(spec_->blocks[size_t(block)].layers.size()), type);
}

void LayerStackModel::insertLayer(int block, int position, ckpt::LayerType type) {
    if (block < 0 || block >= int(spec_->blocks.size())) return;
    ckpt::ModelSpec n = *spec_;
    auto& layers = n.blocks[size_t(block)].layers;
    position = std::clamp(position, 0, int(layers.size()));
    ckpt::LayerSpec l;
    l.type = type;
    if (type == ckpt::LayerType::linear) l.out = 256;
    if (type == ckpt::LayerType::dropout) l.p = 0.1;
    if (type == ckpt::LayerType::attention) {
        l.heads = 4;
        l.causal = true;
    }
    if (type == ckpt::LayerType::embedding) {
        l.vocab = 32000;
        l.dim = 256;
    }
    layers.insert(layers.begin() + position, l);
    edit(std::move(n), tr("add %1").arg(QString::fromUtf8(ckpt::layer_type_name(type).data())), true);
}

void LayerStackModel::removeLayer(int block, int layer) {
    if (block < 0 || block >= int(spec_->blocks.size())) return;
    if (layer < 0 || layer >= int(spec_->blocks[size_t(block)].layer_count())) return;
    ckpt::ModelSpec n = *spec_;
    ckpt::BlockSpec& b = n.blocks[size_t(block)];
    // Rows number the block's layers, then its shortcut, then post (BlockSpec::layer's order).
    size_t i = size_t(layer);
    std::vector<ckpt::LayerSpec>* path = &b.layers;
    if (i >= b.layers.size()) {
        i -= b.layers.size();
        path = &b.shortcut;
        if (i >= b.shortcut.size()) {
            i -= b.shortcut.size();
            path = &b.post;
        }
    }
    path->erase(path->begin() + std::ptrdiff_t(i));
    edit(std::move(n), tr("remove layer"), true);
}

ckpt::BlockRange LayerStackModel::unitOf(int block) const {
    for (const ckpt::BlockRange& g : spec_->segments)
        if (g.contains(block)) return g;
    return {block, block};
}

void LayerStackModel::setCheckpoint(int block, bool on) {
    if (block < 0 || block >= int(spec_->blocks.size())) return;
    // One tick checkpoints the block's segment: a transformer layer's two blocks at once.
    const ckpt::BlockRange u = unitOf(block);
    ckpt::ModelSpec n = *spec_;
    bool changes = false;
    for (int b = u.first; b <= u.last; ++b) {
        changes |= n.blocks[size_t(b)].checkpoint != on;
        n.blocks[size_t(b)].checkpoint = on;
    }
    if (!changes) return;
    const QString which = u.size() > 1 ? tr("segment %1-%2").arg(u.first).arg(u.last) : tr("block %1").arg(block);
    edit(std::move(n), on ? tr("checkpoint %1").arg(which) : tr("uncheckpoint %1").arg(which), false);
}

void LayerStackModel::setCheckpointFlags(const std::vector<bool>& flags, const QString& what) {
    ckpt::ModelSpec n = *spec_;
    ckpt::apply_checkpoint_set(n, flags);
    edit(std::move(n), what, false);
}

void LayerStackModel::setCheckpointSet(const ckpt::CheckpointSet& set, const QString& what) {
    ckpt::ModelSpec n = *spec_;
    ckpt::apply_checkpoint(n, set);
    edit(std::move(n), what, false);
}

void LayerStackModel::groupBlocks(int first, int last) {
    if (first > last) std::swap(first, last);
    if (first < 0 || last >= int(spec_->blocks.size()) || first == last) return;
    // Segments it touches join it; the checkpointed blocks of the new segment run as one.
    ckpt::ModelSpec n = *spec_;
    n.segments.clear();
    for (const ckpt::BlockRange& g : spec_->segments) {
        if (g.last < first || g.first > last) n.segments.push_back(g);
        else first = std::min(first, g.first), last = std::max(last, g.last);
    }
    n.segments.push_back({first, last});
    std::sort(n.segments.begin(), n.segments.end(),
              [](const ckpt::BlockRange& a, const ckpt::BlockRange& b) { return a.first < b.first; });
    edit(std::move(n), tr("segment %1-%2").arg(first).arg(last), false);
}

void LayerStackModel::ungroupBlock(int block) {
    ckpt::ModelSpec n = *spec_;
    const auto at = std::find_if(n.segments.begin(), n.segments.end(),
                                 [&](const ckpt::BlockRange& g) { return g.contains(block); });
    if (at == n.segments.end()) return;
    const QString what = tr("ungroup segment %1-%2").arg(at->first).arg(at->last);
    n.segments.erase(at);
    edit(std::move(n), what, false);
}

void LayerStackModel::repeatBlock(int row, int times) {
    if (row < 0 || row >= int(spec_->blocks.size()) || times < 2) return;
    ckpt::ModelSpec n = *spec_;
    const ckpt::BlockSpec b = n.blocks[size_t(row)];
    std::vector<ckpt::BlockSpec> copies(size_t(times - 1), b);
    for (size_t i = 0; i < copies.size(); ++i) copies[i].name = b.name + " " + std::to_string(i + 2);
    n.blocks.insert(n.blocks.begin() + row + 1, copies.begin(), copies.end());
    carrySegments(*spec_, n, inserting(int(spec_->blocks.size()), row + 1, times - 1));
    edit(std::move(n), tr("repeat block %1 x%2").arg(row).arg(times), true);
}

void LayerStackModel::setCheckpointRows(const QList<int>& rows, bool on) {
    ckpt::ModelSpec n = *spec_;
    for (int r : rows)
        if (r >= 0 && r < int(n.blocks.size()))
            for (int b = unitOf(r).first; b <= unitOf(r).last; ++b) n.blocks[size_t(b)].checkpoint = on;
    edit(std::move(n), on ? tr("checkpoint %1 blocks").arg(rows.size()) : tr("uncheckpoint %1 blocks").arg(rows.size()), false);
}

void LayerStackModel::setCheckpointAll(bool on) {
    setCheckpointFlags(std::vector<bool>(spec_->blocks.size(), on), on ? tr("checkpoint all") : tr("checkpoint none"));
}

void LayerStackModel::setCheckpointEvery(int k) {
    // Every k-th unit: on a transformer, every k-th layer.
    auto set = ckpt::parse_checkpoint("every:" + std::to_string(std::max(1, k)), *spec_);
    if (set) setCheckpointSet(*set, tr("checkpoint every %1").arg(k));
}

void LayerStackModel::setPolicy(int block, ckpt::BlockSpec::Policy policy) {
    if (block < 0 || block >= int(spec_->blocks.size())) return;
    ckpt::ModelSpec n = *spec_;
    n.blocks[size_t(block)].policy = policy;
    edit(std::move(n), tr("policy %1").arg(policyText(policy)), false);
}

void LayerStackModel::setPolicyAll(ckpt::BlockSpec::Policy policy) {
    ckpt::ModelSpec n = *spec_;
    for (ckpt::BlockSpec& b : n.blocks) b.policy = policy;
    edit(std::move(n), tr("policy %1 for every block").arg(policyText(policy)), false);
}

void LayerStackModel::setBatch(int64_t batch) {
    if (spec_->input_shape.empty() || batch < 1) return;
    ckpt::ModelSpec n = *spec_;
    n.input_shape[0] = batch;
    edit(std::move(n), tr("batch %1").arg(batch), false);
}

void LayerStackModel::setSequence(int64_t seq) {
    const bool has_seq = spec_->token_input() ? spec_->input_shape.size() >= 2
                                             : spec_->input_shape.size() >= 3 && !spec_->image_input();
    if (!has_seq || seq < 1) return;
    ckpt::ModelSpec n = *spec_;
    n.input_shape[1] = seq;
    for (ckpt::BlockSpec& b : n.blocks)
        for (ckpt::LayerSpec& l : b.layers)
            if (l.type == ckpt::LayerType::embedding && l.max_len > 0 && l.max_len < seq) l.max_len = seq;
    edit(std::move(n), tr("sequence %1").arg(seq), false);
}

void LayerStackModel::setOptimizer(ckpt::OptimizerType type) {
    ckpt::ModelSpec n = *spec_;
    n.optimizer.type = type;
    edit(std::move(n), tr("optimizer"), false);
}

void LayerStackModel::setPrecision(ckpt::Precision precision) {
    ckpt::ModelSpec n = *spec_;
    n.precision = precision;
    edit(std::move(n), tr("precision %1").arg(QString::fromUtf8(ckpt::precision_name(precision).data())), false);
}

void LayerStackModel::applyEdit(const std::function<void(ckpt::ModelSpec&)>& change, const QString& what, bool structural) {
    ckpt::ModelSpec n = *spec_;
    change(n);
    edit(std::move(n), what, structural);
}

void LayerStackModel::setReport(const ckpt::StepReport& report) {
    if (report.blocks.size() != spec_->blocks.size()) return;
    report_ = report.blocks;
    predicted_ = report.dry_run;
    repeats_ = report.repeats;
    measuredLayerNs_.clear();
    if (!predicted_) {
        measuredLayerNs_.resize(report_.size());
        for (size_t b = 0; b < report_.size(); ++b) measuredLayerNs_[b].assign(spec_->blocks[b].layer_count(), -1);
        for (const ckpt::Span& s : report.spans)
            if (s.phase == ckpt::Phase::recompute && s.block >= 0 && size_t(s.block) < measuredLayerNs_.size() && s.layer >= 0 &&
                size_t(s.layer) < measuredLayerNs_[size_t(s.block)].size())
                measuredLayerNs_[size_t(s.block)][size_t(s.layer)] = s.end_ns - s.start_ns;
    }
    updateRecomputeUnit();
    announceReportColumns();
}

void LayerStackModel::setPredictedTime(const ckpt::TimePrediction* time, bool announce) {
    predictedBlockNs_.clear();
    predictedLayerNs_.clear();
    if (time && time->blocks.size() == spec_->blocks.size()) {
        for (size_t b = 0; b < time->blocks.size(); ++b) {
            const ckpt::BlockTimePrediction& bt = time->blocks[b];
            predictedBlockNs_.push_back(spec_->blocks[b].checkpoint ? bt.recompute.ns : -1);
            std::vector<qint64> layers;
            for (const ckpt::LayerTimePrediction& l : bt.layers)
                layers.push_back(spec_->blocks[b].checkpoint && l.recompute.ns > 0 ? l.recompute.ns : -1);
            predictedLayerNs_.push_back(std::move(layers));
        }
    }
    if (!announce) return;
    updateRecomputeUnit();
    announceReportColumns();
}

std::pair<qint64, bool> LayerStackModel::recomputeShown(int b, int l) const {
    if (!spec_->blocks[size_t(b)].checkpoint) return {-1, false};
    // The measurement of this stack when there is one, else the prediction.
    if (!predicted_ && size_t(b) < report_.size()) {
        if (l < 0) return {report_[size_t(b)].recompute_ns, false};
        if (size_t(b) < measuredLayerNs_.size() && size_t(l) < measuredLayerNs_[size_t(b)].size())
            return {measuredLayerNs_[size_t(b)][size_t(l)], false};
        return {-1, false};
    }
    if (l < 0) return {size_t(b) < predictedBlockNs_.size() ? predictedBlockNs_[size_t(b)] : -1, true};
    if (size_t(b) < predictedLayerNs_.size() && size_t(l) < predictedLayerNs_[size_t(b)].size())
        return {predictedLayerNs_[size_t(b)][size_t(l)], true};
    return {-1, true};
}

void LayerStackModel::updateRecomputeUnit() {
    qint64 most = 0;
    for (int b = 0; b < int(spec_->blocks.size()); ++b) most = std::max(most, recomputeShown(b, -1).first);
    const TimeUnit unit = timeUnitFor(most);
    if (unit.name == recomputeUnit_.name) return;
    recomputeUnit_ = unit;
    emit headerDataChanged(Qt::Horizontal, RecomputeColumn, RecomputeColumn);
}

void LayerStackModel::announceReportColumns() {
    if (spec_->blocks.empty()) return;
    emit dataChanged(index(0, KeptColumn), index(int(spec_->blocks.size()) - 1, RecomputeColumn));
    // The layers' rows: a dataChanged per block made QTreeView search its visible rows once per
    // block (QTreeViewPrivate::viewIndex), a second of the GUI thread on a 20,000-block model.
    // One layout change makes it lay the tree out once; nothing moves, expanded blocks stay.
    emit layoutAboutToBeChanged();
    emit layoutChanged();
}

QModelIndex LayerStackModel::index(int row, int column, const QModelIndex& parent) const {
    if (!hasIndex(row, column, parent)) return {};
    if (!parent.isValid()) return createIndex(row, column, kBlockId);
    return createIndex(row, column, quintptr(parent.row() + 1));
}

QModelIndex LayerStackModel::parent(const QModelIndex& child) const {
    if (!child.isValid() || child.internalId() == kBlockId) return {};
    return createIndex(int(child.internalId() - 1), 0, kBlockId);
}

int LayerStackModel::rowCount(const QModelIndex& parent) const {
    if (!parent.isValid()) return int(spec_->blocks.size());
    if (parent.internalId() != kBlockId || parent.column() != 0) return 0;
    return int(spec_->blocks[size_t(parent.row())].layer_count());
}

int LayerStackModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QString LayerStackModel::layerSize(const ckpt::LayerSpec& l) const {
    switch (l.type) {
    case ckpt::LayerType::linear: return QStringLiteral("%1 → %2%3").arg(groupedCount(l.in), groupedCount(l.out), l.bias ? "" : ", no bias");
    case ckpt::LayerType::layernorm: return groupedCount(l.dim);
    case ckpt::LayerType::dropout: return QStringLiteral("p = %1").arg(l.p);
    case ckpt::LayerType::embedding: return QStringLiteral("%1 × %2").arg(groupedCount(l.vocab), groupedCount(l.dim));
    case ckpt::LayerType::attention:
        return QStringLiteral("%1 heads%2%3%4")
            .arg(l.heads)
            .arg(l.causal ? ", causal" : "")
            .arg(l.p > 0 ? QStringLiteral(", p = %1").arg(l.p) : QString())
            .arg(l.impl == ckpt::AttentionImpl::flash ? QStringLiteral(", flash") : QString());
    case ckpt::LayerType::conv2d:
        return QStringLiteral("%1 → %2, %3×%3 / %4%5").arg(l.in).arg(l.out).arg(l.kernel).arg(ckpt::effective_stride(l))
            .arg(l.groups > 1 ? QStringLiteral(", %1 groups").arg(l.groups) : QString());
    case ckpt::LayerType::batchnorm2d: return QString::number(l.dim);
    case ckpt::LayerType::maxpool2d:
    case ckpt::LayerType::avgpool2d: return QStringLiteral("%1×%1 / %2").arg(l.kernel).arg(ckpt::effective_stride(l));
    default: return {};
    }
}

QVariant LayerStackModel::data(const QModelIndex& idx, int role) const {
    if (!idx.isValid()) return {};
    const bool isBlock = idx.internalId() == kBlockId;
    const int b = isBlock ? idx.row() : int(idx.internalId() - 1);
    const ckpt::BlockSpec& blk = spec_->blocks[size_t(b)];
    const ckpt::BlockReport* br = size_t(b) < report_.size() ? &report_[size_t(b)] : nullptr;
    // The block and layer the engine's error names: tinted, with the error as their tooltip.
    const bool wrong = b == errorPlace_.block && (isBlock ? true : idx.row() == errorPlace_.layer);
    if (wrong && role == Qt::BackgroundRole) return QColor(220, 40, 40, isBlock && errorPlace_.layer >= 0 ? 40 : 90);
    if (wrong && role == Qt::ToolTipRole && (!isBlock || errorPlace_.layer < 0)) return errorText();
    if (isBlock) {
        switch (idx.column()) {
        case NameColumn: {
            const ckpt::BlockRange u = unitOf(b);
            if (role == Qt::DisplayRole) {
                // A segment's blocks carry a bracket that joins them: ⎡ first, ⎢ inside, ⎣ last.
                const QString name = shownText(blk.name);  // a name from a file: one printable line
                if (u.size() < 2) return name;
                return (b == u.first ? QStringLiteral("⎡ ") : b == u.last ? QStringLiteral("⎣ ") : QStringLiteral("⎢ ")) + name;
            }
            if (role == Qt::EditRole) return QString::fromStdString(blk.name);
            if (role == Qt::ToolTipRole)
                return tr("Block %1: %2 layer(s)%3. Drag to reorder, double-click to rename.%4")
                    .arg(b).arg(blk.layer_count())
                    .arg(!blk.residual                                       ? QString()
                         : blk.shortcut.empty() && blk.post.empty()          ? tr(", residual (y = x + layers(x))")
                                                                             : tr(", residual (y = post(shortcut(x) + layers(x)))"))
                    .arg(u.size() < 2 ? QString()
                                      : tr(" In segment %1-%2: checkpointed together, it keeps only block %1's input "
                                           "and recomputes all %3 blocks at once in backward.")
                                            .arg(u.first).arg(u.last).arg(u.size()));
            break;
        }
        case CheckpointColumn:
            if (role == Qt::CheckStateRole) return blk.checkpoint ? Qt::Checked : Qt::Unchecked;
            if (role == Qt::DisplayRole && blk.checkpoint && blk.policy != ckpt::BlockSpec::Policy::full) return policyText(blk.policy);
            if (role == Qt::ToolTipRole)
                return unitOf(b).size() > 1
                           ? tr("Checkpoint the segment (this tick covers blocks %1-%2): forward keeps only block %1's "
                                "input; backward recomputes the whole segment when it reaches block %2. One tensor kept "
                                "for the segment instead of one per block.")
                                 .arg(unitOf(b).first).arg(unitOf(b).last)
                           : tr("Checkpointed: forward keeps only the block's input and frees the rest; backward "
                                "recomputes the block first. Saves memory, costs one more forward of the block.");
            break;
        case SizeColumn:
            if (role == Qt::DisplayRole) return tr("residual");
            if (role == Qt::CheckStateRole) return blk.residual ? Qt::Checked : Qt::Unchecked;
            if (role == Qt::ToolTipRole)
                return tr("Residual: the block computes y = x + layers(x), so its output width must equal its input "
                          "width. Backward then adds the gradient of the shortcut.");
            break;
        case KeptColumn:
            if (role == Qt::DisplayRole && br) return humanBytes(br->kept_bytes);
            if (role == Qt::ToolTipRole && br)
                return tr("Kept for backward after forward: %1. Unchecked it would keep %2 (avoided %3). %4")
                    .arg(humanBytes(br->kept_bytes), humanBytes(br->kept_bytes_unchecked), humanBytes(br->avoided_bytes),
                         predicted_ ? tr("Predicted for the stack as it is now.") : tr("Measured in the last step."));
            break;
        case RecomputeColumn: {
            const auto [ns, guess] = recomputeShown(b, -1);
            if (role == Qt::DisplayRole && ns >= 0) return inUnit(ns, recomputeUnit_);
            if (role == Qt::FontRole && ns >= 0 && guess) {
                QFont f;
                f.setItalic(true);
                return f;
            }
            if (role == Qt::ToolTipRole) {
                if (!blk.checkpoint) return tr("Not checkpointed: nothing of this block is recomputed.");
                const qint64 pred = size_t(b) < predictedBlockNs_.size() ? predictedBlockNs_[size_t(b)] : -1;
                if (guess)
                    return ns >= 0 ? tr("Predicted time to recompute this block's forward during backward: %1 (its FLOPs and "
                                        "bytes over this machine's measured throughput). Run a step to measure it.").arg(humanTime(ns))
                                   : tr("Recomputation time is measured: run a step.");
                QString t = tr("Measured time recomputing this block's forward during backward: %1 (%2)")
                                .arg(timedText(br->recompute_ns, br->recompute_range, repeats_), repeatsText(repeats_));
                if (pred >= 0) t += tr("; predicted %1").arg(humanTime(pred));
                return t + QLatin1Char('.');
            }
            break;
        }
        }
        if (role == Qt::TextAlignmentRole && idx.column() >= KeptColumn) return int(Qt::AlignRight | Qt::AlignVCenter);
        if (role == Qt::FontRole && idx.column() == KeptColumn && predicted_ && br) {
            QFont f;
            f.setItalic(true);
            return f;
        }
        return {};
    }
    const int l = idx.row();
    const ckpt::LayerSpec& layer = blk.layer(size_t(l));
    const ckpt::LayerReport* lr = br && size_t(l) < br->layers.size() ? &br->layers[size_t(l)] : nullptr;
    switch (idx.column()) {
    case NameColumn:
        if (role == Qt::DisplayRole) {
            const QString name = QString::fromUtf8(ckpt::layer_type_name(layer.type).data());
            switch (blk.part(size_t(l))) {
            case ckpt::BlockSpec::Part::shortcut: return tr("shortcut: %1").arg(name);
            case ckpt::BlockSpec::Part::post: return tr("after the add: %1").arg(name);
            default: return name;
            }
        }
        if (role == Qt::ToolTipRole) return tr("Layer %1 of block %2").arg(l).arg(b);
        break;
    case CheckpointColumn:
        if (blk.checkpoint && role == Qt::DisplayRole) return blk.saves(size_t(l)) ? tr("saved") : tr("recomputed");
        if (role == Qt::CheckStateRole && blk.policy == ckpt::BlockSpec::Policy::custom) return layer.save ? Qt::Checked : Qt::Unchecked;
        if (role == Qt::ToolTipRole)
            return tr("Inside a checkpointed block, a saved layer keeps what backward needs and is not recomputed "
                      "(the block's policy decides; custom lets you tick layers).");
        break;
    case SizeColumn:
        if (role == Qt::DisplayRole) return layerSize(layer);
        if (role == Qt::EditRole) {
            if (layer.type == ckpt::LayerType::linear) return qlonglong(layer.out);
            if (layer.type == ckpt::LayerType::dropout) return layer.p;
            if (layer.type == ckpt::LayerType::attention) return qlonglong(layer.heads);
            if (layer.type == ckpt::LayerType::embedding) return qlonglong(layer.dim);
        }
        if (role == Qt::ToolTipRole)
            return tr("Double-click to edit: output features of a linear, p of a dropout, heads of attention. Inputs "
                      "follow the layer before.");
        break;
    case KeptColumn:
        if (role == Qt::DisplayRole && lr) return humanBytes(lr->kept_bytes);
        break;
    case RecomputeColumn: {
        // Time, in the column's unit, like the blocks; the bytes it rematerialised in the tooltip.
        const auto [ns, guess] = recomputeShown(b, l);
        if (role == Qt::DisplayRole && ns >= 0) return inUnit(ns, recomputeUnit_);
        if (role == Qt::FontRole && ns >= 0 && guess) {
            QFont f;
            f.setItalic(true);
            return f;
        }
        if (role == Qt::ToolTipRole && blk.checkpoint) {
            QString t = ns < 0 ? tr("Not run again when its block is recomputed.")
                        : guess ? tr("Predicted time of this layer in its block's recomputation: %1.").arg(humanTime(ns))
                                : tr("Measured time of this layer in its block's recomputation: %1 (in the repeat whose step "
                                     "time was the median).").arg(humanTime(ns));
            if (lr && lr->recomputed_bytes) t += tr(" It rematerialised %1.").arg(humanBytes(lr->recomputed_bytes));
            return t;
        }
        break;
    }
    }
    if (role == Qt::TextAlignmentRole && idx.column() >= KeptColumn) return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::FontRole && idx.column() == KeptColumn && predicted_ && lr) {
        QFont f;
        f.setItalic(true);
        return f;
    }
    return {};
}

bool LayerStackModel::setData(const QModelIndex& idx, const QVariant& value, int role) {
    if (!idx.isValid()) return false;
    const bool isBlock = idx.internalId() == kBlockId;
    const int b = isBlock ? idx.row() : int(idx.internalId() - 1);
    ckpt::ModelSpec n = *spec_;
    ckpt::BlockSpec& blk = n.blocks[size_t(b)];
    if (isBlock) {
        if (idx.column() == CheckpointColumn && role == Qt::CheckStateRole) {
            setCheckpoint(b, value.toInt() == Qt::Checked);
            return true;
        }
        if (idx.column() == SizeColumn && role == Qt::CheckStateRole) {
            blk.residual = value.toInt() == Qt::Checked;
            edit(n, blk.residual ? tr("make block %1 residual").arg(b) : tr("make block %1 plain").arg(b), false);
            return true;
        }
        if (idx.column() == NameColumn && role == Qt::EditRole) {
            const QString name = value.toString().trimmed();
            if (name.isEmpty()) return false;
            blk.name = name.toStdString();
            edit(std::move(n), tr("rename block"), false);
            return true;
        }
        return false;
    }
    ckpt::LayerSpec& l = blk.layer(size_t(idx.row()));
    if (idx.column() == CheckpointColumn && role == Qt::CheckStateRole) {
        l.save = value.toInt() == Qt::Checked;
        edit(std::move(n), tr("save layer"), false);
        return true;
    }
    if (idx.column() != SizeColumn || role != Qt::EditRole) return false;
    bool ok = false;
    if (l.type == ckpt::LayerType::dropout) {
        const double p = value.toDouble(&ok);
        if (!ok || p < 0 || p >= 1) return false;
        l.p = p;
    } else {
        const qlonglong v = value.toLongLong(&ok);
        if (!ok || v < 1 || v > (1ll << 31) - 1) return false;
        if (l.type == ckpt::LayerType::linear) l.out = v;
        else if (l.type == ckpt::LayerType::attention) l.heads = v;
        else if (l.type == ckpt::LayerType::embedding) l.dim = v;
        else return false;
    }
    edit(std::move(n), tr("edit layer"), false);
    return true;
}

Qt::ItemFlags LayerStackModel::flags(const QModelIndex& idx) const {
    if (!idx.isValid()) return Qt::ItemIsDropEnabled;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    const bool isBlock = idx.internalId() == kBlockId;
    if (isBlock) {
        f |= Qt::ItemIsDragEnabled;
        if (idx.column() == CheckpointColumn || idx.column() == SizeColumn) f |= Qt::ItemIsUserCheckable;
        if (idx.column() == NameColumn) f |= Qt::ItemIsEditable;
    } else {
        const ckpt::BlockSpec& blk = spec_->blocks[idx.internalId() - 1];
        const ckpt::LayerType t = blk.layer(size_t(idx.row())).type;
        if (idx.column() == CheckpointColumn && blk.policy == ckpt::BlockSpec::Policy::custom) f |= Qt::ItemIsUserCheckable;
        if (idx.column() == SizeColumn &&
            (t == ckpt::LayerType::linear || t == ckpt::LayerType::dropout || t == ckpt::LayerType::attention ||
             t == ckpt::LayerType::embedding))
            f |= Qt::ItemIsEditable;
    }
    return f;
}

QVariant LayerStackModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case NameColumn: return tr("Block / layer");
        case CheckpointColumn: return tr("Checkpoint");
        case SizeColumn: return tr("Shape");
        case KeptColumn: return tr("Kept");
        case RecomputeColumn: return tr("Recompute\n(%1)").arg(recomputeUnit_.name);  // two lines: a narrow column
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case CheckpointColumn: return tr("Tick to checkpoint a block: keep only its input, recompute it in backward.");
        case KeptColumn:
            return tr("Bytes kept for backward at the end of forward: predicted (italics) for the stack as it is, "
                      "measured after a step of it.");
        case RecomputeColumn:
            return tr("Time recomputing each checkpointed block and layer during backward, in %1: predicted (italics) "
                      "for the stack as it is, the measured median after a step of it.").arg(recomputeUnit_.name);
        }
    }
    return {};
}

QStringList LayerStackModel::mimeTypes() const { return {QStringLiteral("application/x-checkpointlab-block")}; }

QMimeData* LayerStackModel::mimeData(const QModelIndexList& indexes) const {
    for (const QModelIndex& i : indexes) {
        if (i.isValid() && i.internalId() == kBlockId) {
            auto* m = new QMimeData;
            m->setData(mimeTypes().first(), QByteArray::number(i.row()));
            return m;
        }
    }
    return nullptr;
}

bool LayerStackModel::dropMimeData(const QMimeData* data, Qt::DropAction, int row, int, const QModelIndex& parent) {
    if (!data || !data->hasFormat(mimeTypes().first())) return false;
    const int from = data->data(mimeTypes().first()).toInt();
    int to = row;
    if (parent.isValid()) to = parent.internalId() == kBlockId ? parent.row() : int(parent.internalId() - 1);
    if (to < 0) to = int(spec_->blocks.size());
    if (to > from) --to;  // the block leaves its old place first
    moveBlock(from, std::min(to, int(spec_->blocks.size()) - 1));
    return false;  // moved here; the view must not delete anything
}

}  // namespace ckptui
