// Checkpointed gradients are bitwise identical to unchecked ones: for every preset and for
// several checkpoint patterns, the FNV-1a checksum over the raw bits of every gradient (and
// the loss) must be equal, also after several optimizer steps and with dropout when the RNG
// state is preserved; with preserve_rng off the recomputed masks differ and so do gradients.
// On the CPU the bits do not depend on the thread count either (1, 2, 3 or 5 threads, checkpointed
// or not): the backend's pool cuts every loop and product by its size alone.
#include <QtTest>

#include "ckpt/session.h"
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

ModelSpec load(const QString& which) {
    if (which == "textbook") return testmodels::textbook();
    if (which == "tutorial") return testmodels::tutorial();
    if (which == "deep_residual (6 blocks, d=256)") return testmodels::deep_residual(6, 64, 256);
    if (which == "dropout_mlp") return testmodels::dropout_mlp();
    if (which == "llama (tied, grouped-query, rotary)") return testmodels::llama(97, 32, 4, 2, 43, 2, 2, 8);
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
};

QTEST_GUILESS_MAIN(TestCheckpointing)
#include "tst_checkpointing.moc"
