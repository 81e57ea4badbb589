// Whole training steps on a CUDA device, checked against the CPU reference and against the
// engine's own promises. Every test skips, naming the reason, where no CUDA device exists.
//   - Every CPU-sized preset x {none, all, every:3}: loss within 1e-5 relative and every
//     gradient within 2e-4 of its largest entry of the CPU's (the tolerance of the PyTorch
//     cross-check: f32 products summed in another order, through up to 24 residual blocks).
//   - Every preset that fits the device x {all, every:3}: gradients bitwise equal to the
//     unchecked run on the device itself, two steps; the prediction for a CUDA device equals
//     the measured requested bytes per category; events balance and times are ordered.
//   - The same in bf16-mixed and fp16-mixed (gradients against the CPU within the bf16
//     cross-check's bound; checkpointing and prediction exact as in f32), and on llama_small.
//   - Out of memory under a limit, 100 times in one process: a clean report each time and the
//     device's memory back where it was; and a real cudaMalloc failure (another session holds
//     most of the card) reported the same way, as the device's refusal.
#include <QtTest>

#include <cmath>

#include "backends/backend.h"
#include "ckpt/names.h"
#include "ckpt/session.h"
#include "test_models.h"

using namespace ckpt;

namespace {

QString no_cuda() {
    std::string why;
    return cuda_devices(&why).empty() ? QString::fromStdString("no CUDA device: " + why) : QString();
}

// A preset by name; "NAME+flash" puts its attention layers on the flash kernel (llama_small and
// the GPT-2 presets at GPU sizes are flash already).
ModelSpec preset(const QString& name) {
    const QString file = name.section('+', 0, 0);
    auto spec = load_model_spec(std::string(CKPT_SOURCE_DIR "/resources/presets/") + file.toStdString() + ".json");
    if (!spec) qFatal("%s", spec.error().message.c_str());
    if (name.endsWith("+flash")) set_attention_impl(*spec, AttentionImpl::flash);
    return *spec;
}

ModelSpec with_policy(ModelSpec s, const QString& policy) {
    auto flags = parse_checkpoint_set(policy.toStdString(), int(s.blocks.size()));
    if (!flags) qFatal("%s", flags.error().message.c_str());
    apply_checkpoint_set(s, *flags);
    return s;
}

ModelSpec in_precision(ModelSpec s, const QString& precision) {
    auto p = enum_from_name<Precision>(precision.toStdString());
    if (!p) qFatal("unknown precision %s", qPrintable(precision));
    s.precision = *p;
    return s;
}

RunSettings on(const char* device, int64_t limit = 0) {
    RunSettings r;
    r.device = device;
    r.memory_limit = limit;
    return r;
}

void verifyBalanced(const StepReport& r, const CategoryBytes& after) {
    CategoryBytes live = r.baseline;
    for (const MemoryEvent& e : r.events) {
        live[int(e.tag.category)] += e.bytes;
        QCOMPARE(e.live_total, total(live));
    }
    QCOMPARE(live, after);
}

}  // namespace

class TestCuda : public QObject {
    Q_OBJECT

private slots:
    void againstCpu_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("policy");
        QTest::addColumn<QString>("precision");
        for (const char* m : {"tutorial_mlp", "textbook_mlp", "deep_residual_mlp", "gpt2_small", "gpt2_small+flash",
                              "lesson5_fused_attention", "lesson5_fused_attention+flash", "llama_small"})
            for (const char* p : {"none", "all", "every:3"})
                QTest::newRow(qPrintable(QString("%1 / %2").arg(m, p))) << QString(m) << QString(p) << QString("f32");
        // Mixed precision: every product rounds its result to 16 bits, so a different summation
        // order in cuBLAS and OpenBLAS can flip the last bf16 bit of an activation (2^-8
        // relative) and gradients move by up to a few of those: the bound is the PyTorch bf16
        // cross-check's (5e-2 of the largest entry), the loss within 1e-2 relative.
        for (const char* m : {"textbook_mlp", "gpt2_small", "gpt2_small+flash", "llama_small"})
            for (const char* pr : {"bf16-mixed", "fp16-mixed"})
                QTest::newRow(qPrintable(QString("%1 / every:3 / %2").arg(m, pr))) << QString(m) << QString("every:3") << QString(pr);
    }

    void againstCpu() {
        QFETCH(QString, model);
        QFETCH(QString, policy);
        QFETCH(QString, precision);
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        const ModelSpec spec = in_precision(with_policy(preset(model), policy), precision);
        const bool mixed = precision != "f32";
        const double loss_tol = mixed ? 1e-2 : 1e-5, grad_tol = mixed ? 5e-2 : 2e-4;
        StepOptions opts;
        opts.capture_tensors = true;
        auto cpu = Session::create(spec, on("cpu"));
        auto gpu = Session::create(spec, on("cuda"));
        QVERIFY2(cpu && gpu, gpu ? "" : gpu.error().message.c_str());
        const StepReport a = (*cpu)->step(opts), b = (*gpu)->step(opts);
        QVERIFY2(b.status == StepStatus::ok, b.message.c_str());
        QVERIFY(QString::fromStdString(b.device).startsWith("cuda:0"));
        QVERIFY2(std::fabs(b.loss - a.loss) <= loss_tol * std::fabs(a.loss),
                 qPrintable(QString("loss %1 on cuda, %2 on cpu").arg(b.loss, 0, 'g', 10).arg(a.loss, 0, 'g', 10)));
        QCOMPARE(b.tensors.size(), a.tensors.size());
        int grads = 0;
        for (size_t i = 0; i < a.tensors.size(); ++i) {
            const NamedTensor &x = a.tensors[i], &y = b.tensors[i];
            QCOMPARE(y.name, x.name);
            if (x.name.rfind("grad.", 0) != 0) continue;
            ++grads;
            double largest = 0.0, worst = 0.0;
            for (size_t k = 0; k < x.f32.size(); ++k) {
                largest = std::max(largest, double(std::fabs(x.f32[k])));
                worst = std::max(worst, double(std::fabs(x.f32[k] - y.f32[k])));
            }
            QVERIFY2(worst <= grad_tol * largest,
                     qPrintable(QString("%1: worst difference %2, largest entry %3").arg(QString::fromStdString(x.name)).arg(worst).arg(largest)));
        }
        QVERIFY(grads > 0);
        // The same bytes on both devices, category by category (scratch aside, which differs
        // only inside attention, absent from these presets' MLPs).
        if (!model.startsWith("gpt2") && !model.startsWith("llama") && !model.startsWith("lesson5")) QCOMPARE(b.peak, a.peak);
    }

    void onDevice_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("policy");
        QTest::addColumn<QString>("precision");
        for (const char* m : {"tutorial_mlp", "textbook_mlp", "deep_residual_mlp", "gpt2_small", "gpt2_small+flash",
                              "gpt2_small_gpu", "gpt2_long_context", "lesson5_fused_attention+flash", "llama_small",
                              "resnet20_cifar"})
            for (const char* p : {"all", "every:3"})
                QTest::newRow(qPrintable(QString("%1 / %2").arg(m, p))) << QString(m) << QString(p) << QString("f32");
        // Exact promises hold in every precision: bitwise checkpointing, prediction to the byte.
        for (const char* m : {"deep_residual_mlp", "gpt2_small", "gpt2_small+flash", "gpt2_small_gpu", "llama_small",
                              "resnet20_cifar"})
            for (const char* pr : {"bf16-mixed", "fp16-mixed"})
                QTest::newRow(qPrintable(QString("%1 / every:3 / %2").arg(m, pr))) << QString(m) << QString("every:3") << QString(pr);
    }

    // Checkpointed against unchecked on the device, prediction against measurement, events.
    void onDevice() {
        QFETCH(QString, model);
        QFETCH(QString, policy);
        QFETCH(QString, precision);
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        const ModelSpec base = in_precision(preset(model), precision);
        std::vector<uint64_t> sums[2];
        std::vector<double> losses[2];
        for (int k = 0; k < 2; ++k) {
            const ModelSpec spec = with_policy(base, k ? policy : QString("none"));
            auto s = Session::create(spec, on("cuda"));
            QVERIFY2(s, s ? "" : s.error().message.c_str());
            for (int step = 1; step <= 2; ++step) {
                const StepReport r = (*s)->step();
                QVERIFY2(r.status == StepStatus::ok, r.message.c_str());
                sums[k].push_back(r.gradient_checksum);
                losses[k].push_back(r.loss);
                const Result<StepReport> p = predict(spec, step, DeviceKind::cuda);
                QVERIFY(p.ok());
                QVERIFY2(p->peak == r.peak, "predicted per-category peaks differ from the measured ones");
                QCOMPARE(p->peak_total, r.peak_total);
                QVERIFY(p->at_peak == r.at_peak);
                verifyBalanced(r, (*s)->live_bytes());
                // Times come from CUDA events and must be consistent.
                for (size_t i = 1; i < r.events.size(); ++i) QVERIFY(r.events[i].time_ns >= r.events[i - 1].time_ns);
                for (const Span& sp : r.spans) {
                    QVERIFY(sp.end_ns >= sp.start_ns);
                    QVERIFY(sp.end_ns <= r.step_ns);
                }
                QVERIFY(r.step_ns >= r.forward_ns + r.backward_ns);
                QVERIFY(r.device_memory.reserved_peak >= r.peak_total);  // the pool holds every live tensor
                QVERIFY(r.device_memory.workspace > 0);
                QVERIFY(!r.tf32);
            }
        }
        QCOMPARE(losses[1], losses[0]);
        QCOMPARE(sums[1], sums[0]);
    }

    // A memory limit below what the step needs: out of memory 100 times in one process, each a
    // clean report, and the device's memory back to where it was every time.
    void outOfMemoryHundredTimes() {
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        const ModelSpec spec = preset("gpt2_small");
        const Result<StepReport> need = predict(spec, 1, DeviceKind::cuda);
        QVERIFY(need.ok());
        auto s = Session::create(spec, on("cuda", need->peak_total * 3 / 4));
        QVERIFY(s);
        Backend& be = **backend_for("cuda");
        // The pool after creation holds the parameters' segments and nothing else; the free
        // bytes are taken after the first step, which also loads the kernels' modules.
        const int64_t reserved = be.memory().reserved;
        int64_t free = -1;
        for (int i = 0; i < 100; ++i) {
            const StepReport r = (*s)->step();
            QCOMPARE(r.status, StepStatus::out_of_memory);
            QVERIFY(!r.oom.device);
            QVERIFY(QString::fromStdString(r.message).contains("out of memory in"));
            verifyBalanced(r, (*s)->live_bytes());
            const DeviceMemory m = be.memory();
            if (i == 0) free = m.free;
            QCOMPARE(m.reserved, reserved);
            QCOMPARE(m.free, free);
        }
        QCOMPARE(total((*s)->live_bytes()), (*s)->live_bytes()[int(Category::parameter)]);
    }

    // Another session holds most of the card, so this one's step makes cudaMalloc fail for real.
    void realDeviceOutOfMemory() {
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        const int64_t card = cuda_devices()[0].total_bytes;
        // The hog: square linears of 8192 (256 MiB of weights each) worth 45% of the card; its
        // own step would need twice that with gradients, which the creation check allows.
        ModelSpec hog;
        hog.name = "hog";
        hog.input_shape = {8, 8192};
        hog.optimizer.type = OptimizerType::none;
        const int64_t layers = std::max<int64_t>(1, card * 45 / 100 / (int64_t(8192) * 8192 * 4));
        hog.blocks.push_back({"weights", {}, false, false});
        for (int64_t l = 0; l < layers; ++l) hog.blocks[0].layers.push_back(testmodels::linear(8192, 8192, false));
        auto h = Session::create(hog, on("cuda"));
        QVERIFY2(h, h ? "" : h.error().message.c_str());
        // The victim: small weights, activations of 4 GiB per layer, 70% of the card in all.
        ModelSpec victim;
        victim.name = "victim";
        victim.input_shape = {int64_t(1) << 20, 1024};
        victim.optimizer.type = OptimizerType::none;
        const int64_t vl = std::max<int64_t>(2, card * 70 / 100 / (int64_t(4) << 30));
        victim.blocks.push_back({"wide", {}, false, false});
        for (int64_t l = 0; l < vl; ++l) victim.blocks[0].layers.push_back(testmodels::linear(1024, 1024, false));
        auto v = Session::create(victim, on("cuda"));
        QVERIFY2(v, v ? "" : v.error().message.c_str());
        Backend& be = **backend_for("cuda");
        int64_t free = -1;
        for (int i = 0; i < 3; ++i) {
            const StepReport r = (*v)->step();
            QCOMPARE(r.status, StepStatus::out_of_memory);
            QVERIFY2(r.oom.device, r.message.c_str());
            QVERIFY2(QString::fromStdString(r.message).contains("the device refused"), r.message.c_str());
            verifyBalanced(r, (*v)->live_bytes());
            if (i == 0) free = be.memory().free;
            QCOMPARE(be.memory().free, free);
        }
        h->reset();  // the hog lets go: the victim's step now fits
        const StepReport ok = (*v)->step();
        QVERIFY2(ok.status == StepStatus::ok, ok.message.c_str());
    }

    // The GUI streams events live: on a GPU each is delivered once its CUDA event has resolved,
    // in order, with the same times as the report's.
    void liveSinkOnDevice() {
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        struct Sink : EventSink {
            std::vector<MemoryEvent> events;
            std::vector<Span> spans;
            void on_memory(const MemoryEvent& e) override { events.push_back(e); }
            void on_span(const Span& s) override { spans.push_back(s); }
        } sink;
        auto s = Session::create(with_policy(preset("gpt2_small"), "every:2"), on("cuda"));
        QVERIFY(s);
        for (int step = 0; step < 2; ++step) {
            sink.events.clear();
            sink.spans.clear();
            StepOptions opts;
            opts.sink = &sink;
            const StepReport r = (*s)->step(opts);
            QVERIFY2(r.status == StepStatus::ok, r.message.c_str());
            QCOMPARE(sink.events.size(), r.events.size());
            QCOMPARE(sink.spans.size(), r.spans.size());
            for (size_t i = 0; i < r.events.size(); ++i) {
                QCOMPARE(sink.events[i].time_ns, r.events[i].time_ns);
                QCOMPARE(sink.events[i].bytes, r.events[i].bytes);
            }
            for (size_t i = 0; i < r.spans.size(); ++i) QCOMPARE(sink.spans[i].end_ns, r.spans[i].end_ns);
        }
    }

    void deviceListedWithNameAndMemory() {
        if (const QString why = no_cuda(); !why.isEmpty()) QSKIP(qPrintable(why));
        const std::vector<DeviceInfo> all = available_devices();
        QVERIFY(all.size() >= 2);
        QCOMPARE(all[1].id(), std::string("cuda:0"));
        QVERIFY(!all[1].name.empty());
        QVERIFY(all[1].total_bytes > (int64_t(1) << 30));
        QVERIFY(!find_device("cuda:99").ok());
    }

    void withoutDeviceTheErrorNamesTheReason() {
        if (no_cuda().isEmpty()) QSKIP("a CUDA device is present: the no-device message cannot be seen here");
        const Result<DeviceInfo> d = find_device("cuda");
        QVERIFY(!d.ok());
        QVERIFY2(QString::fromStdString(d.error().message).startsWith("no CUDA device for \"cuda\": "),
                 d.error().message.c_str());
        QVERIFY(d.error().message.find('\n') == std::string::npos);
        QVERIFY(!Session::create(testmodels::tutorial(), on("cuda")).ok());
    }
};

QTEST_GUILESS_MAIN(TestCuda)
#include "tst_cuda.moc"
