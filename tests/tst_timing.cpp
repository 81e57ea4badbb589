// Time as carefully as bytes, in the engine: a repeated step is still one step (one optimizer
// update, one step number, bitwise the gradients and exactly the memory of a single step, state
// put back between the repeats: parameters, AdamW's moments and counter, dropout streams, batch
// norm's running statistics); its figures are the medians of the repeats with quartiles; a stop
// in a later repeat leaves the session where the step began; reports keep the ranges through a
// file. The time model: each layer's cost adds up exactly to the block and step figures, plans
// add their blocks' recomputation, and the throughput cache is read back, survives a damaged file
// and never fails a prediction when it cannot be written. No assertion is on a measured time.
#include <QTemporaryDir>
#include <QtTest>

#include "ckpt/experiment.h"
#include "ckpt/layer_traits.h"
#include "ckpt/planner.h"
#include "ckpt/recorded_run.h"
#include "ckpt/session.h"
#include "ckpt/timing.h"
#include "ckpt/writers.h"
#include "test_models.h"

using namespace ckpt;

namespace {

std::unique_ptr<Session> session(const ModelSpec& spec, int repeats) {
    RunSettings s;
    s.repeats = repeats;
    auto r = Session::create(spec, s);
    if (!r) qFatal("%s", r.error().message.c_str());
    return std::move(*r);
}

// Everything about memory a step reports, which repeats must not change.
void compareMemory(const StepReport& a, const StepReport& b) {
    QCOMPARE(a.peak_total, b.peak_total);
    QVERIFY(a.at_peak == b.at_peak);
    QVERIFY(a.peak == b.peak);
    QVERIFY(a.baseline == b.baseline);
    QCOMPARE(a.peak_event, b.peak_event);
    QCOMPARE(a.events.size(), b.events.size());
    for (size_t i = 0; i < a.events.size(); ++i) {
        QCOMPARE(a.events[i].bytes, b.events[i].bytes);
        QCOMPARE(a.events[i].live_total, b.events[i].live_total);
        QCOMPARE(int(a.events[i].tag.category), int(b.events[i].tag.category));
    }
    QCOMPARE(a.blocks.size(), b.blocks.size());
    for (size_t i = 0; i < a.blocks.size(); ++i) QCOMPARE(a.blocks[i].kept_bytes, b.blocks[i].kept_bytes);
}

// A sink that asks to stop when a given repeat begins.
class StopAtRepeat : public EventSink {
public:
    StopAtRepeat(std::atomic<bool>* stop, int at) : stop_(stop), at_(at) {}
    void on_repeat(int repeat, int) override {
        seen.push_back(repeat);
        if (repeat == at_) stop_->store(true);
    }
    std::vector<int> seen;

private:
    std::atomic<bool>* stop_;
    int at_;
};

Throughput synthetic() {
    Throughput t;
    t.key = "test";
    t.gemm_flops = 1e11;
    t.bandwidth = 1e10;
    t.elementwise = 1e9;
    t.call_ns = 1000;
    return t;
}

}  // namespace

class TestTiming : public QObject {
    Q_OBJECT

private slots:
    void medianAndQuartiles() {
        TimeRange r;
        QCOMPARE(median_of({50, 10, 40, 20, 30}, &r), int64_t(30));
        QCOMPARE(r.lo_ns, int64_t(20));
        QCOMPARE(r.hi_ns, int64_t(40));
        QCOMPARE(median_of({7}, &r), int64_t(7));
        QVERIFY(r == (TimeRange{7, 7}));
        // Ten: the lower median, the 3rd and 8th.
        QCOMPARE(median_of({10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, &r), int64_t(5));
        QVERIFY(r == (TimeRange{3, 8}));
        // One outlier of five moves neither the median nor the quartiles.
        QCOMPARE(median_of({10, 11, 12, 13, 100000}, &r), int64_t(12));
        QVERIFY(r == (TimeRange{11, 13}));
        QCOMPARE((TimeRange{90, 110}).relative(100), 0.1);
    }

    // Models whose steps change state a repeat must put back: AdamW's moments and bias correction
    // (the step counter), dropout masks (seeded by the step), batch norm's running statistics,
    // SGD's momentum.
    void repeatedStepIsOneStep_data() {
        QTest::addColumn<int>("model");
        QTest::newRow("adamw + dropout, checkpointed") << 0;
        QTest::newRow("resnet, batch norm, sgd momentum") << 1;
        QTest::newRow("gpt, attention dropout, every block checkpointed") << 2;
    }
    void repeatedStepIsOneStep() {
        QFETCH(int, model);
        ModelSpec spec = model == 0 ? testmodels::dropout_mlp(0.2)
                         : model == 1 ? testmodels::resnet(4, 8)
                                      : testmodels::gpt(50, 32, 4, 2, 2, 8, 0.1, BlockSpec::Policy::full, true);
        if (model == 1) spec.optimizer.momentum = 0.9;
        auto once = session(spec, 1), repeated = session(spec, 5);
        for (int step = 1; step <= 3; ++step) {
            const StepReport a = once->step(), b = repeated->step();
            QCOMPARE(a.status, StepStatus::ok);
            QCOMPARE(b.status, StepStatus::ok);
            QCOMPARE(b.step, step);  // one step number per step, whatever the repeats
            QCOMPARE(b.gradient_checksum, a.gradient_checksum);
            QCOMPARE(b.loss, a.loss);
            compareMemory(a, b);
            // The first step makes the optimizer state (AdamW; SGD with momentum): not repeated.
            const bool makesState = step == 1;
            QCOMPARE(b.repeats, makesState ? 1 : 5);
            QCOMPARE(int(b.repeat_times.size()), makesState ? 0 : 5);
            QCOMPARE(a.repeats, 1);
        }
        // After three repeated steps the parameters are those of three single steps.
        QCOMPARE(repeated->step({}).gradient_checksum, once->step({}).gradient_checksum);
    }

    void figuresAreMediansWithQuartiles() {
        auto s = session(testmodels::with_checkpoints(testmodels::textbook(16, 64), {true, false, true}), 5);
        s->step();
        const StepReport r = s->step();
        QCOMPARE(r.repeats, 5);
        QCOMPARE(int(r.repeat_times.size()), 5);
        std::vector<int64_t> steps;
        for (const RepeatTimes& t : r.repeat_times) steps.push_back(t.step_ns);
        TimeRange q;
        QCOMPARE(r.step_ns, median_of(steps, &q));
        QVERIFY(q == r.step_range);
        QVERIFY(r.step_range.lo_ns <= r.step_ns && r.step_ns <= r.step_range.hi_ns);
        // The kept repeat is the median one: its events end where its step did.
        QCOMPARE(r.repeat_times[size_t(r.kept_repeat)].step_ns, r.step_ns);
        for (const BlockReport& b : r.blocks) {
            QVERIFY(b.forward_range.lo_ns <= b.forward_ns && b.forward_ns <= b.forward_range.hi_ns);
            QVERIFY(b.recompute_range.lo_ns <= b.recompute_ns && b.recompute_ns <= b.recompute_range.hi_ns);
            if (!b.checkpoint) QCOMPARE(b.recompute_ns, int64_t(0));
        }
        QVERIFY(r.blocks[0].recompute_ns > 0);  // the head, checkpointed, reruns nothing (its linear rebuilds from its input)
        double lo = 0, hi = 0;
        const double m = r.recompute_overhead(&lo, &hi);
        QVERIFY(lo <= m && m <= hi && m > 0);
        // One repeat: the ranges are the figures.
        auto one = session(testmodels::textbook(16, 64), 1);
        const StepReport o = one->step();
        QVERIFY(o.step_range == (TimeRange{o.step_ns, o.step_ns}));
        QVERIFY(o.blocks[0].forward_range == (TimeRange{o.blocks[0].forward_ns, o.blocks[0].forward_ns}));
        QVERIFY(o.repeat_times.empty());
    }

    void repeatsComeFromSettingsOrOptions() {
        auto s = session(testmodels::textbook(8, 32), 3);
        s->step();
        QCOMPARE(s->step().repeats, 3);
        StepOptions o;
        o.repeats = 2;
        QCOMPARE(s->step(o).repeats, 2);
        auto automatic = session(testmodels::textbook(8, 32), 0);
        automatic->step();
        QCOMPARE(automatic->step().repeats, default_repeats(DeviceKind::cpu));
        QCOMPARE(default_repeats(DeviceKind::cpu), 5);
        QCOMPARE(default_repeats(DeviceKind::cuda), 1);
        RunSettings bad;
        bad.repeats = kMaxRepeats + 1;
        auto refused = Session::create(testmodels::textbook(8, 32), bad);
        QVERIFY(!refused);
        QVERIFY2(QString::fromStdString(refused.error().message).startsWith("repeats:"), refused.error().message.c_str());
    }

    // Stopped while a later repeat runs: the step did not happen. The next one has its number and
    // computes what a single step would have.
    void stopInALaterRepeatUndoesTheStep() {
        const ModelSpec spec = testmodels::dropout_mlp(0.2);
        auto once = session(spec, 1), repeated = session(spec, 5);
        QCOMPARE(once->step().status, StepStatus::ok);
        QCOMPARE(repeated->step().status, StepStatus::ok);
        std::atomic<bool> stop{false};
        StopAtRepeat sink(&stop, 3);
        StepOptions opts;
        opts.stop = &stop;
        opts.sink = &sink;
        const StepReport stopped = repeated->step(opts);
        QCOMPARE(stopped.status, StepStatus::stopped);
        QCOMPARE(sink.seen, (std::vector<int>{2, 3}));
        const StepReport next = repeated->step(), single = once->step();
        QCOMPARE(next.status, StepStatus::ok);
        QCOMPARE(next.step, 2);
        QCOMPARE(next.gradient_checksum, single.gradient_checksum);
    }

    void rangesSurviveAReportFile() {
        auto s = session(testmodels::with_checkpoints(testmodels::textbook(8, 32), {true, true, false}), 5);
        s->step();
        const StepReport r = s->step();
        const ModelSpec spec = s->spec();
        auto back = parse_recorded_run(report_to_json(r, spec));
        QVERIFY2(back, back ? "" : back.error().message.c_str());
        const StepReport& b = back->report;
        QCOMPARE(b.repeats, 5);
        QCOMPARE(b.kept_repeat, r.kept_repeat);
        QVERIFY(b.step_range == r.step_range);
        QVERIFY(b.recompute_range == r.recompute_range);
        QVERIFY(b.repeat_times == r.repeat_times);
        for (size_t i = 0; i < r.blocks.size(); ++i) {
            QVERIFY(b.blocks[i].forward_range == r.blocks[i].forward_range);
            QVERIFY(b.blocks[i].recompute_range == r.blocks[i].recompute_range);
        }
        QVERIFY(!back->has_predicted_time);
        // With its prediction: the phases, each block and the throughput come back.
        const TimePrediction pred = predict_times(spec, synthetic());
        auto withTime = parse_recorded_run(report_to_json(r, spec, &pred));
        QVERIFY(withTime && withTime->has_predicted_time);
        QCOMPARE(withTime->predicted_time.step_ns, pred.step_ns);
        QCOMPARE(withTime->predicted_time.throughput.key, std::string("test"));
        for (size_t i = 0; i < pred.blocks.size(); ++i) {
            QCOMPARE(withTime->predicted_time.blocks[i].forward.ns, pred.blocks[i].forward.ns);
            QCOMPARE(withTime->predicted_time.blocks[i].recompute.ns, pred.blocks[i].recompute.ns);
        }
        // A report from before repeats: one sample, its ranges the figures.
        std::string old = report_to_json(r, spec);
        const size_t at = old.find("\"timing\"");
        QVERIFY(at != std::string::npos);
        const size_t end = old.find("\"memory\"", at);
        old.erase(at, end - at);
        auto plain = parse_recorded_run(old);
        QVERIFY2(plain, plain ? "" : plain.error().message.c_str());
        QCOMPARE(plain->report.repeats, 1);
        QVERIFY(plain->report.step_range == (TimeRange{r.step_ns, r.step_ns}));
        // A range the wrong way round is refused, by name.
        std::string bad = report_to_json(r, spec);
        const std::string range = "\"step\": [\n        " + std::to_string(r.step_range.lo_ns);
        const size_t p = bad.find(range);
        QVERIFY(p != std::string::npos);
        bad.replace(p, range.size(), "\"step\": [\n        " + std::to_string(r.step_range.hi_ns + 1000));
        auto refused = parse_recorded_run(bad);
        QVERIFY(!refused);
        QVERIFY2(QString::fromStdString(refused.error().message).contains("ranges_ns.step"), refused.error().message.c_str());
    }

    void experimentFilesKeepRepeats() {
        Experiment e;
        e.spec = testmodels::textbook(8, 32);
        QCOMPARE(e.run.settings.repeats, 0);  // front ends time as the device's default says
        e.run.settings.repeats = 7;
        auto back = parse_experiment(to_json(e));
        QVERIFY(back);
        QCOMPARE(back->run.settings.repeats, 7);
        std::string text = to_json(e);
        text.replace(text.find("\"repeats\": 7"), 12, "\"repeats\": 100");
        auto bad = parse_experiment(text);
        QVERIFY(!bad);
        QVERIFY2(QString::fromStdString(bad.error().message).startsWith("run.repeats:"), bad.error().message.c_str());
    }

    // ---- the time model ----

    // Each layer's cost is its kernels': a linear's forward is one product and a bias stream.
    void linearCostIsItsProduct() {
        ModelSpec spec = testmodels::textbook(32, 64);
        const Throughput t = synthetic();
        const TimePrediction p = predict_times(spec, t);
        const LayerSpec& l = spec.blocks[0].layers[0];
        QCOMPARE(int(l.type), int(LayerType::linear));
        const double rows = double(spec.rows());
        const double flops = 2.0 * rows * double(l.in) * double(l.out);
        const int64_t expected = int64_t(1e9 * flops / t.gemm_flops + t.call_ns) + int64_t(1e9 * 4 * rows * double(l.out) / t.bandwidth + t.call_ns);
        QVERIFY2(std::llabs(p.blocks[0].layers[0].forward.ns - expected) <= 1,
                 qPrintable(QString("%1 vs %2").arg(p.blocks[0].layers[0].forward.ns).arg(expected)));
        QCOMPARE(p.blocks[0].layers[0].forward.flops, flops);
        // Twice the matrix rate: the product's part halves, the rest stays.
        Throughput fast = t;
        fast.gemm_flops *= 2;
        const TimePrediction q = predict_times(spec, fast);
        QVERIFY(std::llabs((p.blocks[0].layers[0].forward.ns - q.blocks[0].layers[0].forward.ns) -
                           int64_t(0.5e9 * flops / t.gemm_flops)) <= 2);
    }

    // The sums: layers make blocks, blocks and phases make the step; a checkpointed block
    // recomputes exactly the layers the executor runs again; a plan adds its blocks'.
    void sumsAndPlansAddUp() {
        ModelSpec spec = testmodels::gpt(50, 32, 4, 2, 2, 8, 0.1, BlockSpec::Policy::attention_core, true);
        const TimePrediction p = predict_times(spec, synthetic());
        QCOMPARE(p.step_ns, p.forward_ns + p.loss_ns + p.backward_ns + p.optimizer_ns);
        int64_t recompute = 0;
        for (size_t b = 0; b < spec.blocks.size(); ++b) {
            const BlockTimePrediction& bt = p.blocks[b];
            int64_t layers = 0;
            const std::vector<bool> reruns = recomputed_layers(spec.blocks[b]);
            for (size_t l = 0; l < bt.layers.size(); ++l) {
                layers += bt.layers[l].forward.ns;
                if (reruns[l]) QCOMPARE(bt.layers[l].recompute.ns, bt.layers[l].forward.ns);
            }
            QVERIFY(bt.forward.ns >= layers);  // plus a residual add
            QCOMPARE(bt.recompute.ns, spec.blocks[b].checkpoint ? bt.recompute_if_checkpointed.ns : 0);  // no segments
            QVERIFY(bt.recompute_if_inner.ns >= bt.recompute_if_checkpointed.ns);  // inside a run, the trailing layers too
            recompute += bt.recompute.ns;
        }
        QCOMPARE(p.recompute_ns, recompute);
        std::vector<bool> none(spec.blocks.size(), false), all(spec.blocks.size(), true);
        int64_t extra = 0;
        for (const BlockTimePrediction& bt : p.blocks) extra += bt.recompute_if_checkpointed.ns;
        QCOMPARE(p.step_ns_with(single_runs(all)) - p.step_ns_with(single_runs(none)), extra);
        QCOMPARE(p.step_ns_with(recompute_segments(spec)), p.step_ns);
        // Grouped into one segment of every block, the blocks before the last recompute as inner ones.
        ModelSpec grouped = spec;
        grouped.segments = {BlockRange{0, int(spec.blocks.size()) - 1}};
        for (BlockSpec& b : grouped.blocks) b.checkpoint = true;
        if (spec.blocks.size() > 1 && validate_model_spec(grouped).ok()) {
            const TimePrediction g = predict_times(grouped, p.throughput);
            int64_t inner = 0;
            for (size_t b = 0; b + 1 < g.blocks.size(); ++b) inner += g.blocks[b].recompute_if_inner.ns;
            QCOMPARE(g.recompute_ns, inner + g.blocks.back().recompute_if_checkpointed.ns);
            QCOMPARE(p.step_ns_with(recompute_segments(grouped)), g.step_ns);
        }
        // attention_core recomputes less than full.
        ModelSpec full = spec;
        for (auto& b : full.blocks) b.policy = BlockSpec::Policy::full;
        QVERIFY(predict_times(full, synthetic()).recompute_ns > p.recompute_ns);
        // No throughput, no prediction.
        QCOMPARE(predict_times(spec, Throughput{}).step_ns, int64_t(0));
    }

    // A product's rate follows its size: the measured points exactly, log-log interpolation
    // between them, the ends held beyond; a throughput without a curve has one rate.
    void productRateFollowsItsSize() {
        Throughput t;
        t.gemm_flops = 100e9;
        QCOMPARE(t.gemm_rate(1e3), 100e9);
        t.gemm_curve = {{1e6, 20e9}, {1e8, 80e9}, {1e9, 100e9}};
        QCOMPARE(t.gemm_rate(1e3), 20e9);
        QCOMPARE(t.gemm_rate(1e6), 20e9);
        QCOMPARE(t.gemm_rate(1e8), 80e9);
        QVERIFY(std::fabs(t.gemm_rate(1e7) - 40e9) < 1e3);  // halfway in log size: the geometric mean
        QCOMPARE(t.gemm_rate(1e12), 100e9);
        // A layer's product costs its FLOPs at its own size's rate: 2 x 64 x 64 x 64 FLOPs here.
        ModelSpec spec = testmodels::textbook(64, 64);
        t.bandwidth = 1e11;
        t.elementwise = 1e9;
        const TimePrediction slow = predict_times(spec, t);
        t.gemm_curve.clear();
        const TimePrediction flat = predict_times(spec, t);
        QVERIFY(slow.forward_ns > flat.forward_ns);
    }

    void throughputIsCachedInTheCallersFile() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("sub/throughput.json").toStdString();
        forget_throughputs();
        auto first = cached_throughput("cpu", 1, path);
        QVERIFY2(first, first ? "" : first.error().message.c_str());
        QVERIFY(first->valid());
        QVERIFY(!first->from_cache);
        QVERIFY(QFileInfo::exists(QString::fromStdString(path)));
        forget_throughputs();
        auto again = cached_throughput("cpu", 1, path);
        QVERIFY(again && again->from_cache);
        QCOMPARE(again->gemm_flops, first->gemm_flops);
        QCOMPARE(again->gemm_curve, first->gemm_curve);  // the products' rates by size travel too
        QCOMPARE(first->gemm_curve.size(), size_t(5));
        QCOMPARE(first->gemm_curve.back()[1], first->gemm_flops);
        QCOMPARE(again->key, first->key);
        // In this process's memory now: the file is not read again.
        QVERIFY(QFile::remove(QString::fromStdString(path)));
        QVERIFY(cached_throughput("cpu", 1, path)->from_cache);
        // A damaged file is measured over; an unwritable place still gives a throughput.
        forget_throughputs();
        QFile f(QString::fromStdString(path));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"format\": \"checkpointlab-throughput 1\", \"machines\": [{\"key\": 3}]}");
        f.close();
        auto fresh = cached_throughput("cpu", 1, path);
        QVERIFY(fresh && !fresh->from_cache);
        forget_throughputs();
        QVERIFY(cached_throughput("cpu", 1, "/proc/no/such/dir/throughput.json"));
        QVERIFY(!cached_throughput("cuda:7", 0, path) || !find_device("cuda:7"));
    }
};

QTEST_GUILESS_MAIN(TestTiming)
#include "tst_timing.moc"
