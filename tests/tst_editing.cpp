// Editing without JSON (issue 15), offscreen, on the tutorial MLP (in: linear 10->50; segment:
// relu, linear 50->50, relu; out: linear 50->1): the Properties panel edits the model's and a
// layer's fields (a value that is not one turns the field red and changes nothing), a layer goes
// in at any position, a block repeats n times, several selected blocks are checkpointed at once
// with one undo, an invalid stack marks its row, the tree keeps its expansion across edits, the
// charts follow a dark palette (and export light), and About names the libraries.
#include <QAction>
#include <QComboBox>
#include <QLineEdit>
#include <QTreeView>
#include <QUndoStack>
#include <QtTest>
#include <qcustomplot.h>

#include "ui/main_window.h"
#include "ui/properties_panel.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

void type(QWidget* field, const QString& text) {
    auto* e = qobject_cast<QLineEdit*>(field);
    QVERIFY(e);
    e->setText(text);
    emit e->editingFinished();
}

QAction* editorAction(StackEditor* editor, const QString& text) {
    for (QAction* a : editor->actions())
        if (a->text() == text) return a;
    return nullptr;
}

}  // namespace

class TestEditing : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->show();
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
        m_ = w_->stackModel();
    }
    void cleanup() { w_.reset(); }

    void propertiesEditTheModel() {
        PropertiesPanel* p = w_->properties();
        type(p->field(QStringLiteral("lr")), QStringLiteral("0.05"));
        QCOMPARE(m_->spec().optimizer.lr, 0.05);
        type(p->field(QStringLiteral("momentum")), QStringLiteral("0.9"));
        QCOMPARE(m_->spec().optimizer.momentum, 0.9);
        // AdamW brings its own hyperparameters.
        auto* opt = qobject_cast<QComboBox*>(p->field(QStringLiteral("optimizer")));
        QVERIFY(opt);
        const int adamw = opt->findData(int(ckpt::OptimizerType::adamw));
        opt->setCurrentIndex(adamw);
        emit opt->activated(adamw);
        QCOMPARE(m_->spec().optimizer.type, ckpt::OptimizerType::adamw);
        QCoreApplication::processEvents();  // the form is rebuilt for the new optimizer
        QVERIFY(p->field(QStringLiteral("beta2")) && p->field(QStringLiteral("eps")) && !p->field(QStringLiteral("momentum")));
        type(p->field(QStringLiteral("beta2")), QStringLiteral("0.95"));
        QCOMPARE(m_->spec().optimizer.beta2, 0.95);
        type(p->field(QStringLiteral("weight_decay")), QStringLiteral("0.1"));
        QCOMPARE(m_->spec().optimizer.weight_decay, 0.1);
        type(p->field(QStringLiteral("seed")), QStringLiteral("1234"));
        QCOMPARE(m_->spec().seed, uint64_t(1234));
        // Not a number: the field says so, the model stays.
        const ckpt::ModelSpec before = m_->spec();
        type(p->field(QStringLiteral("eps")), QStringLiteral("tiny"));
        QVERIFY(m_->spec() == before);
        QVERIFY(p->field(QStringLiteral("eps"))->styleSheet().contains(QLatin1String("#c00")));
        // Each edit is one undo step.
        m_->undoStack()->undo();
        QCOMPARE(m_->spec().seed, uint64_t(0));
    }

    void layerFieldsAndInsertAnywhere() {
        QTreeView* view = w_->stackEditor()->view();
        view->setCurrentIndex(m_->index(1, 0, m_->index(1, 0)));  // segment's linear 50->50
        PropertiesPanel* p = w_->properties();
        QVERIFY2(p->selectionTitle().contains(QLatin1String("linear")), qPrintable(p->selectionTitle()));
        type(p->field(QStringLiteral("layer.out")), QStringLiteral("64"));
        QCOMPARE(m_->spec().blocks[1].layers[1].out, int64_t(64));
        QCOMPARE(m_->spec().blocks[2].layers[0].in, int64_t(64));  // the next layer follows
        QVERIFY(m_->validationError().isEmpty());
        // A layer at the front of a block, not only at the end.
        m_->insertLayer(1, 0, ckpt::LayerType::gelu);
        QCOMPARE(int(m_->spec().blocks[1].layers.size()), 4);
        QCOMPARE(m_->spec().blocks[1].layers[0].type, ckpt::LayerType::gelu);
        QCOMPARE(m_->spec().blocks[1].layers[1].type, ckpt::LayerType::relu);
        m_->insertLayer(1, 2, ckpt::LayerType::tanh);
        QCOMPARE(m_->spec().blocks[1].layers[2].type, ckpt::LayerType::tanh);
        m_->undoStack()->undo();
        m_->undoStack()->undo();
        QCOMPARE(int(m_->spec().blocks[1].layers.size()), 3);
    }

    // The attention kernel: every layer at once in the model's group, one layer in its own.
    void attentionKernelEditable() {
        PropertiesPanel* p = w_->properties();
        QVERIFY(!p->field(QStringLiteral("attention_impl")));  // the tutorial MLP has no attention
        QCOMPARE(w_->loadPreset(QStringLiteral("lesson5_fused_attention")), QString());
        m_ = w_->stackModel();
        QCoreApplication::processEvents();  // the model's form gains the kernel
        auto* all = qobject_cast<QComboBox*>(p->field(QStringLiteral("attention_impl")));
        QVERIFY(all);
        QCOMPARE(all->currentText(), QStringLiteral("eager"));
        const int flash = all->findData(int(ckpt::AttentionImpl::flash));
        all->setCurrentIndex(flash);
        emit all->activated(flash);
        for (const auto& b : m_->spec().blocks)
            for (const auto& l : b.layers)
                if (l.type == ckpt::LayerType::attention) QCOMPARE(l.impl, ckpt::AttentionImpl::flash);
        // One layer back to eager: the model's box says mixed.
        QTreeView* view = w_->stackEditor()->view();
        view->setCurrentIndex(m_->index(2, 0, m_->index(0, 0)));  // h0.attn's attention
        QCoreApplication::processEvents();
        auto* one = qobject_cast<QComboBox*>(p->field(QStringLiteral("layer.impl")));
        QVERIFY2(one, qPrintable(p->selectionTitle()));
        one->setCurrentIndex(0);
        emit one->activated(0);
        QCOMPARE(m_->spec().blocks[0].layers[2].impl, ckpt::AttentionImpl::eager);
        QCOMPARE(m_->spec().blocks[2].layers[2].impl, ckpt::AttentionImpl::flash);
        QCoreApplication::processEvents();
        all = qobject_cast<QComboBox*>(p->field(QStringLiteral("attention_impl")));
        QVERIFY(all);
        QCOMPARE(all->currentText(), QStringLiteral("mixed"));
        m_->undoStack()->undo();
        QCOMPARE(m_->spec().blocks[0].layers[2].impl, ckpt::AttentionImpl::flash);
    }

    void repeatABlock() {
        const ckpt::ModelSpec before = m_->spec();
        m_->repeatBlock(1, 24);
        QCOMPARE(int(m_->spec().blocks.size()), 3 + 23);
        for (int b = 1; b <= 24; ++b) QVERIFY(m_->spec().blocks[size_t(b)].layers == before.blocks[1].layers);
        QCOMPARE(m_->spec().blocks.back().name, before.blocks.back().name);
        QVERIFY(m_->validationError().isEmpty());
        m_->undoStack()->undo();
        QVERIFY(m_->spec() == before);
    }

    void checkpointSeveralBlocksAtOnce() {
        m_->setCheckpointAll(false);
        QTreeView* view = w_->stackEditor()->view();
        view->selectionModel()->select(m_->index(0, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
        view->selectionModel()->select(m_->index(2, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
        QAction* on = editorAction(w_->stackEditor(), QStringLiteral("Checkpoint selected blocks"));
        QVERIFY(on);
        QCOMPARE(on->shortcut(), QKeySequence(QStringLiteral("Ctrl+K")));
        QVERIFY(on->toolTip().contains(QLatin1String("Ctrl+K")));
        on->trigger();
        QVERIFY(m_->spec().blocks[0].checkpoint && !m_->spec().blocks[1].checkpoint && m_->spec().blocks[2].checkpoint);
        m_->undoStack()->undo();  // one step for both
        QVERIFY(!m_->spec().blocks[0].checkpoint && !m_->spec().blocks[2].checkpoint);
    }

    void anErrorMarksItsRow() {
        ckpt::ModelSpec bad = m_->spec();
        bad.blocks[2].residual = true;  // out maps 50 features to 1: x + layers(x) cannot add up
        m_->setSpec(bad);
        QVERIFY(!m_->validationError().isEmpty());
        const QVariant wrong = m_->data(m_->index(2, 0), Qt::BackgroundRole);
        QVERIFY2(wrong.canConvert<QColor>() && wrong.value<QColor>().red() > 150, qPrintable(m_->validationError()));
        QVERIFY(!m_->data(m_->index(0, 0), Qt::BackgroundRole).isValid());
        QVERIFY(!m_->data(m_->index(1, 0), Qt::BackgroundRole).isValid());
        // Fixed, the mark goes.
        m_->undoStack()->undo();
        QVERIFY(m_->validationError().isEmpty());
        QVERIFY(!m_->data(m_->index(2, 0), Qt::BackgroundRole).isValid());
    }

    void expansionSurvivesEdits() {
        QTreeView* view = w_->stackEditor()->view();
        view->expand(m_->index(1, 0));
        m_->setBatch(7);
        m_->addBlock(3);
        m_->setCheckpointAll(true);
        QVERIFY(view->isExpanded(m_->index(1, 0)));
        QVERIFY(!view->isExpanded(m_->index(0, 0)));
    }

    void chartsFollowADarkPalette() {
        QPalette dark;
        dark.setColor(QPalette::Base, QColor(30, 30, 30));
        dark.setColor(QPalette::Window, QColor(40, 40, 40));
        dark.setColor(QPalette::Text, QColor(230, 230, 230));
        dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
        dark.setColor(QPalette::Mid, QColor(90, 90, 90));
        QCustomPlot* plot = w_->timeline();
        plot->setPalette(dark);
        QCoreApplication::processEvents();
        QCOMPARE(plot->xAxis->tickLabelColor(), QColor(230, 230, 230));
        QCOMPARE(plot->yAxis->labelColor(), QColor(230, 230, 230));
        // The file is for paper: light whatever the screen.
        QTemporaryDir dir;
        QCOMPARE(w_->exportChart(MainWindow::Chart::timeline, dir.filePath("t.png"), 400, 300), QString());
        QCOMPARE(QImage(dir.filePath("t.png")).pixelColor(2, 2), QColor(Qt::white));
        QCOMPARE(plot->xAxis->tickLabelColor(), QColor(230, 230, 230));  // and the screen stays dark
    }

    void aboutNamesTheLibraries() {
        const QString about = MainWindow::aboutText();
        QVERIFY2(about.contains(QString::fromLatin1(qVersion())), qPrintable(about));
        for (const char* name : {"QCustomPlot", "BLAS", "CUDA"}) QVERIFY2(about.contains(QLatin1String(name)), qPrintable(about));
    }

private:
    std::unique_ptr<MainWindow> w_;
    LayerStackModel* m_ = nullptr;
};

QTEST_MAIN(TestEditing)
#include "tst_editing.moc"
