// Every op's backward against central finite differences, plus the Philox known-answer vector
// and one optimizer step against its formula. The kernels are f32; the finite differences
// evaluate the scalar objective L = sum(y * r) in double with step h = 1e-2, so the error is
// the f32 rounding of y (~1e-7 relative, divided by 2h) plus the O(h^2) truncation term. The
// tolerance stated below, |fd - analytic| <= 2e-3 + 1e-2 * |analytic|, is about ten times the
// worst error seen and far below the size of any real bug (a wrong sign or factor is O(1)).
// Also the CPU step's clock against steady_clock.
#include <QtTest>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <functional>
#include <random>

#include "backends/cpu/cpu_kernels.h"
#include "backends/host_clock.h"
#include "backends/scratch.h"
#include "backends/cpu/cpu_math.h"
#include "finite_differences.h"
#include "layers/layer.h"
#include "core/philox.h"

namespace ckpt::philox { bool self_test(); }

using namespace ckpt;

namespace {

using fd::Fixture;
using fd::check;
using fd::dot;


void fill_random(Tensor& t, std::mt19937& rng, double lo, double hi, bool avoid_zero = false) {
    std::uniform_real_distribution<float> d{float(lo), float(hi)};
    for (int64_t i = 0; i < t.numel(); ++i) {
        float v = d(rng);
        // Keep ReLU's kink farther than the finite-difference step from any input.
        if (avoid_zero && std::fabs(v) < 0.05f) v = v < 0 ? -0.05f - 0.1f * std::fabs(v) : 0.05f + 0.1f * v;
        t.f()[i] = v;
    }
}



}  // namespace

class TestOps : public QObject {
    Q_OBJECT

private slots:
    void philoxKnownAnswer() { QVERIFY(ckpt::philox::self_test()); }

    // The CPU step's clock (the time-stamp counter where it is invariant) gives the times that
    // charts and reports show: it must agree with steady_clock, and leave excluded work out.
    void hostClockTracksSteadyClock() {
        ckpt::HostClock clock;
        const auto spin = [](std::chrono::microseconds d) {
            const auto until = std::chrono::steady_clock::now() + d;
            while (std::chrono::steady_clock::now() < until) {
            }
        };
        for (int step = 0; step < 3; ++step) {
            // Each end is bracketed by two steady_clock reads: a thread preempted between a
            // read and the stamp (two tests on two busy cores, under ASan) widens the bracket
            // instead of shifting one clock against the other.
            const auto t0a = std::chrono::steady_clock::now();
            clock.start();
            const auto t0b = std::chrono::steady_clock::now();
            spin(std::chrono::milliseconds(10));
            const int64_t a = clock.stamp();
            spin(std::chrono::milliseconds(5));
            const int64_t b = clock.stamp();
            const auto tb = std::chrono::steady_clock::now();
            clock.exclude(a, b);
            spin(std::chrono::milliseconds(5));
            const auto t1a = std::chrono::steady_clock::now();
            const int64_t c = clock.stamp();
            const auto t1b = std::chrono::steady_clock::now();
            const auto ns = [](auto d) { return std::chrono::duration<double, std::nano>(d).count(); };
            const double shortest = ns(t1a - t0b), longest = ns(t1b - t0a);
            const double excluded = double(clock.elapsed_ns(b) - clock.elapsed_ns(a));
            const double got = double(clock.elapsed_ns(c));
            QVERIFY2(clock.elapsed_ns(a) >= 0 && clock.elapsed_ns(a) <= clock.elapsed_ns(b), "stamps in order");
            // The excluded stretch was about 5 ms and the rest about 15 ms; a preempted thread
            // can only lengthen the stretches, on both clocks alike.
            const double until_b = ns(tb - t0a);
            QVERIFY2(excluded >= 4.9e6 && excluded <= until_b,
                     qPrintable(QString("excluded %1 ns").arg(excluded)));
            // The counter's span lies inside the brackets, give or take 0.1 %: ten times the
            // calibration error of the first step (a 1 ms spin).
            const double low = shortest - excluded, high = longest - excluded;
            QVERIFY2(got >= low - 0.001 * longest && got <= high + 0.001 * longest,
                     qPrintable(QString("step %1: counter %2 ns, steady_clock between %3 and %4 ns (read %5 the "
                                        "time-stamp counter)")
                                    .arg(step).arg(got).arg(low).arg(high).arg(clock.uses_counter() ? "with" : "without")));
        }
    }

    // The CPU's vectorizable exp and tanh (GELU, SiLU, SwiGLU) against glibc's, in units in the
    // last place, over every 1/4096 step of their useful range and the edges: at most 2 ulp
    // (Cephes states about 1 for these polynomials; 2 allows glibc's own half ulp).
    void vectorMathWithinTwoUlp() {
        auto ulps = [](float a, float b) {
            if (a == b) return int64_t(0);
            if (std::signbit(a) != std::signbit(b)) return std::numeric_limits<int64_t>::max();
            int32_t ia, ib;
            std::memcpy(&ia, &a, 4);
            std::memcpy(&ib, &b, 4);
            return std::abs(int64_t(ia) - int64_t(ib));
        };
        int64_t worst_exp = 0, worst_tanh = 0;
        float at_exp = 0, at_tanh = 0;
        for (int64_t k = -87 * 4096; k <= 88 * 4096; ++k) {
            const float x = float(k) / 4096.0f;
            if (const int64_t u = ulps(ckpt::cpu::vexp(x), std::exp(x)); u > worst_exp) worst_exp = u, at_exp = x;
        }
        std::vector<float> xs;
        for (int64_t k = -12 * 4096; k <= 12 * 4096; ++k) xs.push_back(float(k) / 4096.0f);
        for (float x : {1e-30f, 1e-7f, 3e-4f, 0.6249f, 0.625f, 0.6251f, 9.0f, 9.01f, 10.0f, 50.0f, 1e30f})
            xs.insert(xs.end(), {x, -x});
        for (float x : xs)
            if (const int64_t u = ulps(ckpt::cpu::vtanh(x), std::tanh(x)); u > worst_tanh) worst_tanh = u, at_tanh = x;
        qInfo("worst: exp %lld ulp at %g, tanh %lld ulp at %g", (long long)worst_exp, double(at_exp), (long long)worst_tanh,
              double(at_tanh));
        QVERIFY2(worst_exp <= 2, qPrintable(QString("exp: %1 ulp at %2").arg(worst_exp).arg(at_exp)));
        QVERIFY2(worst_tanh <= 2, qPrintable(QString("tanh: %1 ulp at %2").arg(worst_tanh).arg(at_tanh)));
        QCOMPARE(ckpt::cpu::vtanh(0.0f), 0.0f);
        QCOMPARE(ckpt::cpu::vtanh(20.0f), 1.0f);
        QCOMPARE(ckpt::cpu::vtanh(-20.0f), -1.0f);
    }

    void layerGradients_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("bias");
        QTest::addColumn<double>("p");
        QTest::newRow("linear") << int(LayerType::linear) << true << 0.0;
        QTest::newRow("linear, no bias") << int(LayerType::linear) << false << 0.0;
        QTest::newRow("relu") << int(LayerType::relu) << true << 0.0;
        QTest::newRow("gelu") << int(LayerType::gelu) << true << 0.0;
        QTest::newRow("tanh") << int(LayerType::tanh) << true << 0.0;
        QTest::newRow("silu") << int(LayerType::silu) << true << 0.0;
        QTest::newRow("rmsnorm") << int(LayerType::rmsnorm) << true << 0.0;
        QTest::newRow("swiglu") << int(LayerType::swiglu) << true << 0.0;
        QTest::newRow("layernorm") << int(LayerType::layernorm) << true << 0.0;
        QTest::newRow("layernorm, no affine") << int(LayerType::layernorm) << false << 0.0;
        QTest::newRow("dropout 0.3") << int(LayerType::dropout) << true << 0.3;
    }

    void layerGradients() {
        QFETCH(int, type);
        QFETCH(bool, bias);
        QFETCH(double, p);
        Fixture fx;
        std::mt19937 rng(7);
        const int64_t rows = 6, in = LayerType(type) == LayerType::swiglu ? 10 : 9;  // swiglu: [gate | up]
        LayerSpec spec;
        spec.type = LayerType(type);
        spec.bias = bias;
        spec.in = in;
        spec.out = spec.type == LayerType::linear ? 5 : spec.type == LayerType::swiglu ? in / 2 : in;
        spec.dim = in;
        spec.p = p;
        auto layer = make_layer(spec, fx.ctx, "l", philox::kStreamParams);
        // Non-trivial affine parameters so their gradients are exercised.
        for (Param& prm : layer->params()) fill_random(prm.value, rng, -1.0, 1.0);

        Tensor x = fx.ctx.make({rows, in});  // (rows, in)
        fill_random(x, rng, -2.0, 2.0, spec.type == LayerType::relu);
        Tensor r = fx.ctx.make({rows, spec.out});  // dL/dy
        fill_random(r, rng, -1.0, 1.0);

        auto objective = [&] {
            fx.ctx.dropout_stream = 99;  // the same mask for every evaluation
            Tensor y = layer->forward(fx.ctx, x, nullptr);
            return dot(y, r);
        };
        fx.ctx.dropout_stream = 99;
        StatePtr saved;
        Tensor y = layer->forward(fx.ctx, x, &saved);
        Tensor dx = layer->backward(fx.ctx, *saved, r, true);
        QVERIFY(dx);

        QString where;
        double worst = check(objective, x.f(), dx.f(), x.numel(), &where);
        QVERIFY2(worst <= 1.0, qPrintable("dx " + where));
        for (Param& prm : layer->params()) {
            std::vector<float> g = to_host_f32(cpu_backend(), prm.grad);
            worst = check(objective, prm.value.f(), g.data(), prm.value.numel(), &where);
            QVERIFY2(worst <= 1.0, qPrintable(QString::fromStdString(prm.name) + " " + where));
        }
    }

    void attentionGradients_data() {
        QTest::addColumn<bool>("causal");
        QTest::addColumn<double>("p");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kv_heads");
        QTest::addColumn<double>("rope");
        QTest::addColumn<bool>("flash");
        for (bool flash : {false, true}) {
            const QString k = flash ? QStringLiteral("flash: ") : QStringLiteral("eager: ");
            QTest::newRow(qPrintable(k + "bidirectional")) << false << 0.0 << 2 << 0 << 0.0 << flash;
            QTest::newRow(qPrintable(k + "causal")) << true << 0.0 << 2 << 0 << 0.0 << flash;
            QTest::newRow(qPrintable(k + "causal, dropout 0.2")) << true << 0.2 << 2 << 0 << 0.0 << flash;
            // Grouped-query: 4 query heads share 2 key/value heads; rotary positions.
            QTest::newRow(qPrintable(k + "grouped-query")) << true << 0.0 << 4 << 2 << 0.0 << flash;
            QTest::newRow(qPrintable(k + "rotary")) << true << 0.0 << 2 << 0 << 100.0 << flash;
            QTest::newRow(qPrintable(k + "grouped-query, rotary, dropout 0.2")) << true << 0.2 << 4 << 1 << 10000.0 << flash;
        }
    }

    // Both kernels against central differences (the flash one draws its keep decisions again in
    // backward, from the stream its forward used).
    void attentionGradients() {
        QFETCH(bool, causal);
        QFETCH(double, p);
        QFETCH(int, heads);
        QFETCH(int, kv_heads);
        QFETCH(double, rope);
        QFETCH(bool, flash);
        Fixture fx;
        fx.ctx.seq = 4;  // batch 2 x 4 positions, head size 4 (even, for the rotary pairs)
        std::mt19937 rng(5);
        LayerSpec spec;
        spec.type = LayerType::attention;
        spec.heads = heads;
        spec.kv_heads = kv_heads;
        spec.rope_theta = rope;
        spec.causal = causal;
        spec.p = p;
        spec.impl = flash ? AttentionImpl::flash : AttentionImpl::eager;
        auto layer = make_layer(spec, fx.ctx, "attn", 0);
        const int64_t hd = 4, kv = kv_heads > 0 ? kv_heads : heads;
        Tensor x = fx.ctx.make({8, (heads + 2 * kv) * hd});  // (B*T, (heads + 2 kv_heads) * head size)
        fill_random(x, rng, -1.5, 1.5);
        Tensor r = fx.ctx.make({8, heads * hd});
        fill_random(r, rng, -1.0, 1.0);
        auto objective = [&] {
            fx.ctx.dropout_stream = 7;
            return dot(layer->forward(fx.ctx, x, nullptr), r);
        };
        fx.ctx.dropout_stream = 7;
        StatePtr saved;
        Tensor y = layer->forward(fx.ctx, x, &saved);
        // eager: qkv, softmax output (, mask); flash: qkv, output, log-sum-exp
        QCOMPARE(saved->tensors().size(), size_t(flash || p > 0 ? 3 : 2));
        if (causal && !flash) {  // position 0 attends only to itself
            const float* probs = saved->tensors()[1]->f();
            QCOMPARE(probs[0], 1.0f);
            QCOMPARE(probs[1], 0.0f);
        }
        Tensor dx = layer->backward(fx.ctx, *saved, r, true);
        QString where;
        QVERIFY2(check(objective, x.f(), dx.f(), x.numel(), &where) <= 1.0, qPrintable(where));
    }

    // The CPU attention kernels on both of their paths, short sequences (heads in parallel, a
    // scratch slot each) and long ones (heads in turn, one slot), against a plain double
    // reference of causal grouped-query attention: outputs and all three input gradients.
    void attentionKernelsMatchReference_data() {
        QTest::addColumn<int>("seq");
        QTest::newRow("T 200: heads in parallel") << 200;
        QTest::newRow("T 300: heads in turn") << 300;
    }
    void attentionKernelsMatchReference() {
        QFETCH(int, seq);
        AttentionShape a;
        a.batch = 2;
        a.seq = seq;
        a.heads = 4;
        a.kv_heads = 2;
        a.head_dim = 8;
        a.causal = true;
        const int64_t B = a.batch, T = a.seq, H = a.heads, Hk = a.kv_heads, hd = a.head_dim, W = a.width(), d = a.out();
        QCOMPARE(cpu_attention_slots(T, H) > 1, seq <= kCpuParallelHeadsMaxSeq);
        std::mt19937 rng(11);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        std::vector<float> qkv(size_t(B * T * W)), dout(size_t(B * T * d)), out(size_t(B * T * d)),
            probs(size_t(B * H * T * T)), dqkv(size_t(B * T * W));
        for (float& v : qkv) v = u(rng);
        for (float& v : dout) v = u(rng);
        const int64_t fs = attention_forward_scratch_bytes(DeviceKind::cpu, T, H, false, ElemType::f32);
        const int64_t bs = attention_backward_scratch_bytes(DeviceKind::cpu, T, H, Hk, false, ElemType::f32);
        std::vector<float> scratch(size_t(std::max(fs, bs) / 4 + 1));
        cpu::attention_forward(ElemType::f32, a, qkv.data(), out.data(), probs.data(), nullptr, fs ? scratch.data() : nullptr, 0, 0);
        cpu::attention_backward(ElemType::f32, a, qkv.data(), probs.data(), nullptr, dout.data(), dqkv.data(), scratch.data());

        std::vector<double> ref_out(out.size(), 0.0), ref_d(dqkv.size(), 0.0);
        const double scale = 1.0 / std::sqrt(double(hd));
        std::vector<double> P(size_t(T * T)), dS(size_t(T * T));
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t j = h / (H / Hk);
                auto q = [&](int64_t t, int64_t i) { return double(qkv[size_t((b * T + t) * W + h * hd + i)]); };
                auto k = [&](int64_t t, int64_t i) { return double(qkv[size_t((b * T + t) * W + (H + j) * hd + i)]); };
                auto v = [&](int64_t t, int64_t i) { return double(qkv[size_t((b * T + t) * W + (H + Hk + j) * hd + i)]); };
                auto go = [&](int64_t t, int64_t i) { return double(dout[size_t((b * T + t) * d + h * hd + i)]); };
                for (int64_t r = 0; r < T; ++r) {
                    double mx = -1e300, sum = 0.0;
                    std::vector<double> sc(size_t(r + 1));
                    for (int64_t c = 0; c <= r; ++c) {
                        double dot = 0.0;
                        for (int64_t i = 0; i < hd; ++i) dot += q(r, i) * k(c, i);
                        sc[size_t(c)] = dot * scale;
                        mx = std::max(mx, sc[size_t(c)]);
                    }
                    for (int64_t c = 0; c <= r; ++c) sum += std::exp(sc[size_t(c)] - mx);
                    for (int64_t c = 0; c < T; ++c) P[size_t(r * T + c)] = c <= r ? std::exp(sc[size_t(c)] - mx) / sum : 0.0;
                    for (int64_t i = 0; i < hd; ++i) {
                        double o = 0.0;
                        for (int64_t c = 0; c <= r; ++c) o += P[size_t(r * T + c)] * v(c, i);
                        ref_out[size_t((b * T + r) * d + h * hd + i)] = o;
                    }
                    double rowdot = 0.0;
                    for (int64_t c = 0; c <= r; ++c) {
                        double dp = 0.0;
                        for (int64_t i = 0; i < hd; ++i) dp += go(r, i) * v(c, i);
                        dS[size_t(r * T + c)] = dp;
                        rowdot += dp * P[size_t(r * T + c)];
                    }
                    for (int64_t c = 0; c <= r; ++c)
                        dS[size_t(r * T + c)] = scale * P[size_t(r * T + c)] * (dS[size_t(r * T + c)] - rowdot);
                }
                for (int64_t r = 0; r < T; ++r)
                    for (int64_t c = 0; c <= r; ++c)
                        for (int64_t i = 0; i < hd; ++i) {
                            ref_d[size_t((b * T + r) * W + h * hd + i)] += dS[size_t(r * T + c)] * k(c, i);
                            ref_d[size_t((b * T + c) * W + (H + j) * hd + i)] += dS[size_t(r * T + c)] * q(r, i);
                            ref_d[size_t((b * T + c) * W + (H + Hk + j) * hd + i)] += P[size_t(r * T + c)] * go(r, i);
                        }
            }
        // f32 sums of up to 300 terms against double: 1e-4 absolute on values of order 1.
        auto worst = [](const std::vector<float>& got, const std::vector<double>& want) {
            double w = 0.0;
            for (size_t i = 0; i < got.size(); ++i) w = std::max(w, std::abs(double(got[i]) - want[i]));
            return w;
        };
        const double wo = worst(out, ref_out), wd = worst(dqkv, ref_d);
        QVERIFY2(wo < 1e-4, qPrintable(QString("output off by %1").arg(wo)));
        QVERIFY2(wd < 1e-4, qPrintable(QString("input gradient off by %1").arg(wd)));
    }

    void embeddingGradients() {
        Fixture fx;
        fx.ctx.seq = 3;
        std::mt19937 rng(9);
        LayerSpec spec;
        spec.type = LayerType::embedding;
        spec.vocab = 5;
        spec.dim = 4;
        spec.max_len = 6;
        auto layer = make_layer(spec, fx.ctx, "emb", philox::kStreamParams);
        Tensor tokens = fx.ctx.make({6, 1}, Category::input, ElemType::i64);  // batch 2 x 3 positions
        const int64_t ids[6] = {0, 3, 3, 4, 0, 3};  // repeats accumulate
        for (int i = 0; i < 6; ++i) tokens.i64()[i] = ids[i];
        Tensor r = fx.ctx.make({6, 4});
        fill_random(r, rng, -1.0, 1.0);
        auto objective = [&] { return dot(layer->forward(fx.ctx, tokens, nullptr), r); };
        StatePtr saved;
        Tensor y = layer->forward(fx.ctx, tokens, &saved);
        QVERIFY(!layer->backward(fx.ctx, *saved, r, true));  // token ids have no gradient
        for (Param& prm : layer->params()) {
            std::vector<float> g = to_host_f32(cpu_backend(), prm.grad);
            QString where;
            QVERIFY2(check(objective, prm.value.f(), g.data(), prm.value.numel(), &where) <= 1.0,
                     qPrintable(QString::fromStdString(prm.name) + " " + where));
        }
    }

    void dropoutMaskMatchesProbability() {
        Fixture fx;
        LayerSpec spec;
        spec.type = LayerType::dropout;
        spec.p = 0.25;
        auto layer = make_layer(spec, fx.ctx, "d", 0);
        Tensor x = fx.ctx.make({1000, 100});
        cpu_backend().fill(x.f(), x.numel(), 1.0f);
        StatePtr saved;
        Tensor y = layer->forward(fx.ctx, x, &saved);
        int64_t kept = 0;
        for (int64_t i = 0; i < x.numel(); ++i) {
            kept += saved->tensors()[0]->u8()[i];
            QCOMPARE(y.f()[i], saved->tensors()[0]->u8()[i] ? 1.0f / 0.75f : 0.0f);
        }
        // 100,000 Bernoulli(0.75) draws: the standard deviation of the mean is 0.0014.
        QVERIFY(std::fabs(double(kept) / double(x.numel()) - 0.75) < 0.01);
        // Element i is word i of the stream (what the CUDA kernels draw): the layer's mask, the
        // mask alone (a recomputation's) and a stretch starting off a block boundary (attention
        // heads) all equal philox::word element by element.
        const uint64_t stream = fx.ctx.dropout_stream - 1;
        std::vector<uint8_t> alone(size_t(x.numel())), offset(1001);
        cpu_backend().dropout_mask(alone.data(), x.numel(), 0.25f, fx.ctx.seed, stream);
        cpu::draw_keep(offset.data(), 0, 1001, 0.25f, 3, stream, fx.ctx.seed);
        for (int64_t i = 0; i < x.numel(); ++i) {
            const uint8_t want = philox::to_unit(philox::word(uint64_t(i), stream, fx.ctx.seed)) >= 0.25f;
            QCOMPARE(saved->tensors()[0]->u8()[i], want);
            QCOMPARE(alone[size_t(i)], want);
            if (i < 1001) QCOMPARE(offset[size_t(i)], uint8_t(philox::to_unit(philox::word(3 + uint64_t(i), stream, fx.ctx.seed)) >= 0.25f));
        }
    }

    void lossGradients_data() {
        QTest::addColumn<int>("loss");
        QTest::newRow("mse") << int(LossType::mse);
        QTest::newRow("cross_entropy") << int(LossType::cross_entropy);
    }

    void lossGradients() {
        QFETCH(int, loss);
        Fixture fx;
        std::mt19937 rng(3);
        const int64_t rows = 5, cols = 7;
        Loss l{LossType(loss)};
        Tensor out = fx.ctx.make({rows, cols});
        fill_random(out, rng, -2.0, 2.0);
        Tensor target;
        if (LossType(loss) == LossType::mse) {
            target = fx.ctx.make({rows, cols}, Category::input);
            fill_random(target, rng, -1.0, 1.0);
        } else {
            target = fx.ctx.make({rows}, Category::input, ElemType::i64);
            for (int64_t i = 0; i < rows; ++i) target.i64()[i] = (i * 3) % cols;
        }
        auto objective = [&] {
            StatePtr s;
            return l.forward(fx.ctx, out, target, &s);
        };
        StatePtr saved;
        const double value = l.forward(fx.ctx, out, target, &saved);
        QVERIFY(value > 0.0);
        Tensor d = l.backward(fx.ctx, *saved);
        QString where;
        QVERIFY2(check(objective, out.f(), d.f(), out.numel(), &where) <= 1.0, qPrintable(where));
    }

    void crossEntropyValue() {
        // Uniform logits: the loss is log(classes) exactly.
        Fixture fx;
        Loss l{LossType::cross_entropy};
        Tensor out = fx.ctx.make({4, 10});
        cpu_backend().fill(out.f(), out.numel(), 0.5f);
        Tensor target = fx.ctx.make({4}, Category::input, ElemType::i64);
        for (int i = 0; i < 4; ++i) target.i64()[i] = i;
        StatePtr s;
        QVERIFY(std::fabs(l.forward(fx.ctx, out, target, &s) - std::log(10.0)) < 1e-6);
    }

    void adamwStepMatchesFormula() {
        Fixture fx;
        Param p{"w", fx.ctx.make({3}, Category::parameter), fx.ctx.make({3}, Category::gradient), {}};
        const float w0[3] = {0.5f, -1.0f, 2.0f}, g[3] = {0.1f, -0.2f, 0.3f};
        for (int i = 0; i < 3; ++i) { p.value.f()[i] = w0[i]; p.grad.f()[i] = g[i]; }
        OptimizerSpec o;
        o.type = OptimizerType::adamw;
        o.lr = 0.01;
        o.weight_decay = 0.1;
        std::vector<Param*> ps{&p};
        optimizer_step(fx.ctx, o, ps, 1);
        QVERIFY(p.state[0] && p.state[1]);
        QCOMPARE(p.state[0].storage->tag.category, Category::optimizer_state);
        for (int i = 0; i < 3; ++i) {
            // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) after decay.
            const double decayed = w0[i] * (1.0 - 0.01 * 0.1);
            const double expect = decayed - 0.01 * g[i] / (std::fabs(g[i]) + 1e-8);
            QVERIFY2(std::fabs(p.value.f()[i] - expect) < 1e-6, qPrintable(QString::number(p.value.f()[i])));
        }
    }

    void sgdMomentumMatchesFormula() {
        Fixture fx;
        Param p{"w", fx.ctx.make({1}, Category::parameter), fx.ctx.make({1}, Category::gradient), {}};
        p.value.f()[0] = 1.0f;
        p.grad.f()[0] = 0.5f;
        OptimizerSpec o;
        o.type = OptimizerType::sgd;
        o.lr = 0.1;
        o.momentum = 0.9;
        std::vector<Param*> ps{&p};
        optimizer_step(fx.ctx, o, ps, 1);  // buf = 0.5, w = 1 - 0.05
        optimizer_step(fx.ctx, o, ps, 2);  // buf = 0.45 + 0.5, w -= 0.095
        QVERIFY(std::fabs(p.value.f()[0] - (1.0f - 0.05f - 0.095f)) < 1e-6f);
    }
};

QTEST_GUILESS_MAIN(TestOps)
#include "tst_ops.moc"
