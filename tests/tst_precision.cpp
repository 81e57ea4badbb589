// Mixed precision (bf16-mixed, fp16-mixed): everything that holds in f32 holds in every
// precision, and the bytes are what autocast's rules say.
//
// - Gradients: each layer's 16-bit backward against central finite differences of the same
//   layer in f32 at the same rounded inputs (parameters and inputs rounded to the 16-bit type
//   first, so both see the same numbers). The error measure is the relative L2 error of each
//   gradient, ||analytic - fd|| / ||fd||, at most 3e-2 for bf16 and 5e-3 for f16: bf16 keeps 8
//   significant bits, so one rounding of a result is up to 2^-9 = 0.2 % and a layer rounds a
//   few times (its output, and for attention the scores and their gradient on the way); f16
//   keeps 11 bits (0.05 %). The worst errors seen are 2.7e-3 (bf16, tanh) and 3.7e-4 (f16),
//   so the bounds are about ten times those; a wrong formula, sign or missing term is O(1)
//   (a 5 % error in the weight gradient fails every linear row).
// - Checkpointed steps bitwise equal to unchecked ones, in both precisions, with dropout.
// - The prediction equal to the measurement per category, and the events balanced.
// - Hand counts: what each layer keeps in bf16, weight casts included, and a transformer layer's
//   38sbh + 5as^2b + 16sb bytes against f32's 66sbh + 5as^2b + 16sb (flash attention: 38sbh +
//   4asb + 16sb).
// - fp16 loss scaling: a step whose gradients overflow is skipped, changes nothing, and halves
//   the scale; the next one goes through.
#include <QtTest>

#include <cmath>
#include <functional>
#include <random>

#include "ckpt/session.h"
#include "core/philox.h"
#include "layers/layer.h"
#include "test_models.h"

using namespace ckpt;

namespace {

constexpr int64_t F = 4;  // bytes per f32
constexpr int64_t H = 2;  // bytes per bf16/f16

ElemType type_of(Precision p) { return p == Precision::bf16_mixed ? ElemType::bf16 : ElemType::f16; }

void fill_random(Tensor& t, std::mt19937& rng, double lo, double hi, ElemType round) {
    std::uniform_real_distribution<float> d{float(lo), float(hi)};
    for (int64_t i = 0; i < t.numel(); ++i) {
        float v = d(rng);
        if (std::fabs(v) < 0.05f) v = v < 0 ? -0.05f : 0.05f;  // keep ReLU's kink away from the step
        t.f()[i] = round_to(round, v);
    }
}

double dot(const Tensor& y, const Tensor& r) {
    double s = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) s += double(y.f()[i]) * double(r.f()[i]);
    return s;
}

std::vector<float> as_f32(OpContext& ctx, const Tensor& t) {
    Tensor f = ctx.cast_to(t, ElemType::f32);
    return std::vector<float>(f.f(), f.f() + f.numel());
}

// ||a - b|| / ||b||.
double rel_l2(const std::vector<float>& a, const std::vector<double>& b) {
    double e = 0.0, n = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        n += b[i] * b[i];
    }
    return n > 0 ? std::sqrt(e / n) : std::sqrt(e);
}

std::unique_ptr<Session> make(const ModelSpec& spec, RunSettings settings = {}) {
    auto s = Session::create(spec, settings);
    if (!s) qFatal("%s", s.error().message.c_str());
    return std::move(*s);
}

ModelSpec with(ModelSpec s, Precision p) {
    s.precision = p;
    return s;
}

std::vector<int64_t> kept(const StepReport& r) {
    std::vector<int64_t> k;
    for (const BlockReport& b : r.blocks) k.push_back(b.kept_bytes);
    return k;
}

}  // namespace

class TestPrecision : public QObject {
    Q_OBJECT

private slots:
    void specRoundTrip() {
        ModelSpec s = testmodels::textbook(4, 16);
        for (Precision p : {Precision::f32, Precision::bf16_mixed, Precision::fp16_mixed}) {
            s.precision = p;
            Result<ModelSpec> back = parse_model_spec(to_json(s));
            QVERIFY(back.ok());
            QVERIFY(*back == s);
        }
        QCOMPARE(precision_name(Precision::bf16_mixed), std::string_view("bf16-mixed"));
        Result<ModelSpec> bad = parse_model_spec(R"({"input": {"shape": [2, 3]}, "precision": "bf16",
            "blocks": [{"layers": [{"type": "linear", "in": 3, "out": 2}]}]})");
        QVERIFY(!bad.ok());
        QVERIFY2(QString::fromStdString(bad.error().message)
                     .startsWith("precision: unknown precision \"bf16\" (expected f32, bf16-mixed or fp16-mixed)"),
                 bad.error().message.c_str());
    }

    void layerGradients_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("precision");
        QTest::addColumn<bool>("half_input");  // the input arrives already in 16 bits
        for (Precision p : {Precision::bf16_mixed, Precision::fp16_mixed})
            for (LayerType t : {LayerType::linear, LayerType::relu, LayerType::gelu, LayerType::tanh, LayerType::silu,
                                LayerType::layernorm, LayerType::rmsnorm, LayerType::dropout, LayerType::attention,
                                LayerType::swiglu})
                for (bool half : {false, true}) {
                    if (t != LayerType::linear && t != LayerType::layernorm && t != LayerType::rmsnorm && !half)
                        continue;  // the others run in their input's type: f32 in is the f32 path
                    QTest::newRow(qPrintable(QString("%1 %2%3").arg(QString::fromUtf8(layer_type_name(t).data()))
                                                 .arg(QString::fromUtf8(precision_name(p).data()))
                                                 .arg(half ? ", 16-bit input" : ", f32 input")))
                        << int(t) << int(p) << half;
                }
    }

    void layerGradients() {
        QFETCH(int, type);
        QFETCH(int, precision);
        QFETCH(bool, half_input);
        const ElemType low = type_of(Precision(precision));
        Allocator alloc(cpu_backend(), 0);
        OpContext ctx{alloc, cpu_backend(), 42};
        std::mt19937 rng(3);
        const int64_t T = 4, B = 2, rows = B * T;
        ctx.seq = T;
        LayerSpec spec;
        spec.type = LayerType(type);
        int64_t in = spec.type == LayerType::swiglu ? 10 : 9;
        spec.in = in;
        spec.out = 5;
        spec.dim = in;
        spec.p = 0.3;
        if (spec.type == LayerType::attention) {
            // Grouped-query (4 query heads on 2 key/value heads) with rotary positions.
            spec.heads = 4;
            spec.kv_heads = 2;
            spec.rope_theta = 1000.0;
            spec.causal = true;
            spec.p = 0.2;
            in = (4 + 2 * 2) * 2;
        }
        auto layer = make_layer(spec, ctx, "l", philox::kStreamParams);
        for (Param& prm : layer->params()) fill_random(prm.value, rng, -1.0, 1.0, low);
        Tensor x = ctx.make({rows, in});  // the f32 view of the input, values representable in 16 bits
        fill_random(x, rng, -2.0, 2.0, low);
        const Tensor x_in = half_input ? ctx.cast_to(x, low) : x;

        // The mixed-precision forward and backward.
        ctx.compute = low;
        ctx.dropout_stream = 77;
        StatePtr state;
        Tensor y = layer->forward(ctx, x_in, &state);
        Tensor r32 = ctx.make(y.shape);  // dL/dy, representable in y's type
        fill_random(r32, rng, -1.0, 1.0, y.type == ElemType::f32 ? ElemType::f32 : low);
        Tensor dx = layer->backward(ctx, *state, ctx.cast_to(r32, y.type), true);
        QCOMPARE(dx.type, x_in.type);  // the gradient comes back in the input's type
        const std::vector<float> an_dx = as_f32(ctx, dx);
        std::vector<std::vector<float>> an_dp;
        for (Param& prm : layer->params()) {
            an_dp.push_back(std::vector<float>(prm.grad.f(), prm.grad.f() + prm.grad.numel()));
            prm.grad.reset();
        }

        // Central differences of the f32 layer at the same (rounded) point.
        ctx.compute = ElemType::f32;
        auto objective = [&] {
            ctx.dropout_stream = 77;
            return dot(layer->forward(ctx, x, nullptr), r32);
        };
        auto fd = [&](float* v, int64_t n) {
            std::vector<double> g(static_cast<size_t>(n));
            const double h = 1e-2;
            for (int64_t i = 0; i < n; ++i) {
                const float saved = v[i];
                v[i] = float(saved + h);
                const double up = objective();
                v[i] = float(saved - h);
                const double down = objective();
                v[i] = saved;
                g[size_t(i)] = (up - down) / (2 * h);
            }
            return g;
        };
        const double tol = low == ElemType::bf16 ? 3e-2 : 5e-3;
        const double ex = rel_l2(an_dx, fd(x.f(), x.numel()));
        QVERIFY2(ex <= tol, qPrintable(QString("dx: relative L2 error %1 > %2").arg(ex).arg(tol)));
        for (size_t k = 0; k < an_dp.size(); ++k) {
            Param& prm = layer->params()[k];
            const double ep = rel_l2(an_dp[k], fd(prm.value.f(), prm.value.numel()));
            QVERIFY2(ep <= tol, qPrintable(QString("%1: relative L2 error %2 > %3")
                                               .arg(QString::fromStdString(prm.name)).arg(ep).arg(tol)));
        }
    }

    void checkpointingStaysBitwise_data() {
        QTest::addColumn<int>("precision");
        QTest::addColumn<QString>("model");
        for (Precision p : {Precision::bf16_mixed, Precision::fp16_mixed})
            for (const char* m : {"textbook", "deep_residual", "dropout_mlp", "gpt", "llama"})
                QTest::newRow(qPrintable(QString("%1 %2").arg(m, QString::fromUtf8(precision_name(p).data())))) << int(p)
                                                                                                                  << QString(m);
    }

    // Gradients of checkpointed steps equal the unchecked ones bit for bit, every pattern.
    void checkpointingStaysBitwise() {
        QFETCH(int, precision);
        QFETCH(QString, model);
        ModelSpec base = model == "textbook"        ? testmodels::textbook(8, 64)
                         : model == "deep_residual" ? testmodels::deep_residual(4, 16, 32, 0.2)
                         : model == "dropout_mlp"   ? testmodels::dropout_mlp()
                         : model == "llama"         ? testmodels::llama(97, 32, 4, 2, 43, 2, 2, 8)
                                                    : testmodels::gpt(97, 24, 2, 2, 2, 8, 0.1, BlockSpec::Policy::full);
        base.precision = Precision(precision);
        const int n = int(base.blocks.size());
        auto run = [&](const std::vector<bool>& flags) {
            auto s = make(testmodels::with_checkpoints(base, flags));
            std::vector<uint64_t> sums;
            for (int i = 0; i < 3; ++i) {
                const StepReport r = s->step();
                if (r.status != StepStatus::ok) qFatal("%s", r.message.c_str());
                sums.push_back(r.gradient_checksum);
            }
            return sums;
        };
        const std::vector<uint64_t> ref = run(std::vector<bool>(size_t(n), false));
        for (int pattern = 0; pattern < 3; ++pattern) {
            std::vector<bool> f(static_cast<size_t>(n));
            for (int b = 0; b < n; ++b) f[size_t(b)] = pattern == 0 || (pattern == 1 ? b % 2 == 0 : b % 2 == 1);
            QCOMPARE(run(f), ref);
        }
    }

    void predictionEqualsMeasurement_data() {
        QTest::addColumn<int>("precision");
        QTest::addColumn<int>("which");
        for (Precision p : {Precision::bf16_mixed, Precision::fp16_mixed})
            for (int w = 0; w < 3; ++w) QTest::newRow(qPrintable(QString("%1 model %2").arg(QString::fromUtf8(precision_name(p).data())).arg(w))) << int(p) << w;
    }

    void predictionEqualsMeasurement() {
        QFETCH(int, precision);
        QFETCH(int, which);
        ModelSpec spec = which == 0 ? testmodels::textbook(8, 64)
                         : which == 1 ? testmodels::with_checkpoints(testmodels::deep_residual(4, 16, 32, 0.1),
                                                                     {true, false, true, false})
                                      : testmodels::gpt(97, 24, 2, 2, 2, 8, 0.1, BlockSpec::Policy::attention_core, true);
        spec.precision = Precision(precision);
        auto s = make(spec);
        for (int step = 1; step <= 2; ++step) {
            const StepReport r = s->step();
            QCOMPARE(r.status, StepStatus::ok);
            const Result<StepReport> p = predict(spec, step);
            QVERIFY(p.ok());
            QVERIFY(p->peak == r.peak);
            QCOMPARE(p->peak_total, r.peak_total);
            QVERIFY(p->at_peak == r.at_peak);
            QCOMPARE(kept(*p), kept(r));
            // Events balance: every category's events sum to its change over the step.
            CategoryBytes live = r.baseline;
            for (const MemoryEvent& e : r.events) {
                live[int(e.tag.category)] += e.bytes;
                QVERIFY(live[int(e.tag.category)] >= 0);
            }
            QVERIFY(live == s->live_bytes());
            QCOMPARE(live[int(Category::weight_cast)], int64_t(0));  // no cast outlives its backward
            QVERIFY(r.peak[int(Category::weight_cast)] > 0);
        }
    }

    void textbookKeptBytesInBf16() {
        // Linear 64->64, ReLU | Linear 64->64, ReLU | Linear 64->10, batch 8, cross-entropy.
        // fc1's linear keeps its input cast to bf16 (the batch is f32 `input`, its 16-bit copy an
        // activation) but no copy of its weight: that serves only dx, and the batch wants no
        // gradient (autograd saves it only when needed too). Its ReLU keeps its bf16 output,
        // which fc2's linear reads as it is; fc2 and the head keep their weights' bf16 copies.
        // The loss keeps its f32 probabilities.
        const int64_t B = 8, d = 64, C = 10;
        auto s = make(with(testmodels::textbook(B, d), Precision::bf16_mixed));
        const StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        QCOMPARE(kept(r), (std::vector<int64_t>{B * d * H + B * d * H, B * d * H, 0}));
        QCOMPARE(r.blocks[0].weight_cast_bytes, int64_t(0));
        QCOMPARE(r.blocks[1].weight_cast_bytes, d * d * H);
        QCOMPARE(r.blocks[2].weight_cast_bytes, C * d * H);
        QCOMPARE(r.loss_kept_bytes, B * C * F);
        QCOMPARE(r.precision, std::string("bf16-mixed"));
        // Checkpointed, a block keeps its input only: no weight cast survives its forward.
        s->set_checkpoint({true, true, true});
        const StepReport c = s->step();
        for (const BlockReport& b : c.blocks) QCOMPARE(b.weight_cast_bytes, int64_t(0));
    }

    void transformerLayerHandCount() {
        // Per transformer layer, unchecked, with dropout (s tokens, b batch, h hidden, a heads):
        //   attention sub-block: LayerNorm's f32 input 4sbh and stats 8sb; the QKV linear's input
        //   cast to bf16 2sbh; attention's bf16 QKV 6sbh, its f32 softmax output 4as^2b and mask
        //   as^2b; the output linear's bf16 input 2sbh; dropout's mask sbh = 15sbh + 5as^2b + 8sb
        //   MLP sub-block: 4sbh + 8sb (LayerNorm), 2sbh (cast), GELU's bf16 input 8sbh, the down
        //   projection's bf16 input 8sbh, mask sbh = 23sbh + 8sb
        // against f32's 25sbh + 5as^2b + 8sb and 41sbh + 8sb: the residual stream, LayerNorm,
        // the softmax output and the masks do not halve, which is why a GPT's activations come
        // to about 60 % of f32's at short sequences and more at long ones.
        const int64_t s_ = 16, b = 2, h = 24, a = 2;
        const ModelSpec f32 = testmodels::gpt(97, h, a, 2, b, s_, 0.1);
        const Result<StepReport> rf = predict(f32, 1);
        const Result<StepReport> rb = predict(with(f32, Precision::bf16_mixed), 1);
        QVERIFY(rf.ok() && rb.ok());
        const int64_t sbh = s_ * b * h, as2b = a * s_ * s_ * b, sb = s_ * b;
        for (int layer = 0; layer < 2; ++layer) {
            QCOMPARE(rb->blocks[size_t(1 + 2 * layer)].kept_bytes, 15 * sbh + 5 * as2b + 8 * sb);
            QCOMPARE(rb->blocks[size_t(2 + 2 * layer)].kept_bytes, 23 * sbh + 8 * sb);
            QCOMPARE(rf->blocks[size_t(1 + 2 * layer)].kept_bytes, 25 * sbh + 5 * as2b + 8 * sb);
            QCOMPARE(rf->blocks[size_t(2 + 2 * layer)].kept_bytes, 41 * sbh + 8 * sb);
        }
        // Flash attention keeps its bf16 output (the output linear's input, counted once) and an
        // f32 log-sum-exp per row and head instead of the softmax output and mask: 15sbh + 4asb +
        // 8sb, 38sbh + 4asb + 16sb per layer.
        const Result<StepReport> fb =
            predict(testmodels::with_attention(with(f32, Precision::bf16_mixed), AttentionImpl::flash), 1);
        QVERIFY(fb.ok());
        for (int layer = 0; layer < 2; ++layer) {
            QCOMPARE(fb->blocks[size_t(1 + 2 * layer)].kept_bytes, 15 * sbh + 4 * a * s_ * b + 8 * sb);
            QCOMPARE(fb->blocks[size_t(2 + 2 * layer)].kept_bytes, 23 * sbh + 8 * sb);
        }
    }

    // Korthikanti et al.'s "full recomputation" row: a transformer layer checkpointed as one
    // segment keeps its input and nothing else, sbh elements per layer (2sbh bytes in their
    // all-16-bit count). Here, as under PyTorch's autocast, the residual stream stays f32, so that
    // one tensor is 4sbh bytes in bf16-mixed as in f32. The attention and MLP blocks checkpointed
    // apart keep two, 8sbh. Measured in bf16 on the CPU and predicted, to the byte.
    void fullRecomputationKeepsOneTensorPerLayer() {
        const int64_t s_ = 16, b = 2, h = 24, a = 2, layers = 3;
        const int64_t sbh = s_ * b * h;
        for (Precision p : {Precision::bf16_mixed, Precision::f32}) {
            ModelSpec apart = with(testmodels::gpt(97, h, a, int(layers), b, s_, 0.1), p);
            for (int64_t l = 0; l < layers; ++l) apart.blocks[size_t(1 + 2 * l)].checkpoint = apart.blocks[size_t(2 + 2 * l)].checkpoint = true;
            ModelSpec grouped = apart;
            for (int l = 0; l < int(layers); ++l) grouped.segments.push_back({1 + 2 * l, 2 + 2 * l});
            QVERIFY(validate_model_spec(grouped).ok());
            const Result<StepReport> predicted = predict(grouped, 2);
            const Result<StepReport> per_block = predict(apart, 2);
            QVERIFY(predicted.ok() && per_block.ok());
            auto s = make(grouped);
            s->step();
            const StepReport measured = s->step();
            QCOMPARE(measured.status, StepStatus::ok);
            QCOMPARE(kept(measured), kept(*predicted));
            QCOMPARE(measured.peak_total, predicted->peak_total);
            for (int64_t l = 0; l < layers; ++l) {
                const BlockReport &attn = measured.blocks[size_t(1 + 2 * l)], &mlp = measured.blocks[size_t(2 + 2 * l)];
                QCOMPARE(attn.kept_bytes, 4 * sbh);  // sbh f32 elements: the layer's input
                QCOMPARE(attn.input_kept_bytes, 4 * sbh);
                QCOMPARE(mlp.kept_bytes, int64_t(0));
                QCOMPARE(attn.segment_last, int(2 + 2 * l));
                QCOMPARE(per_block->blocks[size_t(1 + 2 * l)].kept_bytes + per_block->blocks[size_t(2 + 2 * l)].kept_bytes, 8 * sbh);
            }
        }
    }

    void gpt2SmallActivationsNearHalf() {
        // The GPT-2-small-shaped preset (batch 2 x 64 tokens), predicted: the kept activations
        // in bf16-mixed are 43/71 of f32's per layer (see the hand count above), so between half
        // and two thirds.
        auto spec = load_model_spec(CKPT_SOURCE_DIR "/resources/presets/gpt2_small.json");
        QVERIFY(spec.ok());
        const Result<StepReport> f = predict(*spec, 2);
        const Result<StepReport> b = predict(with(*spec, Precision::bf16_mixed), 2);
        QVERIFY(f.ok() && b.ok());
        // The blocks' kept bytes (the loss keeps f32 probabilities in both precisions).
        int64_t kb = 0, kf = 0;
        for (size_t i = 0; i < f->blocks.size(); ++i) {
            kb += b->blocks[i].kept_bytes;
            kf += f->blocks[i].kept_bytes;
        }
        const double ratio = double(kb) / double(kf);
        QVERIFY2(ratio > 0.5 && ratio < 0.67, qPrintable(QString::number(ratio)));
        // Parameters, gradients and optimizer state stay f32: same bytes.
        QCOMPARE(b->peak[int(Category::parameter)], f->peak[int(Category::parameter)]);
        QCOMPARE(b->peak[int(Category::optimizer_state)], f->peak[int(Category::optimizer_state)]);
        QVERIFY(b->peak[int(Category::weight_cast)] > 0);
        QCOMPARE(f->peak[int(Category::weight_cast)], int64_t(0));
    }

    void fp16OverflowSkipsTheStep() {
        // One row, 5000 classes: the target's gradient is (p - 1) ~ -1, times the initial scale
        // 65536, beyond f16's largest finite value (65504): the first step overflows.
        ModelSpec spec;
        spec.input_shape = {1, 16};
        spec.loss = LossType::cross_entropy;
        spec.optimizer.type = OptimizerType::adamw;
        spec.precision = Precision::fp16_mixed;
        spec.blocks.push_back({"head", {testmodels::linear(16, 5000)}, false, false});
        auto s = make(spec);
        StepOptions capture;
        capture.capture_tensors = true;
        const StepReport first = s->step(capture);
        QCOMPARE(first.status, StepStatus::ok);
        QVERIFY(first.step_skipped);
        QCOMPARE(first.loss_scale, 65536.0f);
        QCOMPARE(s->live_bytes()[int(Category::optimizer_state)], int64_t(0));  // no step, no state
        const StepReport second = s->step(capture);
        QVERIFY(!second.step_skipped);
        QCOMPARE(second.loss_scale, 32768.0f);
        // The skipped step left the parameters as they were.
        for (size_t i = 0; i < first.tensors.size(); ++i)
            if (first.tensors[i].name.rfind("blocks.", 0) == 0) QVERIFY(first.tensors[i].f32 == second.tensors[i].f32);
        QVERIFY(s->live_bytes()[int(Category::optimizer_state)] > 0);
        const StepReport third = s->step(capture);
        QVERIFY(!third.step_skipped);
        bool moved = false;
        for (size_t i = 0; i < second.tensors.size(); ++i)
            if (second.tensors[i].name.rfind("blocks.", 0) == 0) moved |= second.tensors[i].f32 != third.tensors[i].f32;
        QVERIFY(moved);
    }
};

QTEST_GUILESS_MAIN(TestPrecision)
#include "tst_precision.moc"
