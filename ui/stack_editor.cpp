// The stack editor panel (see stack_editor.h).
#include "ui/stack_editor.h"

#include "ckpt/layer_traits.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QAction>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

#include "ckpt/names.h"
#include "ui/stack_model.h"
#include "ui/style.h"

namespace ckptui {

namespace {

QPushButton* button(const QString& text, const QString& tip, QWidget* parent) {
    auto* b = new QPushButton(text, parent);
    b->setToolTip(tip);
    return b;
}

}  // namespace

StackEditor::StackEditor(LayerStackModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    view_ = new QTreeView(this);
    view_->setModel(model);
    view_->setObjectName(QStringLiteral("stackView"));
    view_->setStyle(contrastCheckStyle());  // unticked boxes visible on a dark theme
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setContextMenuPolicy(Qt::ActionsContextMenu);
    view_->setDragEnabled(true);
    view_->setAcceptDrops(true);
    view_->setDropIndicatorShown(true);
    view_->setDragDropMode(QAbstractItemView::DragDrop);
    view_->setDefaultDropAction(Qt::CopyAction);
    view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    view_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    // Column widths from the first rows, not all of them: a 20,000-block chain would otherwise be
    // measured row by row on every edit, and the window would stall for seconds.
    view_->header()->setResizeContentsPrecision(256);
    view_->setUniformRowHeights(true);
    view_->setAlternatingRowColors(true);
    view_->setToolTip(tr("The layer stack, input at the top. Tick a block's Checkpoint box to keep only its input in "
                         "forward and recompute it in backward; blocks joined by a bracket are a segment, checkpointed "
                         "as one (one input kept, recomputed together). Expand a block to see its layers; select "
                         "several (Shift or Ctrl) to checkpoint or group them at once; right-click for more."));

    auto* add = button(tr("Add block"), tr("Insert a Linear + ReLU block after the selected one."), this);
    auto* remove = button(tr("Remove"), tr("Remove the selected block or layer."), this);
    auto* dup = button(tr("Duplicate"), tr("Insert a copy of the selected block after it."), this);
    auto* up = button(tr("▲"), tr("Move the selected block up (or drag it)."), this);
    auto* down = button(tr("▼"), tr("Move the selected block down (or drag it)."), this);
    auto* layer = new QToolButton(this);
    layer->setText(tr("Add layer"));
    layer->setToolTip(tr("Insert a layer after the selected layer (or at the end of the selected block); inputs follow "
                         "the layer before. Attention takes a fused (q, k, v) input three times its output width, so put "
                         "a Linear d -> 3d before it. An embedding must be the model's first layer."));
    layer->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(layer);
    // Every layer type of the engine's table, inserted where the selection is.
    menu->setToolTipsVisible(true);
    for (const ckpt::LayerTraits& lt : ckpt::all_layer_traits()) {
        QAction* a = menu->addAction(QString::fromUtf8(lt.name), this, [this, t = lt.type] {
            const QModelIndex i = view_->currentIndex();
            if (i.isValid() && i.parent().isValid()) model_->insertLayer(i.parent().row(), i.row() + 1, t);
            else model_->addLayer(selectedBlock(), t);
        });
        a->setToolTip(QString::fromUtf8(lt.summary));
    }
    layer->setMenu(menu);

    auto* none = button(tr("None"), tr("Checkpoint no block: everything forward computes is kept."), this);
    auto* all = button(tr("All"), tr("Checkpoint every block: least memory, one extra forward per step."), this);
    auto* every = button(tr("Every"), tr("Checkpoint units 0, k, 2k, ... (a segment, such as a transformer layer, "
                                         "counts as one unit)."), this);
    every_ = new QSpinBox(this);
    every_->setRange(1, 1000);
    every_->setValue(2);
    every_->setToolTip(tr("k for \"checkpoint every k-th block\"."));
    policy_ = new QComboBox(this);
    policy_->setObjectName(QStringLiteral("policyBox"));
    for (const auto& [policy, name] : ckpt::enum_names<ckpt::BlockSpec::Policy>())
        policy_->addItem(QString::fromUtf8(name.data(), qsizetype(name.size())), int(policy));
    policy_->setToolTip(tr("What the selected checkpointed block saves instead of recomputing: full recomputes "
                           "everything; save_matmuls keeps matmul outputs (JAX's dots_saveable); attention_core "
                           "recomputes only attention (Megatron-LM); custom lets you tick layers."));

    auto* toAll = button(tr("to all"), tr("Give every block the policy chosen here (compare full against "
                                          "attention_core on a whole transformer in one click)."), this);
    toAll->setObjectName(QStringLiteral("policyToAll"));

    // Two rows of three: the editor fits a dock a third of a 1280-pixel screen wide.
    auto* row1 = new QGridLayout;
    int cell = 0;
    for (QWidget* w : {static_cast<QWidget*>(add), static_cast<QWidget*>(layer), static_cast<QWidget*>(dup),
                       static_cast<QWidget*>(remove), static_cast<QWidget*>(up), static_cast<QWidget*>(down)}) {
        row1->addWidget(w, cell / 3, cell % 3);
        ++cell;
    }
    auto* row2 = new QHBoxLayout;
    row2->addWidget(new QLabel(tr("Checkpoint:"), this));
    row2->addWidget(none);
    row2->addWidget(all);
    row2->addWidget(every);
    row2->addWidget(every_);
    row2->addStretch();
    // The policy on a row of its own: the stack's dock stays narrow on a laptop screen.
    auto* row3 = new QHBoxLayout;
    row3->addWidget(new QLabel(tr("Policy:"), this));
    row3->addWidget(policy_, 1);
    row3->addWidget(toAll);
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    v->addWidget(view_);
    v->addLayout(row1);
    v->addLayout(row2);
    v->addLayout(row3);

    // Actions with shortcuts, active while the stack has the focus (Del in a text field deletes
    // text, not a block); the Edit menu and the tree's context menu show them too.
    auto action = [this](const QString& text, const QKeySequence& key, const QString& tip, auto slot) {
        auto* a = new QAction(text, this);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        a->setToolTip(key.isEmpty() ? tip : QStringLiteral("%1 (%2)").arg(tip, key.toString(QKeySequence::NativeText)));
        connect(a, &QAction::triggered, this, slot);
        addAction(a);
        view_->addAction(a);
        actions_ << a;
        return a;
    };
    action(tr("Remove block or layer"), QKeySequence::Delete, tr("Remove the selected block or layer."), [this] {
        const QModelIndex i = view_->currentIndex();
        if (!i.isValid()) return;
        if (i.parent().isValid()) model_->removeLayer(i.parent().row(), i.row());
        else model_->removeBlock(i.row());
    });
    action(tr("Duplicate block"), QKeySequence(tr("Ctrl+D")), tr("Insert a copy of the selected block after it."),
           [this] { model_->duplicateBlock(selectedBlock()); });
    action(tr("Repeat block…"), QKeySequence(tr("Ctrl+R")), tr("The selected block several times in a row (24 layers in one step)."), [this] {
        bool ok = false;
        const int n = QInputDialog::getInt(this, tr("Repeat block"), tr("How many of this block in a row (copies follow it):"),
                                           2, 2, 10000, 1, &ok);
        if (ok) repeatSelected(n);
    });
    action(tr("Checkpoint selected blocks"), QKeySequence(tr("Ctrl+K")), tr("Tick Checkpoint on every selected block."),
           [this] { model_->setCheckpointRows(selectedBlocks(), true); });
    action(tr("Uncheckpoint selected blocks"), QKeySequence(tr("Ctrl+Shift+K")), tr("Untick Checkpoint on every selected block."),
           [this] { model_->setCheckpointRows(selectedBlocks(), false); });
    action(tr("Group as a segment"), QKeySequence(tr("Ctrl+G")),
           tr("Make the selected blocks (from the first to the last) one segment: checkpointed, it keeps only its first "
              "block's input and recomputes them all at once in backward."),
           [this] {
               const QList<int> rows = selectedBlocks();
               if (rows.size() < 2) {
                   emit segmentRefused(tr("A segment needs two blocks or more: select them (Shift or Ctrl) first."));
                   return;
               }
               model_->groupBlocks(rows.first(), rows.last());
           });
    action(tr("Ungroup segment"), QKeySequence(tr("Ctrl+Shift+G")),
           tr("Split the selected block's segment back into blocks checkpointed one by one."),
           [this] { model_->ungroupBlock(selectedBlock()); });
    remove->setToolTip(actions_[0]->toolTip());
    dup->setToolTip(actions_[1]->toolTip());
    connect(add, &QPushButton::clicked, this, [this] { model_->addBlock(selectedBlock() + 1); });
    connect(remove, &QPushButton::clicked, actions_[0], &QAction::trigger);
    connect(dup, &QPushButton::clicked, actions_[1], &QAction::trigger);
    // Expansion survives edits that rebuild the tree.
    connect(model_, &QAbstractItemModel::modelAboutToBeReset, this, &StackEditor::rememberExpanded);
    connect(model_, &QAbstractItemModel::modelReset, this, &StackEditor::restoreExpanded);
    connect(up, &QPushButton::clicked, this, [this] {
        const int b = selectedBlock();
        model_->moveBlock(b, b - 1);
        view_->setCurrentIndex(model_->index(std::max(0, b - 1), 0));
    });
    connect(down, &QPushButton::clicked, this, [this] {
        const int b = selectedBlock();
        model_->moveBlock(b, b + 1);
        view_->setCurrentIndex(model_->index(std::min(model_->rowCount() - 1, b + 1), 0));
    });
    connect(none, &QPushButton::clicked, this, [this] { model_->setCheckpointAll(false); });
    connect(all, &QPushButton::clicked, this, [this] { model_->setCheckpointAll(true); });
    connect(every, &QPushButton::clicked, this, [this] { model_->setCheckpointEvery(every_->value()); });
    connect(policy_, qOverload<int>(&QComboBox::activated), this, [this](int i) {
        if (selectedBlock() >= 0) model_->setPolicy(selectedBlock(), ckpt::BlockSpec::Policy(policy_->itemData(i).toInt()));
    });
    connect(toAll, &QPushButton::clicked, this, [this] {
        model_->setPolicyAll(ckpt::BlockSpec::Policy(policy_->currentData().toInt()));
    });
    connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this] { updatePolicyBox(); });
}

QList<int> StackEditor::selectedBlocks() const {
    QList<int> rows;
    for (const QModelIndex& i : view_->selectionModel()->selectedRows()) {
        const int b = i.parent().isValid() ? i.parent().row() : i.row();
        if (!rows.contains(b)) rows << b;
    }
    if (rows.isEmpty() && selectedBlock() >= 0) rows << selectedBlock();
    std::sort(rows.begin(), rows.end());
    return rows;
}

void StackEditor::repeatSelected(int times) { model_->repeatBlock(selectedBlock(), times); }

namespace {

// "name#n": the n-th block called `name`, so a block keeps its key when others move around it.
QStringList blockKeys(const ckpt::ModelSpec& spec) {
    QStringList keys;
    QHash<QString, int> seen;
    for (const ckpt::BlockSpec& b : spec.blocks) {
        const QString name = QString::fromStdString(b.name);
        keys << QStringLiteral("%1#%2").arg(name).arg(seen[name]++);
    }
    return keys;
}

}  // namespace

void StackEditor::rememberExpanded() {
    expanded_.clear();
    const QStringList keys = blockKeys(model_->spec());  // still the spec before the edit
    for (int b = 0; b < keys.size() && b < model_->rowCount(); ++b)
        if (view_->isExpanded(model_->index(b, 0))) expanded_ << keys[b];
}

void StackEditor::restoreExpanded() {
    const QStringList keys = blockKeys(model_->spec());
    for (int b = 0; b < keys.size(); ++b)
        if (expanded_.contains(keys[b])) view_->expand(model_->index(b, 0));
}

int StackEditor::selectedBlock() const {
    const QModelIndex i = view_->currentIndex();
    if (!i.isValid()) return model_->rowCount() - 1;
    return i.parent().isValid() ? i.parent().row() : i.row();
}

void StackEditor::updatePolicyBox() {
    const int b = selectedBlock();
    if (b >= 0 && b < int(model_->spec().blocks.size()))
        policy_->setCurrentIndex(policy_->findData(int(model_->spec().blocks[size_t(b)].policy)));
}

}  // namespace ckptui
