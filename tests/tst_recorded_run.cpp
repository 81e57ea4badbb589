// A report from another machine is untrusted input (recorded_run.h), and every report the
// program writes must open again:
//   - every preset's report (real CPU steps where the model is small, dry runs of the others;
//     out-of-memory, stopped and timeline-less steps too) and the recorded GPU reports open,
//     and written, read and written again are byte-equal; the engine's own reports pass
//     check_report;
//   - each malformed report of tests/data/malformed (report_*.json, made by
//     make_report_cases.py) is refused with its expected one-line, printable message naming the
//     first contradiction;
//   - the caps hold before memory grows (values held, string length), the event and span rows
//     do not count as held values, and an allocation that fails anywhere while reading is an
//     out-of-memory error, never an abort (no exception escapes a destructor).
#include <QDir>
#include <QFile>
#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>

#include "ckpt/planner.h"
#include "ckpt/printable.h"
#include "ckpt/recorded_run.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "malformed_cases.h"

using namespace ckpt;

// Memory that runs out on demand: while armed, from the allocation numbered `g_failAt` (counted
// from arming) on, every allocation of more than 256 bytes throws std::bad_alloc, as on a machine
// whose memory has run out (small ones, such as an error message, still succeed). nlohmann's own
// destructor allocates a stack as long as the container it destroys: a reader that let it run
// after such a failure would end in std::terminate.
namespace {
std::atomic<bool> g_armed{false};
std::atomic<long> g_count{0};
long g_failAt = -1;
}  // namespace

void* operator new(std::size_t n) {
    if (g_armed.load(std::memory_order_relaxed) && g_count.fetch_add(1) >= g_failAt && n > 256) throw std::bad_alloc();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

const QString kPresetDir = QStringLiteral(CKPT_SOURCE_DIR "/resources/presets/");

std::string readText(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return f.readAll().toStdString();
}

// Small enough to step for real in a test (under the sanitizers too).
bool small(const ModelSpec& spec) {
    double flops = 0;
    for (double f : block_forward_flops(spec)) flops += f;
    const auto p = predict(spec, 1);
    return flops < 2e8 && p && p->peak_total < (int64_t(64) << 20);
}

enum class Ending { complete, outOfMemory, stopped, noTimeline };

// The second step (optimizer state present), ended as asked.
StepReport step(const ModelSpec& spec, bool dry, Ending ending) {
    RunSettings settings;
    settings.dry_run = dry;
    if (ending == Ending::outOfMemory) settings.memory_limit = predict(spec, 2)->peak_total * 3 / 4;
    auto session = Session::create(spec, settings);
    if (!session) qFatal("%s", session.error().message.c_str());
    (*session)->step();
    std::atomic<bool> stop{true};
    StepOptions options;
    if (ending == Ending::stopped) options.stop = &stop;
    options.record_events = ending != Ending::noTimeline;
    return (*session)->step(options);
}

// Written, read, written again: byte-equal. Returns the text.
std::string roundTrip(const StepReport& r, const ModelSpec& spec) {
    const std::string text = report_to_json(r, spec);
    Result<RecordedRun> back = parse_recorded_run(text);
    if (!back) {
        QTest::qFail(back.error().message.c_str(), __FILE__, __LINE__);
        return {};
    }
    if (report_to_json(back->report, back->spec) != text) QTest::qFail("written again, the report differs", __FILE__, __LINE__);
    if (!(back->spec == spec)) QTest::qFail("the spec differs", __FILE__, __LINE__);
    return text;
}

// A real report with `junk` under a key the reader ignores.
std::string withJunk(const std::string& report, const std::string& junk) {
    std::string t = report;
    t.insert(t.find("\"model\":"), "\"junk\": " + junk + ",\n  ");
    return t;
}

}  // namespace

class TestRecordedRun : public QObject {
    Q_OBJECT

private slots:
    void presetReports_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<int>("ending");
        const QStringList files = QDir(kPresetDir).entryList({"*.json"}, QDir::Files);
        QVERIFY(files.contains("resnet20_cifar.json"));
        for (const QString& f : files) {
            QTest::newRow(qPrintable(f)) << f << int(Ending::complete);
            if (f == "tutorial_mlp.json" || f == "lesson1_activations.json") {
                QTest::newRow(qPrintable(f + " out of memory")) << f << int(Ending::outOfMemory);
                QTest::newRow(qPrintable(f + " stopped")) << f << int(Ending::stopped);
                QTest::newRow(qPrintable(f + " without timeline")) << f << int(Ending::noTimeline);
            }
        }
    }

    // Every preset's report opens and round-trips byte-equal, and the engine agrees with itself.
    void presetReports() {
        QFETCH(QString, preset);
        QFETCH(int, ending);
        Result<ModelSpec> spec = load_model_spec((kPresetDir + preset).toStdString());
        QVERIFY(spec);
        const bool dry = !small(*spec);
        const StepReport r = step(*spec, dry, Ending(ending));
        QCOMPARE(r.has_timeline, Ending(ending) != Ending::noTimeline);
        const Status own = check_report(r, *spec);
        QVERIFY2(own.ok(), own.message().c_str());
        const std::string text = roundTrip(r, *spec);
        QCOMPARE(text.find("\"events\"") != std::string::npos, r.has_timeline);
    }

    // ResNet's residual blocks list their shortcut and post layers after their own (refused once).
    void residualBlocksListEveryLayer() {
        Result<ModelSpec> spec = load_model_spec((kPresetDir + "resnet20_cifar.json").toStdString());
        QVERIFY(spec);
        bool extra = false;
        for (const BlockSpec& b : spec->blocks) extra = extra || !b.shortcut.empty() || !b.post.empty();
        QVERIFY(extra);
        const StepReport r = step(*spec, true, Ending::complete);
        Result<RecordedRun> back = parse_recorded_run(report_to_json(r, *spec));
        QVERIFY2(back, back ? "" : back.error().message.c_str());
        for (size_t i = 0; i < spec->blocks.size(); ++i)
            QCOMPARE(back->report.blocks[i].layers.size(), spec->blocks[i].layer_count());
    }

    // The reports recorded on the H200 open and round-trip; the first, written before reports
    // carried a timeline, is written again without one (File › Export run once wrote an empty
    // timeline its own reader refused).
    void recordedGpuReports_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<bool>("timeline");
        QTest::newRow("run 1, no timeline") << "gpu_h200_2026-11-29/gpu_report.json" << false;
        QTest::newRow("run 2, GPT-2") << "gpu_h200_2026-11-29_run2/gpu_gpt2_every2.json" << true;
        QTest::newRow("run 2, LLaMA") << "gpu_h200_2026-11-29_run2/gpu_llama_small.json" << true;
    }
    void recordedGpuReports() {
        QFETCH(QString, file);
        QFETCH(bool, timeline);
        Result<RecordedRun> r = load_recorded_run(CKPT_SOURCE_DIR "/tests/data/" + file.toStdString());
        QVERIFY2(r, r ? "" : r.error().message.c_str());
        QCOMPARE(r->report.has_timeline, timeline);
        QCOMPARE(r->report.device, std::string("cuda:0 (NVIDIA H200)"));
        const std::string text = roundTrip(r->report, r->spec);
        QCOMPARE(text.find("\"events\"") != std::string::npos, timeline);
    }

    void malformedReports_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        const auto cases = malformedCases(MalformedKind::reports);
        QVERIFY2(cases.size() >= 20, "expected at least 20 malformed reports");
        for (const auto& [file, expected] : cases) QTest::newRow(qPrintable(file)) << file << expected;
    }

    // Each is refused with the first contradiction, on one printable line that names the file.
    void malformedReports() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        const QString path = kMalformedDir + file;
        Result<RecordedRun> r = load_recorded_run(path.toStdString());
        QVERIFY2(!r, "a malformed report was accepted");
        const std::string raw = r.error().message;
        const QString message = QString::fromStdString(raw);
        QCOMPARE(r.error().kind, ErrorKind::bad_input);
        QVERIFY2(message.startsWith(path + ": " + expected), qPrintable("got: " + message + "\nexpected: " + expected));
        QVERIFY2(!message.contains('\n'), qPrintable("not one line: " + message));
        QCOMPARE(printable(raw, raw.size()), raw);
        QVERIFY2(message.size() < 700, qPrintable(QString("%1 characters").arg(message.size())));
    }

    // The caps of model files, checked while reading: past them the report is refused at the
    // value that passes, before the document grows any further.
    void capsHoldWhileReading() {
        const StepReport r = step(*load_model_spec((kPresetDir + "tutorial_mlp.json").toStdString()), false, Ending::complete);
        const std::string report = report_to_json(r, *load_model_spec((kPresetDir + "tutorial_mlp.json").toStdString()));
        std::string values = "[0";
        for (size_t i = 0; i < kMaxJsonValues; ++i) values += ",0";
        Result<RecordedRun> many = parse_recorded_run(withJunk(report, values + "]"));
        QVERIFY(!many);
        QVERIFY2(many.error().message.find("the file has more than 4000000 JSON values outside events and spans (the "
                                           "limit for reports)") !=
                     std::string::npos,
                 many.error().message.c_str());
        QVERIFY2(many.error().message.rfind("junk[", 0) == 0, many.error().message.c_str());
        Result<RecordedRun> longString = parse_recorded_run(withJunk(report, "\"" + std::string(kMaxReportString + 1, 'x') + "\""));
        QVERIFY(!longString);
        QCOMPARE(longString.error().message, std::string("line 2: a string longer than 1048576 bytes (the limit for reports)"));
        // Unknown keys of any other kind are ignored: a later version's fields still open.
        QVERIFY(parse_recorded_run(withJunk(report, "{\"later\": [1, 2, {\"field\": true}]}")));
    }

    // Event and span rows are taken as they are read: a step of 600,000 events (4.2 million
    // values as JSON, past the cap of values held at once) opens.
    void rowsAreNotHeldAsValues() {
        const ModelSpec spec = *load_model_spec((kPresetDir + "tutorial_mlp.json").toStdString());
        StepReport r = step(spec, true, Ending::complete);
        // Its events replaced by 300,000 pairs of a 64-byte scratch buffer taken and given back.
        const MemoryTag scratch{Category::temporary, -1, -1, Phase::forward};
        const int64_t base = total(r.baseline);
        r.events.clear();
        for (int i = 0; i < 300000; ++i) {
            r.events.emplace_back(0, 64, scratch, base + 64);
            r.events.emplace_back(0, -64, scratch, base);
        }
        r.peak = r.at_peak = r.baseline;
        r.peak[size_t(Category::temporary)] = r.at_peak[size_t(Category::temporary)] = 64;
        r.peak_total = base + 64;
        r.peak_event = 0;
        r.peak_time_ns = 0;
        r.peak_tag = scratch;
        QVERIFY2(check_report(r, spec).ok(), check_report(r, spec).message().c_str());
        roundTrip(r, spec);
    }

    // Memory that runs out anywhere while reading (every allocation in turn, on a real report)
    // is an out-of-memory error: no abort from an exception thrown in a destructor.
    void allocationFailureIsAnError() {
        ModelSpec spec = *load_model_spec((kPresetDir + "tutorial_mlp.json").toStdString());
        const std::string text = report_to_json(step(spec, false, Ending::complete), spec);
        g_count = 0;
        g_failAt = std::numeric_limits<long>::max();
        g_armed = true;
        const bool whole = parse_recorded_run(text).ok();
        g_armed = false;
        const long allocations = g_count.load();
        QVERIFY(whole);
        QVERIFY(allocations > 100);
        int refused = 0;
        for (long at = 0; at < allocations; at += std::max(1L, allocations / 400)) {
            g_count = 0;
            g_failAt = at;
            g_armed = true;
            Result<RecordedRun> r = parse_recorded_run(text);
            g_armed = false;
            if (r) continue;
            QCOMPARE(r.error().kind, ErrorKind::out_of_memory);
            QCOMPARE(r.error().message, std::string("out of memory while reading the report"));
            ++refused;
        }
        QVERIFY(refused > 100);
    }
};

QTEST_GUILESS_MAIN(TestRecordedRun)
#include "tst_recorded_run.moc"
