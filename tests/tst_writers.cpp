// Human units both ways (format_bytes, format_duration_ns, parse_bytes) and the four writers on
// a hand-made StepReport, so every number in the files can be checked against the input:
// CSV live-per-category columns, trace counter/span events, the safetensors byte layout and
// the report JSON's fields; the report read back (File > Open run) gives the same report, and a
// damaged or hostile report is refused with the field it failed on.
#include <QtTest>

#include <cstring>
#include <limits>

#include "ckpt/recorded_run.h"
#include "ckpt/session.h"
#include "ckpt/units.h"
#include "ckpt/writers.h"

using namespace ckpt;

namespace {

StepReport sampleReport() {
    StepReport r;
    r.model_name = "sample";
    r.device = "cpu (1 threads)";
    r.step = 2;
    r.loss = 0.5;
    r.step_ns = 9000;
    r.forward_ns = 3000;
    r.backward_ns = 4000;
    r.recompute_ns = 1000;
    r.baseline[size_t(Category::parameter)] = 1000;
    r.blocks.push_back({0, "first", true, 3000, 4000, 1000, 64, 192, 128, 128});
    r.blocks.back().segment_first = r.blocks.back().segment_last = 0;  // checkpointed alone
    r.gradient_checksum = 0xdeadbeefull;
    auto ev = [&](int64_t t, int64_t bytes, Category c, int block, Phase p) {
        MemoryEvent e;
        e.time_ns = t;
        e.bytes = bytes;
        e.tag = {c, block, 0, p};
        e.live_total = (r.events.empty() ? 1000 : r.events.back().live_total) + bytes;
        r.events.push_back(e);
    };
    ev(100, 64, Category::activation, 0, Phase::forward);
    ev(200, 256, Category::temporary, 0, Phase::forward);
    ev(300, -256, Category::temporary, 0, Phase::forward);
    ev(5000, 128, Category::recomputed, 0, Phase::recompute);
    ev(6000, 1000, Category::gradient, 0, Phase::backward);
    r.spans.push_back({0, 0, Phase::forward, 100, 2000});
    r.spans.push_back({0, -1, Phase::forward, 50, 3050});
    r.spans.push_back({-1, -1, Phase::loss, 3050, 3500});
    r.spans.push_back({0, -1, Phase::recompute, 4000, 5000});
    r.peak_total = 2192;
    r.peak_event = 4;
    r.peak_time_ns = 6000;
    r.peak_tag = {Category::gradient, 0, 0, Phase::backward};
    // As the allocator keeps them: each category's own peak, and all of them at the peak event.
    r.peak = r.baseline;
    r.peak[size_t(Category::activation)] = 64;
    r.peak[size_t(Category::temporary)] = 256;
    r.peak[size_t(Category::recomputed)] = 128;
    r.peak[size_t(Category::gradient)] = 1000;
    r.at_peak = r.peak;
    r.at_peak[size_t(Category::temporary)] = 0;
    return r;
}

ModelSpec sampleSpec() {
    ModelSpec s;
    s.name = "sample";
    s.input_shape = {2, 3};
    LayerSpec l;
    l.type = LayerType::linear;
    l.in = 3;
    l.out = 3;
    s.blocks.push_back({"first", {l}, false, true});
    return s;
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

}  // namespace

class TestWriters : public QObject {
    Q_OBJECT

private slots:
    // Every file the engine writes goes through one atomic writer (io/files.h): a failed write
    // reports an error and leaves the old file as it was, never a truncated one.
    void failedWriteKeepsTheOldFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // A name so long that the temporary file beside it cannot be created (NAME_MAX), which
        // fails even for root, where a read-only directory would not.
        const QString path = dir.filePath(QString(250, 'r') + ".json");
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("the old report\n");
        }
        const Status st = write_report_json(path.toStdString(), sampleReport(), sampleSpec());
        QVERIFY(!st.ok());
        QCOMPARE(st.err->kind, ErrorKind::io);
        QVERIFY2(QString::fromStdString(st.message()).startsWith("cannot write \""), st.message().c_str());
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("the old report\n"));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);  // no temporary left behind
    }

    void fullDeviceIsAnError() {
        if (!QFileInfo::exists("/dev/full")) QSKIP("no /dev/full on this system");
        const Status st = write_timeline_csv("/dev/full", sampleReport());
        QVERIFY(!st.ok());
        QVERIFY2(QString::fromStdString(st.message()).contains("No space left"), st.message().c_str());
    }

    void formatBytes_data() {
        QTest::addColumn<qint64>("bytes");
        QTest::addColumn<QString>("text");
        QTest::newRow("0") << qint64(0) << "0 B";
        QTest::newRow("512") << qint64(512) << "512 B";
        QTest::newRow("1023") << qint64(1023) << "1023 B";
        QTest::newRow("1 KiB") << qint64(1024) << "1.00 KiB";
        QTest::newRow("1.5 KiB") << qint64(1536) << "1.50 KiB";
        QTest::newRow("3 MiB") << qint64(3) * 1024 * 1024 << "3.00 MiB";
        QTest::newRow("1.25 GiB") << qint64(5) * 1024 * 1024 * 1024 / 4 << "1.25 GiB";
        QTest::newRow("just below 1 MiB") << qint64(1048575) << "1.00 MiB";
        QTest::newRow("1 TiB") << (qint64(1) << 40) << "1.00 TiB";
        QTest::newRow("negative") << qint64(-1536) << "-1.50 KiB";
    }

    void formatBytes() {
        QFETCH(qint64, bytes);
        QFETCH(QString, text);
        QCOMPARE(QString::fromStdString(format_bytes(bytes)), text);
    }

    void formatDuration_data() {
        QTest::addColumn<qint64>("ns");
        QTest::addColumn<QString>("text");
        QTest::newRow("0") << qint64(0) << "0 ns";
        QTest::newRow("850 ns") << qint64(850) << "850 ns";
        QTest::newRow("1 us") << qint64(1000) << QString::fromUtf8("1.00 µs");
        QTest::newRow("12.3 us") << qint64(12300) << QString::fromUtf8("12.3 µs");
        QTest::newRow("123 us") << qint64(123456) << QString::fromUtf8("123 µs");
        QTest::newRow("rounds up to 1 ms") << qint64(999999) << "1.00 ms";
        QTest::newRow("4.56 ms") << qint64(4560000) << "4.56 ms";
        QTest::newRow("1.23 s") << qint64(1230000000) << "1.23 s";
        QTest::newRow("an hour") << qint64(3600) * 1000000000 << "3600 s";
    }

    void formatDuration() {
        QFETCH(qint64, ns);
        QFETCH(QString, text);
        QCOMPARE(QString::fromStdString(format_duration_ns(ns)), text);
    }

    void parseBytes_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("bytes");  // -1: must be refused
        QTest::newRow("2GiB") << "2GiB" << (qint64(2) << 30);
        QTest::newRow("2 GiB") << "2 GiB" << (qint64(2) << 30);
        QTest::newRow("512MiB") << "512MiB" << (qint64(512) << 20);
        QTest::newRow("1.5GB decimal") << "1.5GB" << qint64(1500000000);
        QTest::newRow("1e9") << "1e9" << qint64(1000000000);
        QTest::newRow("plain bytes") << "123" << qint64(123);
        QTest::newRow("16gib lower case") << "16gib" << (qint64(16) << 30);
        QTest::newRow("1.5 KiB") << "1.5 KiB" << qint64(1536);
        QTest::newRow("64 kb padded") << "  64 kb " << qint64(64000);
        QTest::newRow("4TB") << "4TB" << qint64(4000000000000);
        QTest::newRow("1TiB") << "1TiB" << (qint64(1) << 40);
        QTest::newRow("bytes unit") << "100 B" << qint64(100);
        QTest::newRow("0") << "0" << qint64(0);
        QTest::newRow("0.3 KB") << "0.3 KB" << qint64(300);
        QTest::newRow("empty") << "" << qint64(-1);
        QTest::newRow("word") << "lots" << qint64(-1);
        QTest::newRow("ambiguous G") << "16G" << qint64(-1);
        QTest::newRow("negative") << "-1GiB" << qint64(-1);
        QTest::newRow("half a byte") << "1.5" << qint64(-1);
        QTest::newRow("overflow") << "1e400" << qint64(-1);
        QTest::newRow("too large") << "9000 PB" << qint64(-1);
        QTest::newRow("unit only") << "GiB" << qint64(-1);
        QTest::newRow("trailing text") << "2 GiB x" << qint64(-1);
        QTest::newRow("inf") << "inf" << qint64(-1);
        QTest::newRow("hex") << "0x10" << qint64(-1);
    }

    void parseBytes() {
        QFETCH(QString, text);
        QFETCH(qint64, bytes);
        Result<int64_t> r = parse_bytes(text.toStdString());
        if (bytes < 0) {
            QVERIFY2(!r.ok(), "accepted");
            // The error quotes what it refused.
            QVERIFY2(QString::fromStdString(r.error().message).contains('"' + text + '"'), r.error().message.c_str());
            return;
        }
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        QCOMPARE(qint64(*r), bytes);
    }

    void formatParseRoundTrip() {
        for (int64_t b : {int64_t(1024), int64_t(3) << 20, int64_t(5) << 30}) {
            Result<int64_t> r = parse_bytes(format_bytes(b));
            QVERIFY(r.ok());
            QCOMPARE(*r, b);
        }
    }

    void timelineCsv() {
        QTemporaryDir dir;
        const StepReport r = sampleReport();
        const QString path = dir.filePath("t.csv");
        QVERIFY(write_timeline_csv(path.toStdString(), r).ok());
        const QList<QByteArray> lines = readAll(path).trimmed().split('\n');
        QCOMPARE(lines.size(), 1 + int(r.events.size()));
        QCOMPARE(lines[0], QByteArray("time_ns,bytes,category,block,layer,phase,live_total,live_parameter,live_buffer,live_weight_cast,live_gradient,"
                                      "live_optimizer_state,live_input,live_activation,live_recomputed,live_temporary,live_communication,"
                                      "live_unattributed"));
        for (const QByteArray& line : lines) QCOMPARE(line.count(','), 6 + kCategoryCount);  // 7 fields + a column per category
        QCOMPARE(lines[2], QByteArray("200,256,temporary,0,0,forward,1320,1000,0,0,0,0,0,64,0,256,0,0"));
        QCOMPARE(lines[3], QByteArray("300,-256,temporary,0,0,forward,1064,1000,0,0,0,0,0,64,0,0,0,0"));
        QCOMPARE(lines[5], QByteArray("6000,1000,gradient,0,0,backward,2192,1000,0,0,1000,0,0,64,128,0,0,0"));
        // The per-category columns always add up to live_total.
        for (int i = 1; i < lines.size(); ++i) {
            const QList<QByteArray> f = lines[i].split(',');
            qint64 sum = 0;
            for (int c = 7; c < 7 + kCategoryCount; ++c) sum += f[c].toLongLong();
            QCOMPARE(sum, f[6].toLongLong());
        }
    }

    void traceJson() {
        QTemporaryDir dir;
        const StepReport r = sampleReport();
        const QString path = dir.filePath("t.json");
        QVERIFY(write_trace_json(path.toStdString(), r).ok());
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(readAll(path), &err);
        QVERIFY2(err.error == QJsonParseError::NoError, qPrintable(err.errorString()));
        QCOMPARE(doc.object().value("displayTimeUnit").toString(), QString("ns"));
        const QJsonArray events = doc.object().value("traceEvents").toArray();
        int counters = 0, spans = 0, meta = 0;
        QJsonObject lastCounter, recompute;
        for (const QJsonValue& v : events) {
            const QJsonObject e = v.toObject();
            const QString ph = e.value("ph").toString();
            if (ph == "C") {
                ++counters;
                lastCounter = e;
                QCOMPARE(e.value("args").toObject().size(), kCategoryCount);
            } else if (ph == "X") {
                ++spans;
                if (e.value("name").toString() == "block 0 recompute") recompute = e;
                QCOMPARE(e.value("tid").toInt(), e.value("args").toObject().value("layer").toInt() < 0 ? 1 : 2);
            } else if (ph == "M") {
                ++meta;
            }
        }
        QCOMPARE(counters, 1 + int(r.events.size()));  // the baseline, then one per event
        QCOMPARE(spans, int(r.spans.size()));
        QCOMPARE(meta, 3);
        QCOMPARE(lastCounter.value("ts").toDouble(), 6.0);
        QCOMPARE(lastCounter.value("args").toObject().value("gradient").toInteger(), qint64(1000));
        QCOMPARE(lastCounter.value("args").toObject().value("parameter").toInteger(), qint64(1000));
        QCOMPARE(recompute.value("ts").toDouble(), 4.0);
        QCOMPARE(recompute.value("dur").toDouble(), 1.0);
        QCOMPARE(recompute.value("args").toObject().value("block_name").toString(), QString("first"));
    }

    void safetensors() {
        QTemporaryDir dir;
        NamedTensor a{"w", {2, 3}, NamedTensor::Type::f32, {1, 2, 3, 4, 5, 6.5f}, {}};
        NamedTensor b{"ids", {4}, NamedTensor::Type::i64, {}, {7, -1, 3, int64_t(1) << 40}};
        NamedTensor c{"scalar", {}, NamedTensor::Type::f32, {-2.0f}, {}};
        const QString path = dir.filePath("t.safetensors");
        QVERIFY(write_safetensors(path.toStdString(), {a, b, c}).ok());
        const QByteArray bytes = readAll(path);
        QVERIFY(bytes.size() > 8);
        quint64 n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | quint8(bytes[i]);
        QCOMPARE(n % 8, quint64(0));
        const QJsonObject h = QJsonDocument::fromJson(bytes.mid(8, qsizetype(n))).object();
        QCOMPARE(h.value("__metadata__").toObject().value("format").toString(), QString("pt"));
        QCOMPARE(h.value("w").toObject().value("dtype").toString(), QString("F32"));
        QCOMPARE(h.value("ids").toObject().value("dtype").toString(), QString("I64"));
        QCOMPARE(h.value("w").toObject().value("shape").toArray(), QJsonArray({2, 3}));
        QCOMPARE(h.value("scalar").toObject().value("shape").toArray(), QJsonArray());
        QCOMPARE(h.value("w").toObject().value("data_offsets").toArray(), QJsonArray({0, 24}));
        QCOMPARE(h.value("ids").toObject().value("data_offsets").toArray(), QJsonArray({24, 56}));
        QCOMPARE(h.value("scalar").toObject().value("data_offsets").toArray(), QJsonArray({56, 60}));
        QCOMPARE(quint64(bytes.size()), 8 + n + 60);
        const char* data = bytes.constData() + 8 + n;
        QCOMPARE(std::memcmp(data, a.f32.data(), 24), 0);
        QCOMPARE(std::memcmp(data + 24, b.i64.data(), 32), 0);

        NamedTensor wrong{"bad", {3}, NamedTensor::Type::f32, {1, 2}, {}};
        const Status st = write_safetensors(dir.filePath("bad.safetensors").toStdString(), {wrong});
        QVERIFY(!st.ok());
        QVERIFY(!write_safetensors(dir.filePath("dup.safetensors").toStdString(), {a, a}).ok());
    }

    void reportJson() {
        const StepReport r = sampleReport();
        const QByteArray text = QByteArray::fromStdString(report_to_json(r, sampleSpec()));
        QJsonParseError err;
        const QJsonObject j = QJsonDocument::fromJson(text, &err).object();
        QVERIFY2(err.error == QJsonParseError::NoError, qPrintable(err.errorString()));
        QCOMPARE(j.value("status").toString(), QString("ok"));
        QCOMPARE(j.value("step").toInt(), 2);
        QCOMPARE(j.value("loss").toDouble(), 0.5);
        QCOMPARE(j.value("gradient").toObject().value("checksum").toString(), QString("0x00000000deadbeef"));
        QCOMPARE(j.value("timings_ns").toObject().value("recompute").toInteger(), qint64(1000));
        const QJsonObject mem = j.value("memory").toObject();
        QCOMPARE(mem.value("peak_total").toInteger(), qint64(2192));
        QCOMPARE(mem.value("peak").toObject().value("activation").toInteger(), qint64(64));
        QCOMPARE(mem.value("baseline").toObject().value("parameter").toInteger(), qint64(1000));
        QCOMPARE(mem.value("peak_tag").toObject().value("phase").toString(), QString("backward"));
        QCOMPARE(mem.value("kept_bytes_total").toInteger(), qint64(64));
        const QJsonObject block = j.value("blocks").toArray().at(0).toObject();
        QCOMPARE(block.value("name").toString(), QString("first"));
        QCOMPARE(block.value("avoided_bytes").toInteger(), qint64(128));
        QVERIFY(block.value("checkpoint").toBool());
        // The report's derived figures, as the front ends show them.
        QCOMPARE(mem.value("avoided_bytes_total").toInteger(), qint64(r.avoided_bytes_total()));
        QCOMPARE(j.value("checkpointed_blocks").toInt(), r.checkpointed_blocks());
        QVERIFY(r.checkpointed_blocks() >= 1);
        QVERIFY(j.value("out_of_memory").isNull());
        QCOMPARE(j.value("event_count").toInt(), 5);
        // The timeline travels with the report, one row per event and span.
        const QJsonArray events = j.value("events").toArray();
        QCOMPARE(events.size(), 5);
        QCOMPARE(events.at(3).toArray(), QJsonArray({5000, 128, "recomputed", 0, 0, "recompute", 1192}));
        const QJsonArray spans = j.value("spans").toArray();
        QCOMPARE(spans.size(), 4);
        QCOMPARE(spans.at(2).toArray(), QJsonArray({-1, -1, "loss", 3050, 3500}));
        QCOMPARE(j.value("spec").toObject().value("name").toString(), QString("sample"));
        // The embedded spec is the canonical one and parses back to the same spec.
        const QByteArray spec = QJsonDocument(j.value("spec").toObject()).toJson();
        Result<ModelSpec> back = parse_model_spec(spec.toStdString());
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
        QVERIFY(*back == sampleSpec());

        StepReport oom = r;
        oom.status = StepStatus::out_of_memory;
        oom.oom.requested = 4096;
        oom.oom.limit = 8192;
        oom.oom.tag = {Category::recomputed, 3, 1, Phase::recompute};
        const QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(report_to_json(oom, sampleSpec())))
                                  .object()
                                  .value("out_of_memory")
                                  .toObject();
        QCOMPARE(o.value("requested_bytes").toInteger(), qint64(4096));
        QCOMPARE(o.value("tag").toObject().value("block").toInt(), 3);
        QCOMPARE(o.value("tag").toObject().value("category").toString(), QString("recomputed"));
    }

    // What --report wrote reads back as the same step: written again, the bytes are the same,
    // so every field (events, spans, blocks, peaks, checksum) survived exactly.
    void recordedRunRoundTrip() {
        // A real step of a small checkpointed model, with every event and span.
        ModelSpec spec = sampleSpec();
        spec.input_shape = {64, 3};
        spec.blocks.push_back(spec.blocks[0]);
        spec.blocks[1].checkpoint = false;
        auto session = Session::create(spec, {});
        QVERIFY(session.ok());
        (*session)->step();
        const StepReport r = (*session)->step();
        QCOMPARE(r.status, StepStatus::ok);
        QVERIFY(r.events.size() > 10 && r.spans.size() > 5);
        const std::string text = report_to_json(r, spec);
        Result<RecordedRun> back = parse_recorded_run(text);
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
        QVERIFY(back->report.has_timeline);
        QVERIFY(back->spec == spec);
        QCOMPARE(back->report.events.size(), r.events.size());
        QCOMPARE(back->report.events.back().live_total, r.events.back().live_total);
        QCOMPARE(back->report.gradient_checksum, r.gradient_checksum);
        QCOMPARE(report_to_json(back->report, back->spec), text);
        // Through a file too.
        QTemporaryDir dir;
        const std::string path = dir.filePath("run.json").toStdString();
        QVERIFY(write_report_json(path, r, spec).ok());
        Result<RecordedRun> loaded = load_recorded_run(path);
        QVERIFY(loaded.ok());
        QCOMPARE(report_to_json(loaded->report, loaded->spec), text);
    }

    // A run with segments: each block's run is in the report, and it reads back with the model's
    // segments; a report from before segments (no "segment" per block) reads the runs from
    // its model, so it means the same.
    void recordedRunWithSegments() {
        ModelSpec spec = sampleSpec();
        spec.input_shape = {8, 3};
        for (int i = 0; i < 4; ++i) spec.blocks.push_back(spec.blocks[0]);
        Result<CheckpointSet> set = parse_checkpoint("segments:0-2,4", spec);
        QVERIFY(set);
        apply_checkpoint(spec, *set);
        auto session = Session::create(spec, {});
        QVERIFY(session.ok());
        const StepReport r = (*session)->step();
        QCOMPARE(r.blocks[1].segment_first, 0);
        QCOMPARE(r.blocks[1].segment_last, 2);
        QCOMPARE(r.blocks[3].segment_first, -1);
        QCOMPARE(r.blocks[4].segment_first, 4);
        const std::string text = report_to_json(r, spec);
        QVERIFY(text.find("\"segments\": [\n      \"0-2\"\n    ]") != std::string::npos);  // the model's
        Result<RecordedRun> back = parse_recorded_run(text);
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
        QVERIFY(back->spec == spec);
        for (size_t b = 0; b < r.blocks.size(); ++b) {
            QCOMPARE(back->report.blocks[b].segment_first, r.blocks[b].segment_first);
            QCOMPARE(back->report.blocks[b].segment_last, r.blocks[b].segment_last);
        }
        QCOMPARE(report_to_json(back->report, back->spec), text);
        // Without the per-block field, as written before segments existed: the same runs.
        std::string old = text;
        for (size_t at; (at = old.find("\"segment\": ")) != std::string::npos;) {
            const size_t end = old.find("\"forward_ns\"", at);
            old.erase(at, end - at);
        }
        Result<RecordedRun> before = parse_recorded_run(old);
        QVERIFY2(before.ok(), before.ok() ? "" : before.error().message.c_str());
        for (size_t b = 0; b < r.blocks.size(); ++b) QCOMPARE(before->report.blocks[b].segment_last, r.blocks[b].segment_last);
    }

    // The H200 run of 2026-11-29 was recorded before reports carried the timeline: it loads,
    // with its figures, and says it has no timeline rather than inventing one.
    void recordedRunWithoutTimeline() {
        Result<RecordedRun> r = load_recorded_run(CKPT_SOURCE_DIR "/tests/data/gpu_h200_2026-11-29/gpu_report.json");
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        QVERIFY(!r->report.has_timeline);
        QVERIFY(r->report.events.empty());
        QCOMPARE(r->report.device, std::string("cuda:0 (NVIDIA H200)"));
        QCOMPARE(r->report.blocks.size(), size_t(26));
        QCOMPARE(r->spec.blocks.size(), size_t(26));
        QCOMPARE(r->report.step, 2);
        QVERIFY(r->report.peak_total > (int64_t(12) << 30));
    }

    void recordedRunRefusesDamage_data() {
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("to");
        QTest::addColumn<QString>("error");
        QTest::newRow("category") << "\"recomputed\",0,0" << "\"nonsense\",0,0" << "events[3][2]: unknown name";
        QTest::newRow("block out of range") << "[5000,128,\"recomputed\",0" << "[5000,128,\"recomputed\",7"
                                            << "events[3]: block 7 is not in the model (blocks 0 to 0, or -1)";
        QTest::newRow("live total") << "\"recompute\",1192]" << "\"recompute\",1193]"
                                    << "events[3][6]: live_total 1,193 is not the baseline plus the events up to it (1,192)";
        QTest::newRow("status") << "\"status\": \"ok\"" << "\"status\": \"fine\"" << "status: unknown name";
        QTest::newRow("missing") << "\"peak_total\"" << "\"peak_totals\"" << "memory.peak_total: missing";
        QTest::newRow("span phase") << "[-1,-1,\"loss\"" << "[-1,-1,\"lost\"" << "spans[2][2]: unknown name";
        QTest::newRow("not json") << "{" << "" << "invalid JSON";
        QTest::newRow("segment") << "\"segment\": [\n        0,\n        0\n      ]" << "\"segment\": null"
                                 << "blocks[0].segment: does not match the model's segments and checkpoint flags";
    }
    void recordedRunRefusesDamage() {
        QFETCH(QString, from);
        QFETCH(QString, to);
        QFETCH(QString, error);
        StepReport sample = sampleReport();
        sample.blocks[0].layers.push_back({"linear", false, 64, 128});  // one per layer of the spec
        std::string text = report_to_json(sample, sampleSpec());
        QVERIFY(parse_recorded_run(text).ok());
        const size_t at = text.find(from.toStdString());
        QVERIFY2(at != std::string::npos, qPrintable(from));
        text.replace(at, size_t(from.size()), to.toStdString());
        Result<RecordedRun> r = parse_recorded_run(text);
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.error().message).startsWith(error), r.error().message.c_str());
    }

    // Hostile input: nesting that would exhaust a recursive reader, a device file.
    void recordedRunRefusesHostileInput() {
        Result<RecordedRun> deep = parse_recorded_run(std::string(100000, '[') + std::string(100000, ']'));
        QVERIFY(!deep.ok());
        QVERIFY2(deep.error().message.find("nested more than 64 deep (the limit for reports)") != std::string::npos,
                 deep.error().message.c_str());
        Result<RecordedRun> zero = load_recorded_run("/dev/null");
        QVERIFY(!zero.ok());
    }

    // A report no step can produce (the reader refuses it: tst_recorded_run) still cannot make
    // the writers or the report's totals overflow: their sums stop at the int64 bounds instead of
    // wrapping (undefined behaviour, which the sanitizer stage would abort on).
    void sumsSaturateInsteadOfWrapping() {
        const int64_t max = std::numeric_limits<int64_t>::max();
        StepReport r = sampleReport();
        r.baseline[size_t(Category::parameter)] = max - 10;
        r.baseline[size_t(Category::gradient)] = 100;
        r.events.resize(1);
        r.events[0].bytes = 100;
        r.events[0].tag.category = Category::parameter;
        r.spans = {{0, -1, Phase::forward, std::numeric_limits<int64_t>::min() + 5, max}};
        const std::string csv = timeline_csv(r);
        const std::string row = csv.substr(csv.find('\n') + 1);
        QVERIFY2(row.find("," + std::to_string(max) + ",") != std::string::npos, row.c_str());  // live_parameter
        QVERIFY(row.find(",-9223372036854775") == std::string::npos);  // not wrapped below zero
        const std::string trace = trace_json(r);
        QVERIFY(trace.find("\"dur\"") != std::string::npos);
        r.blocks = {r.blocks[0], r.blocks[0]};
        r.blocks[0].kept_bytes = r.blocks[1].kept_bytes = max;
        r.blocks[0].avoided_bytes = r.blocks[1].avoided_bytes = -max;
        QCOMPARE(r.kept_bytes_total(), max);
        QCOMPARE(r.avoided_bytes_total(), std::numeric_limits<int64_t>::min());
        QCOMPARE(total(r.baseline), max);
    }

    void writeErrorsNameThePath() {
        const std::string path = "/nonexistent-dir/sub/report.json";
        const Status st = write_report_json(path, sampleReport(), sampleSpec());
        QVERIFY(!st.ok());
        QVERIFY2(QString::fromStdString(st.message()).contains(QString::fromStdString(path)), st.message().c_str());
        QVERIFY(!write_timeline_csv(path, sampleReport()).ok());
        QVERIFY(!write_trace_json(path, sampleReport()).ok());
        QVERIFY(!write_safetensors(path, {}).ok());
    }
};

QTEST_GUILESS_MAIN(TestWriters)
#include "tst_writers.moc"
