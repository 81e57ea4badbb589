// The layer-stack model: every edit through the model API and through simulated keys changes the
// spec as expected, feature sizes follow the edits, undo restores the previous spec exactly, and
// the model stays consistent throughout (QAbstractItemModelTester watches every change).
#include <QAbstractItemModelTester>
#include <QAction>
#include <QMimeData>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeView>
#include <QtTest>

#include "ckpt/units.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "test_models.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"

using namespace ckptui;

class TestStackModel : public QObject {
    Q_OBJECT

private slots:
    void init() {
        model_ = std::make_unique<LayerStackModel>();
        tester_ = std::make_unique<QAbstractItemModelTester>(model_.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        model_->setSpec(testmodels::textbook(8, 64), QStringLiteral("load"), false);
    }
    void cleanup() {
        tester_.reset();
        model_.reset();
    }

    void shape() {
        QCOMPARE(model_->rowCount(), 3);
        QCOMPARE(model_->rowCount(model_->index(0, 0)), 2);
        QCOMPARE(model_->data(model_->index(0, 0)).toString(), QStringLiteral("fc1"));
        QCOMPARE(model_->data(model_->index(0, 0, model_->index(0, 0))).toString(), QStringLiteral("linear"));
        QCOMPARE(model_->parent(model_->index(1, 0, model_->index(1, 0))).row(), 1);
    }

    void checkpointToggleAndUndo() {
        const ckpt::ModelSpec before = model_->spec();
        QVERIFY(model_->setData(model_->index(1, LayerStackModel::CheckpointColumn), Qt::Checked, Qt::CheckStateRole));
        QVERIFY(model_->spec().blocks[1].checkpoint);
        QCOMPARE(model_->data(model_->index(1, LayerStackModel::CheckpointColumn), Qt::CheckStateRole).toInt(), int(Qt::Checked));
        model_->undoStack()->undo();
        QVERIFY(model_->spec() == before);
        model_->undoStack()->redo();
        QVERIFY(model_->spec().blocks[1].checkpoint);
    }

    void structuralEditsAndUndo() {
        const ckpt::ModelSpec before = model_->spec();
        model_->addBlock(1);
        QCOMPARE(model_->rowCount(), 4);
        model_->duplicateBlock(0);
        QCOMPARE(model_->rowCount(), 5);
        QCOMPARE(model_->spec().blocks[1].name, std::string("fc1 copy"));
        model_->moveBlock(4, 0);
        QCOMPARE(model_->spec().blocks[0].name, std::string("head"));
        model_->removeBlock(0);
        model_->addLayer(0, ckpt::LayerType::dropout);
        QCOMPARE(model_->spec().blocks[0].layers.back().type, ckpt::LayerType::dropout);
        model_->removeLayer(0, 2);
        model_->setCheckpointEvery(2);
        QCOMPARE(model_->spec().blocks[0].checkpoint, true);
        QCOMPARE(model_->spec().blocks[1].checkpoint, false);
        while (model_->undoStack()->canUndo()) model_->undoStack()->undo();
        QVERIFY(model_->spec() == before);
    }

    void residualToggleAndUndo() {
        // fc2 is 64 -> 64, so it can become residual; the head (64 -> 10) cannot, and says why.
        const QModelIndex fc2 = model_->index(1, LayerStackModel::SizeColumn);
        QVERIFY(model_->flags(fc2) & Qt::ItemIsUserCheckable);
        QCOMPARE(model_->data(fc2, Qt::CheckStateRole).toInt(), int(Qt::Unchecked));
        QVERIFY(model_->setData(fc2, Qt::Checked, Qt::CheckStateRole));
        QVERIFY(model_->spec().blocks[1].residual);
        QVERIFY(model_->validationError().isEmpty());
        QVERIFY(model_->setData(model_->index(2, LayerStackModel::SizeColumn), Qt::Checked, Qt::CheckStateRole));
        QVERIFY2(model_->validationError().contains(QStringLiteral("residual")), qPrintable(model_->validationError()));
        model_->undoStack()->undo();
        QVERIFY(model_->validationError().isEmpty());
        model_->undoStack()->undo();
        QVERIFY(!model_->spec().blocks[1].residual);
    }

    void editingAWidthRechainsTheStack() {
        // fc1's linear 64 -> 64 becomes 64 -> 32: fc2's linear now takes 32 inputs.
        const QModelIndex lin = model_->index(0, LayerStackModel::SizeColumn, model_->index(0, 0));
        QVERIFY(model_->setData(lin, 32));
        QCOMPARE(model_->spec().blocks[0].layers[0].out, int64_t(32));
        QCOMPARE(model_->spec().blocks[1].layers[0].in, int64_t(32));
        QVERIFY(model_->validationError().isEmpty());
        QVERIFY(!model_->setData(lin, -5));  // refused, nothing changes
        QCOMPARE(model_->spec().blocks[0].layers[0].out, int64_t(32));
    }

    void resnetBlocksShowTheirShortcutAndPost() {
        // A projection block lists its layers, then its shortcut, then what runs after the add;
        // removing a shortcut layer edits the shortcut, and undo restores it.
        const ckpt::ModelSpec resnet = testmodels::resnet(4, 8, {8, 16});
        model_->setSpec(resnet, QStringLiteral("load"), false);
        QVERIFY2(model_->validationError().isEmpty(), qPrintable(model_->validationError()));
        const QModelIndex stage1 = model_->index(2, 0);
        QCOMPARE(model_->rowCount(stage1), 5 + 2 + 1);
        QCOMPARE(model_->data(model_->index(0, 0, stage1)).toString(), QStringLiteral("conv2d"));
        QCOMPARE(model_->data(model_->index(5, 0, stage1)).toString(), QStringLiteral("shortcut: conv2d"));
        QCOMPARE(model_->data(model_->index(6, 0, stage1)).toString(), QStringLiteral("shortcut: batchnorm2d"));
        QCOMPARE(model_->data(model_->index(7, 0, stage1)).toString(), QStringLiteral("after the add: relu"));
        model_->removeLayer(2, 6);
        QCOMPARE(model_->spec().blocks[2].shortcut.size(), size_t(1));
        QCOMPARE(model_->spec().blocks[2].layers.size(), size_t(5));
        QVERIFY(model_->validationError().isEmpty());
        model_->undoStack()->undo();
        QVERIFY(model_->spec() == resnet);
    }

    void invalidStackIsReported() {
        // A residual block whose width changes cannot run: the error names it.
        ckpt::ModelSpec s = testmodels::textbook(8, 64);
        s.blocks[0].residual = true;
        s.blocks[0].layers[0].out = 32;
        QSignalSpy spy(model_.get(), &LayerStackModel::specChanged);
        model_->setSpec(s);
        QCOMPARE(spy.count(), 1);
        QVERIFY2(spy.first().at(1).toString().contains(QStringLiteral("residual")), qPrintable(spy.first().at(1).toString()));
    }

    void keyboardTogglesCheckpoint() {
        QTreeView view;
        view.setModel(model_.get());
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.setCurrentIndex(model_->index(2, LayerStackModel::CheckpointColumn));
        QTest::keyClick(&view, Qt::Key_Space);
        QVERIFY(model_->spec().blocks[2].checkpoint);
        QTest::keyClick(&view, Qt::Key_Space);
        QVERIFY(!model_->spec().blocks[2].checkpoint);
        QCOMPARE(model_->undoStack()->count(), 2);
    }

    void editorClicksAndUndoKey() {
        StackEditor editor(model_.get());
        QAction* undo = model_->undoStack()->createUndoAction(&editor);
        undo->setShortcut(QKeySequence::Undo);
        undo->setShortcutContext(Qt::WindowShortcut);
        editor.addAction(undo);
        editor.show();
        QVERIFY(QTest::qWaitForWindowExposed(&editor));
        auto button = [&](const QString& text) -> QPushButton* {
            for (QPushButton* b : editor.findChildren<QPushButton*>())
                if (b->text() == text) return b;
            return nullptr;
        };
        for (const char* t : {"Add block", "Duplicate", "Remove", "▲", "▼", "None", "All", "Every"})
            QVERIFY2(button(QString::fromUtf8(t)), t);
        const ckpt::ModelSpec before = model_->spec();
        QTreeView* view = editor.view();

        // Add block after the selected fc1: Linear + ReLU sized to fit, the next block re-chained.
        view->setCurrentIndex(model_->index(0, 0));
        QTest::mouseClick(button(QStringLiteral("Add block")), Qt::LeftButton);
        QCOMPARE(model_->rowCount(), 4);
        QCOMPARE(model_->spec().blocks[1].layers[0].type, ckpt::LayerType::linear);
        QCOMPARE(model_->spec().blocks[1].layers[0].in, int64_t(64));
        QCOMPARE(model_->spec().blocks[2].layers[0].in, model_->spec().blocks[1].layers[0].out);
        QVERIFY(model_->validationError().isEmpty());

        // Checkpoint all, none, every 2nd.
        QTest::mouseClick(button(QStringLiteral("All")), Qt::LeftButton);
        for (const auto& b : model_->spec().blocks) QVERIFY(b.checkpoint);
        QTest::mouseClick(button(QStringLiteral("None")), Qt::LeftButton);
        for (const auto& b : model_->spec().blocks) QVERIFY(!b.checkpoint);
        editor.findChild<QSpinBox*>()->setValue(2);
        QTest::mouseClick(button(QStringLiteral("Every")), Qt::LeftButton);
        std::vector<bool> flags;
        for (const auto& b : model_->spec().blocks) flags.push_back(b.checkpoint);
        QCOMPARE(flags, (std::vector<bool>{true, false, true, false}));

        // Move fc1 down one, duplicate it, remove the copy.
        view->setCurrentIndex(model_->index(0, 0));
        QTest::mouseClick(button(QStringLiteral("▼")), Qt::LeftButton);
        QCOMPARE(model_->spec().blocks[1].name, std::string("fc1"));
        QTest::mouseClick(button(QStringLiteral("Duplicate")), Qt::LeftButton);
        QCOMPARE(model_->spec().blocks[2].name, std::string("fc1 copy"));
        view->setCurrentIndex(model_->index(2, 0));
        QTest::mouseClick(button(QStringLiteral("Remove")), Qt::LeftButton);
        QCOMPARE(model_->rowCount(), 4);

        // A click on a block's check box toggles its checkpoint flag.
        const QModelIndex box = model_->index(3, LayerStackModel::CheckpointColumn);
        const bool was = model_->spec().blocks[3].checkpoint;
        QStyleOptionViewItem opt;
        opt.initFrom(view);
        opt.rect = view->visualRect(box);
        opt.features |= QStyleOptionViewItem::HasCheckIndicator;
        const QRect indicator = view->style()->subElementRect(QStyle::SE_ItemViewItemCheckIndicator, &opt, view);
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, indicator.center());
        QCOMPARE(model_->spec().blocks[3].checkpoint, !was);

        // Ctrl+Z all the way back restores the spec exactly.
        editor.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&editor));
        const int edits = model_->undoStack()->count();
        QCOMPARE(edits, 8);  // add, all, none, every, move, duplicate, remove, tick
        for (int i = 0; i < edits; ++i) QTest::keyClick(&editor, Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(model_->undoStack()->index(), 0);
        QVERIFY(model_->spec() == before);
    }

    void dragAndDropMovesBlocks() {
        // A block dragged onto row 0 moves there; the drop itself deletes nothing.
        std::unique_ptr<QMimeData> mime(model_->mimeData({model_->index(2, 0)}));
        QVERIFY(mime);
        model_->dropMimeData(mime.get(), Qt::MoveAction, 0, 0, QModelIndex());
        QCOMPARE(model_->spec().blocks[0].name, std::string("head"));
        QCOMPARE(model_->rowCount(), 3);
        // Dropped at the end (row -1 on the root), fc1 goes last.
        mime.reset(model_->mimeData({model_->index(1, 0)}));
        model_->dropMimeData(mime.get(), Qt::MoveAction, -1, -1, QModelIndex());
        QCOMPARE(model_->spec().blocks[2].name, std::string("fc1"));
        model_->undoStack()->undo();
        model_->undoStack()->undo();
        QCOMPARE(model_->spec().blocks[0].name, std::string("fc1"));
        QCOMPARE(model_->spec().blocks[2].name, std::string("head"));
    }

    void reportFillsColumns() {
        auto s = ckpt::Session::create(model_->spec());
        QVERIFY(s);
        const ckpt::StepReport r = (*s)->step();
        model_->setReport(r);
        QCOMPARE(model_->data(model_->index(0, LayerStackModel::KeptColumn)).toString(),
                 QString::fromStdString(ckpt::format_bytes(r.blocks[0].kept_bytes)));
    }

private:
    std::unique_ptr<LayerStackModel> model_;
    std::unique_ptr<QAbstractItemModelTester> tester_;
};

QTEST_MAIN(TestStackModel)
#include "tst_stack_model.moc"
