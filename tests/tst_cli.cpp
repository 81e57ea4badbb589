// The checkpointlab executable, run as a user would through QProcess: every malformed model
// file and every bad option ends with a normal exit, the documented exit code and exactly one
// line on stderr naming the problem; a run of the tutorial preset writes a report, CSV, trace
// and safetensors dump that parse and agree with each other; out-of-memory and plan behave as
// documented; the manual pages have their sections. The plan table printed is the engine's
// plan_table, row for row; an experiment file (saved by the engine, and by the GUI where the UI
// is built) runs with its own settings, which options override, and opens again exactly.
#include <QRegularExpression>
#include <QtTest>

#include <limits>

#include "cli_process.h"
#include "malformed_cases.h"

#include "app/cli_progress.h"

#include "backends/backend.h"
#include "ckpt/experiment.h"
#include "ckpt/names.h"
#include "ckpt/planner.h"
#include "ckpt/recorded_run.h"
#include "ckpt/timing.h"
#include "ckpt/units.h"

#ifdef CKPT_TEST_UI
#include "ui/experiment.h"
#endif

using namespace Qt::StringLiterals;

namespace {

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

QByteArray readBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

const QString kPresetDir = QStringLiteral(CKPT_SOURCE_DIR "/resources/presets/");
const QString kSourceDir = QStringLiteral(CKPT_SOURCE_DIR "/");
const QString kConfigDir = QStringLiteral(CKPT_SOURCE_DIR "/tests/data/configs/");

// The throughput cache the CLI runs of this test share (XDG_CACHE_HOME, set in initTestCase):
// the first run measures, the others and this process read it.
QTemporaryDir& cacheHome() {
    static QTemporaryDir dir;
    return dir;
}
std::string throughputCache() { return (cacheHome().path() + "/checkpointlab/throughput.json").toStdString(); }

// A row of `plan`'s table as the CLI prints it, rebuilt from the engine's candidate and, for its
// predicted step, the throughput the CLI measured and cached.
QString expectedRow(const ckpt::PlanCandidate& c, int blocks, const ckpt::TimePrediction& time) {
    return QStringLiteral("  %1 %2 %3 %4  %5 %6 %7  %8")
        .arg(QString::fromStdString(c.label()), -22)
        .arg(QStringLiteral("%1 of %2").arg(c.plan.checkpointed()).arg(blocks), 14)
        .arg(int(c.plan.runs.size()), 9)  // the runs recomputed as one
        .arg(QString::fromStdString(ckpt::format_bytes(c.plan.predicted_peak)), 16)
        .arg(QString::fromUtf8(ckpt::phase_name(c.peak_tag.phase).data()), -10)
        .arg(QStringLiteral("+%1%").arg(100.0 * c.plan.overhead_fraction, 0, 'f', 1), 11)
        .arg(QString::fromStdString(ckpt::format_duration_ns(time.step_ns_with(c.plan.runs))), 15)
        .arg(c.plan.fits ? u"yes"_s : u"no"_s);
}

// The runs a saved experiment must support: its settings used, and overridden by options.
// textbook_mlp's gradients do not fit 12 MiB; its parameters do.
void checkExperimentRuns(const QString& file) {
    QTemporaryDir dir;
    const Run oom = runCli({"run", file, "--report", "oom.json"}, dir.path());
    QCOMPARE(oom.code, 3);  // the file's memory limit
    QVERIFY2(oom.err.contains("out of memory in backward"), qPrintable(oom.err));
    const QJsonObject report = readJson(dir.filePath("oom.json"));
    QCOMPARE(report.value("out_of_memory").toObject().value("limit_bytes").toInteger(), qint64(12) << 20);
    QVERIFY(readBytes(dir.filePath("oom.json")).contains("\"seed\": 18446744073709551615"));

    const Run ok = runCli({"run", file, "--memory-limit", "none"}, dir.path());
    QVERIFY2(ok.code == 0, qPrintable(ok.err));
    QVERIFY2(ok.out.contains("on cpu (3 threads"), qPrintable(ok.out));  // the file's threads
    const Run over = runCli({"run", file, "--memory-limit", "1GiB", "--threads", "1"}, dir.path());
    QVERIFY2(over.code == 0, qPrintable(over.err));
    QVERIFY2(over.out.contains("on cpu (1 threads"), qPrintable(over.out));
}

ckpt::Experiment textbookExperiment() {
    ckpt::Result<ckpt::Experiment> e = ckpt::load_experiment((kPresetDir + "textbook_mlp.json").toStdString());
    if (!e) qFatal("%s", e.error().message.c_str());
    e->spec.seed = std::numeric_limits<uint64_t>::max();  // exact only if no double is involved
    e->run.settings.memory_limit = 12 << 20;
    e->run.settings.threads = 3;
    e->run.verify = false;
    return *e;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY2(QFileInfo(kBinary).isExecutable(), qPrintable(kBinary));
        QVERIFY(cacheHome().isValid());
        qputenv("XDG_CACHE_HOME", cacheHome().path().toUtf8());  // the CLI runs inherit it
    }

#ifdef CKPT_TEST_UI
    // --plot takes the export dialog's options: the size and DPI are found again in the file.
    void plotOptionsReachTheFile() {
        QTemporaryDir dir;
        const Run r = runCli({"run", "tutorial_mlp", "--plot", "c.png", "--plot-size", "10x5cm", "--plot-dpi", "300",
                              "--plot-font-scale", "2", "--plot-no-title", "--quiet"},
                             dir.path());
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QImage png(dir.filePath("c.png"));
        QCOMPARE(png.size(), QSize(1181, 591));
        QCOMPARE(qRound(png.dotsPerMeterX() * 0.0254), 300);
        // The defaults: 1600 x 900 at 120 DPI.
        const Run d = runCli({"run", "tutorial_mlp", "--plot", "d.png", "--quiet"}, dir.path());
        QVERIFY2(d.code == 0, qPrintable(d.err));
        const QImage dflt(dir.filePath("d.png"));
        QCOMPARE(dflt.size(), QSize(1600, 900));
        QCOMPARE(qRound(dflt.dotsPerMeterX() * 0.0254), 120);
    }
#endif

    // The progress line of long steps (shown only on a terminal): where the step is and how far.
    void progressLineSaysWhereTheStepIs() {
        using std::chrono::milliseconds;
        std::FILE* f = std::tmpfile();
        QVERIFY(f);
        {
            cli::ProgressLine line(f, 2, 3, 4, milliseconds(0), milliseconds(0));
            line.begin_step(1);
            ckpt::MemoryEvent e;
            e.tag.phase = ckpt::Phase::backward;
            e.tag.block = 1;
            line.on_memory(e);
            QVERIFY(line.shown());
            line.end_step();
        }
        // A short step prints nothing; a silent line (not a terminal, or --quiet) neither.
        {
            cli::ProgressLine line(f, 1, 3, 4);
            line.begin_step(1);
            line.on_memory(ckpt::MemoryEvent{});
            QVERIFY(!line.shown());
            cli::ProgressLine silent(nullptr, 1, 3, 4, milliseconds(0), milliseconds(0));
            silent.begin_step(1);
            silent.on_memory(ckpt::MemoryEvent{});
            QVERIFY(!silent.shown());
        }
        std::rewind(f);
        char buf[256] = {};
        const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        const QByteArray out(buf, qsizetype(n));
        QVERIFY2(out.startsWith("\r\033[Kstep 1/2: backward, block 2/3  25%  0.0 s"), out.constData());
        QVERIFY(out.endsWith("\r\033[K"));  // the line is cleared before the summary
    }

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
        QTest::newRow("overlapping segments") << QStringList{"run", "lesson1_activations", "--checkpoint", "segments:0-3,3-5"} << 2
                                              << "segment \"3-5\" overlaps \"0-3\" (block 3 is in both)";
        QTest::newRow("empty segment") << QStringList{"run", "lesson1_activations", "--checkpoint", "segments:3-1"} << 2
                                       << "segment \"3-1\" is empty";
        QTest::newRow("unordered segments") << QStringList{"run", "lesson1_activations", "--checkpoint", "segments:4-7,0-3"} << 2
                                            << "segment \"0-3\" comes before \"4-7\"";
        QTest::newRow("segment out of range") << QStringList{"run", "lesson1_activations", "--checkpoint", "segments:6-9"} << 2
                                              << "segment \"6-9\": block 9 is out of range (the model has 8 blocks, 0-7)";
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
        QTest::newRow("import without seq") << QStringList{"import", kConfigDir + "gpt2.json", "--batch", "1"} << 2
                                            << "import needs --seq S";
        QTest::newRow("import seq past positions")
            << QStringList{"import", kConfigDir + "gpt2.json", "--batch", "1", "--seq", "2048"} << 2
            << "--seq 2048 exceeds the model's n_positions 1024";
        QTest::newRow("import missing file") << QStringList{"import", "no/config.json", "--batch", "1", "--seq", "8"} << 1
                                             << "no/config.json";
        QTest::newRow("import unknown kernel")
            << QStringList{"import", kConfigDir + "gpt2.json", "--batch", "1", "--seq", "8", "--attention", "fast"} << 2
            << "--attention: unknown kernel \"fast\" (expected eager or flash)";
        QTest::newRow("import a model spec") << QStringList{"import", kSourceDir + "resources/presets/tutorial_mlp.json",
                                                            "--batch", "1", "--seq", "8"}
                                             << 2 << "no \"model_type\" or \"architectures\" says which architecture";
        QTest::newRow("write failure") << QStringList{"run", "tutorial_mlp", "--report", "/nonexistent-dir/r.json"} << 1
                                       << "cannot write \"/nonexistent-dir/r.json\"";
        QTest::newRow("plan infeasible") << QStringList{"plan", "tutorial_mlp", "--budget", "1KiB"} << 3
                                         << "no plan fits in 1.00 KiB";
#ifndef CKPT_TEST_UI
        QTest::newRow("plot without UI") << QStringList{"run", "tutorial_mlp", "--plot", "chart.png"} << 2
                                         << "--plot needs the UI build";
#else
        QTest::newRow("plot dpi") << QStringList{"run", "tutorial_mlp", "--plot", "c.png", "--plot-dpi", "5"} << 2
                                  << "--plot-dpi: expected a number from 10 to 2400";
        QTest::newRow("plot size") << QStringList{"run", "tutorial_mlp", "--plot", "c.png", "--plot-size", "big"} << 2
                                   << "--plot-size: expected WIDTHxHEIGHT";
        QTest::newRow("plot size huge") << QStringList{"run", "tutorial_mlp", "--plot", "c.png", "--plot-size", "200x100in"} << 2
                                        << "not a size between 16 and 20000";
#endif
        QTest::newRow("plot options alone") << QStringList{"run", "tutorial_mlp", "--plot-size", "10x5cm"} << 2
                                            << "go with --plot FILE";
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
        QTest::newRow("import --help") << QStringList{"import", "--help"};
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

    // The plan examples a reader copies from the help pages and the README work (exit 0): no
    // budget that no plan fits.
    void planExamplesWork() {
        QStringList lines;
        for (const QStringList& args : {QStringList{"--help"}, QStringList{"plan", "--help"}}) {
            const Run r = runCli(args);
            const QString examples = r.out.section("\nEXAMPLES\n", 1);
            for (const QString& l : examples.split('\n'))
                if (l.trimmed().startsWith("checkpointlab plan ") && !l.contains("model.json")) lines << l.trimmed();
        }
        QFile readme(QStringLiteral(CKPT_SOURCE_DIR "/README.md"));
        QVERIFY(readme.open(QIODevice::ReadOnly));
        for (const QString& l : QString::fromUtf8(readme.readAll()).split('\n'))
            if (l.startsWith("$ checkpointlab plan ")) lines << l.mid(2).section('#', 0, 0).trimmed();
        QVERIFY(lines.size() >= 3);
        for (const QString& l : lines) {
            const Run r = runCli(l.split(' ', Qt::SkipEmptyParts).mid(1));
            QVERIFY2(r.code == 0, qPrintable(l + ": " + r.err));
        }
    }

    // A published config becomes a spec that plans: to a file with -o, to stdout without.
    void importWritesASpecThatPlans() {
        QTemporaryDir dir;
        const Run r = runCli({"import", kConfigDir + "llama3_8b.json", "--batch", "1", "--seq", "8192", "--precision",
                              "bf16-mixed", "-o", "llama.json"},
                             dir.path());
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("8,030,261,248 parameters"), qPrintable(r.out));
        auto spec = ckpt::load_model_spec(dir.filePath("llama.json").toStdString());
        QVERIFY2(spec, spec ? "" : spec.error().message.c_str());
        QCOMPARE(spec->precision, ckpt::Precision::bf16_mixed);
        // Flash attention, as Hugging Face's sdpa, unless --attention says eager.
        QVERIFY2(r.out.contains("flash attention"), qPrintable(r.out));
        QCOMPARE(spec->blocks[1].layers[2].impl, ckpt::AttentionImpl::flash);
        const Run eager = runCli({"import", kConfigDir + "llama3_8b.json", "--batch", "1", "--seq", "8192", "--attention",
                                  "eager", "-o", "eager.json"},
                                 dir.path());
        QVERIFY2(eager.code == 0 && eager.out.contains("eager attention"), qPrintable(eager.out + eager.err));
        QCOMPARE(ckpt::load_model_spec(dir.filePath("eager.json").toStdString())->blocks[1].layers[2].impl,
                 ckpt::AttentionImpl::eager);
        // Llama-3-8B with AdamW does not fit one 80 GB device whatever is checkpointed (exit 3).
        const Run plan = runCli({"plan", "llama.json", "--budget", "80GB"}, dir.path());
        QCOMPARE(plan.code, 3);
        QVERIFY2(plan.out.contains("all ") && isOneErrorLine(plan.err), qPrintable(plan.out + plan.err));
        const Run piped = runCli({"import", kConfigDir + "gpt2.json", "--batch", "2", "--seq", "64"});
        QCOMPARE(piped.code, 0);
        QVERIFY2(piped.err.contains("124,439,808 parameters"), qPrintable(piped.err));
        QVERIFY(ckpt::parse_model_spec(piped.out.toStdString()));
    }

    // Where attention_core avoids little (fused attention) or nothing (no attention in the
    // block), the plan table says so.
    void planSaysWhereAPolicyAvoidsLittle() {
        const Run r = runCli({"plan", "gpt2_long_context", "--budget", "80GB"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("attention_core saves little here: flash attention keeps no T x T tensors"), qPrintable(r.out));
        QVERIFY2(r.out.contains("attention_core saves nothing here: the block has no attention layer"), qPrintable(r.out));
        const Run eager = runCli({"plan", "lesson3_selective_attention", "--budget", "1GiB"});
        QCOMPARE(eager.code, 0);
        QVERIFY2(!eager.out.contains("saves little"), qPrintable(eager.out));
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
        QCOMPARE(columns, 7 + ckpt::kCategoryCount);  // 7 fields and the live bytes of each category
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

    // Names and arguments come back printable: a model whose name and block names hold escape
    // sequences, and an argument holding one, leave no control character on the terminal.
    void hostileNamesArePrintable() {
        QTemporaryDir dir;
        const QString path = dir.filePath("names.json");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"name\": \"\\u001b]0;title\\u0007model\\u009b2J\", \"input\": {\"shape\": [2, 4]},"
                " \"blocks\": [{\"name\": \"\\u001b[31mred\\u202e\", \"layers\": [{\"type\": \"relu\"}]}]}");
        f.close();
        const Run r = runCli({"run", path});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("\\x1B]0;title\\x07model\\u009B2J on cpu"), qPrintable(r.out));
        QVERIFY2(r.out.contains("\\x1B[31mred\\u~"), qPrintable(r.out));  // cut to the table's 14 bytes
        const Run bad = runCli({"run", QString::fromUtf8("no\x1b[2J\xc2\x9bsuch.json")});
        QCOMPARE(bad.code, 2);
        QVERIFY2(bad.err.contains("no\\x1B[2J\\u009Bsuch.json"), qPrintable(bad.err));
        for (const QString& text : {r.out, r.err, bad.err}) {
            for (QChar c : text) {
                const bool control = c < QChar(' ') || (c >= QChar(0x7f) && c <= QChar(0x9f)) || c == QChar(0x202e);
                QVERIFY2(c == '\n' || !control, qPrintable(text));
            }
        }
    }

    void quietPrintsNothing() {
        const Run r = runCli({"run", "tutorial_mlp", "--steps", "3", "--quiet"});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.isEmpty());
        QVERIFY(r.err.isEmpty());
    }

    // Each step timed --repeats times from the same state: one step (the same number, the same
    // gradients), its times medians said to be so; the report carries the ranges and the
    // predicted time. The device's default is 5 on the CPU; out of range is a usage error.
    void repeatsAreMediansOfOneStep() {
        QTemporaryDir dir;
        const Run once = runCli({"run", "tutorial_mlp", "--steps", "2", "--repeats", "1", "--report", "one.json"}, dir.path());
        QVERIFY2(once.code == 0, qPrintable(once.err));
        QVERIFY2(once.out.contains("one timed sample"), qPrintable(once.out));
        const Run r = runCli({"run", "tutorial_mlp", "--steps", "2", "--repeats", "3", "--report", "three.json"}, dir.path());
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("each time the median of 3 timed repeats of this step"), qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression("step time +[0-9.]+ [mµ]?s \\+-[0-9]+ %")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression("predicted time +[0-9.]+ [mµ]?s")), qPrintable(r.out));
        const QJsonObject one = readJson(dir.filePath("one.json")), three = readJson(dir.filePath("three.json"));
        QCOMPARE(three.value("step").toInt(), 2);
        QCOMPARE(three.value("gradient").toObject().value("checksum").toString(),
                 one.value("gradient").toObject().value("checksum").toString());
        const QJsonObject timing = three.value("timing").toObject();
        QCOMPARE(timing.value("repeats").toInt(), 3);
        QCOMPARE(timing.value("repeats_ns").toArray().size(), 3);
        const QJsonArray range = timing.value("ranges_ns").toObject().value("step").toArray();
        QVERIFY(range.at(0).toInteger() <= three.value("timings_ns").toObject().value("step").toInteger());
        const QJsonObject predicted = three.value("predicted_time").toObject();
        QVERIFY(predicted.value("timings_ns").toObject().value("step").toInteger() > 0);
        QCOMPARE(predicted.value("blocks").toArray().size(), three.value("blocks").toArray().size());
        const Run automatic = runCli({"run", "tutorial_mlp", "--steps", "2"});
        QVERIFY2(automatic.out.contains("median of 5 timed repeats"), qPrintable(automatic.out));
        const Run bad = runCli({"run", "tutorial_mlp", "--repeats", "100"});
        QCOMPARE(bad.code, 2);
        QVERIFY(isOneErrorLine(bad.err));
        QVERIFY2(bad.err.contains("--repeats: expected an integer from 0 to 99"), qPrintable(bad.err));
    }

    // Where the peak fell, in words: a block, or outside any block.
    void peakPlaceReads() {
        const Run first = runCli({"run", "lesson2_optimizer_state", "--steps", "1"});  // peaks creating AdamW's moments
        QCOMPARE(first.code, 0);
        QVERIFY2(first.out.contains(QRegularExpression("peak +[0-9.]+ MiB outside any block, optimizer")), qPrintable(first.out));
        const Run steady = runCli({"run", "lesson1_activations", "--steps", "1"});
        QCOMPARE(steady.code, 0);
        QVERIFY2(steady.out.contains(QRegularExpression("peak +[0-9.]+ MiB at block 7 layer 3, backward")), qPrintable(steady.out));
        QVERIFY(!steady.out.contains("at outside"));
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
            // sqrt of 3 blocks: ceil(sqrt(3)) = 2 segments of equal FLOPs, [0] and [1-2], the first checkpointed.
            QCOMPARE(checkpointed, QString(policy) == "all" ? 3 : QString(policy) == "sqrt" ? 1 : 2);
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

    // Where there is no CUDA device (no driver, no GPU, or a build without CUDA), --device cuda
    // is a one-line device error (exit 1) that says why and that CUDA is optional: the package
    // runs everywhere, on the CPU.
    void cudaIsOptional() {
        std::string why;
        if (!ckpt::cuda_devices(&why).empty()) QSKIP("this machine has a CUDA device");
        const Run r = runCli({"run", "tutorial_mlp", "--device", "cuda"});
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.code, 1);
        QVERIFY2(isOneErrorLine(r.err), qPrintable(r.err));
        QVERIFY2(r.err.contains(QString::fromStdString(why)), qPrintable(r.err));
        QVERIFY2(r.err.contains("CUDA is optional: every model runs on the CPU"), qPrintable(r.err));
    }

    // Parameters the system refuses are an out-of-memory error (exit 3) in every build. Under
    // AddressSanitizer an allocation past its max_allocation_size_mb stands in for the refusal
    // (the engine makes ASan return null, as the C library does, instead of aborting with 1).
    void parametersThatDoNotFit() {
#ifndef CKPT_SANITIZED
        QSKIP("needs the sanitizer build (CKPT_SANITIZE), where ASan can be told to refuse an allocation");
#else
        QTemporaryDir dir;
        QFile f(dir.filePath("big.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"input": {"shape": [2, 8192]}, "optimizer": {"type": "none"},)"
                R"( "blocks": [{"layers": [{"type": "linear", "in": 8192, "out": 8192}]}]})");  // 256 MiB of weight
        f.close();
        const QString asan = qEnvironmentVariable("ASAN_OPTIONS");
        const Run r = runCli({"run", f.fileName()}, {},
                             {{"ASAN_OPTIONS", (asan.isEmpty() ? "" : asan + ":") + "max_allocation_size_mb=64"}});
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.code, 3);
        QString err;  // less ASan's own "failed to allocate" warnings
        for (const QString& line : r.err.split('\n', Qt::SkipEmptyParts))
            if (!line.startsWith("==")) err += line + '\n';
        QVERIFY2(isOneErrorLine(err), qPrintable(r.err));
        QVERIFY2(err.contains("out of memory while allocating parameters: the system refused 256.00 MiB"), qPrintable(err));
#endif
    }

    void plan() {
        const Run r = runCli({"plan", "textbook_mlp", "--budget", "1GiB"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.err.isEmpty());
        QVERIFY(r.out.contains("chosen: none"));  // no checkpointing needed under a roomy budget
        QVERIFY(r.out.contains("run it: checkpointlab run textbook_mlp --checkpoint none"));
        // 3 blocks: sqrt is ceil(sqrt(3)) = 2 segments of equal FLOPs, [0] and [1-2], the first
        // checkpointed: every:3's set, listed once; none is both optima.
        for (const char* plan : {"none (= dp, segments) ", "sqrt (= every:3) ", "every:2 ", "all "})
            QVERIFY2(r.out.contains("\n  "_L1 + QLatin1String(plan)), plan);

        const Run sq = runCli({"plan", "tutorial_mlp", "--budget", "1MiB", "--planner", "sqrt"});
        QCOMPARE(sq.code, 0);
        QVERIFY2(sq.out.contains("chosen: sqrt - checkpoint 1 of 3 blocks in 1 segment: sqrt\n"), qPrintable(sq.out));
    }

    // `plan` prints the engine's table row for row, for every planner, fitting or not.
    void planPrintsTheEngineTable_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("planner");
        QTest::addColumn<QString>("budget");
        for (const auto& [kind, name] : ckpt::enum_names<ckpt::PlannerKind>()) {
            const QString p = QString::fromUtf8(name.data(), qsizetype(name.size()));
            QTest::newRow(qPrintable("deep_residual_mlp " + p)) << "deep_residual_mlp" << p << "3.01GiB";
            QTest::newRow(qPrintable("tutorial_mlp " + p)) << "tutorial_mlp" << p << "1MiB";
            QTest::newRow(qPrintable("tutorial_mlp tight " + p)) << "tutorial_mlp" << p << "26KiB";
        }
    }

    void planPrintsTheEngineTable() {
        QFETCH(QString, preset);
        QFETCH(QString, planner);
        QFETCH(QString, budget);
        const Run r = runCli({"plan", preset, "--budget", budget, "--planner", planner});
        QCOMPARE(r.status, QProcess::NormalExit);
        ckpt::Result<ckpt::Experiment> e = ckpt::load_experiment((kPresetDir + preset + ".json").toStdString());
        QVERIFY(e);
        const ckpt::Result<ckpt::PlanTable> t =
            ckpt::plan_table(e->spec, *ckpt::parse_planner(planner.toStdString()), *ckpt::parse_bytes(budget.toStdString()));
        QVERIFY(t);
        const int n = t->blocks;
        // The CLI measured this machine's throughput (or read it) into the cache; so does this.
        const auto through = ckpt::cached_throughput("cpu", 0, throughputCache());
        QVERIFY(through && through->from_cache);
        const ckpt::TimePrediction time = ckpt::predict_times(e->spec, *through);
        QVERIFY2(r.out.contains("predicted step: each layer's FLOPs and bytes over this machine's measured throughput"),
                 qPrintable(r.out));
        QStringList rows;
        for (const QString& line : r.out.split('\n'))
            if (line.startsWith("  ") && line.contains(QRegularExpression(" \\d+ of \\d+ "))) rows << line;
        QCOMPARE(rows.size(), int(t->candidates.size()));
        for (size_t i = 0; i < t->candidates.size(); ++i) QCOMPARE(rows[int(i)], expectedRow(t->candidates[i], n, time));
        if (const ckpt::PlanCandidate* c = t->chosen_candidate()) {
            QCOMPARE(r.code, 0);
            const int runs = int(c->plan.runs.size());
            QVERIFY2(r.out.contains(QStringLiteral("chosen: %1 - checkpoint %2 of %3 blocks in %4 segment%5: %6\n")
                                        .arg(QString::fromStdString(c->plan.planner)).arg(c->plan.checkpointed()).arg(n)
                                        .arg(runs).arg(runs == 1 ? "" : "s").arg(QString::fromStdString(c->checkpoint_arg))),
                     qPrintable(r.out));
            QVERIFY(r.out.contains("--checkpoint " + QString::fromStdString(c->checkpoint_arg) + "\n"));
        } else {
            QCOMPARE(r.code, 3);
            QVERIFY(isOneErrorLine(r.err));
            QVERIFY2(r.err.contains(QString::fromStdString(t->no_fit_error().message)), qPrintable(r.err));
        }
    }

    // An experiment file saved by the engine runs from the command line with its settings.
    void experimentFileRuns() {
        QTemporaryDir dir;
        const QString file = dir.filePath("exp.json");
        QVERIFY(ckpt::save_experiment(file.toStdString(), textbookExperiment()).ok());
        checkExperimentRuns(file);

        // Its device is used too, and a bad one is named as the file's.
        ckpt::Experiment e = textbookExperiment();
        e.run.settings.device = "cuda:99";
        QVERIFY(ckpt::save_experiment(file.toStdString(), e).ok());
        const Run r = runCli({"run", file}, dir.path());
        QVERIFY(r.code != 0);
        QVERIFY2(isOneErrorLine(r.err) && r.err.contains("run.device: "), qPrintable(r.err));

        // A bad run setting is a bad file: exit 2, the path and the field named.
        QFile bad(dir.filePath("bad.json"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(QByteArray::fromStdString("{\"model\": " + ckpt::to_json(e.spec) + ", \"run\": {\"memory_limit\": 1.5e9}}"));
        bad.close();
        const Run b = runCli({"run", bad.fileName()});
        QCOMPARE(b.code, 2);
        QVERIFY2(isOneErrorLine(b.err) && b.err.contains("bad.json: run.memory_limit: expected a whole number of bytes"),
                 qPrintable(b.err));
        const Run p = runCli({"plan", file, "--budget", "1GiB"});  // plan reads the model part
        QVERIFY2(p.code == 0, qPrintable(p.err));
    }

#ifdef CKPT_TEST_UI
    // What the GUI saves, the CLI runs with the same settings, and the GUI opens it again exactly.
    void guiSavedExperimentRuns() {
        QTemporaryDir dir;
        const QString file = dir.filePath("gui.json");
        const ckptui::Experiment e = textbookExperiment();
        QCOMPARE(ckptui::saveExperiment(file, e), QString());
        checkExperimentRuns(file);
        ckptui::Experiment back;
        QCOMPARE(ckptui::loadExperiment(file, &back), QString());
        QVERIFY(back == e);
        QCOMPARE(ckptui::experimentToJson(back), readBytes(file));
    }
#endif

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
