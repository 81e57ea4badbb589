// The left panel: the layer stack as a tree (blocks, expandable to their layers) with the
// buttons that edit it: add, remove, duplicate, repeat, move blocks, insert layers where the
// selection is, checkpoint none / all / every k or the selected blocks at once, group blocks into
// a segment or ungroup one, and a policy choice for the selected block. The tree keeps which
// blocks are expanded across edits.
#pragma once

#include <QWidget>

class QTreeView;
class QSpinBox;
class QComboBox;
class QAction;

namespace ckptui {

class LayerStackModel;

class StackEditor : public QWidget {
    Q_OBJECT

public:
    StackEditor(LayerStackModel* model, QWidget* parent = nullptr);
    QTreeView* view() const { return view_; }
    int selectedBlock() const;
    QList<int> selectedBlocks() const;  // every block with a selected row, in order
    // Remove (Del), Duplicate, Repeat…, Checkpoint / Uncheckpoint selected, Group / Ungroup:
    // for the Edit menu too.
    QList<QAction*> editActions() const { return actions_; }
    void repeatSelected(int times);

signals:
    // Grouping asked for something a segment cannot be (one block): the reason, for a dialog.
    void segmentRefused(const QString& reason);

private:
    void updatePolicyBox();
    void rememberExpanded();
    void restoreExpanded();

    LayerStackModel* model_;
    QTreeView* view_;
    QSpinBox* every_;
    QComboBox* policy_;
    QList<QAction*> actions_;
    QStringList expanded_;  // "name#n": the n-th block of that name, expanded
};

}  // namespace ckptui
