// Checkpointed gradients are bitwise identical to unchecked ones: for every preset and for
// several checkpoint patterns, per block and by segments (runs of blocks recomputed as one),
// the FNV-1a checksum over the raw bits of every gradient (and the loss) must be equal, also
// after several optimizer steps, with dropout when the RNG state is preserved, under every
// selective policy and on odd shapes; with preserve_rng off the recomputed masks differ and so
// do gradients. On the CPU the bits do not depend on the thread count either (1, 2, 3 or 5
// threads, checkpointed or not): the backend's pool cuts every loop and product by its size alone.
#include <QtTest>

#include <random>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "test_models.h"

using namespace ckpt;

namespace {

struct Outcome {
    std::vector<uint64_t> checksums;  // one per step
    std::vector<double> losses;
    std::vector<NamedTensor> grads;   // of the last step
};

Outcome run(const ModelSpec& spec, int steps, int threads = 0) {
    Outcome o;
    RunSettings settings;
    settings.threads = threads;
    auto session = Session::create(spec, settings);
    if (!session) qFatal("%s", session.error().message.c_str());
    for (int s = 0; s < steps; ++s) {
        StepOptions opts;
        opts.capture_tensors = s == steps - 1;
        StepReport r = (*session)->step(opts);
        if (r.status != StepStatus::ok) qFatal("%s", r.message.c_str());
        o.checksums.push_back(r.gradient_checksum);
        o.losses.push_back(r.loss);
        for (NamedTensor& t : r.tensors)
            if (t.name.rfind("grad.", 0) == 0) o.grads.push_back(std::move(t));
    }
    return o;
}

std::vector<bool> pattern(const QString& name, int n) {
    std::vector<bool> f(size_t(n), false);
    for (int b = 0; b < n; ++b) {
        if (name == "all") f[size_t(b)] = true;
        else if (name == "first") f[size_t(b)] = b == 0;
        else if (name == "last") f[size_t(b)] = b == n - 1;
        else if (name == "odd") f[size_t(b)] = b % 2 == 1;
        else if (name == "even") f[size_t(b)] = b % 2 == 0;
    }
    return f;
}

// A segment pattern as a --checkpoint text: "one run" (every block in one run), "pairs"
// (0-1, 2-3, ...), "mixed" (a run of three, a block unchecked, a block alone, a run of the rest),
// or any text parse_checkpoint reads ("sqrt", "every:2").
CheckpointSet segment_pattern(const QString& name, const ModelSpec& spec) {
    const int n = int(spec.blocks.size());
    std::string text = name.toStdString();
    auto runs = [](const std::vector<std::pair<int, int>>& rs) {
        std::string t = "segments:";
        for (size_t i = 0; i < rs.size(); ++i)
            t += (i ? "," : "") + std::to_string(rs[i].first) + "-" + std::to_string(rs[i].second);
        return t;
    };
    if (name == "one run") text = runs({{0, n - 1}});
    if (name == "pairs") {
        std::vector<std::pair<int, int>> rs;
        for (int b = 0; b < n; b += 2) rs.push_back({b, std::min(b + 1, n - 1)});
        text = runs(rs);
    }
    if (name == "mixed") {
        std::vector<std::pair<int, int>> rs{{0, std::min(2, n - 1)}};
        if (n > 4) rs.push_back({4, 4});
        if (n > 6) rs.push_back({5, n - 1});
        text = runs(rs);
    }
    Result<CheckpointSet> set = parse_checkpoint(text, spec);
    if (!set) qFatal("%s", set.error().message.c_str());
    return *set;
}

// A transformer preset with its layers' kinds kept but fewer of them and a smaller vocabulary,
// so that every preset's gradients are compared in seconds, not minutes (GPT-2 small's 12
// layers and 50,257 tokens, four presets of it, took minutes on a shared machine): the embedding,
// the first two layers (four blocks and their segments) and the head, vocabulary at most 1,024.
void shorten_transformer(ModelSpec& s) {
    const int n = int(s.blocks.size()), keep = 5;
    if (n > keep + 1) {
        s.blocks.erase(s.blocks.begin() + keep, s.blocks.end() - 1);
        std::vector<BlockRange> kept;
        for (const BlockRange& g : s.segments)
            if (g.last < keep) kept.push_back(g);
        s.segments = kept;
    }
    for (BlockSpec& b : s.blocks)
        for (LayerSpec& l : b.layers) {
            if (l.type == LayerType::embedding && l.vocab > 1024) {
                for (BlockSpec& h : s.blocks)
                    for (LayerSpec& o : h.layers)
                        if (o.type == LayerType::linear && o.out == l.vocab) o.out = 1024;
                l.vocab = 1024;
            }
        }
}

ModelSpec with_set(ModelSpec s, const CheckpointSet& set) {
    apply_checkpoint(s, set);
    return s;
}

// A GPT with dropout whose blocks cycle through every selective policy (custom saves the
// attention block's QKV projection and the MLP's GELU).
ModelSpec gpt_policies() {
    ModelSpec s = testmodels::gpt(61, 24, 3, 3, 2, 7, 0.2);
    const BlockSpec::Policy cycle[] = {BlockSpec::Policy::full, BlockSpec::Policy::save_matmuls,
                                       BlockSpec::Policy::attention_core, BlockSpec::Policy::custom};
    for (size_t b = 0; b < s.blocks.size(); ++b) {
        s.blocks[b].policy = cycle[b % 4];
        if (s.blocks[b].layers.size() == 5) {
            s.blocks[b].layers[1].save = true;
            s.blocks[b].layers[2].save = s.blocks[b].layers[2].type == LayerType::gelu;
        }
    }
    return s;
}

ModelSpec load(const QString& which) {
    if (which == "textbook") return testmodels::textbook();
    if (which == "tutorial") return testmodels::tutorial();
    if (which == "deep_residual (6 blocks, d=256)") return testmodels::deep_residual(6, 64, 256);
    if (which == "dropout_mlp") return testmodels::dropout_mlp();
    if (which == "llama (tied, grouped-query, rotary)") return testmodels::llama(97, 32, 4, 2, 43, 2, 2, 8);
    if (which == "gpt (dropout, every policy)") return gpt_policies();
    if (which == "resnet (shortcuts, post, batch norm)") return testmodels::resnet(3, 9, {5, 7, 11});
    // Shapes that reach the CPU backend's parallel paths: a batch of 16 images (convolutions in
    // four slots of batch tiles, one image a tile at 16x16, four at 8x8), products big enough to
    // be cut into pieces (256 x 1024 x 1024), attention with heads in parallel and dropout.
    if (which == "resnet (batch 16, 16x16)") return testmodels::resnet(16, 16, {16, 32});
    if (which == "textbook (batch 256, d=1024)") return testmodels::textbook(256, 1024);
    if (which == "gpt (dropout 0.1)") return testmodels::gpt(101, 64, 4, 2, 4, 32, 0.1);
    if (which == "llama (batch 4, T=32)") return testmodels::llama(97, 64, 4, 2, 96, 2, 4, 32);
    // The shipped preset files themselves.
    auto spec = load_model_spec(std::string(CKPT_SOURCE_DIR "/resources/presets/") + which.toStdString() + ".json");
    if (!spec) qFatal("%s", spec.error().message.c_str());
    return *spec;
}

}  // namespace

class TestCheckpointing : public QObject {
    Q_OBJECT

private slots:
    void bitwiseIdentical_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("pattern");
        const QStringList models{"textbook", "tutorial", "deep_residual (6 blocks, d=256)", "dropout_mlp",
                                 "tutorial_mlp", "textbook_mlp", "llama (tied, grouped-query, rotary)",
                                 "llama_small" /* the shipped preset: flash attention */};
        for (const QString& m : models)
            for (const QString& p : {"all", "first", "last", "odd", "even"})
                QTest::newRow(qPrintable(m + " / " + p)) << m << p;
    }

    void bitwiseIdentical() {
        QFETCH(QString, model);
        QFETCH(QString, pattern);
        const ModelSpec base = load(model);
        const int n = int(base.blocks.size());
        const Outcome ref = run(testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), false)), 3);
        const Outcome got = run(testmodels::with_checkpoints(base, ::pattern(pattern, n)), 3);
        QCOMPARE(got.losses, ref.losses);
        QCOMPARE(got.checksums, ref.checksums);
        // The checksum stands in for this element-wise comparison; check it once directly too.
        QCOMPARE(got.grads.size(), ref.grads.size());
        for (size_t i = 0; i < got.grads.size(); ++i) {
            QCOMPARE(got.grads[i].name, ref.grads[i].name);
            QVERIFY(std::memcmp(got.grads[i].f32.data(), ref.grads[i].f32.data(), got.grads[i].f32.size() * 4) == 0);
        }
        QVERIFY(ref.checksums[0] != 0);
    }

    void deepPresetIdentical() {
        // The full-size preset (24 blocks, d = 1024, batch 256): one step each way.
        const ModelSpec base = load("deep_residual_mlp");
        const int n = int(base.blocks.size());
        const Outcome ref = run(testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), false)), 1);
        const Outcome got = run(testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), true)), 1);
        QCOMPARE(got.checksums, ref.checksums);
        QCOMPARE(got.losses, ref.losses);
    }

    void dropoutPreserveRng() {
        // Dropout inside checkpointed blocks, RNG state restored: identical.
        ModelSpec spec = testmodels::deep_residual(4, 32, 64, 0.3);
        const Outcome ref = run(testmodels::with_checkpoints(spec, {false, false, false, false}), 2);
        const Outcome on = run(testmodels::with_checkpoints(spec, {true, true, false, true}), 2);
        QCOMPARE(on.checksums, ref.checksums);
        QCOMPARE(on.losses, ref.losses);

        // Not restored: backward sees masks that forward never used.
        spec.preserve_rng = false;
        const Outcome off = run(testmodels::with_checkpoints(spec, {true, true, false, true}), 1);
        QCOMPARE(off.losses[0], ref.losses[0]);  // forward is unchanged
        QVERIFY(off.checksums[0] != ref.checksums[0]);
    }

    void preserveRngOffWithoutCheckpointsIsHarmless() {
        ModelSpec spec = testmodels::dropout_mlp();
        const Outcome ref = run(spec, 1);
        spec.preserve_rng = false;
        QCOMPARE(run(spec, 1).checksums, ref.checksums);
    }

    void reportSaysWhetherMasksWereReplayed() {
        ModelSpec spec = testmodels::with_checkpoints(testmodels::dropout_mlp(), {true, true, true, true, true});
        spec.preserve_rng = false;
        auto s = Session::create(spec);
        QVERIFY(s);
        StepReport r = (*s)->step();
        QVERIFY(r.dropout_present);
        QVERIFY(!r.preserve_rng);
    }

    void sameBitsForAnyThreadCount_data() {
        QTest::addColumn<QString>("model");
        for (const char* m : {"resnet (batch 16, 16x16)", "textbook (batch 256, d=1024)", "gpt (dropout 0.1)",
                              "llama (batch 4, T=32)"})
            QTest::newRow(m) << QString(m);
    }

    void sameBitsForAnyThreadCount() {
        // Two steps on one thread are the reference; 2, 3 and 5 threads (more than the cores:
        // pieces then wait for a thread that is not running), and every block checkpointed on 2,
        // give the same losses and gradients bit for bit.
        QFETCH(QString, model);
        const ModelSpec base = load(model);
        const int n = int(base.blocks.size());
        const Outcome ref = run(base, 2, 1);
        QVERIFY(ref.checksums[0] != 0);
        struct Variant {
            int threads;
            bool checkpointed;
        };
        for (const Variant v : {Variant{2, false}, Variant{3, false}, Variant{5, false}, Variant{2, true}}) {
            const Outcome got =
                run(v.checkpointed ? testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), true)) : base, 2,
                    v.threads);
            const QByteArray what = QByteArray::number(v.threads) + " threads" + (v.checkpointed ? ", checkpointed" : "");
            QVERIFY2(got.losses == ref.losses, what.constData());
            QVERIFY2(got.checksums == ref.checksums, what.constData());
            QCOMPARE(got.grads.size(), ref.grads.size());
            for (size_t i = 0; i < got.grads.size(); ++i)
                QVERIFY2(std::memcmp(got.grads[i].f32.data(), ref.grads[i].f32.data(), got.grads[i].f32.size() * 4) == 0,
                         (what + ": " + QByteArray::fromStdString(got.grads[i].name)).constData());
        }
    }

    void setCheckpointBetweenSteps() {
        // Changing flags in a live session keeps the parameters: the trajectory is unchanged.
        const ModelSpec spec = testmodels::textbook(16, 128);
        const Outcome ref = run(spec, 3);
        auto s = Session::create(spec);
        QVERIFY(s);
        std::vector<uint64_t> sums;
        for (int i = 0; i < 3; ++i) {
            QVERIFY((*s)->set_checkpoint(pattern(i == 1 ? "all" : "odd", 3)).ok());
            sums.push_back((*s)->step().gradient_checksum);
        }
        QCOMPARE(sums, ref.checksums);
        QVERIFY(!(*s)->set_checkpoint({true}).ok());
    }

    // Segments: a run recomputed as one, from its first block's input, gives the unchecked
    // gradients bit for bit, whatever the run's blocks are (residual, shortcut and post paths,
    // batch norm, attention, dropout, every selective policy).
    void segmentsBitwiseIdentical_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("pattern");
        const QStringList models{"textbook", "tutorial", "deep_residual (6 blocks, d=256)", "dropout_mlp",
                                 "llama (tied, grouped-query, rotary)", "gpt (dropout, every policy)",
                                 "resnet (shortcuts, post, batch norm)"};
        for (const QString& m : models)
            for (const QString& p : {"one run", "pairs", "mixed", "sqrt"})
                QTest::newRow(qPrintable(m + " / " + p)) << m << p;
    }

    void segmentsBitwiseIdentical() {
        QFETCH(QString, model);
        QFETCH(QString, pattern);
        const ModelSpec base = load(model);
        const int n = int(base.blocks.size());
        const ModelSpec checked = with_set(base, segment_pattern(pattern, base));
        const Outcome ref = run(testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), false)), 2);
        const Outcome got = run(checked, 2);
        QCOMPARE(got.losses, ref.losses);
        QCOMPARE(got.checksums, ref.checksums);
        QCOMPARE(got.grads.size(), ref.grads.size());
        for (size_t i = 0; i < got.grads.size(); ++i)
            QVERIFY(std::memcmp(got.grads[i].f32.data(), ref.grads[i].f32.data(), got.grads[i].f32.size() * 4) == 0);
        // The pattern recomputes some block together with another (sqrt and mixed on short chains
        // may not: then it is a per-block pattern, also fine).
        bool grouped = false;
        for (const BlockRange& r : recompute_segments(checked)) grouped |= r.size() > 1;
        QVERIFY(grouped || pattern == "sqrt" || n < 3);
    }

    // Every preset that fits this machine, at a batch and sequence small enough for a test: the
    // presets' own segments (transformer layers) all checkpointed, and Chen's sqrt segments.
    // llama3_8b_8k (8 billion parameters) is predicted only: its gradients cannot be held here.
    void segmentsOnEveryPreset_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("pattern");
        for (const QFileInfo& f : QDir(CKPT_SOURCE_DIR "/resources/presets").entryInfoList({"*.json"}, QDir::Files)) {
            if (f.baseName() == "llama3_8b_8k") continue;
            for (const QString& p : {"all", "sqrt"}) QTest::newRow(qPrintable(f.baseName() + " / " + p)) << f.baseName() << p;
        }
    }

    void segmentsOnEveryPreset() {
        QFETCH(QString, preset);
        QFETCH(QString, pattern);
        ModelSpec base = load(preset);
        // A smaller batch of the same model: one sample, at most 64 tokens, images at most 64 px;
        // one step without an optimizer (the gradients are what is compared).
        base.input_shape[0] = 1;
        base.optimizer.type = OptimizerType::none;
        if (base.token_input()) {
            base.input_shape[1] = std::min<int64_t>(base.input_shape[1], 64);
            shorten_transformer(base);
        }
        // A long stretch of one repeated block (deep_residual_mlp's 24 blocks of 8M parameters)
        // cut to four: the same kind of block, four times fewer parameters to draw.
        if (const BlockRange r = repeated_stretch(base); r.size() > 4 && base.segments.empty())
            base.blocks.erase(base.blocks.begin() + r.first + 4, base.blocks.begin() + r.last + 1);
        if (base.image_input()) base.input_shape[2] = base.input_shape[3] = std::min<int64_t>(base.input_shape[2], 64);
        QVERIFY2(validate_model_spec(base).ok(), validate_model_spec(base).message().c_str());
        const int n = int(base.blocks.size());
        const Outcome ref = run(testmodels::with_checkpoints(base, std::vector<bool>(size_t(n), false)), 1);
        const Outcome got = run(with_set(base, segment_pattern(pattern, base)), 1);
        QCOMPARE(got.losses, ref.losses);
        QCOMPARE(got.checksums, ref.checksums);
    }

    // Odd shapes, as the held-out checks draw them: random widths, batches and sequences, random
    // partitions into runs (and unchecked blocks), three steps each.
    void segmentsOnOddShapes() {
        std::mt19937 rng(1234);
        for (int trial = 0; trial < 12; ++trial) {
            const int64_t B = 1 + rng() % 3, T = 1 + rng() % 9, heads = 1 + rng() % 3, d = heads * (1 + rng() % 5);
            ModelSpec spec = trial % 3 == 0   ? testmodels::gpt(11 + rng() % 20, d, heads, 1 + trial % 3, B, T, 0.1 * (trial % 4))
                             : trial % 3 == 1 ? testmodels::deep_residual(3 + trial % 5, B * T, 3 + rng() % 13, 0.15)
                                              : testmodels::resnet(B, 5 + rng() % 6, {int64_t(2 + rng() % 5), int64_t(3 + rng() % 4)});
            const int n = int(spec.blocks.size());
            std::vector<std::pair<int, int>> runs;
            for (int b = 0; b < n;) {
                const int len = 1 + int(rng() % 4);
                if (rng() % 3 != 0) runs.push_back({b, std::min(n - 1, b + len - 1)});
                b += len;
            }
            std::string text = "segments:";
            for (size_t i = 0; i < runs.size(); ++i)
                text += (i ? "," : "") + std::to_string(runs[i].first) + "-" + std::to_string(runs[i].second);
            if (runs.empty()) text = "none";
            Result<CheckpointSet> set = parse_checkpoint(text, spec);
            QVERIFY2(set, set ? "" : set.error().message.c_str());
            const Outcome ref = run(spec, 3);
            const Outcome got = run(with_set(spec, *set), 3);
            QVERIFY2(got.checksums == ref.checksums, qPrintable(QString::fromStdString(spec.name + " " + text)));
            QCOMPARE(got.losses, ref.losses);
        }
    }

    void segmentsReplayDropoutOnlyWithPreserveRng() {
        ModelSpec spec = testmodels::deep_residual(5, 32, 64, 0.3);
        const Outcome ref = run(spec, 1);
        spec = with_set(spec, segment_pattern("segments:0-2,3-4", spec));
        QCOMPARE(run(spec, 1).checksums, ref.checksums);
        spec.preserve_rng = false;
        const Outcome off = run(spec, 1);
        QCOMPARE(off.losses[0], ref.losses[0]);
        QVERIFY(off.checksums[0] != ref.checksums[0]);
    }
};

QTEST_GUILESS_MAIN(TestCheckpointing)
#include "tst_checkpointing.moc"
