// The experiment file (ckpt/experiment.h): saved and loaded back it is the same experiment and
// the same bytes, 64-bit integers included (seeds at and above 2^63, limits past 2^53, where a
// double would round); its model part is judged exactly as a bare model file, message for
// message, with duplicate keys and sizes written as floats refused inside "model"; bad run
// settings are named; a bare model spec loads with default settings.
#include <QtTest>

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>

#include "malformed_cases.h"
#include "test_models.h"

#include <nlohmann/json.hpp>

#include "ckpt/experiment.h"

using namespace ckpt;

namespace {

std::string readText(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Every run setting away from its default.
Experiment everySetting(uint64_t seed, int64_t limit) {
    Experiment e;
    e.spec = testmodels::tutorial();
    e.spec.seed = seed;
    e.spec.preserve_rng = false;
    e.spec.optimizer.lr = 0.1 + 0.2;  // a double with no short decimal form
    e.run.settings.device = "cuda:1";
    e.run.settings.threads = 7;
    e.run.settings.memory_limit = limit;
    e.run.settings.tf32 = true;
    e.run.verify = false;
    return e;
}

}  // namespace

class TestExperiment : public QObject {
    Q_OBJECT

private slots:
    void roundTripIsExact_data() {
        QTest::addColumn<quint64>("seed");
        QTest::addColumn<qint64>("limit");
        QTest::newRow("2^64-1, 2^63-1") << quint64(std::numeric_limits<uint64_t>::max())
                                        << qint64(std::numeric_limits<int64_t>::max());
        QTest::newRow("2^63+12345, 2^53+1") << quint64((uint64_t(1) << 63) + 12345) << qint64((int64_t(1) << 53) + 1);
        QTest::newRow("0, 1.5 TiB + 3") << quint64(0) << qint64((int64_t(3) << 39) + 3);
    }

    void roundTripIsExact() {
        QFETCH(quint64, seed);
        QFETCH(qint64, limit);
        const Experiment e = everySetting(seed, limit);
        QTemporaryDir dir;
        const std::string path = dir.filePath("exp.json").toStdString();
        QVERIFY(save_experiment(path, e).ok());
        Result<Experiment> back = load_experiment(path);
        QVERIFY2(back, back ? "" : back.error().message.c_str());
        QVERIFY(*back == e);
        QCOMPARE(back->spec.seed, uint64_t(seed));
        QCOMPARE(back->run.settings.memory_limit, int64_t(limit));
        // Written again, the same bytes; and the integers are in the file as integers.
        const std::string text = readText(dir.filePath("exp.json"));
        QCOMPARE(to_json(*back), text);
        QVERIFY(text.find("\"seed\": " + std::to_string(seed)) != std::string::npos);
        QVERIFY(text.find("\"memory_limit\": " + std::to_string(limit)) != std::string::npos);
    }

    void bareModelLoadsWithDefaults() {
        const std::string model = to_json(testmodels::textbook());
        Result<Experiment> e = parse_experiment(model);
        QVERIFY(e);
        QVERIFY(e->spec == testmodels::textbook());
        QVERIFY(e->run == ExperimentRun{});
        // Without "run" the settings are the defaults too.
        Result<Experiment> wrapped = parse_experiment("{\"model\": " + model + "}");
        QVERIFY(wrapped);
        QVERIFY(*wrapped == *e);
    }

    // Each malformed model file, wrapped as an experiment's model, fails with the bare file's
    // message behind "model." (files that are not a JSON object cannot be wrapped).
    void modelPartJudgedAsABareFile_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        for (const auto& [file, expected] : malformedCases()) QTest::newRow(qPrintable(file)) << file << expected;
    }

    void modelPartJudgedAsABareFile() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        if (isExperimentCase(file)) return;  // not a model file
        const std::string text = readText(kMalformedDir + file);
        Result<ModelSpec> bare = parse_model_spec(text);
        QVERIFY(!bare);
        Result<Experiment> asFile = parse_experiment(text);  // the file on its own: the same error
        QVERIFY(!asFile);
        QCOMPARE(asFile.error().message, bare.error().message);
        QVERIFY(asFile.error().message.find(expected.toStdString()) != std::string::npos);

        if (!nlohmann::json::accept(text) || !nlohmann::json::parse(text).is_object()) return;
        Result<Experiment> wrapped = parse_experiment("{\"run\": {\"threads\": 2},\n \"model\": " + text + "}");
        QVERIFY(!wrapped);
        QCOMPARE(wrapped.error().message, "model." + bare.error().message);
        QCOMPARE(wrapped.error().kind, ErrorKind::bad_input);
    }

    void duplicatesAndFloatsInsideTheModel() {
        const std::string model = to_json(testmodels::tutorial());
        // A duplicate key deep in the model, and a width written as a float.
        std::string dup = model;
        dup.replace(dup.find("\"in\": 10"), 8, "\"in\": 10, \"in\": 10");
        Result<Experiment> e = parse_experiment("{\"model\": " + dup + "}");
        QVERIFY(!e);
        QCOMPARE(e.error().message, std::string("model.blocks[0].layers[0].in: duplicate key (each key may appear once per object)"));
        std::string fl = model;
        fl.replace(fl.find("\"out\": 50"), 9, "\"out\": 50.0");
        e = parse_experiment("{\"model\": " + fl + "}");
        QVERIFY(!e);
        QCOMPARE(e.error().message, std::string("model.blocks[0].layers[0].out: must be an integer, got 50.0"));
    }

    void badExperiments_data() {
        const std::string m = to_json(testmodels::tutorial());
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        auto row = [&](const char* name, const std::string& text, const char* expected) {
            QTest::newRow(name) << QString::fromStdString(text) << QString::fromLatin1(expected);
        };
        row("model twice", "{\"model\": " + m + ", \"model\": " + m + "}", "model: duplicate key");
        row("escaped duplicate", "{\"model\": " + m + ", \"mod\\u0065l\": " + m + "}", "model: duplicate key");
        row("run twice", "{\"model\": " + m + ", \"run\": {}, \"run\": {}}", "run: duplicate key");
        row("key twice in run", "{\"model\": " + m + ", \"run\": {\"threads\": 1, \"threads\": 2}}", "run.threads: duplicate key");
        row("unknown top key", "{\"model\": " + m + ", \"runs\": {}}", "runs: unknown key in an experiment (expected model, run, parallel)");
        row("model not an object", "{\"model\": [1]}", "model: expected an object");
        row("run not an object", "{\"model\": " + m + ", \"run\": 3}", "run: expected an object");
        row("unknown run key", "{\"model\": " + m + ", \"run\": {\"steps\": 3}}", "run.steps: unknown key in the run settings");
        row("limit as float", "{\"model\": " + m + ", \"run\": {\"memory_limit\": 1e9}}", "run.memory_limit: expected a whole number of bytes");
        row("limit negative", "{\"model\": " + m + ", \"run\": {\"memory_limit\": -1}}", "run.memory_limit: expected a whole number of bytes");
        row("limit past int64", "{\"model\": " + m + ", \"run\": {\"memory_limit\": 9223372036854775808}}", "run.memory_limit");
        row("limit as string", "{\"model\": " + m + ", \"run\": {\"memory_limit\": \"2GiB\"}}", "run.memory_limit");
        row("threads negative", "{\"model\": " + m + ", \"run\": {\"threads\": -1}}", "run.threads: expected an integer from 0");
        row("threads float", "{\"model\": " + m + ", \"run\": {\"threads\": 2.0}}", "run.threads");
        row("device typo", "{\"model\": " + m + ", \"run\": {\"device\": \"cuda0\"}}", "run.device: expected \"cpu\", \"cuda\" or \"cuda:N\"");
        row("verify string", "{\"model\": " + m + ", \"run\": {\"verify\": \"yes\"}}", "run.verify: expected true or false");
        row("not JSON", "{\"model\": ", "invalid JSON");
    }

    void badExperiments() {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        Result<Experiment> e = parse_experiment(text.toStdString());
        QVERIFY(!e);
        QVERIFY2(e.error().message.find(expected.toStdString()) != std::string::npos, e.error().message.c_str());
        QVERIFY(e.error().message.find('\n') == std::string::npos);
        QCOMPARE(e.error().kind, ErrorKind::bad_input);
    }

    void filesNameThemselves() {
        QTemporaryDir dir;
        Result<Experiment> missing = load_experiment(dir.filePath("missing.json").toStdString());
        QVERIFY(!missing);
        QCOMPARE(missing.error().kind, ErrorKind::io);
        QVERIFY(missing.error().message.find("missing.json") != std::string::npos);
        QCOMPARE(save_experiment(dir.filePath("no/such/dir.json").toStdString(), everySetting(1, 2)).err->kind, ErrorKind::io);
        {
            std::ofstream out(dir.filePath("bad.json").toStdString());
            out << "{\"model\": {}}";
        }
        Result<Experiment> bad = load_experiment(dir.filePath("bad.json").toStdString());
        QVERIFY(!bad);
        QCOMPARE(bad.error().kind, ErrorKind::bad_input);
        QVERIFY2(bad.error().message.find("bad.json: model.input: required field is missing") != std::string::npos,
                 bad.error().message.c_str());
    }

    // A byte order mark in front, as some editors write it, changes nothing.
    void byteOrderMark() {
        const Experiment e = everySetting(5, 6);
        Result<Experiment> back = parse_experiment("\xEF\xBB\xBF" + to_json(e));
        QVERIFY(back);
        QVERIFY(*back == e);
    }
};

QTEST_GUILESS_MAIN(TestExperiment)
#include "tst_experiment.moc"
