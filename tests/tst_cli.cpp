// The checkpointlab executable, run as a user would through QProcess: every malformed model
// file and every bad option ends with a normal exit, the documented exit code and exactly one
// line on stderr naming the problem; a run of the tutorial preset writes a report, CSV, trace
// and safetensors dump that parse and agree with each other; out-of-memory and plan behave as
// documented; the manual pages have their sections.
#include <QtTest>

#include "malformed_cases.h"

using namespace Qt::StringLiterals;

namespace {

const QString kBinary = QStringLiteral(CKPT_CLI_PATH);

struct Run {
    QProcess::ExitStatus status = QProcess::CrashExit;
    int code = -1;
    QString out, err;
};

Run runCli(const QStringList& args, const QString& workDir = {}) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.remove("QT_QPA_PLATFORM");  // with none of the three, no arguments means the demo, not the GUI
    p.setProcessEnvironment(env);
    if (!workDir.isEmpty()) p.setWorkingDirectory(workDir);
    p.start(kBinary, args);
    Run r;
    if (!p.waitForStarted(30000)) {
        r.err = "failed to start " + kBinary;
        return r;
    }
    if (!p.waitForFinished(300000)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.status = p.exitStatus();
    r.code = p.exitCode();
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

// One line: "checkpointlab: error: ...\n" and nothing else.
bool isOneErrorLine(const QString& err) {
    return err.startsWith("checkpointlab: error: ") && err.endsWith('\n') && err.count('\n') == 1;
}

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(QFileInfo(kBinary).isExecutable(), qPrintable(kBinary)); }

    void malformedModel_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        for (const auto& [file, expected] : malformedCases()) QTest::newRow(qPrintable(file)) << file << expected;
    }

    void malformedModel() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        const Run r = runCli({"run", kMalformedDir + file});
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.code, 2);
        QVERIFY2(isOneErrorLine(r.err), qPrintable(r.err));
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
        QVERIFY(r.out.isEmpty());
    }

    void badUsage_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown command") << QStringList{"train"} << 2 << "unknown command \"train\"";
        QTest::newRow("model without command") << QStringList{"model.json"} << 2 << "did you mean: checkpointlab run model.json?";
        QTest::newRow("no model") << QStringList{"run"} << 2 << "run needs a MODEL";
        QTest::newRow("two models") << QStringList{"run", "tutorial_mlp", "textbook_mlp"} << 2 << "run takes one MODEL";
        QTest::newRow("missing file") << QStringList{"run", "no/such/model.json"} << 2 << "cannot open model file";
        QTest::newRow("unknown preset") << QStringList{"run", "no_such_preset"} << 2 << "no preset of that name (presets: ";
        QTest::newRow("unknown option") << QStringList{"run", "tutorial_mlp", "--fast"} << 2 << "unknown option --fast";
        QTest::newRow("missing value") << QStringList{"run", "tutorial_mlp", "--steps"} << 2 << "--steps needs a value";
        QTest::newRow("bad steps") << QStringList{"run", "tutorial_mlp", "--steps", "many"} << 2 << "--steps: expected an integer";
        QTest::newRow("zero steps") << QStringList{"run", "tutorial_mlp", "--steps=0"} << 2 << "--steps: expected an integer from 1";
        QTest::newRow("bad threads") << QStringList{"run", "tutorial_mlp", "--threads", "-2"} << 2 << "--threads";
        QTest::newRow("twice") << QStringList{"run", "tutorial_mlp", "--steps", "1", "--steps", "2"} << 2 << "--steps given twice";
        QTest::newRow("flag with value") << QStringList{"run", "tutorial_mlp", "--quiet=yes"} << 2 << "--quiet takes no value";
        QTest::newRow("bad policy") << QStringList{"run", "tutorial_mlp", "--checkpoint", "0,9"} << 2
                                    << "block 9 is out of range (the model has 3 blocks, 0-2)";
        QTest::newRow("bad memory limit") << QStringList{"run", "tutorial_mlp", "--memory-limit", "16G"} << 2
                                          << "--memory-limit: \"16G\": unknown unit";
        QTest::newRow("unknown device") << QStringList{"run", "tutorial_mlp", "--device", "tpu"} << 2
                                        << "--device: unknown device \"tpu\"";
        QTest::newRow("plot format") << QStringList{"run", "tutorial_mlp", "--plot", "chart.bmp"} << 2 << "--plot";
        QTest::newRow("unknown policy") << QStringList{"run", "tutorial_mlp", "--policy", "greedy"} << 2
                                        << "--policy: unknown policy \"greedy\"";
        QTest::newRow("plan without budget") << QStringList{"plan", "tutorial_mlp"} << 2 << "plan needs --budget";
        QTest::newRow("plan bad budget") << QStringList{"plan", "tutorial_mlp", "--budget", "lots"} << 2 << "--budget: \"lots\"";
        QTest::newRow("plan bad planner") << QStringList{"plan", "tutorial_mlp", "--budget", "1GiB", "--planner", "greedy"}
                                          << 2 << "unknown planner \"greedy\"";
        QTest::newRow("help topic") << QStringList{"help", "train"} << 2 << "no help for \"train\"";
        QTest::newRow("write failure") << QStringList{"run", "tutorial_mlp", "--report", "/nonexistent-dir/r.json"} << 1
                                       << "cannot write \"/nonexistent-dir/r.json\"";
        QTest::newRow("plan infeasible") << QStringList{"plan", "tutorial_mlp", "--budget", "1KiB"} << 3
                                         << "no plan fits in 1.00 KiB";
#ifndef CKPT_TEST_UI
        QTest::newRow("plot without UI") << QStringList{"run", "tutorial_mlp", "--plot", "chart.png"} << 2
                                         << "--plot needs the UI build";
#endif
    }

    void badUsage() {
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

    void helpPages_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("--help") << QStringList{"--help"};
        QTest::newRow("help") << QStringList{"help"};
        QTest::newRow("run --help") << QStringList{"run", "--help"};
        QTest::newRow("help run") << QStringList{"help", "run"};
        QTest::newRow("plan --help") << QStringList{"plan", "-h"};
    }

    void helpPages() {
        QFETCH(QStringList, args);
        const Run r = runCli(args);
        QCOMPARE(r.code, 0);
        QVERIFY(r.err.isEmpty());
        const QString page = '\n' + r.out;
        qsizetype at = -1;
        for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"}) {
            const qsizetype next = page.indexOf(u"\n"_s + QLatin1String(section) + u"\n"_s);
            QVERIFY2(next > at, section);  // present, in man-page order
            at = next;
        }
    }

    void version() {
        const Run r = runCli({"--version"});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.startsWith("checkpointlab "));
    }

    // The tutorial preset, two steps, every output format; then each file is read back.
    void tutorialWritesEveryFormat() {
        QTemporaryDir dir;
        QStringList args{"run", "tutorial_mlp", "--steps", "2", "--report", "r.json", "--trace", "t.json",
                         "--csv", "m.csv", "--dump-tensors", "t.safetensors"};
#ifdef CKPT_TEST_UI
        args << "--plot" << "chart.png";
#endif
        const Run r = runCli(args, dir.path());
        QCOMPARE(r.status, QProcess::NormalExit);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        // Progress on stderr, one line per step; the summary on stdout.
        QCOMPARE(r.err.count('\n'), 2);
        QVERIFY(r.err.startsWith("step 1/2"));
        QVERIFY(r.out.contains("tutorial-mlp on cpu"));
        QVERIFY(r.out.contains("step 2 of 2"));
        for (const char* f : {"r.json", "t.json", "m.csv", "t.safetensors"}) QVERIFY(r.out.contains("wrote "_L1 + QLatin1String(f)));

        // Report
        const QJsonObject report = readJson(dir.filePath("r.json"));
        QCOMPARE(report.value("status").toString(), u"ok"_s);
        QCOMPARE(report.value("step").toInt(), 2);
        QCOMPARE(report.value("model").toString(), u"tutorial-mlp"_s);
        const QJsonArray blocks = report.value("blocks").toArray();
        QCOMPARE(blocks.size(), 3);
        QVERIFY(blocks.at(1).toObject().value("checkpoint").toBool());
        QVERIFY(blocks.at(1).toObject().value("recompute_ns").toInteger() > 0);
        const QString checksum = report.value("gradient").toObject().value("checksum").toString();
        QCOMPARE(checksum.size(), 18);
        QVERIFY2(r.out.contains("gradient checksum " + checksum), qPrintable(r.out));
        QCOMPARE(report.value("spec").toObject().value("blocks").toArray().size(), 3);
        const qint64 peak = report.value("memory").toObject().value("peak_total").toInteger();
        QVERIFY(peak > 0);

        // CSV: header, consistent columns, one row per event, categories add up to the total.
        QFile csv(dir.filePath("m.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = csv.readAll().trimmed().split('\n');
        QVERIFY(lines[0].startsWith("time_ns,bytes,category,block,layer,phase,live_total,live_parameter"));
        const int columns = int(lines[0].count(',')) + 1;
        QCOMPARE(columns, 14);
        QCOMPARE(lines.size() - 1, report.value("event_count").toInt());
        qint64 maxTotal = 0, lastTime = -1;
        for (int i = 1; i < lines.size(); ++i) {
            const QList<QByteArray> f = lines[i].split(',');
            QCOMPARE(f.size(), columns);
            qint64 sum = 0;
            for (int c = 7; c < columns; ++c) sum += f[c].toLongLong();
            QCOMPARE(sum, f[6].toLongLong());
            QVERIFY(f[0].toLongLong() >= lastTime);
            lastTime = f[0].toLongLong();
            maxTotal = std::max(maxTotal, f[6].toLongLong());
        }
        QCOMPARE(maxTotal, peak);  // the timeline reaches exactly the reported peak

        // Trace: counters and complete events.
        const QJsonObject trace = readJson(dir.filePath("t.json"));
        int counters = 0, spans = 0, recompute = 0;
        for (const QJsonValue& v : trace.value("traceEvents").toArray()) {
            const QJsonObject e = v.toObject();
            counters += e.value("ph").toString() == "C";
            spans += e.value("ph").toString() == "X";
            recompute += e.value("name").toString() == "block 1 recompute";
        }
        QCOMPARE(counters, report.value("event_count").toInt() + 1);
        QCOMPARE(spans, report.value("span_count").toInt());
        QCOMPARE(recompute, 1);

        // Safetensors: the header parses and the offsets tile the data exactly.
        QFile st(dir.filePath("t.safetensors"));
        QVERIFY(st.open(QIODevice::ReadOnly));
        const QByteArray bytes = st.readAll();
        quint64 n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | quint8(bytes[i]);
        QVERIFY(8 + n <= quint64(bytes.size()));
        QJsonParseError perr;
        const QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, qsizetype(n)), &perr).object();
        QVERIFY2(perr.error == QJsonParseError::NoError, qPrintable(perr.errorString()));
        QList<QPair<qint64, qint64>> ranges;
        for (auto it = header.begin(); it != header.end(); ++it) {
            if (it.key() == "__metadata__") continue;
            const QJsonObject t = it.value().toObject();
            const QJsonArray off = t.value("data_offsets").toArray();
            qint64 elems = 1;
            for (const QJsonValue& d : t.value("shape").toArray()) elems *= d.toInteger();
            const qint64 size = t.value("dtype").toString() == "I64" ? 8 : 4;
            QCOMPARE(off.at(1).toInteger() - off.at(0).toInteger(), elems * size);
            ranges.append({off.at(0).toInteger(), off.at(1).toInteger()});
        }
        std::sort(ranges.begin(), ranges.end());
        qint64 end = 0;
        for (const auto& [b, e] : ranges) {
            QCOMPARE(b, end);
            end = e;
        }
        QCOMPARE(quint64(end), quint64(bytes.size()) - 8 - n);
        QCOMPARE(header.value("input").toObject().value("shape").toArray(), QJsonArray({5, 10}));
        QVERIFY(header.contains("grad.blocks.1.1.weight"));
#ifdef CKPT_TEST_UI
        QFile png(dir.filePath("chart.png"));
        QVERIFY(png.open(QIODevice::ReadOnly));
        QCOMPARE(png.read(8), QByteArray("\x89PNG\r\n\x1a\n", 8));
#endif
    }

    void quietPrintsNothing() {
        const Run r = runCli({"run", "tutorial_mlp", "--steps", "3", "--quiet"});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.isEmpty());
        QVERIFY(r.err.isEmpty());
    }

    // Checkpointing changes memory and time, never the gradients: equal checksums end to end.
    void checkpointingKeepsGradients() {
        QTemporaryDir dir;
        for (const char* policy : {"none", "all", "sqrt", "0,2"}) {
            const Run r = runCli({"run", "textbook_mlp", "--checkpoint", policy, "--report", policy + ".json"_L1,
                                  "--quiet"},
                                 dir.path());
            QVERIFY2(r.code == 0, qPrintable(r.err));
        }
        const QString base = readJson(dir.filePath("none.json")).value("gradient").toObject().value("checksum").toString();
        QVERIFY(!base.isEmpty());
        for (const char* policy : {"all", "sqrt", "0,2"}) {
            const QJsonObject rep = readJson(dir.filePath(policy + ".json"_L1));
            QCOMPARE(rep.value("gradient").toObject().value("checksum").toString(), base);
            int checkpointed = 0;
            for (const QJsonValue& b : rep.value("blocks").toArray()) checkpointed += b.toObject().value("checkpoint").toBool();
            QCOMPARE(checkpointed, QString(policy) == "all" ? 3 : 2);  // sqrt of 3 blocks: every:2
        }
    }

    // Parameters fit in 12 MiB, gradients do not: exit 3, one line naming the phase, and the
    // report still written with the allocation that failed.
    void outOfMemory() {
        QTemporaryDir dir;
        const Run r = runCli({"run", "textbook_mlp", "--memory-limit", "12MiB", "--report", "oom.json"}, dir.path());
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.code, 3);
        QVERIFY2(isOneErrorLine(r.err), qPrintable(r.err));
        QVERIFY2(r.err.contains("out of memory in backward"), qPrintable(r.err));
        const QJsonObject report = readJson(dir.filePath("oom.json"));
        QCOMPARE(report.value("status").toString(), u"out_of_memory"_s);
        const QJsonObject oom = report.value("out_of_memory").toObject();
        QCOMPARE(oom.value("limit_bytes").toInteger(), qint64(12) << 20);
        QVERIFY(oom.value("requested_bytes").toInteger() > oom.value("free_bytes").toInteger());
    }

    void plan() {
        const Run r = runCli({"plan", "textbook_mlp", "--budget", "1GiB"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.err.isEmpty());
        QVERIFY(r.out.contains("chosen: none"));  // no checkpointing needed under a roomy budget
        QVERIFY(r.out.contains("run it: checkpointlab run textbook_mlp --checkpoint none"));
        // 3 blocks: sqrt is every:round(sqrt(3)) = every:2, listed once.
        for (const char* plan : {"none ", "every:3 ", "sqrt (= every:2) ", "all "})
            QVERIFY2(r.out.contains("\n  "_L1 + QLatin1String(plan)), plan);

        const Run sq = runCli({"plan", "tutorial_mlp", "--budget", "1MiB", "--planner", "sqrt"});
        QCOMPARE(sq.code, 0);
        QVERIFY(sq.out.contains("chosen: sqrt - checkpoint 2 of 3 blocks: 0,2"));
    }

    // With no arguments and no display: the demo writes its files into ./checkpointlab-demo/.
    void demoWithoutDisplay() {
        QTemporaryDir dir;
        const Run r = runCli({}, dir.path());
        QCOMPARE(r.status, QProcess::NormalExit);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.contains("gradients bitwise identical: yes"));
        for (const char* f : {"checkpoint-none.report.json", "checkpoint-all.report.json", "checkpoint-none.trace.json",
                              "checkpoint-all.timeline.csv"})
            QVERIFY2(QFileInfo::exists(dir.filePath("checkpointlab-demo/"_L1 + QLatin1String(f))), f);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
