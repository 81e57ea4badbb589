// The left panel: the layer stack as a tree (blocks, expandable to their layers) with the
// buttons that edit it: add, remove, duplicate, move blocks, add layers, checkpoint none / all /
// every k, and a policy choice for the selected block.
#pragma once

#include <QWidget>

class QTreeView;
class QSpinBox;
class QComboBox;

namespace ckptui {

class LayerStackModel;

class StackEditor : public QWidget {
    Q_OBJECT

public:
    StackEditor(LayerStackModel* model, QWidget* parent = nullptr);
    QTreeView* view() const { return view_; }
    int selectedBlock() const;

private:
    void updatePolicyBox();

    LayerStackModel* model_;
    QTreeView* view_;
    QSpinBox* every_;
    QComboBox* policy_;
};

}  // namespace ckptui
