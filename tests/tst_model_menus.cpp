// The ways to a model without writing JSON (issues 12 and 13), offscreen: the run bar's
// precision box changes the step's precision (the report says so and carries the 16-bit weight
// copies), undoes, and follows a loaded file; File > New from template builds the engine's
// template with the knobs chosen (a 24-layer GPT-2 in one dialog); File > Import config reads a
// Hugging Face config.json at the batch and sequence asked for.
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QTemporaryDir>
#include <QTimer>
#include <QUndoStack>
#include <QtTest>

#include "ckpt/templates.h"
#include "ui/main_window.h"
#include "ui/run_bar.h"
#include "ui/stack_model.h"
#include "ui/template_dialog.h"

using namespace ckptui;

namespace {

// Calls `answer` on the next modal dialog of type D once it is shown.
template <class D, class F>
void answerNext(F answer, bool* answered) {
    auto* timer = new QTimer(qApp);
    timer->setInterval(10);
    QObject::connect(timer, &QTimer::timeout, timer, [timer, answer, answered] {
        auto* d = qobject_cast<D*>(QApplication::activeModalWidget());
        if (!d) return;
        timer->stop();
        timer->deleteLater();
        *answered = true;
        answer(d);
    });
    timer->start();
}

}  // namespace

class TestModelMenus : public QObject {
    Q_OBJECT

private slots:
    void init() {
        w_ = std::make_unique<MainWindow>();
        w_->show();
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
    }
    void cleanup() {
        w_->stop();
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);
        w_.reset();
    }

    void precisionBoxSetsTheStep_data() {
        QTest::addColumn<int>("precision");
        QTest::addColumn<QString>("name");
        QTest::newRow("bf16") << int(ckpt::Precision::bf16_mixed) << "bf16-mixed";
        QTest::newRow("fp16") << int(ckpt::Precision::fp16_mixed) << "fp16-mixed";
    }
    void precisionBoxSetsTheStep() {
        QFETCH(int, precision);
        QFETCH(QString, name);
        auto* box = w_->findChild<QComboBox*>(QStringLiteral("precision"));
        QVERIFY(box);
        QCOMPARE(box->currentText(), QStringLiteral("f32"));
        QVERIFY(!box->toolTip().isEmpty());
        const int i = box->findData(precision);
        QVERIFY(i >= 0);
        QCOMPARE(box->itemText(i), name);
        box->setCurrentIndex(i);
        emit box->activated(i);  // as a user's choice
        QCOMPARE(int(w_->stackModel()->spec().precision), precision);
        QVERIFY(w_->isModified());
        // The step runs at that precision: the report says so and holds the 16-bit weight copies.
        QSignalSpy shown(w_.get(), &MainWindow::resultShown);
        w_->runSteps(1);
        QTRY_VERIFY_WITH_TIMEOUT(shown.size() >= 1, 60000);
        QVERIFY(w_->lastResult().report);
        QCOMPARE(QString::fromStdString(w_->lastResult().report->precision), name);
        QVERIFY(w_->lastResult().report->peak[size_t(ckpt::Category::weight_cast)] > 0);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->controller()->isRunning(), 30000);
        // Undo takes it back, and the box follows.
        w_->stackModel()->undoStack()->undo();
        QCOMPARE(w_->stackModel()->spec().precision, ckpt::Precision::f32);
        QCOMPARE(box->currentText(), QStringLiteral("f32"));
        // Saved and opened again, the experiment keeps it; the box shows the file's.
        box->setCurrentIndex(i);
        emit box->activated(i);
        QTemporaryDir dir;
        const QString path = dir.filePath("mixed.json");
        QCOMPARE(w_->saveExperiment(path), QString());
        QCOMPARE(w_->loadPreset(QStringLiteral("tutorial_mlp")), QString());
        QCOMPARE(box->currentText(), QStringLiteral("f32"));
        QCOMPARE(w_->openExperiment(path), QString());
        QCOMPARE(int(w_->stackModel()->spec().precision), precision);
        QCOMPARE(box->currentText(), name);
    }

    void newFromTemplateBuildsA24LayerModel() {
        auto* action = w_->findChild<QAction*>(QStringLiteral("newFromTemplate"));
        QVERIFY(action);
        ckpt::TemplateKnobs knobs;
        bool answered = false;
        answerNext<TemplateDialog>(
            [&knobs](TemplateDialog* d) {
                d->setFamily(ckpt::TemplateKind::gpt2);
                d->setKnob(QStringLiteral("depth"), 24);
                d->setKnob(QStringLiteral("width"), 256);
                d->setKnob(QStringLiteral("heads"), 4);
                d->setKnob(QStringLiteral("seq"), 128);
                d->setKnob(QStringLiteral("batch"), 2);
                d->setKnob(QStringLiteral("vocab"), 1000);
                d->setKnob(QStringLiteral("precision"), int(ckpt::Precision::bf16_mixed));
                knobs = d->knobs();
                d->accept();
            },
            &answered);
        action->trigger();
        QVERIFY(answered);
        QCOMPARE(knobs.depth, int64_t(24));
        QCOMPARE(knobs.width, int64_t(256));
        QCOMPARE(knobs.precision, ckpt::Precision::bf16_mixed);
        QCOMPARE(knobs.attention, ckpt::AttentionImpl::flash);  // the transformers' default
        const auto expected = ckpt::make_template(ckpt::TemplateKind::gpt2, knobs);
        QVERIFY(expected);
        QVERIFY(w_->stackModel()->spec() == *expected);
        QVERIFY(w_->stackModel()->validationError().isEmpty());
        QVERIFY2(w_->windowTitle().contains(QLatin1String("24")), qPrintable(w_->windowTitle()));
        QVERIFY(w_->currentFile().isEmpty());
        // The ResNet family (ResNet-20 at its defaults) is the engine's template too.
        TemplateDialog r;
        r.setFamily(ckpt::TemplateKind::resnet);
        ckpt::TemplateKnobs rk;
        rk.depth = 3;
        rk.width = 16;
        rk.image = 32;
        rk.batch = 32;
        const auto resnet = ckpt::make_template(ckpt::TemplateKind::resnet, rk);
        QVERIFY(resnet && r.model());
        QVERIFY(*r.model() == *resnet);
        QCOMPARE(ckpt::parameter_count(*resnet), int64_t(272474));
        // The attention kernel is a knob of the transformers, and every attention layer follows it.
        TemplateDialog a;
        a.setFamily(ckpt::TemplateKind::llama);
        QVERIFY(a.findChild<QComboBox*>(QStringLiteral("knob_attention")));
        a.setKnob(QStringLiteral("attention"), int(ckpt::AttentionImpl::eager));
        QCOMPARE(a.knobs().attention, ckpt::AttentionImpl::eager);
        int attention = 0;
        for (const auto& b : a.model()->blocks)
            for (const auto& l : b.layers)
                if (l.type == ckpt::LayerType::attention) {
                    QCOMPARE(l.impl, ckpt::AttentionImpl::eager);
                    ++attention;
                }
        QCOMPARE(attention, 4);
        r.setFamily(ckpt::TemplateKind::resnet);
        QVERIFY(!r.findChild<QComboBox*>(QStringLiteral("knob_attention")));
        // An impossible combination is the engine's one-line reason, and OK is off.
        TemplateDialog d;
        d.setFamily(ckpt::TemplateKind::gpt2);
        d.setKnob(QStringLiteral("width"), 100);
        d.setKnob(QStringLiteral("heads"), 3);
        QVERIFY(!d.model());
        QVERIFY2(!d.status().isEmpty(), qPrintable(d.status()));
    }

    void importConfigReadsAHuggingFaceFile_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<qint64>("parameters");
        QTest::newRow("gpt2") << "gpt2.json" << qint64(124439808);
        QTest::newRow("qwen2") << "qwen2_0_5b.json" << qint64(494032768);
    }
    void importConfigReadsAHuggingFaceFile() {
        QFETCH(QString, file);
        QFETCH(qint64, parameters);
        const QString path = QStringLiteral(CKPT_SOURCE_DIR "/tests/data/configs/") + file;
        QSignalSpy opened(w_.get(), &MainWindow::fileOpened);
        w_->importConfigFile(path, 2, 64);
        QTRY_VERIFY_WITH_TIMEOUT(!opened.isEmpty(), 30000);
        QCOMPARE(opened.last().at(1).toString(), QString());
        const auto expected = ckpt::import_hf_config_file(path.toStdString(), 2, 64);
        QVERIFY(expected);
        QVERIFY(w_->stackModel()->spec() == *expected);
        QCOMPARE(qint64(ckpt::parameter_count(w_->stackModel()->spec())), parameters);
        QVERIFY(w_->currentFile().isEmpty());  // an import is a new model: Save asks for a name
        // Not a config: an error, and the model stays.
        const ckpt::ModelSpec before = w_->stackModel()->spec();
        w_->importConfigFile(QStringLiteral(CKPT_SOURCE_DIR "/tests/data/configs/missing.json"), 2, 64);
        QTRY_VERIFY_WITH_TIMEOUT(opened.size() >= 2, 30000);
        QVERIFY(!opened.last().at(1).toString().isEmpty());
        QVERIFY(w_->stackModel()->spec() == before);
        for (QWidget* top : QApplication::topLevelWidgets())
            if (top->objectName() == QLatin1String("errorDialog")) top->close();
    }

private:
    std::unique_ptr<MainWindow> w_;
};

QTEST_MAIN(TestModelMenus)
#include "tst_model_menus.moc"
