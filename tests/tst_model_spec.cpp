// The model spec loader refuses every malformed file with one line naming the field (the
// files and the expected messages live in tests/data/malformed/, shared with tst_cli), accepts
// every shipped preset, round-trips through to_json exactly, and judges in-memory specs with
// the same rules; checkpoint policies parse to the documented block sets.
#include <QtTest>

#include <ctime>

#include "malformed_cases.h"

#include "ckpt/experiment.h"
#include "ckpt/model_spec.h"
#include "ckpt/printable.h"

using namespace ckpt;

namespace {

const QString kPresetDir = QStringLiteral(CKPT_SOURCE_DIR "/resources/presets/");

std::string bits(const std::vector<bool>& flags) {
    std::string s;
    for (bool b : flags) s += b ? '1' : '0';
    return s;
}

LayerSpec linear(int64_t in, int64_t out) {
    LayerSpec l;
    l.type = LayerType::linear;
    l.in = in;
    l.out = out;
    return l;
}

LayerSpec layer(LayerType t) {
    LayerSpec l;
    l.type = t;
    return l;
}

// A spec that uses every layer type and every optimizer field, with non-default values.
ModelSpec everything() {
    ModelSpec s;
    s.name = "everything \"quoted\" \u00e9";
    s.description = "all layer types";
    s.input_shape = {3, 4, 8};
    s.seed = 18446744073709551615ull;
    s.preserve_rng = false;
    s.loss = LossType::cross_entropy;
    s.optimizer.type = OptimizerType::adamw;
    s.optimizer.lr = 3e-4;
    s.optimizer.beta1 = 0.8;
    s.optimizer.beta2 = 0.95;
    s.optimizer.eps = 1e-6;
    s.optimizer.weight_decay = 0.1;
    LayerSpec ln = layer(LayerType::layernorm);
    ln.dim = 8;
    ln.eps = 1e-6;
    ln.bias = false;
    LayerSpec drop = layer(LayerType::dropout);
    drop.p = 0.125;
    LayerSpec nobias = linear(16, 8);
    nobias.bias = false;
    s.blocks.push_back({"res", {ln, linear(8, 16), layer(LayerType::gelu), drop, nobias}, true, true});
    s.blocks.push_back({"act", {layer(LayerType::relu), layer(LayerType::tanh)}, false, false});
    s.blocks.push_back({"head", {linear(8, 5)}, false, true});
    return s;
}

}  // namespace

class TestModelSpec : public QObject {
    Q_OBJECT

private slots:
    void malformed_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        const auto cases = malformedCases();
        QVERIFY2(cases.size() >= 20, "expected at least 20 malformed files");
        for (const auto& [file, expected] : cases) QTest::newRow(qPrintable(file)) << file << expected;
    }

    void malformed() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        const QString path = kMalformedDir + file;
        QVERIFY2(QFileInfo::exists(path), qPrintable(path));
        Result<Experiment> experiment = load_experiment(path.toStdString());
        QVERIFY2(!experiment.ok(), "a malformed file was accepted");
        const std::string raw = experiment.error().message;
        if (!isExperimentCase(file)) {
            Result<ModelSpec> spec = load_model_spec(path.toStdString());
            QVERIFY2(!spec.ok(), "a malformed file was accepted");
            QCOMPARE(spec.error().message, raw);  // both loaders judge a model file alike
        }
        QCOMPARE(experiment.error().kind, ErrorKind::bad_input);
        const QString message = QString::fromStdString(raw);
        QVERIFY2(message.contains(expected), qPrintable("got: " + message + "\nexpected to contain: " + expected));
        QVERIFY2(!message.contains('\n'), qPrintable("not one line: " + message));
        QVERIFY2(message.startsWith(path + ": "), qPrintable("does not name the file: " + message));
        // Whatever the file holds, the message is printable (no escape sequences, valid UTF-8)
        // and short enough for a dialog.
        QCOMPARE(printable(raw, raw.size()), raw);
        QVERIFY2(message.size() < 700, qPrintable(QString("%1 characters").arg(message.size())));
    }

    // Every file in the folder has an expectation, so no case silently goes untested.
    void everyMalformedFileListed() {
        QSet<QString> listed;
        for (const auto& c : malformedCases() + malformedCases(MalformedKind::reports)) listed.insert(c.first);
        const QStringList files = QDir(kMalformedDir).entryList({"*.json"}, QDir::Files);
        QCOMPARE(files.size(), listed.size());
        for (const QString& f : files) QVERIFY2(listed.contains(f), qPrintable(f + " has no expected error"));
    }

    void presets_data() {
        QTest::addColumn<QString>("file");
        const QStringList files = QDir(kPresetDir).entryList({"*.json"}, QDir::Files);
        QVERIFY(files.contains("textbook_mlp.json"));
        QVERIFY(files.contains("deep_residual_mlp.json"));
        QVERIFY(files.contains("tutorial_mlp.json"));
        for (const QString& f : files) QTest::newRow(qPrintable(f)) << f;
    }

    void presets() {
        QFETCH(QString, file);
        Result<ModelSpec> spec = load_model_spec((kPresetDir + file).toStdString());
        QVERIFY2(spec.ok(), spec.ok() ? "" : spec.error().message.c_str());
        QVERIFY(validate_model_spec(*spec).ok());
        QVERIFY(!spec->description.empty());
        Result<ModelSpec> again = parse_model_spec(to_json(*spec));
        QVERIFY2(again.ok(), again.ok() ? "" : again.error().message.c_str());
        QVERIFY(*again == *spec);
    }

    void textbookPreset() {
        Result<ModelSpec> s = load_model_spec((kPresetDir + "textbook_mlp.json").toStdString());
        QVERIFY(s.ok());
        QCOMPARE(s->blocks.size(), size_t(3));
        QCOMPARE(s->rows(), int64_t(32));
        QCOMPARE(s->input_features(), int64_t(1024));
        QCOMPARE(s->output_features(), int64_t(10));
        QCOMPARE(s->loss, LossType::cross_entropy);
        QCOMPARE(s->optimizer.type, OptimizerType::sgd);
        QCOMPARE(s->optimizer.lr, 0.01);
        QCOMPARE(s->blocks[0].layers.size(), size_t(2));
        QCOMPARE(s->blocks[0].layers[0].type, LayerType::linear);
        QCOMPARE(s->blocks[0].layers[1].type, LayerType::relu);
        QCOMPARE(s->blocks[2].layers.size(), size_t(1));
        QCOMPARE(s->blocks[2].layers[0].out, int64_t(10));
        for (const BlockSpec& b : s->blocks) QVERIFY(!b.checkpoint);
    }

    void tutorialPreset() {
        Result<ModelSpec> s = load_model_spec((kPresetDir + "tutorial_mlp.json").toStdString());
        QVERIFY(s.ok());
        QCOMPARE(s->blocks.size(), size_t(3));
        QCOMPARE(s->rows(), int64_t(5));
        QCOMPARE(s->output_features(), int64_t(1));
        QCOMPARE(s->loss, LossType::mse);
        QVERIFY(!s->blocks[0].checkpoint);
        QVERIFY(s->blocks[1].checkpoint);
        QVERIFY(!s->blocks[2].checkpoint);
        const auto& mid = s->blocks[1].layers;
        QCOMPARE(mid.size(), size_t(3));
        QCOMPARE(mid[0].type, LayerType::relu);
        QCOMPARE(mid[1].type, LayerType::linear);
        QCOMPARE(mid[1].in, int64_t(50));
        QCOMPARE(mid[1].out, int64_t(50));
        QCOMPARE(mid[2].type, LayerType::relu);
    }

    void deepResidualPreset() {
        Result<ModelSpec> s = load_model_spec((kPresetDir + "deep_residual_mlp.json").toStdString());
        QVERIFY(s.ok());
        QCOMPARE(s->blocks.size(), size_t(24));
        QCOMPARE(s->rows(), int64_t(256));
        QCOMPARE(s->output_features(), int64_t(1024));
        QCOMPARE(s->optimizer.type, OptimizerType::adamw);
        QCOMPARE(s->optimizer.weight_decay, 0.01);
        for (size_t b = 0; b < 24; ++b) {
            QCOMPARE(s->blocks[b].name, "block." + std::to_string(b));
            QVERIFY(s->blocks[b].residual);
            QCOMPARE(s->blocks[b].layers.size(), size_t(4));
            QCOMPARE(s->blocks[b].layers[1].out, int64_t(4096));
        }
    }

    void roundTrip() {
        const ModelSpec s = everything();
        QVERIFY2(validate_model_spec(s).ok(), validate_model_spec(s).message().c_str());
        const std::string text = to_json(s);
        Result<ModelSpec> back = parse_model_spec(text);
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
        QVERIFY(*back == s);
        QCOMPARE(to_json(*back), text);  // canonical: a fixed point
        // Pretty-printed with two spaces, every field explicit.
        QVERIFY(QString::fromStdString(text).contains("\n  \"input\": {"));
        for (const char* key : {"\"seed\"", "\"preserve_rng\"", "\"repeat\": 1", "\"affine\": false",
                                "\"bias\": false", "\"betas\"", "\"checkpoint\": true", "\"description\""})
            QVERIFY2(text.find(key) != std::string::npos, key);
    }

    // The attention kernel: a file that does not say means eager (as files written before it
    // existed); every writer writes it, and flash reads back as flash.
    void attentionKernel() {
        const std::string text = R"({"input": {"shape": [2, 8, 24]}, "blocks": [{"layers": [
            {"type": "attention", "heads": 2, "causal": true}]}]})";
        Result<ModelSpec> s = parse_model_spec(text);
        QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
        QCOMPARE(s->blocks[0].layers[0].impl, AttentionImpl::eager);
        QVERIFY(to_json(*s).find("\"impl\": \"eager\"") != std::string::npos);
        s->blocks[0].layers[0].impl = AttentionImpl::flash;
        const std::string flash = to_json(*s);
        QVERIFY(flash.find("\"impl\": \"flash\"") != std::string::npos);
        Result<ModelSpec> back = parse_model_spec(flash);
        QVERIFY(back.ok());
        QCOMPARE(back->blocks[0].layers[0].impl, AttentionImpl::flash);
        QVERIFY(*back == *s);
        // An in-memory value outside the names is refused by name, not written as garbage.
        ModelSpec bad = *s;
        bad.blocks[0].layers[0].impl = AttentionImpl(7);
        QCOMPARE(QString::fromStdString(validate_model_spec(bad).message()),
                 QString("blocks[0].layers[0].impl: unknown value 7"));
    }

    void repeatExpandsBlocks() {
        const std::string text = R"({"input": {"shape": [2, 4]},
            "blocks": [{"name": "r", "residual": true, "checkpoint": true, "repeat": 3,
                        "layers": [{"type": "linear", "in": 4, "out": 4}, {"type": "tanh"}]},
                       {"layers": [{"type": "linear", "in": 4, "out": 2}]}]})";
        Result<ModelSpec> s = parse_model_spec(text);
        QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
        QCOMPARE(s->blocks.size(), size_t(4));
        QCOMPARE(s->blocks[0].name, std::string("r.0"));
        QCOMPARE(s->blocks[2].name, std::string("r.2"));
        QCOMPARE(s->blocks[3].name, std::string("block1"));
        for (int b = 0; b < 3; ++b) QVERIFY(s->blocks[size_t(b)].checkpoint && s->blocks[size_t(b)].residual);
        // Canonical JSON writes the expanded blocks, each with repeat 1.
        Result<ModelSpec> back = parse_model_spec(to_json(*s));
        QVERIFY(back.ok());
        QVERIFY(*back == *s);
    }

    void defaults() {
        Result<ModelSpec> s = parse_model_spec(
            R"({"input": {"shape": [8, 4, 16]}, "blocks": [{"layers": [{"type": "linear", "in": 16, "out": 3},
                {"type": "layernorm", "dim": 3}]}]})");
        QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
        QCOMPARE(s->rows(), int64_t(32));
        QCOMPARE(s->input_features(), int64_t(16));
        QCOMPARE(s->output_features(), int64_t(3));
        QCOMPARE(s->seed, uint64_t(0));
        QVERIFY(s->preserve_rng);
        QCOMPARE(s->loss, LossType::mse);
        QCOMPARE(s->optimizer, OptimizerSpec{});
        QVERIFY(s->blocks[0].layers[0].bias);
        QVERIFY(s->blocks[0].layers[1].bias);
        QCOMPARE(s->blocks[0].layers[1].eps, 1e-5);
        QVERIFY(!s->blocks[0].checkpoint);
        QVERIFY(!s->blocks[0].residual);
    }

    // The GUI edits specs in memory: validate_model_spec gives the file's messages.
    void validateInMemory_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("expected");
        QTest::newRow("valid") << 0 << QString();
        QTest::newRow("linear in") << 1 << "blocks[1].layers[0].in: expected 16 (the features coming in), got 12";
        QTest::newRow("negative out") << 2 << "blocks[0].layers[0].out: must be positive, got -4";
        QTest::newRow("residual") << 3 << "blocks[0].residual: output features 16 differ from input features 8";
        QTest::newRow("no blocks") << 4 << "blocks: needs at least one block";
        QTest::newRow("1-d input") << 5 << "input.shape: needs at least 2 dims";
        QTest::newRow("empty block") << 6 << "blocks[1].layers: a block needs at least one layer";
        QTest::newRow("dropout p") << 7 << "blocks[1].layers[1].p: must be in [0, 1), got 1.5";
        QTest::newRow("layernorm dim") << 8 << "blocks[1].layers[1].dim: expected 8 (the features coming in), got 16";
        QTest::newRow("negative lr") << 9 << "optimizer.lr: must not be negative, got -1";
        QTest::newRow("huge dim") << 10 << "blocks[0].layers[0].out: must be at most 2147483647, got 4294967296";
        QTest::newRow("huge weight") << 11
                                     << "blocks[1].layers[0]: weight of 2147483647 x 2147483647 elements exceeds";
    }

    void validateInMemory() {
        QFETCH(int, which);
        QFETCH(QString, expected);
        ModelSpec s;
        s.input_shape = {4, 8};
        s.blocks.push_back({"a", {linear(8, 16)}, false, false});
        s.blocks.push_back({"b", {linear(16, 8), layer(LayerType::dropout)}, false, false});
        switch (which) {
        case 1: s.blocks[1].layers[0].in = 12; break;
        case 2: s.blocks[0].layers[0].out = -4; break;
        case 3: s.blocks[0].residual = true; break;
        case 4: s.blocks.clear(); break;
        case 5: s.input_shape = {32}; break;
        case 6: s.blocks[1].layers.clear(); break;
        case 7: s.blocks[1].layers[1].p = 1.5; break;
        case 8: {
            LayerSpec ln = layer(LayerType::layernorm);
            ln.dim = 16;
            s.blocks[1].layers[1] = ln;
            break;
        }
        case 9: s.optimizer.lr = -1; break;
        case 10: s.blocks[0].layers[0].out = int64_t(1) << 32; break;
        case 11:
            s.blocks[0].layers[0].out = 2147483647;
            s.blocks[1].layers[0].in = 2147483647;
            s.blocks[1].layers[0].out = 2147483647;
            break;
        default: break;
        }
        const Status st = validate_model_spec(s);
        if (expected.isEmpty()) {
            QVERIFY2(st.ok(), st.message().c_str());
            return;
        }
        QVERIFY(!st.ok());
        QVERIFY2(QString::fromStdString(st.message()).contains(expected), st.message().c_str());
    }

    void names() {
        QCOMPARE(layer_type_name(LayerType::layernorm), std::string_view("layernorm"));
        QCOMPARE(loss_name(LossType::cross_entropy), std::string_view("cross_entropy"));
        QCOMPARE(optimizer_name(OptimizerType::adamw), std::string_view("adamw"));
    }

    void policy_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("blocks");
        // Bit string, then " | " and the segments when there are any, or "error: <substring>".
        QTest::addColumn<QString>("expected");
        QTest::newRow("none") << "none" << 4 << "0000";
        QTest::newRow("all") << "all" << 3 << "111";
        QTest::newRow("ALL, spaces") << "  ALL " << 2 << "11";
        QTest::newRow("none of zero blocks") << "none" << 0 << "";
        // sqrt: ceil(sqrt(n)) segments of equal cost, all but the last checkpointed.
        QTest::newRow("sqrt 24") << "sqrt" << 24 << "111111111111111111100000 | 0-4,5-9,10-13,14-18";
        QTest::newRow("sqrt 1") << "sqrt" << 1 << "1";
        QTest::newRow("sqrt 2") << "sqrt" << 2 << "10";
        QTest::newRow("sqrt 3") << "sqrt" << 3 << "100";
        QTest::newRow("sqrt 9") << "sqrt" << 9 << "111111000 | 0-2,3-5";
        QTest::newRow("sqrt 16") << "sqrt" << 16 << "1111111111110000 | 0-3,4-7,8-11";
        QTest::newRow("sqrt 17") << "sqrt" << 17 << "11111111111111000 | 0-2,3-6,7-9,10-13";
        QTest::newRow("every:2") << "every:2" << 5 << "10101";
        QTest::newRow("every:1") << "every:1" << 3 << "111";
        QTest::newRow("every:8 of 5") << "every:8" << 5 << "10000";
        QTest::newRow("list") << "0,3" << 5 << "10010";
        QTest::newRow("list with spaces") << " 1 , 2 " << 4 << "0110";
        QTest::newRow("range") << "1-3" << 5 << "01110";
        QTest::newRow("range and index") << "0,2-3" << 5 << "10110";
        QTest::newRow("segments") << "segments:0-3,4-7" << 10 << "1111111100 | 0-3,4-7";
        QTest::newRow("segments, one alone") << "Segments: 1-3, 5" << 7 << "0111010 | 1-3";
        QTest::newRow("segments, all alone") << "segments:0,2" << 3 << "101";
        QTest::newRow("out of range") << "0,5" << 5 << "error: block 5 is out of range (the model has 5 blocks, 0-4)";
        QTest::newRow("range out of range") << "3-7" << 5 << "error: block 5 is out of range";
        QTest::newRow("duplicate") << "1,1" << 4 << "error: block 1 is listed twice";
        QTest::newRow("overlapping range") << "1-2,2" << 4 << "error: block 2 is listed twice";
        QTest::newRow("every:0") << "every:0" << 4 << "error: K must be a positive integer";
        QTest::newRow("every:x") << "every:x" << 4 << "error: K must be a positive integer";
        QTest::newRow("word") << "half" << 4 << "error: expected none, all, sqrt, every:K, block indices like 0,3,5 or segments:0-3,4-7";
        QTest::newRow("empty") << "" << 4 << "error: checkpoint policy: empty";
        QTest::newRow("backwards") << "3-1" << 4 << "error: range \"3-1\" runs backwards";
        QTest::newRow("empty entry") << "1,,2" << 4 << "error: empty entry";
        QTest::newRow("trailing comma") << "1," << 4 << "error: empty entry";
        QTest::newRow("negative") << "-1" << 4 << "error: \"-1\" is not a range";
        QTest::newRow("segments overlap") << "segments:0-3,3-5" << 8
                                          << "error: segment \"3-5\" overlaps \"0-3\" (block 3 is in both)";
        QTest::newRow("segments unordered") << "segments:4-7,0-3" << 8
                                            << "error: segment \"0-3\" comes before \"4-7\": list segments in block order";
        QTest::newRow("segments empty range") << "segments:3-1" << 8
                                              << "error: segment \"3-1\" is empty: its last block comes before its first";
        QTest::newRow("segments out of range") << "segments:0-3,6-9" << 8
                                               << "error: segment \"6-9\": block 9 is out of range (the model has 8 blocks, 0-7)";
        QTest::newRow("segments none listed") << "segments:" << 8 << "error: empty segment in the list";
        QTest::newRow("segments, a word") << "segments:a-b" << 8 << "error: \"a-b\" is not a block range like \"4-7\"";
    }

    void policy() {
        QFETCH(QString, text);
        QFETCH(int, blocks);
        QFETCH(QString, expected);
        ModelSpec plain;
        plain.blocks.resize(size_t(blocks));
        Result<CheckpointSet> r = parse_checkpoint(text.toStdString(), plain);
        if (expected.startsWith("error: ")) {
            QVERIFY2(!r.ok(), "accepted");
            const QString message = QString::fromStdString(r.error().message);
            QVERIFY2(message.contains(expected.mid(7)), qPrintable(message));
            QVERIFY(!message.contains('\n'));
            return;
        }
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        QString got = QString::fromStdString(bits(r->checkpoint));
        std::string segments;
        for (const BlockRange& g : r->segments) segments += (segments.empty() ? "" : ",") + format_block_range(g);
        if (!segments.empty()) got += " | " + QString::fromStdString(segments);
        QCOMPARE(got, expected);
        // The per-block form answers the same where it can, and refuses segments.
        Result<std::vector<bool>> flags = parse_checkpoint_set(text.toStdString(), blocks);
        QCOMPARE(flags.ok(), r->segments.empty());
        if (flags) QCOMPARE(*flags, r->checkpoint);
        // The text a set is written as reads back to the same runs.
        ModelSpec applied = plain;
        apply_checkpoint(applied, *r);
        Result<CheckpointSet> again = parse_checkpoint(format_checkpoint(*r, plain), plain);
        QVERIFY(again);
        ModelSpec reapplied = plain;
        apply_checkpoint(reapplied, *again);
        QCOMPARE(recompute_segments(reapplied), recompute_segments(applied));
    }

    // Segments in a model file: read after "repeat", written back as they were, and counted as
    // units by every:K and all; what each checkpointed run recomputes as one.
    void segmentsInAFile() {
        const std::string file = R"({"input": {"shape": [2, 4]}, "segments": ["1-2", "3-5"],
            "blocks": [{"name": "in", "layers": [{"type": "linear", "in": 4, "out": 4}]},
                       {"name": "b", "repeat": 6, "layers": [{"type": "relu"}]}]})";
        Result<ModelSpec> s = parse_model_spec(file);
        QVERIFY2(s, s ? "" : s.error().message.c_str());
        QCOMPARE(s->segments, (std::vector<BlockRange>{{1, 2}, {3, 5}}));
        Result<ModelSpec> again = parse_model_spec(to_json(*s));
        QVERIFY(again);
        QCOMPARE(*again, *s);
        QVERIFY(QString::fromStdString(to_json(*s)).contains("\"segments\": [\n    \"1-2\",\n    \"3-5\"\n  ]"));
        QCOMPARE(checkpoint_units(*s), (std::vector<BlockRange>{{0, 0}, {1, 2}, {3, 5}, {6, 6}}));
        Result<CheckpointSet> every2 = parse_checkpoint("every:2", *s);
        QVERIFY(every2);
        QCOMPARE(QString::fromStdString(bits(every2->checkpoint)), QString("1001110"));  // units 0 and 2
        QCOMPARE(every2->segments, s->segments);
        // A block list keeps the segments: 2 and 3-4 checkpointed run as [2] and [3, 4].
        Result<CheckpointSet> list = parse_checkpoint("2-4", *s);
        QVERIFY(list);
        ModelSpec applied = *s;
        apply_checkpoint(applied, *list);
        QCOMPARE(recompute_segments(applied), (std::vector<BlockRange>{{2, 2}, {3, 4}}));
        QCOMPARE(QString::fromStdString(format_checkpoint(*list, *s)), QString("2-4"));
        // segments: replaces the segments it touches and keeps the others.
        Result<CheckpointSet> seg = parse_checkpoint("segments:0-2", *s);
        QVERIFY(seg);
        QCOMPARE(seg->segments, (std::vector<BlockRange>{{0, 2}, {3, 5}}));
        QCOMPARE(QString::fromStdString(format_checkpoint(*seg, *s)), QString("segments:0-2"));
        // A file without segments is written without the key: old files stay as they were.
        ModelSpec plain = *s;
        plain.segments.clear();
        QVERIFY(!QString::fromStdString(to_json(plain)).contains("segments"));
    }

    void segmentsInMemory_data() {
        QTest::addColumn<QString>("segments");  // first-last pairs, space separated
        QTest::addColumn<QString>("expected");  // "" or the error
        QTest::newRow("fine") << "0-1 2-5" << "";
        QTest::newRow("overlapping") << "0-2 2-4" << "segments[1]: segment \"2-4\" overlaps segments[0] \"0-2\" (block 2 is in both)";
        QTest::newRow("empty") << "4-3" << "segments[0]: segment \"4-3\" is empty: its last block comes before its first";
        QTest::newRow("out of range") << "0-1 5-6" << "segments[1]: segment \"5-6\": block 6 is out of range (the model has 6 blocks, 0-5)";
        QTest::newRow("unordered") << "3-4 0-1" << "segments[1]: segment \"0-1\" comes before segments[0] \"3-4\": list segments in block order";
        QTest::newRow("one block") << "2-2" << "segments[0]: segment \"2\" has one block: a block alone is already a segment of one (list runs of two or more)";
    }

    void segmentsInMemory() {
        QFETCH(QString, segments);
        QFETCH(QString, expected);
        ModelSpec s;
        s.input_shape = {2, 4};
        s.blocks.assign(6, BlockSpec{"b", {layer(LayerType::relu)}, false, false});
        for (const QString& g : segments.split(' ')) {
            const QStringList ends = g.split('-');
            s.segments.push_back({ends[0].toInt(), ends[1].toInt()});
        }
        QCOMPARE(QString::fromStdString(validate_model_spec(s).message()), expected);
        // The JSON form is judged the same way.
        Result<ModelSpec> parsed = parse_model_spec(to_json(s));
        QCOMPARE(parsed.ok(), expected.isEmpty());
        if (!parsed) QCOMPARE(QString::fromStdString(parsed.error().message), expected);
    }

    // The limits of model files (model_spec.h), at their edges: the first value past a limit is
    // refused with a message naming the limit and where it was passed; the last one inside is not.
    void nestingDepthLimit() {
        auto nested = [](size_t depth) {  // "input.shape" nested so that its innermost array has `depth`
            const size_t extra = depth - 2;  // the root object and "input" are two levels
            return "{\"input\": {\"shape\": " + std::string(extra, '[') + std::string(extra, ']') + "}, \"blocks\": []}";
        };
        Result<ModelSpec> inside = parse_model_spec(nested(kMaxJsonDepth));
        QVERIFY(!inside);
        QVERIFY2(inside.error().message.find("nested") == std::string::npos, inside.error().message.c_str());
        Result<ModelSpec> past = parse_model_spec(nested(kMaxJsonDepth + 1));
        QVERIFY(!past);
        std::string path = "input.shape";
        for (size_t i = 0; i < kMaxJsonDepth - 2; ++i) path += "[0]";  // shape and the arrays in it
        QCOMPARE(QString::fromStdString(past.error().message),
                 QString::fromStdString(path) + ": arrays and objects nested more than 64 deep (the limit for model and experiment files)");
    }

    void valueCountLimit() {
        // Six values before x's elements (the root, input, shape and its two sizes, the array
        // x): its elements fill the rest.
        auto file = [](size_t elements) {
            std::string t = "{\"input\": {\"shape\": [2, 4]}, \"x\": [";
            t.reserve(t.size() + 2 * elements + 64);
            for (size_t i = 0; i < elements; ++i) t += i ? ",0" : "0";
            return t + "]}";
        };
        const size_t room = kMaxJsonValues - 6;
        Result<ModelSpec> inside = parse_model_spec(file(room));
        QVERIFY(!inside);
        QCOMPARE(QString::fromStdString(inside.error().message), QString("x: unknown key in the model (expected name, description, input, precision, seed, "
                                                     "preserve_rng, loss, optimizer, segments, blocks)"));
        Result<ModelSpec> past = parse_model_spec(file(room + 1));
        QVERIFY(!past);
        QCOMPARE(QString::fromStdString(past.error().message), "x[" + QString::number(room) + "]: the file has more than 4000000 JSON values "
                                       "(the limit for model and experiment files)");
    }

    // The duplicate-key check is one lookup per key: 400,000 objects (27 s with the old
    // callback parser, which rescanned each parent) and a 200,000-key object read in well under
    // the time a quadratic check would need, and a duplicate at the end is still found. The time
    // is this thread's CPU time, not the wall clock: on two cores shared with other jobs (load
    // average 7, CI's sanitizer stage) the wall clock once read 5.5 s for about 2 s of work.
    void readingIsLinear() {
        std::string objects = "{\"input\": {\"shape\": [2, 4]}, \"x\": [";
        for (int i = 0; i < 400000; ++i) objects += i ? ",{}" : "{}";
        objects += "]}";
        std::string wide = "{\"input\": {\"shape\": [2, 4]}, \"x\": {";
        for (int i = 0; i < 200000; ++i) wide += (i ? ",\"k" : "\"k") + std::to_string(i) + "\": 0";
        wide += ", \"k123456\": 1}}";
        auto cpu_ms = [] {
            timespec t{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
            return qint64(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
        };
        const qint64 start = cpu_ms();
        Result<ModelSpec> a = parse_model_spec(objects);
        Result<ModelSpec> b = parse_model_spec(wide);
        const qint64 ms = cpu_ms() - start;
        QVERIFY(!a && a.error().message.rfind("x: unknown key", 0) == 0);
        QVERIFY(!b);
        QCOMPARE(QString::fromStdString(b.error().message), QString("x.k123456: duplicate key (each key may appear once per object)"));
        QVERIFY2(ms < 5000, qPrintable(QString("%1 ms of CPU").arg(ms)));  // about 0.3 s in Release, 2 s under ASan
    }

    void layerCountLimit() {
        // In a file: repeat x layers is checked before a block is copied.
        std::string layers;
        for (int i = 0; i < 20; ++i) layers += i ? ", {\"type\": \"relu\"}" : "{\"type\": \"relu\"}";
        auto file = [&](int repeat) {
            return "{\"input\": {\"shape\": [2, 4]}, \"blocks\": [{\"layers\": [{\"type\": \"relu\"}]}, "
                   "{\"repeat\": " + std::to_string(repeat) + ", \"layers\": [" + layers + "]}]}";
        };
        Result<ModelSpec> fits = parse_model_spec(file(49999));  // 1 + 999,980 layers
        QVERIFY2(fits, fits ? "" : fits.error().message.c_str());
        QCOMPARE(fits->blocks.size(), size_t(50000));
        Result<ModelSpec> past = parse_model_spec(file(50000));
        QVERIFY(!past);
        QCOMPARE(QString::fromStdString(past.error().message), QString("blocks[1].repeat: the model expands to 1000001 layers by this "
                                                   "block, more than the limit of 1000000"));
        // In memory (the GUI's specs): the same limit.
        ModelSpec s;
        s.input_shape = {2, 4};
        s.blocks.push_back({"wide", std::vector<LayerSpec>(kMaxLayers + 1, layer(LayerType::relu)), false, false});
        QCOMPARE(QString::fromStdString(validate_model_spec(s).message()), QString("blocks: 1000001 layers, at most 1000000 are supported"));
        s.blocks[0].layers.pop_back();
        QVERIFY(validate_model_spec(s).ok());
    }

    void printableText_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<int>("cap");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("plain") << QByteArray("blocks[0].in") << 64 << QByteArray("blocks[0].in");
        QTest::newRow("utf-8 kept") << QByteArray("caf\xC3\xA9 \xE2\x88\x9A") << 64 << QByteArray("caf\xC3\xA9 \xE2\x88\x9A");
        QTest::newRow("escape") << QByteArray("\x1b[31mred") << 64 << QByteArray("\\x1B[31mred");
        QTest::newRow("newline, tab, DEL") << QByteArray("a\nb\tc\x7f") << 64 << QByteArray("a\\x0Ab\\x09c\\x7F");
        QTest::newRow("C1 CSI") << QByteArray("\xC2\x9B" "2J") << 64 << QByteArray("\\u009B2J");
        QTest::newRow("bidi override") << QByteArray("a\xE2\x80\xAE" "b") << 64 << QByteArray("a\\u202Eb");
        QTest::newRow("not UTF-8") << QByteArray("\xff\xC3(") << 64 << QByteArray("\\xFF\\xC3(");
        QTest::newRow("overlong") << QByteArray("\xC0\xAF") << 64 << QByteArray("\\xC0\\xAF");
        QTest::newRow("surrogate") << QByteArray("\xED\xA0\x80") << 64 << QByteArray("\\xED\\xA0\\x80");
        QTest::newRow("cut") << QByteArray(100, 'k') << 8 << QByteArray("kkkkkkkk...(100 bytes)");
        QTest::newRow("cut keeps characters") << QByteArray("aaaaaaa\xC3\xA9") << 8 << QByteArray("aaaaaaa...(9 bytes)");
        QTest::newRow("cut keeps escapes") << QByteArray("aaaaaa\x1b") << 8 << QByteArray("aaaaaa...(7 bytes)");
    }

    void printableText() {
        QFETCH(QByteArray, text);
        QFETCH(int, cap);
        QFETCH(QByteArray, expected);
        const std::string out = printable(std::string_view(text.constData(), size_t(text.size())), size_t(cap));
        QCOMPARE(QByteArray::fromStdString(out), expected);
        QCOMPARE(printable(out, out.size()), out);  // a fixed point: valid, printable UTF-8
    }

    void applyPolicy() {
        ModelSpec s = everything();
        apply_checkpoint_set(s, {false, true, false});
        QCOMPARE(s.blocks[0].checkpoint, false);
        QCOMPARE(s.blocks[1].checkpoint, true);
        QCOMPARE(s.blocks[2].checkpoint, false);
        auto all = parse_checkpoint_set("all", int(s.blocks.size()));
        QVERIFY(all.ok());
        apply_checkpoint_set(s, *all);
        for (const BlockSpec& b : s.blocks) QVERIFY(b.checkpoint);
    }
};

QTEST_GUILESS_MAIN(TestModelSpec)
#include "tst_model_spec.moc"
