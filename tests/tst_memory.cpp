// Bytes are the product: kept bytes per block against an independent hand count from the
// layer shapes, to the byte; memory events that balance; the deep MLP's kept activations
// shrinking by more than 8x when every block is checkpointed; dry-run predictions equal to the
// measured peaks; a memory limit producing a clean out-of-memory; a stop that unwinds cleanly.
//
// The hand counts follow the table in engine/src/layers.h: linear keeps its input, relu/tanh
// their output, gelu its input, layernorm its input plus mean and rstd (one float per row
// each), dropout a one-byte mask; a tensor kept by two layers counts once, for the first block
// that keeps it; the batch itself is `input`, not `activation`. A checkpointed block keeps its
// input and nothing else.
#include <QtTest>

#include "ckpt/session.h"
#include "test_models.h"

Q_DECLARE_METATYPE(ckpt::ModelSpec)

using namespace ckpt;

namespace {

constexpr int64_t F = 4;  // bytes per f32

std::unique_ptr<Session> make(const ModelSpec& spec, RunSettings settings = {}) {
    auto s = Session::create(spec, settings);
    if (!s) qFatal("%s", s.error().message.c_str());
    return std::move(*s);
}

std::vector<int64_t> kept(const StepReport& r) {
    std::vector<int64_t> k;
    for (const BlockReport& b : r.blocks) k.push_back(b.kept_bytes);
    return k;
}

// Every category's events sum to (end - start) and no category ever goes negative.
void verifyBalanced(const StepReport& r, const CategoryBytes& after) {
    CategoryBytes live = r.baseline;
    for (const MemoryEvent& e : r.events) {
        live[int(e.tag.category)] += e.bytes;
        QVERIFY2(live[int(e.tag.category)] >= 0, "live bytes went negative");
        QCOMPARE(e.live_total, total(live));
    }
    QCOMPARE(live, after);
    for (Category c : {Category::gradient, Category::input, Category::activation, Category::recomputed,
                       Category::temporary})
        QCOMPARE(live[int(c)], int64_t(0));
}

}  // namespace

class TestMemory : public QObject {
    Q_OBJECT

private slots:
    void textbookKeptBytes() {
        const int64_t B = 32, d = 1024, classes = 10;
        const int64_t relu_out = B * d * F;  // (B, d) f32
        const int64_t probs = B * classes * F;
        auto s = make(testmodels::textbook(B, d));
        StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        // fc1: ReLU output (its Linear keeps the batch, which is `input`); fc2: ReLU output (its
        // Linear's input is fc1's ReLU output, already counted); head: nothing new.
        QCOMPARE(kept(r), (std::vector<int64_t>{relu_out, relu_out, 0}));
        QCOMPARE(r.loss_kept_bytes, probs);  // softmax output; the class ids are `input`

        // All checkpointed: each block keeps its input. fc1's input is the batch.
        s->set_checkpoint({true, true, true});
        r = s->step();
        QCOMPARE(kept(r), (std::vector<int64_t>{0, relu_out, relu_out}));
        QCOMPARE(r.blocks[0].avoided_bytes, relu_out);
        QCOMPARE(r.blocks[2].avoided_bytes, -relu_out);  // the boundary tensor moved to the head
        QCOMPARE(r.blocks[1].recomputed_bytes, relu_out);  // fc2's ReLU output, rematerialised
    }

    void siluKeptBytes() {
        // Linear F->H | SiLU | Linear H->C, batch B, MSE, one block each. SiLU differentiates
        // from its input (x * sigmoid(x) needs x), which is the first Linear's output (B, H);
        // the last Linear keeps its input, the SiLU output (B, H). MSE keeps its prediction.
        const int64_t B = 6, Fin = 5, H = 7, C = 3;
        ModelSpec spec;
        spec.input_shape = {B, Fin};
        spec.optimizer.type = OptimizerType::sgd;
        LayerSpec silu;
        silu.type = LayerType::silu;
        spec.blocks.push_back({"in", {testmodels::linear(Fin, H)}, false, false});
        spec.blocks.push_back({"act", {silu}, false, false});
        spec.blocks.push_back({"out", {testmodels::linear(H, C)}, false, false});
        auto s = make(spec);
        StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        QCOMPARE(kept(r), (std::vector<int64_t>{0, B * H * F, B * H * F}));
        QCOMPARE(r.loss_kept_bytes, B * C * F);
        // Checkpointing the SiLU block keeps its input, the same (B, H) tensor: nothing saved,
        // and recomputation rebuilds SiLU's state from that input without running it.
        s->set_checkpoint({false, true, false});
        r = s->step();
        QCOMPARE(kept(r), (std::vector<int64_t>{0, B * H * F, B * H * F}));
        QCOMPARE(r.blocks[1].recomputed_bytes, int64_t(0));
    }

    void tutorialKeptBytes() {
        // Linear 10->50 | [ReLU, Linear 50->50, ReLU] checkpointed | Linear 50->1, batch 5, MSE.
        const int64_t B = 5, hidden = 50;
        const int64_t h = B * hidden * F;  // one (5, 50) f32 tensor = 1000 bytes
        const int64_t pred = B * 1 * F;    // MSE keeps its prediction
        auto s = make(testmodels::tutorial());
        StepReport r = s->step();
        // The segment keeps its input (the first Linear's output); the last Linear keeps the
        // segment's output, which nobody inside the segment keeps any more.
        QCOMPARE(kept(r), (std::vector<int64_t>{0, h, h}));
        QCOMPARE(r.loss_kept_bytes, pred);
        // Recompute rematerialises fresh copies of both ReLU outputs (the Linear 50->50 keeps
        // the first, the second ReLU keeps the second) while the original second output is
        // still held by the last block.
        QCOMPARE(r.blocks[1].recomputed_bytes, 2 * h);

        s->set_checkpoint({false, false, false});
        r = s->step();
        QCOMPARE(kept(r), (std::vector<int64_t>{0, 2 * h, 0}));  // ReLU 1 and ReLU 2 outputs
        QCOMPARE(r.blocks[1].recomputed_bytes, int64_t(0));
    }

    void deepResidualKeptBytes() {
        // Per block: LayerNorm keeps x (rows, d), mean and rstd (rows) each; Linear d->4d keeps
        // the LayerNorm output (rows, d); GELU keeps its input (rows, 4d); Linear 4d->d keeps the
        // GELU output (rows, 4d). Block 0's x is the batch. MSE keeps the prediction (rows, d).
        const int blocks = 24;
        const int64_t rows = 256, d = 1024;
        const int64_t x = rows * d * F, stats = 2 * rows * F, ln_out = rows * d * F,
                      gelu_in = rows * 4 * d * F, gelu_out = rows * 4 * d * F;
        Result<StepReport> none = predict(testmodels::deep_residual(blocks, rows, d));
        QVERIFY(none);
        for (int b = 0; b < blocks; ++b)
            QCOMPARE(none->blocks[size_t(b)].kept_bytes, (b > 0 ? x : 0) + stats + ln_out + gelu_in + gelu_out);
        QCOMPARE(none->loss_kept_bytes, rows * d * F);

        const auto all = predict(testmodels::with_checkpoints(testmodels::deep_residual(blocks, rows, d),
                                                              std::vector<bool>(blocks, true)));
        QVERIFY(all);
        for (int b = 0; b < blocks; ++b) QCOMPARE(all->blocks[size_t(b)].kept_bytes, b > 0 ? x : 0);
    }

    void deepResidualMeasured() {
        // The real preset, run for real: the measured kept bytes equal the hand count above and
        // the peak of kept activations falls by more than 8x. (Kept activations are the
        // `activation` category; what a block rematerialises during its own backward is
        // `recomputed` and reported beside it: at most one block's worth at a time.)
        const int blocks = 24;
        const int64_t rows = 256, d = 1024;
        const int64_t per_block = rows * d * F + 2 * rows * F + rows * d * F + 2 * rows * 4 * d * F;
        auto none = make(testmodels::deep_residual(blocks, rows, d));
        StepReport rn = none->step();
        QCOMPARE(rn.status, StepStatus::ok);
        QCOMPARE(rn.kept_bytes_total(), blocks * per_block - rows * d * F + rows * d * F);
        auto all = make(testmodels::with_checkpoints(testmodels::deep_residual(blocks, rows, d),
                                                     std::vector<bool>(blocks, true)));
        StepReport ra = all->step();
        QCOMPARE(ra.status, StepStatus::ok);
        const int64_t act_none = rn.peak[int(Category::activation)];
        const int64_t act_all = ra.peak[int(Category::activation)];
        QCOMPARE(act_all, (blocks - 1) * rows * d * F + rows * d * F);  // 23 block inputs + the MSE prediction
        QVERIFY2(act_all * 8 < act_none, qPrintable(QString("%1 vs %2").arg(act_all).arg(act_none)));
        // The step's total peak is not lower: with AdamW it falls in the optimizer phase
        // (parameters + gradients + two moments = 4x the parameter bytes), where no
        // activation is alive. Checkpointing buys nothing there, and the report shows it.
        QCOMPARE(ra.peak_tag.phase, Phase::optimizer);
        QCOMPARE(ra.peak_total, rn.peak_total);
        QCOMPARE(ra.peak[int(Category::recomputed)], per_block - rows * d * F);  // one block, minus its input
        QCOMPARE(ra.gradient_checksum, rn.gradient_checksum);
    }

    void eventsBalance_data() {
        QTest::addColumn<bool>("checkpoint");
        QTest::newRow("unchecked") << false;
        QTest::newRow("checkpointed") << true;
    }

    void eventsBalance() {
        QFETCH(bool, checkpoint);
        ModelSpec spec = testmodels::dropout_mlp();
        for (auto& b : spec.blocks) b.checkpoint = checkpoint;
        auto s = make(spec);
        for (int step = 0; step < 3; ++step) {
            StepReport r = s->step();
            QCOMPARE(r.status, StepStatus::ok);
            QVERIFY(!r.events.empty());
            verifyBalanced(r, s->live_bytes());
            // Live activations after the loss equal what the report says is kept.
            // (Checked indirectly: the activation peak is at least the kept total.)
            QVERIFY(r.peak[int(Category::activation)] >= r.kept_bytes_total());
            for (size_t i = 1; i < r.events.size(); ++i) QVERIFY(r.events[i].time_ns >= r.events[i - 1].time_ns);
            QCOMPARE(r.events[size_t(r.peak_event)].live_total, r.peak_total);
            QCOMPARE(total(r.at_peak), r.peak_total);
        }
    }

    void predictionEqualsMeasurement_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<bool>("checkpoint");
        for (int w = 0; w < 5; ++w)
            for (bool c : {false, true})
                QTest::newRow(qPrintable(QString("model %1 %2").arg(w).arg(c ? "checkpointed" : "unchecked")))
                    << w << c;
    }

    void predictionEqualsMeasurement() {
        QFETCH(int, which);
        QFETCH(bool, checkpoint);
        // 3 and 4: flash attention (its slots, lse, D and, in bf16, its dQ accumulator), a GPT
        // with dropout over three query tiles and a bf16 LLaMA with grouped-query rotary heads.
        ModelSpec spec = which == 0   ? testmodels::textbook()
                         : which == 1 ? testmodels::dropout_mlp()
                         : which == 2 ? testmodels::deep_residual(5, 32, 64)
                         : which == 3 ? testmodels::with_attention(testmodels::gpt(97, 32, 4, 2, 2, 150, 0.1),
                                                                   AttentionImpl::flash)
                                      : testmodels::with_attention(testmodels::llama(61, 32, 4, 2, 48, 2, 2, 70),
                                                                   AttentionImpl::flash);
        if (which == 4) spec.precision = Precision::bf16_mixed;
        for (auto& b : spec.blocks) b.checkpoint = checkpoint;
        auto s = make(spec);
        for (int step = 1; step <= 2; ++step) {
            StepReport measured = s->step();
            Result<StepReport> predicted = predict(spec, step);
            QVERIFY(predicted);
            QCOMPARE(predicted->peak, measured.peak);
            QCOMPARE(predicted->peak_total, measured.peak_total);
            QCOMPARE(predicted->at_peak, measured.at_peak);
            QCOMPARE(kept(*predicted), kept(measured));
        }
    }

    void presetPredictionEqualsMeasurement_data() {
        QTest::addColumn<QString>("preset");
        for (const char* p : {"tutorial_mlp", "textbook_mlp", "deep_residual_mlp", "gpt2_small", "resnet20_cifar"})
            QTest::newRow(p) << p;
    }

    void presetPredictionEqualsMeasurement() {
        // Every preset that runs on a CPU: the dry-run prediction per category equals the real
        // steps to the byte, for the first step (optimizer state created) and the second.
        QFETCH(QString, preset);
        auto spec = load_model_spec(std::string(CKPT_SOURCE_DIR "/resources/presets/") + preset.toStdString() + ".json");
        QVERIFY2(spec, spec ? "" : spec.error().message.c_str());
        auto s = make(*spec);
        for (int step = 1; step <= 2; ++step) {
            StepOptions opts;
            opts.record_events = false;
            const StepReport measured = s->step(opts);
            QCOMPARE(measured.status, StepStatus::ok);
            const Result<StepReport> predicted = predict(*spec, step);
            QVERIFY(predicted);
            QVERIFY(predicted->peak == measured.peak);
            QCOMPARE(predicted->peak_total, measured.peak_total);
            QVERIFY(predicted->at_peak == measured.at_peak);
        }
    }

    void memoryLimitGivesCleanOutOfMemory() {
        // Activations dominate here: many rows, narrow layers, no optimizer state.
        ModelSpec spec = testmodels::deep_residual(6, 1024, 64);
        spec.optimizer.type = OptimizerType::none;
        Result<StepReport> unchecked = predict(spec);
        const auto flags = std::vector<bool>(6, true);
        Result<StepReport> checked = predict(testmodels::with_checkpoints(spec, flags));
        QVERIFY(unchecked && checked);
        QVERIFY(checked->peak_total < unchecked->peak_total);
        RunSettings settings;
        settings.memory_limit = (checked->peak_total + unchecked->peak_total) / 2;
        auto s = make(spec, settings);
        StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::out_of_memory);
        QVERIFY(r.oom.requested > r.oom.free_bytes);
        QVERIFY2(QString::fromStdString(r.message).contains("out of memory in"), r.message.c_str());
        verifyBalanced(r, s->live_bytes());
        // The same session, now checkpointed, fits under the same limit.
        QVERIFY(s->set_checkpoint(flags).ok());
        r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        QVERIFY(r.peak_total <= settings.memory_limit);
    }

    void optimizerOutOfMemoryIsAllOrNothing() {
        // The textbook MLP with AdamW: its first step peaks in the optimizer, where the two
        // moments are created. A limit just under that peak fails the step there: no parameter
        // may have moved and no optimizer state may be left behind.
        ModelSpec spec = testmodels::textbook(16, 256);
        spec.optimizer.type = OptimizerType::adamw;
        Result<StepReport> need = predict(spec, 1);
        QVERIFY(need.ok());
        QCOMPARE(need->peak_tag.phase, Phase::optimizer);
        RunSettings settings;
        settings.memory_limit = need->peak_total - 1;
        auto s = make(spec, settings);
        StepOptions capture;
        capture.capture_tensors = true;
        const StepReport failed = s->step(capture);
        QCOMPARE(failed.status, StepStatus::out_of_memory);
        QCOMPARE(failed.oom.tag.phase, Phase::optimizer);
        verifyBalanced(failed, s->live_bytes());
        QCOMPARE(s->live_bytes()[int(Category::optimizer_state)], int64_t(0));
        QCOMPARE(total(s->live_bytes()), s->live_bytes()[int(Category::parameter)]);
        // The next step starts from exactly the parameters the failed one started from.
        const StepReport again = s->step(capture);
        QCOMPARE(again.status, StepStatus::out_of_memory);
        int compared = 0;
        for (size_t i = 0; i < failed.tensors.size(); ++i) {
            if (failed.tensors[i].name.rfind("blocks.", 0) != 0) continue;
            QCOMPARE(again.tensors[i].name, failed.tensors[i].name);
            QVERIFY(again.tensors[i].f32 == failed.tensors[i].f32);
            ++compared;
        }
        QCOMPARE(compared, 6);
    }

    void stopUnwindsCleanly() {
        auto s = make(testmodels::textbook());
        std::atomic<bool> stop{true};
        StepOptions opts;
        opts.stop = &stop;
        StepReport r = s->step(opts);
        QCOMPARE(r.status, StepStatus::stopped);
        verifyBalanced(r, s->live_bytes());
        stop = false;
        QCOMPARE(s->step(opts).status, StepStatus::ok);
    }

    void sinkSeesEveryEvent() {
        struct Counter : EventSink {
            int64_t events = 0, spans = 0;
            void on_memory(const MemoryEvent&) override { ++events; }
            void on_span(const Span&) override { ++spans; }
        } sink;
        auto s = make(testmodels::tutorial());
        StepOptions opts;
        opts.sink = &sink;
        StepReport r = s->step(opts);
        QCOMPARE(sink.events, int64_t(r.events.size()));
        QCOMPARE(sink.spans, int64_t(r.spans.size()));
    }

    // A loop that hands each report back (Session::recycle, as the CLI's run does) records the
    // same step as one that does not, into the vectors it handed back: no allocation for the
    // timeline, and nothing of the old step left in it.
    void recycledReportRecordsTheSameStep() {
        ModelSpec spec = testmodels::dropout_mlp(0.2);
        spec.blocks[1].checkpoint = true;
        auto fresh = make(spec), recycling = make(spec);
        StepReport r;
        StepOptions quiet;
        quiet.record_events = false;
        for (int step = 0; step < 4; ++step) {
            const MemoryEvent* old_events = r.events.data();
            const Span* old_spans = r.spans.data();
            const size_t old_capacity = r.events.capacity();
            recycling->recycle(std::move(r));
            if (step == 2) {
                // A step that keeps nothing, and an empty report handed back, keep the spares.
                recycling->recycle(recycling->step(quiet));
                recycling->recycle(StepReport{});
                fresh->step(quiet);
            }
            r = recycling->step();
            const StepReport f = fresh->step();
            QCOMPARE(r.status, StepStatus::ok);
            if (step > 0) {
                QCOMPARE(r.events.data(), old_events);
                QCOMPARE(r.spans.data(), old_spans);
                QCOMPARE(r.events.capacity(), old_capacity);  // not freed and allocated anew
            }
            QCOMPARE(r.events.size(), f.events.size());
            for (size_t i = 0; i < r.events.size(); ++i) {
                QCOMPARE(r.events[i].bytes, f.events[i].bytes);
                QCOMPARE(r.events[i].live_total, f.events[i].live_total);
                QCOMPARE(r.events[i].tag.category, f.events[i].tag.category);
                QCOMPARE(r.events[i].tag.block, f.events[i].tag.block);
                QCOMPARE(r.events[i].tag.layer, f.events[i].tag.layer);
                QCOMPARE(r.events[i].tag.phase, f.events[i].tag.phase);
            }
            QCOMPARE(r.spans.size(), f.spans.size());
            for (size_t i = 0; i < r.spans.size(); ++i) {
                QCOMPARE(r.spans[i].block, f.spans[i].block);
                QCOMPARE(r.spans[i].layer, f.spans[i].layer);
                QCOMPARE(r.spans[i].phase, f.spans[i].phase);
            }
            verifyBalanced(r, recycling->live_bytes());
            QCOMPARE(r.gradient_checksum, f.gradient_checksum);
        }
    }

    // The CPU clock coalesces stamps with no work between them (Clock, backend.h): every CPU op
    // marks that it worked. An op that forgot would hand the stamp from before it to what
    // follows, and a layer made of it would take no time. So every layer of every type, in
    // forward, recomputation and backward, must take time (flatten, a view, may take none).
    void everyCpuLayerSpanTakesTime_data() {
        using namespace testmodels;
        QTest::addColumn<ModelSpec>("spec");
        QTest::newRow("gpt: layernorm, gelu, dropout, attention, embedding")
            << gpt(101, 32, 4, 1, 2, 16, 0.1, BlockSpec::Policy::full, true);
        QTest::newRow("gpt, flash attention")
            << with_attention(gpt(101, 32, 4, 1, 2, 16, 0.1, BlockSpec::Policy::full, true), AttentionImpl::flash);
        QTest::newRow("llama: rmsnorm, swiglu, rotary grouped-query attention")
            << with_checkpoints(llama(101, 32, 4, 2, 48, 1, 2, 16), std::vector<bool>(8, true));
        QTest::newRow("resnet: conv2d, batchnorm2d, relu, global_avgpool")
            << with_checkpoints(resnet(2, 8), std::vector<bool>(8, true));
        ModelSpec pools = resnet(2, 8);
        pools.blocks[0].layers.push_back(pool(LayerType::maxpool2d, 2, 2));
        pools.blocks[0].layers.push_back(act(LayerType::silu));
        pools.blocks[0].layers.push_back(pool(LayerType::avgpool2d, 3, 1, 1));
        QTest::newRow("pools and silu") << with_checkpoints(pools, std::vector<bool>(8, true));
        QTest::newRow("tanh, dropout") << with_checkpoints(dropout_mlp(0.2), std::vector<bool>(8, true));
    }
    void everyCpuLayerSpanTakesTime() {
        QFETCH(ModelSpec, spec);
        const Status valid = validate_model_spec(spec);
        QVERIFY2(valid.ok(), valid.message().c_str());
        auto s = make(spec);
        StepOptions opts;
        opts.record_events = true;
        const StepReport r = s->step(opts);
        QCOMPARE(r.status, StepStatus::ok);
        int layers = 0;
        for (const Span& sp : r.spans) {
            if (sp.layer < 0) continue;
            const LayerSpec& l = spec.blocks[size_t(sp.block)].layer(size_t(sp.layer));
            if (l.type == LayerType::flatten) continue;
            ++layers;
            QVERIFY2(sp.end_ns > sp.start_ns,
                     qPrintable(QString("block %1 layer %2 (%3), %4: %5 ns")
                                    .arg(sp.block).arg(sp.layer).arg(QString::fromLatin1(layer_type_name(l.type).data()))
                                    .arg(QString::fromLatin1(phase_name(sp.phase).data())).arg(sp.end_ns - sp.start_ns)));
        }
        QVERIFY(layers > 10);
    }

    void absurdSizeRefusedBeforeAllocating() {
        ModelSpec spec = testmodels::textbook(1 << 20, 65536);  // 16 GiB per weight matrix
        auto s = Session::create(spec);
        QVERIFY(!s);
        QVERIFY2(QString::fromStdString(s.error().message).contains("too large"), s.error().message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestMemory)
#include "tst_memory.moc"
