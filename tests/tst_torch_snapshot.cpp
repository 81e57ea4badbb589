// PyTorch memory snapshots (torch_snapshot.h, pickle.h): the restricted unpickler reads plain data
// and refuses code, truncation and hostile nesting with one line naming the opcode and offset;
// the reader's allocated and reserved bytes equal an independent count over the trace, its
// categories the ones each allocation was meant to have, its reserved bytes over time the
// script's point for point (and the chart's line); --device-index reads another device's trace or
// refuses one without; an oom is reported; the CLI and the window open a snapshot and refuse a bad
// one (exit 2, a dialog, the experiment kept); Compare lays a snapshot over the prediction.
//
// The fixtures (tests/data/torch_snapshots) are written by make_snapshots.py with Python's pickle
// in PyTorch's documented format: PyTorch 1.13 here is CPU-only and cannot record a CUDA
// snapshot. expected.json holds that script's own count of each fixture.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "ckpt/names.h"
#include "ckpt/pickle.h"
#include "ckpt/torch_snapshot.h"

#ifdef CKPT_TEST_UI
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>

#include "ui/chart_tabs.h"
#include "ui/export_dialog.h"
#include "ui/style.h"

#include "ui/main_window.h"
#include "ui/snapshot_window.h"
#include "ui/stack_model.h"
#include "ui/timeline_chart.h"
#endif

using namespace ckpt;

namespace {

const QString kDir = QStringLiteral(CKPT_SOURCE_DIR "/tests/data/torch_snapshots/");

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QByteArray b = f.readAll();
    return std::string(b.constData(), size_t(b.size()));
}

QJsonObject expected(const QString& name) {
    QFile f(kDir + "expected.json");
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object().value(name).toObject();
}

qint64 num(const QJsonObject& o, const char* key) { return qint64(o.value(QLatin1String(key)).toDouble(-1)); }

struct CliResult {
    int code = -1;
    QString out, err;
};

CliResult cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(CKPT_CLI_PATH), args);
    p.waitForFinished(120000);
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

std::string pickle(std::initializer_list<int> bytes) {
    std::string s;
    for (int b : bytes) s += char(b);
    return s;
}

}  // namespace

class TestTorchSnapshot : public QObject {
    Q_OBJECT

private slots:
    void unpicklerReadsPlainData() {
        // {"a": [1, -2, 3.5, None, True, "é", b"\x00"], "b": (1 << 40, -(1 << 63))}, protocol 2,
        // as CPython 3 writes it (checked with pickletools), with a memo get for "a".
        const std::string p = pickle({0x80, 2, '}', 'q', 0, '(', 'X', 1, 0, 0, 0, 'a', 'q', 1, ']', 'q', 2, '(', 'K', 1, 'J',
                                      0xfe, 0xff, 0xff, 0xff, 'G', 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 'N', 0x88, 'X', 2, 0, 0,
                                      0, 0xc3, 0xa9, 'C', 1, 0, 'e', 'X', 1, 0, 0, 0, 'b', 0x8a, 6, 0, 0, 0, 0, 0, 1, 0x8a,
                                      8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x86, 'h', 1, 'h', 2, 'u', '.'});
        Result<PickleDoc> doc = parse_pickle(p);
        QVERIFY2(doc.ok(), doc.ok() ? "" : doc.error().message.c_str());
        const PickleDoc::Value* a = doc->find(doc->root(), "a");
        QVERIFY(a && a->kind == PickleDoc::Kind::list);
        const auto& items = doc->items(*a);
        QCOMPARE(items.size(), size_t(7));
        int64_t i = 0;
        QVERIFY(doc->integer(items[0], &i) && i == 1);
        QVERIFY(doc->integer(items[1], &i) && i == -2);
        QCOMPARE(items[2].d, 3.5);
        QVERIFY(items[3].kind == PickleDoc::Kind::none);
        QVERIFY(doc->integer(items[4], &i) && i == 1);
        QCOMPARE(*doc->text(items[5]), std::string("\xc3\xa9"));
        QVERIFY(items[6].kind == PickleDoc::Kind::bytes);
        // "a" set again through the memo (SETITEMS of memo 1 -> memo 2): the last one wins, as in Python
        const PickleDoc::Value* b = doc->find(doc->root(), "b");
        QVERIFY(b && b->kind == PickleDoc::Kind::tuple);
        QVERIFY(doc->integer(doc->items(*b)[0], &i) && i == (int64_t(1) << 40));
        QVERIFY(doc->integer(doc->items(*b)[1], &i) && i == INT64_MIN);
        QCOMPARE(doc->find(doc->root(), "a")->kind, PickleDoc::Kind::list);
    }

    void codeOpcodesAreRefused_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("named");
        auto row = [](const char* tag, std::initializer_list<int> b, const char* named) {
            const std::string s = pickle(b);
            QTest::newRow(tag) << QByteArray(s.data(), qsizetype(s.size())) << QString::fromLatin1(named);
        };
        row("GLOBAL", {0x80, 2, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'}, "GLOBAL (0x63) at byte 2");
        row("STACK_GLOBAL", {0x80, 4, 0x8c, 1, 'o', 0x8c, 1, 's', 0x93, '.'}, "STACK_GLOBAL (0x93) at byte 8");
        row("REDUCE", {0x80, 2, ']', ')', 'R', '.'}, "REDUCE (0x52) at byte 4");
        row("BUILD", {0x80, 2, '}', '}', 'b', '.'}, "BUILD (0x62) at byte 4");
        row("INST", {0x80, 2, '(', 'i', 'o', 's', '\n', 'x', '\n', '.'}, "INST (0x69) at byte 3");
        row("OBJ", {0x80, 2, '(', ']', 'o', '.'}, "OBJ (0x6f) at byte 4");
        row("NEWOBJ", {0x80, 2, ']', ')', 0x81, '.'}, "NEWOBJ (0x81) at byte 4");
        row("EXT1", {0x80, 2, 0x82, 1, '.'}, "EXT1 (0x82) at byte 2");
        row("PERSID", {0x80, 2, 'P', '1', '\n', '.'}, "PERSID (0x50) at byte 2");
        row("unknown", {0x80, 2, 0xff, '.'}, "unknown opcode 0xff at byte 2");
        row("protocol 6", {0x80, 6, 'N', '.'}, "PROTO (0x80) at byte 0");
    }
    void codeOpcodesAreRefused() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, named);
        Result<PickleDoc> doc = parse_pickle(std::string_view(bytes.constData(), size_t(bytes.size())));
        QVERIFY(!doc.ok());
        const QString msg = QString::fromStdString(doc.error().message);
        QVERIFY2(msg.contains(named), qPrintable(msg));
        QVERIFY(!msg.contains(QLatin1Char('\n')));
    }

    // What Python's pickle writes for an object whose unpickling runs os.system: refused by the
    // engine and by the CLI with exit 2 and one line naming the opcode and its offset.
    void hostileSnapshotsAreRefused_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("named");
        QTest::newRow("protocol 2") << "hostile_reduce.pickle" << "GLOBAL (0x63) at byte 50";
        QTest::newRow("protocol 4") << "hostile_stack_global.pickle" << "STACK_GLOBAL (0x93) at byte 64";
    }
    void hostileSnapshotsAreRefused() {
        QFETCH(QString, file);
        QFETCH(QString, named);
        Result<TorchSnapshot> s = load_torch_snapshot((kDir + file).toStdString());
        QVERIFY(!s.ok());
        QVERIFY2(QString::fromStdString(s.error().message).contains(named), s.error().message.c_str());
        const CliResult r = cli({QStringLiteral("import-torch-snapshot"), kDir + file});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(named), qPrintable(r.err));
        QCOMPARE(r.err.count(QLatin1Char('\n')), 1);
        QVERIFY(r.out.isEmpty());
    }

    // Every prefix of a good snapshot is refused with one line (no crash, no partial import).
    void truncatedIsRefused() {
        const std::string whole = readAll(kDir + "training_step_timed.pickle");
        QVERIFY(whole.size() > 1000);
        QVERIFY(parse_torch_snapshot(whole).ok());
        for (size_t n = 0; n < whole.size(); ++n) {
            Result<TorchSnapshot> s = parse_torch_snapshot(std::string_view(whole).substr(0, n));
            QVERIFY2(!s.ok(), qPrintable(QString::number(n)));
            QVERIFY(!s.error().message.empty() && s.error().message.find('\n') == std::string::npos);
        }
        QTemporaryDir dir;
        QFile cut(dir.filePath("cut.pickle"));
        QVERIFY(cut.open(QIODevice::WriteOnly));
        cut.write(whole.data(), 3000);
        cut.close();
        const CliResult r = cli({QStringLiteral("import-torch-snapshot"), cut.fileName()});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(QLatin1String("truncated")), qPrintable(r.err));
        QCOMPARE(r.err.count(QLatin1Char('\n')), 1);
    }

    // Bounds: nesting, integers wider than 64 bits, lengths past the end, unknown memo entries,
    // a list that contains itself (the memo makes cycles; nothing may loop or leak).
    void hostileShapesAreBounded() {
        std::string deep = pickle({0x80, 2});
        deep += std::string(kMaxPickleMarks + 1, '(');
        Result<PickleDoc> d = parse_pickle(deep);
        QVERIFY(!d.ok() && d.error().message.find("MARK") != std::string::npos);
        QVERIFY(!parse_pickle(pickle({0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'})).ok());
        Result<PickleDoc> huge = parse_pickle(pickle({0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '.'}));
        QVERIFY(!huge.ok() && huge.error().message.find("truncated inside BINUNICODE8") != std::string::npos);
        QVERIFY(!parse_pickle(pickle({0x80, 2, 'h', 7, '.'})).ok());
        QVERIFY(!parse_pickle(pickle({0x80, 2, 'N', 'N', '.'})).ok());  // two values at STOP
        QVERIFY(!parse_pickle(pickle({0x80, 2, 'N', '.', 'N'})).ok());  // bytes after STOP
        QVERIFY(!parse_pickle(pickle({0x80, 2, 'N', 'a', '.'})).ok());  // APPEND onto None
        QVERIFY(!parse_pickle(std::string()).ok());
        // {"segments": L, "device_traces": L} with L = [L]: read, then refused by the reader.
        const std::string cyclic = pickle({0x80, 2, '}', '(', 'X', 8, 0, 0, 0, 's', 'e', 'g', 'm', 'e', 'n', 't', 's', ']',
                                           'q', 0, 'h', 0, 'a', 'X', 13, 0, 0, 0, 'd', 'e', 'v', 'i', 'c', 'e', '_', 't',
                                           'r', 'a', 'c', 'e', 's', 'h', 0, 'u', '.'});
        QVERIFY(parse_pickle(cyclic).ok());
        Result<TorchSnapshot> s = parse_torch_snapshot(cyclic);
        QVERIFY(!s.ok());
        QVERIFY2(s.error().message.find("expected a dict, got list") != std::string::npos, s.error().message.c_str());
    }

    // The reader against the fixture script's own count: allocated bytes (start, peak, end),
    // reserved bytes (start, peak, end), the entries, and at the peak each category's bytes as
    // the script meant them (so the frame rules attribute what they should and nothing else).
    void bytesEqualAnIndependentCount_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("timed, protocol 4") << "training_step_timed";
        QTest::newRow("untimed with an oom, protocol 2") << "training_step_untimed_oom";
    }
    void bytesEqualAnIndependentCount() {
        QFETCH(QString, name);
        const QJsonObject e = expected(name);
        QVERIFY(!e.isEmpty());
        Result<TorchSnapshot> s = load_torch_snapshot((kDir + name + ".pickle").toStdString());
        QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
        const StepReport& r = s->report;
        QCOMPARE(qint64(r.peak_total), num(e, "peak_allocated"));
        QCOMPARE(qint64(total(r.baseline)), num(e, "baseline_allocated"));
        QCOMPARE(qint64(r.events.empty() ? total(r.baseline) : r.events.back().live_total), num(e, "end_allocated"));
        QCOMPARE(qint64(s->reserved_start), num(e, "reserved_start"));
        QCOMPARE(qint64(s->reserved_peak), num(e, "reserved_peak"));
        QCOMPARE(qint64(s->reserved_end), num(e, "reserved_end"));
        QCOMPARE(qint64(r.device_memory.reserved_peak), num(e, "reserved_peak"));
        // Reserved bytes over time: at the start and after each segment entry, at its time (or
        // index) and after as many alloc/free_completed events as the script counted.
        const QJsonArray over = e.value("reserved_over_time").toArray();
        QCOMPARE(qint64(s->reserved_over_time.size()), qint64(over.size()));
        QVERIFY(over.size() >= 4);
        for (int i = 0; i < over.size(); ++i) {
            const QJsonArray p = over[i].toArray();
            QCOMPARE(s->reserved_over_time[size_t(i)].time_ns, int64_t(p[0].toDouble()));
            QCOMPARE(s->reserved_over_time[size_t(i)].events_before, int64_t(p[1].toDouble()));
            QCOMPARE(s->reserved_over_time[size_t(i)].bytes, int64_t(p[2].toDouble()));
        }
        QCOMPARE(qint64(s->allocs), num(e, "allocs"));
        QCOMPARE(qint64(s->frees), num(e, "frees_completed"));
        QCOMPARE(qint64(s->entries), num(e, "entries"));
        QCOMPARE(qint64(s->ooms), num(e, "ooms"));
        QCOMPARE(s->timed, e.value("timed").toBool());
        QCOMPARE(s->device, 0);
        QCOMPARE(s->devices_traced, 2);
        const QJsonObject meant = e.value("at_peak_meant").toObject();
        for (int c = 0; c < kCategoryCount; ++c) {
            const QString cat = QString::fromUtf8(category_name(Category(c)).data());
            QVERIFY2(qint64(r.at_peak[size_t(c)]) == qint64(meant.value(cat).toDouble(-1)), qPrintable(cat));
        }
        // Nothing is attributed from a frame that does not say so: the checkpointed block's
        // first forward (through checkpoint.py's checkpoint()) and the batch stay unattributed.
        QCOMPARE(s->allocs_by_rule[size_t(SnapshotRule::recompute)], int64_t(1));
        QVERIFY(s->allocs_by_rule[size_t(SnapshotRule::none)] >= 3);
        // Times: time_us from the first entry, or the entry's order.
        QVERIFY(r.events.size() == size_t(s->allocs + s->frees));
        if (!s->timed) QCOMPARE(r.events.front().time_ns, int64_t(1));
    }

    // --device-index: another device's trace, the devices listed; a device without a trace is
    // one line and exit 2. Device 1 of the fixtures (make_snapshots.py) is one segment_alloc of
    // 2 MiB, the 2 MiB segment it holds at the snapshot: reserved 0 -> 2 MiB, nothing allocated.
    void deviceIndexChoosesTheTrace() {
        const std::string data = readAll(kDir + "training_step_timed.pickle");
        Result<TorchSnapshot> s = parse_torch_snapshot(data, "t", 1);
        QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
        QCOMPARE(s->device, 1);
        QVERIFY(s->device_chosen);
        QCOMPARE(s->entries, int64_t(1));
        QCOMPARE(s->allocs, int64_t(0));
        QVERIFY(s->report.events.empty());
        QCOMPARE(s->segments, int64_t(1));
        QCOMPARE(s->reserved_start, int64_t(0));
        QCOMPARE(s->reserved_peak, int64_t(2) << 20);
        QCOMPARE(s->reserved_end, int64_t(2) << 20);
        QCOMPARE(s->report.device, std::string("cuda:1 (PyTorch snapshot)"));
        QCOMPARE(s->traces.size(), size_t(2));
        QCOMPARE(s->traces[0].device, 0);
        QCOMPARE(s->traces[0].entries, num(expected("training_step_timed"), "entries"));
        QCOMPARE(s->traces[1].entries, int64_t(1));
        // Asked for device 0, the same as the longest, but said to be chosen.
        Result<TorchSnapshot> zero = parse_torch_snapshot(data, "t", 0);
        QVERIFY(zero.ok() && zero->device_chosen && zero->report.peak_total == num(expected("training_step_timed"), "peak_allocated"));
        Result<TorchSnapshot> none = parse_torch_snapshot(data, "t", 2);
        QVERIFY(!none.ok());
        QCOMPARE(QString::fromStdString(none.error().message),
                 QStringLiteral("device_traces: device 2 has no trace entries (devices traced: 0, 1)"));

        const QString file = kDir + "training_step_timed.pickle";
        CliResult r = cli({QStringLiteral("import-torch-snapshot"), file, QStringLiteral("--device-index"), QStringLiteral("1")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains(QLatin1String("cuda:1 (PyTorch snapshot), 1 entry (chosen with --device-index)")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QLatin1String("devices traced    cuda:0 (63 entries), cuda:1 (1 entry); --device-index N reads another")),
                 qPrintable(r.out));
        r = cli({QStringLiteral("import-torch-snapshot"), file});
        QVERIFY2(r.out.contains(QLatin1String("(the longest of 2 devices' traces)")), qPrintable(r.out));
        for (const QString& bad : {QStringLiteral("7"), QStringLiteral("x"), QStringLiteral("-1")}) {
            r = cli({QStringLiteral("import-torch-snapshot"), file, QStringLiteral("--device-index"), bad});
            QCOMPARE(r.code, 2);
            QCOMPARE(r.err.count(QLatin1Char('\n')), 1);
            QVERIFY2(r.err.contains(bad == QLatin1String("7") ? QLatin1String("device 7 has no trace entries (devices traced: 0, 1)")
                                                              : QLatin1String("--device-index: expected an integer")),
                     qPrintable(r.err));
        }
    }

    void oomIsReported() {
        Result<TorchSnapshot> s = load_torch_snapshot((kDir + "training_step_untimed_oom.pickle").toStdString());
        QVERIFY(s.ok());
        QCOMPARE(s->ooms, int64_t(1));
        QCOMPARE(s->oom_requested, int64_t(8) << 30);
        QCOMPARE(s->oom_device_free, int64_t(3) << 20);
        QVERIFY(s->oom_entry > 0);
        QVERIFY(s->oom_message.find("8.00 GiB") != std::string::npos);
        QTemporaryDir dir;
        const QString report = dir.filePath("r.json");
        const CliResult r = cli({QStringLiteral("import-torch-snapshot"), kDir + "training_step_untimed_oom.pickle",
                                 QStringLiteral("--report"), report, QStringLiteral("--csv"), dir.filePath("m.csv")});
        QCOMPARE(r.code, 0);  // the import worked; the oom is what it found
        QVERIFY2(r.out.contains(QLatin1String("out of memory     1 time; first: PyTorch ran out of memory at trace entry")),
                 qPrintable(r.out));
        QFile f(report);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(j.value("ooms").toInt(), 1);
        QCOMPARE(qint64(j.value("oom").toObject().value("requested").toDouble()), qint64(8) << 30);
        QCOMPARE(qint64(j.value("allocated").toObject().value("peak").toDouble()),
                 num(expected("training_step_untimed_oom"), "peak_allocated"));
        QVERIFY(QFile::exists(dir.filePath("m.csv")));
    }

#ifdef CKPT_TEST_UI
    void windowOpensASnapshotAndKeepsTheExperiment() {
        ckptui::MainWindow w;
        const ckpt::ModelSpec before = w.stackModel()->spec();
        QString err = w.openTorchSnapshot(kDir + "training_step_timed.pickle");
        QVERIFY2(err.isEmpty(), qPrintable(err));
        ckptui::SnapshotWindow* sw = w.snapshotWindow();
        QVERIFY(sw);
        QCOMPARE(sw->chart()->plottedPeak(), num(expected("training_step_timed"), "peak_allocated"));
        QVERIFY(sw->chart()->title().contains(QLatin1String("training_step_timed.pickle")));
        // Which device is shown, and that another has a trace.
        auto* summary = sw->findChild<QLabel*>(QStringLiteral("snapshotSummary"));
        QVERIFY(summary);
        QVERIFY2(summary->text().contains(QLatin1String("<b>Devices traced</b>: cuda:0 (63 entries), cuda:1 (1 entry). "
                                                        "This window shows cuda:0")),
                 qPrintable(summary->text()));
        QVERIFY(w.stackModel()->spec() == before);
        // Export chart… writes the window's chart through the export dialog.
        auto* exportButton = sw->findChild<QPushButton*>(QStringLiteral("exportSnapshotChart"));
        QVERIFY(exportButton);
        exportButton->click();
        auto* dialog = sw->findChild<ckptui::ExportDialog*>();
        QVERIFY(dialog);
        QTemporaryDir dir;
        dialog->setPath(dir.filePath("snapshot.png"));
        dialog->accept();
        QVERIFY(QFileInfo(dir.filePath("snapshot.png")).size() > 10000);
        // A hostile file: a dialog, one line, the experiment and the open snapshot kept.
        err = w.openTorchSnapshot(kDir + "hostile_reduce.pickle");
        QVERIFY2(err.contains(QLatin1String("GLOBAL")), qPrintable(err));
        QVERIFY(!err.contains(QLatin1Char('\n')));
        QVERIFY(!w.findChildren<QMessageBox*>(QStringLiteral("errorDialog")).isEmpty());
        QVERIFY(w.stackModel()->spec() == before);
        QCOMPARE(w.snapshotWindow(), sw);
        // Dropped on the window (or named on the command line), a .pickle is read as a snapshot.
        const ckptui::LoadedFile dropped = ckptui::loadFile(kDir + "training_step_timed.pickle", ckptui::FileKind::any);
        QVERIFY(dropped.ok() && dropped.kind == ckptui::FileKind::torch_snapshot && dropped.snapshot);
        for (auto* box : w.findChildren<QMessageBox*>()) box->close();
    }

    // The window's chart (and so Export chart… and --plot, which draw the same chart) draws the
    // reserved bytes as a line with a legend entry, point for point the script's count: at each
    // segment entry's time, or between the events around it when the snapshot has no times.
    void reservedBytesAreDrawn_data() { bytesEqualAnIndependentCount_data(); }
    void reservedBytesAreDrawn() {
        QFETCH(QString, name);
        const QJsonArray over = expected(name).value("reserved_over_time").toArray();
        Result<TorchSnapshot> s = load_torch_snapshot((kDir + name + ".pickle").toStdString());
        QVERIFY(s.ok() && !over.isEmpty());
        ckptui::SnapshotWindow sw(std::make_shared<const TorchSnapshot>(*s), kDir + name + ".pickle");
        QCPGraph* g = sw.chart()->reservedGraph();
        QVERIFY(g && sw.chart()->legend->hasItemWithPlottable(g));
        QCOMPARE(g->dataCount(), over.size() + 1);  // and held to the right end
        auto it = g->data()->constBegin();
        for (int i = 0; i < over.size(); ++i, ++it) {
            const QJsonArray p = over[i].toArray();
            const double x = i == 0 ? 0.0 : s->timed ? p[0].toDouble() / 1e6 : p[1].toDouble() + 0.5;
            QCOMPARE(it->key, x);
            QCOMPARE(qint64(it->value), qint64(p[2].toDouble()));
        }
        QCOMPARE(qint64(it->value), qint64(over.last().toArray()[2].toDouble()));
        bool found = false;
        QCOMPARE(qint64(g->getValueRange(found).upper), num(expected(name), "reserved_peak"));
        QVERIFY(sw.chart()->yAxis->range().upper > double(num(expected(name), "reserved_peak")));
        // Another step drawn in the same chart has no reserved line.
        sw.chart()->setReport(s->report);
        QVERIFY(g->data()->isEmpty() && !sw.chart()->legend->hasItemWithPlottable(g));
    }

    // Compare with the prediction: the snapshot pinned in Compare over the stack's predicted step,
    // both curves drawn to their own peaks, the legend naming both peaks and the snapshot's
    // difference from the prediction in bytes and percent; the x axis says how they are aligned.
    // Before the prediction has arrived: a dialog, nothing pinned.
    void snapshotIsLaidOverThePrediction() {
        ckptui::MainWindow w;
        QVERIFY(w.openTorchSnapshot(kDir + "training_step_timed.pickle").isEmpty());
        ckptui::SnapshotWindow* sw = w.snapshotWindow();
        QVERIFY(sw);
        auto* compare = sw->findChild<QPushButton*>(QStringLiteral("compareWithPrediction"));
        QVERIFY(compare);
        QVERIFY(!w.prediction().ok());  // queued from the worker: not here before events are processed
        compare->click();
        QVERIFY(!w.findChildren<QMessageBox*>(QStringLiteral("errorDialog")).isEmpty());
        QVERIFY(w.charts()->pinNames().isEmpty());
        for (auto* box : w.findChildren<QMessageBox*>()) box->close();
        QTRY_VERIFY_WITH_TIMEOUT(w.prediction().ok() && w.prediction().spec == w.stackModel()->spec(), 60000);
        compare->click();
        QCOMPARE(w.charts()->currentIndex(), int(ckptui::ChartTabs::CompareTab));
        QCOMPARE(w.charts()->pinNames(), QStringList{QStringLiteral("PyTorch snapshot training_step_timed.pickle (cuda:0)")});
        QCustomPlot* plot = w.charts()->comparison();
        const qint64 snapshotPeak = num(expected("training_step_timed"), "peak_allocated");
        const qint64 predictedPeak = w.prediction().step->peak_total;
        QCPGraph *snapshot = nullptr, *predicted = nullptr;
        for (int i = 0; i < plot->graphCount(); ++i) {
            if (plot->graph(i)->name().startsWith(QLatin1String("PyTorch snapshot training_step_timed.pickle"))) snapshot = plot->graph(i);
            if (plot->graph(i)->name().startsWith(QLatin1String("predicted step of the stack on screen"))) predicted = plot->graph(i);
        }
        QVERIFY(snapshot && predicted);
        auto maxOf = [](QCPGraph* g) {
            double m = 0, lastKey = 0;
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
                m = std::max(m, it->value);
                lastKey = it->key;
            }
            return std::make_pair(qint64(m), lastKey);
        };
        QCOMPARE(maxOf(snapshot).first, snapshotPeak);
        QCOMPARE(maxOf(predicted).first, predictedPeak);
        QCOMPARE(maxOf(snapshot).second, 100.0);  // both over their own events, in order
        QCOMPARE(maxOf(predicted).second, 100.0);
        auto* title = plot->findChild<QCPTextElement*>(QStringLiteral("ckptComparisonTitle"));
        QVERIFY(title && title->text().contains(QLatin1String("No common clock")));
        QVERIFY(plot->xAxis->label().contains(QLatin1String("allocations and frees, in order")));
        // The difference, counted here: sign, bytes grouped in threes, percent of the prediction.
        const qint64 d = snapshotPeak - predictedPeak;
        const QString pct = QString::number(100.0 * double(std::llabs(d)) / double(predictedPeak), 'f', 1);
        const QString bytes = ckptui::groupedCount(std::llabs(d));
        QVERIFY2(snapshot->name().contains(QStringLiteral("peak %1").arg(ckptui::humanBytes(snapshotPeak))), qPrintable(snapshot->name()));
        QVERIFY2(snapshot->name().contains(QStringLiteral("against the predicted peak %4:\n   %1%2 (%1%3 bytes, %1%5 %)")
                                               .arg(d > 0 ? QStringLiteral("+") : QStringLiteral("−"), ckptui::humanBytes(std::llabs(d)),
                                                    bytes, ckptui::humanBytes(predictedPeak), pct)),
                 qPrintable(snapshot->name()));
        QVERIFY2(predicted->name().contains(QStringLiteral("peak %1").arg(ckptui::humanBytes(predictedPeak))), qPrintable(predicted->name()));
        // Unpinned, the prediction goes with it and the time axis comes back.
        w.charts()->unpin(0);
        QCOMPARE(plot->graphCount(), 0);
        QVERIFY(!title->text().contains(QLatin1String("No common clock")));
    }
#endif
};

QTEST_MAIN(TestTorchSnapshot)
#include "tst_torch_snapshot.moc"
