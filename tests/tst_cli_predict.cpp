// `checkpointlab predict` and the layout options of `plan`, run as a user would: every impossible
// layout is one line with exit 2; a rank's report reads back as a recorded run marked with its
// rank; a one-device prediction's peak equals what `run` measures; the plan chosen for a layout
// has the peak its own suggested `predict` line prints.
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "cli_process.h"
#include "ckpt/memory.h"
#include "ckpt/recorded_run.h"

class TestCliPredict : public QObject {
    Q_OBJECT

private slots:
    void badLayouts_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        QTest::newRow("predict tp heads") << QStringList{"predict", "gpt2_small", "--tp", "5"} << 2
                                          << "tp 5 does not divide the 2304 output features of block 1 (h0.attn), layer 1";
        QTest::newRow("predict tp kv heads") << QStringList{"predict", "llama3_8b_8k", "--tp", "16"} << 2
                                             << "tp 16 does not divide the 8 KV heads of block 1 (l0.attn), layer 2";
        QTest::newRow("predict too many stages") << QStringList{"predict", "lesson1_activations", "--pp", "9"} << 2
                                                 << "pp 9 is more than the model's 8 units of blocks";
        QTest::newRow("predict world") << QStringList{"predict", "gpt2_small", "--dp", "2", "--tp", "2", "--world", "8"} << 2
                                       << "--world 8 is not dp x tp x pp = 2 x 2 x 1 = 4";
        QTest::newRow("predict zero stage") << QStringList{"predict", "gpt2_small", "--dp", "2", "--zero", "4"} << 2
                                            << "--zero: expected an integer from 0 to 3";
        QTest::newRow("predict rank") << QStringList{"predict", "gpt2_small", "--dp", "2", "--rank", "2"} << 2
                                      << "--rank: expected an integer from 0 to 1";
        QTest::newRow("sp without tp") << QStringList{"predict", "gpt2_small", "--sp"} << 2
                                       << "sequence parallelism splits the sequence across the tensor ranks: it needs tp 2";
        QTest::newRow("predict conv tp") << QStringList{"predict", "resnet20_cifar", "--tp", "2"} << 2
                                         << "tensor parallelism is modelled for linear, attention and embedding layers";
        QTest::newRow("predict microbatches") << QStringList{"predict", "lesson1_activations", "--microbatches", "7"} << 2
                                              << "microbatches 7 does not divide the batch";
        QTest::newRow("plan pipeline too small") << QStringList{"plan", "gpt2_small", "--budget", "1MiB", "--pp", "2"} << 3
                                                 << "no plan fits stage 0 (blocks 0-";
    }

    void badLayouts() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const Run r = runCli(args, dir.path());
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.code, code);
        QVERIFY2(isOneErrorLine(r.err), qPrintable(r.err));
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    // predict: one rank of a layout, its report marked with the rank and readable as a recorded
    // run; a layout of one device predicts what run measures; plan with a layout chooses a set
    // whose predict peak it quoted.
    void predictWritesTheRanksReport() {
        QTemporaryDir dir;
        const Run r = runCli({"predict", "gpt2_small", "--dp", "4", "--zero", "3", "--tp", "2", "--pp", "2",
                              "--microbatches", "2", "--rank", "9", "--report", "r.json", "--csv", "t.csv"},
                             dir.path());
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("rank 9: stage 1 (blocks"), qPrintable(r.out));
        QVERIFY(r.out.contains("<- worst"));
        const ckpt::Result<ckpt::RecordedRun> run = ckpt::load_recorded_run(dir.filePath("r.json").toStdString());
        QVERIFY2(run.ok(), run.ok() ? "" : run.error().message.c_str());
        QVERIFY(run->report.dry_run);
        QVERIFY(QString::fromStdString(run->report.parallel).startsWith("rank 9 (stage 1"));
        QVERIFY(run->report.peak[int(ckpt::Category::communication)] > 0);

        const Run one = runCli({"predict", "tutorial_mlp", "--device", "cpu", "--steps", "2"});
        const Run measured = runCli({"run", "tutorial_mlp", "--steps", "2", "--repeats", "1"});
        QCOMPARE(one.code, 0);
        QCOMPARE(measured.code, 0);
        const QRegularExpression peak(QStringLiteral("peak +([0-9.]+ [KMG]?i?B)"));
        QCOMPARE(peak.match(one.out).captured(1), peak.match(measured.out).captured(1));

        const Run plan = runCli({"plan", "gpt2_small", "--budget", "640MiB", "--dp", "8", "--zero", "3"});
        QCOMPARE(plan.code, 0);
        const QRegularExpression chosen(QStringLiteral("predicted peak ([0-9.]+ [KMG]?i?B) of the"));
        const QString quoted = chosen.match(plan.out).captured(1);
        const QRegularExpression see(QStringLiteral("see it: checkpointlab (predict .*)\n"));
        const QString again = see.match(plan.out).captured(1);
        QVERIFY2(!quoted.isEmpty() && !again.isEmpty(), qPrintable(plan.out));
        const Run check = runCli(again.split(' '));
        QCOMPARE(check.code, 0);
        QCOMPARE(peak.match(check.out).captured(1), quoted);
    }

    // plan --pp: every stage planned with its microbatches in flight; the rank its "see it" line
    // names (the worst stage's) peaks in predict where plan said, within the budget.
    void planAPipeline() {
        const Run plan = runCli({"plan", "gpt2_124m", "--budget", "1.2GiB", "--pp", "4", "--microbatches", "4"});
        QCOMPARE(plan.code, 0);
        QVERIFY2(plan.out.contains("planned with its microbatches in flight"), qPrintable(plan.out));
        const QRegularExpression chosen(QStringLiteral("predicted peak ([0-9.]+ [KMG]?i?B) \\(stage ([0-9])\\) of the"));
        const QRegularExpressionMatch m = chosen.match(plan.out);
        const QRegularExpression see(QStringLiteral("see it: checkpointlab (predict .*)\n"));
        const QString again = see.match(plan.out).captured(1);
        QVERIFY2(m.hasMatch() && !again.isEmpty(), qPrintable(plan.out));
        const Run check = runCli(again.split(' '));
        QCOMPARE(check.code, 0);
        const QRegularExpression peak(QStringLiteral("peak +([0-9.]+ [KMG]?i?B)"));
        QCOMPARE(peak.match(check.out).captured(1), m.captured(1));
        QVERIFY2(check.out.contains("stage " + m.captured(2) + " ("), qPrintable(check.out));
    }

};

QTEST_GUILESS_MAIN(TestCliPredict)
#include "tst_cli_predict.moc"
