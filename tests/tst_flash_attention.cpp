// The fused (flash) attention kernel on the CPU, as an op: against the eager kernel on the same
// inputs and the same dropout stream (f32: output and input gradient within 1e-5 of each one's
// largest entry, across one and several tiles, partial tiles, causal, grouped-query, rotary and
// dropout: equal within rounding means both dropped the same elements); in bf16 and f16 no less
// accurate than eager in the same type; its log-sum-exp against a double reference; and its
// memory: what it keeps, what its scratch is, and that nothing of T x T elements is ever
// allocated. (tst_ops checks both kernels against finite differences.)
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "backends/scratch.h"
#include "core/recorder.h"
#include "finite_differences.h"
#include "layers/layer.h"

using namespace ckpt;
using namespace ckpt::fd;

namespace {

struct Case {
    int64_t B, T, H, Hk, hd;
    bool causal;
    double p, rope;
};

LayerSpec attention_spec(const Case& c, AttentionImpl impl) {
    LayerSpec s;
    s.type = LayerType::attention;
    s.heads = c.H;
    s.kv_heads = c.Hk;
    s.causal = c.causal;
    s.p = c.p;
    s.rope_theta = c.rope;
    s.impl = impl;
    return s;
}

// Host values as a tensor of type t (rounded to nearest even), and any tensor back as f32.
Tensor typed(OpContext& ctx, const std::vector<float>& v, std::vector<int64_t> shape, ElemType t) {
    Tensor x = ctx.make(std::move(shape), Category::temporary, t);
    for (size_t i = 0; i < v.size(); ++i) {
        if (t == ElemType::f32) x.f()[i] = v[i];
        else static_cast<uint16_t*>(x.data())[i] = t == ElemType::bf16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
    }
    return x;
}
std::vector<double> values(const Tensor& x) {
    std::vector<double> v(size_t(x.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
        if (x.type == ElemType::f32) v[i] = x.f()[i];
        else {
            const uint16_t h = static_cast<const uint16_t*>(x.data())[i];
            v[i] = x.type == ElemType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
    }
    return v;
}

struct Outputs {
    std::vector<double> y, dx;
};

// One forward and backward of the layer on fixed random inputs (the same for every kernel and
// type: drawn in f32, rounded to t), dropout stream 7.
Outputs run(const Case& c, AttentionImpl impl, ElemType t) {
    Fixture fx;
    fx.ctx.seq = c.T;
    auto layer = make_layer(attention_spec(c, impl), fx.ctx, "attn", 0);
    const int64_t rows = c.B * c.T, W = (c.H + 2 * c.Hk) * c.hd, d = c.H * c.hd;
    std::mt19937 rng(uint32_t(c.T * 131 + c.H));
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<float> x(size_t(rows * W)), dy(size_t(rows * d));
    for (float& v : x) v = n(rng);
    for (float& v : dy) v = n(rng);
    Tensor tx = typed(fx.ctx, x, {rows, W}, t), tdy = typed(fx.ctx, dy, {rows, d}, t);
    fx.ctx.dropout_stream = 7;
    StatePtr st;
    Tensor y = layer->forward(fx.ctx, tx, &st);
    Tensor dx = layer->backward(fx.ctx, *st, tdy, true);
    return {values(y), values(dx)};
}

// max |a - b| over max |b|.
double rel(const std::vector<double>& a, const std::vector<double>& b) {
    double diff = 0.0, top = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        top = std::max(top, std::abs(b[i]));
    }
    return top > 0 ? diff / top : diff;
}

void add_cases() {
    QTest::addColumn<int>("B");
    QTest::addColumn<int>("T");
    QTest::addColumn<int>("H");
    QTest::addColumn<int>("Hk");
    QTest::addColumn<int>("hd");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<double>("p");
    QTest::addColumn<double>("rope");
    // One token; one partial tile; exactly one tile; three tiles, the last partial; grouped-query
    // with rotary positions and dropout across tiles; odd head sizes.
    QTest::newRow("T 1") << 1 << 1 << 1 << 1 << 8 << false << 0.0 << 0.0;
    QTest::newRow("T 7 causal") << 2 << 7 << 3 << 3 << 5 << true << 0.0 << 0.0;
    QTest::newRow("T 64 bidirectional") << 1 << 64 << 2 << 2 << 16 << false << 0.0 << 0.0;
    QTest::newRow("T 150 causal") << 2 << 150 << 2 << 2 << 32 << true << 0.0 << 0.0;
    QTest::newRow("T 150 bidirectional, dropout 0.2") << 1 << 150 << 3 << 3 << 12 << false << 0.2 << 0.0;
    QTest::newRow("T 150 causal, dropout 0.5") << 2 << 150 << 2 << 2 << 16 << true << 0.5 << 0.0;
    QTest::newRow("T 100 grouped-query 4/2, rotary") << 2 << 100 << 4 << 2 << 16 << true << 0.0 << 10000.0;
    QTest::newRow("T 130 grouped-query 6/1, rotary, dropout 0.1") << 1 << 130 << 6 << 1 << 8 << true << 0.1 << 500000.0;
    QTest::newRow("T 33 hd 6 rotary") << 2 << 33 << 4 << 4 << 6 << false << 0.0 << 10000.0;
}

Case fetch_case() {
    QFETCH(int, B);
    QFETCH(int, T);
    QFETCH(int, H);
    QFETCH(int, Hk);
    QFETCH(int, hd);
    QFETCH(bool, causal);
    QFETCH(double, p);
    QFETCH(double, rope);
    return {B, T, H, Hk, hd, causal, p, rope};
}

}  // namespace

class TestFlashAttention : public QObject {
    Q_OBJECT

private slots:
    void matchesEagerInF32_data() { add_cases(); }
    // The same function of the same inputs, summed in another order: within 1e-5 of the largest
    // entry. A different dropout mask, a missing causal term or a wrong group would be O(1).
    void matchesEagerInF32() {
        const Case c = fetch_case();
        const Outputs e = run(c, AttentionImpl::eager, ElemType::f32), f = run(c, AttentionImpl::flash, ElemType::f32);
        QVERIFY2(rel(f.y, e.y) <= 1e-5, qPrintable(QString("output off by %1 of its largest entry").arg(rel(f.y, e.y))));
        QVERIFY2(rel(f.dx, e.dx) <= 1e-5,
                 qPrintable(QString("input gradient off by %1 of its largest entry").arg(rel(f.dx, e.dx))));
    }

    void sixteenBitAsAccurateAsEager_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("p");
        for (ElemType t : {ElemType::bf16, ElemType::f16})
            for (double p : {0.0, 0.2})
                QTest::newRow(qPrintable(QString("%1, dropout %2").arg(t == ElemType::bf16 ? "bf16" : "f16").arg(p)))
                    << int(t) << p;
    }
    // Against eager in f32, flash in 16 bits is off by no more than eager in 16 bits (1.5x its
    // error, for where the roundings fall): both read the same rounded inputs and take 16-bit
    // products with f32 accumulation; flash keeps the scores in f32 where eager rounds them.
    void sixteenBitAsAccurateAsEager() {
        QFETCH(int, type);
        QFETCH(double, p);
        const Case c{2, 150, 4, 2, 32, true, p, 10000.0};
        const ElemType t = ElemType(type);
        const Outputs ref = run(c, AttentionImpl::eager, ElemType::f32);
        const Outputs e16 = run(c, AttentionImpl::eager, t), f16 = run(c, AttentionImpl::flash, t);
        const double ey = rel(e16.y, ref.y), fy = rel(f16.y, ref.y);
        const double ed = rel(e16.dx, ref.dx), fdx = rel(f16.dx, ref.dx);
        qInfo("output: eager %.3g, flash %.3g; gradient: eager %.3g, flash %.3g", ey, fy, ed, fdx);
        QVERIFY2(fy <= 1.5 * ey, qPrintable(QString("output: flash %1 against eager %2").arg(fy).arg(ey)));
        QVERIFY2(fdx <= 1.5 * ed, qPrintable(QString("gradient: flash %1 against eager %2").arg(fdx).arg(ed)));
    }

    // The kept log-sum-exp is log sum_k exp(q.k / sqrt(hd)) over the keys a row sees, in double.
    void logSumExp() {
        const Case c{1, 70, 2, 1, 8, true, 0.0, 0.0};
        Fixture fx;
        fx.ctx.seq = c.T;
        auto layer = make_layer(attention_spec(c, AttentionImpl::flash), fx.ctx, "attn", 0);
        const int64_t W = (c.H + 2 * c.Hk) * c.hd;
        Tensor x = fx.ctx.make({c.T, W});
        std::mt19937 rng(9);
        std::normal_distribution<float> n(0.0f, 2.0f);
        for (int64_t i = 0; i < x.numel(); ++i) x.f()[i] = n(rng);
        StatePtr st;
        layer->forward(fx.ctx, x, &st);
        const std::vector<const Tensor*> kept = st->tensors();
        QCOMPARE(kept.size(), size_t(3));  // qkv, output, lse: no probabilities, no mask
        const Tensor& lse = *kept[2];
        QCOMPARE(lse.shape, (std::vector<int64_t>{1, c.H, c.T}));
        double worst = 0.0;
        for (int64_t h = 0; h < c.H; ++h)
            for (int64_t q = 0; q < c.T; ++q) {
                double sum = 0.0;
                for (int64_t k = 0; k <= q; ++k) {
                    double s = 0.0;
                    for (int64_t i = 0; i < c.hd; ++i) s += double(x.f()[q * W + h * c.hd + i]) * double(x.f()[k * W + c.H * c.hd + i]);
                    sum += std::exp(s / std::sqrt(double(c.hd)));
                }
                worst = std::max(worst, std::abs(double(lse.f()[h * c.T + q]) - std::log(sum)));
            }
        QVERIFY2(worst < 1e-4, qPrintable(QString("lse off by %1").arg(worst)));
    }

    void memory_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("p");
        QTest::addColumn<double>("rope");
        QTest::newRow("f32") << int(ElemType::f32) << 0.0 << 0.0;
        QTest::newRow("f32, dropout, rotary") << int(ElemType::f32) << 0.1 << 10000.0;
        QTest::newRow("bf16, dropout, rotary") << int(ElemType::bf16) << 0.1 << 10000.0;
    }
    // At T = 512 with 4 heads: what forward keeps is the input, the output and 4 B H T bytes of
    // log-sum-exp; its scratch and backward's are exactly scratch.h's formula (rotary copy, slots,
    // D, dQ accumulator); no single allocation reaches half of the B H T^2 f32 probabilities eager
    // keeps (the slots are at most 64 tiles' worth whatever T; the rest grows with T, not T^2).
    void memory() {
        QFETCH(int, type);
        QFETCH(double, p);
        QFETCH(double, rope);
        const ElemType t = ElemType(type);
        const Case c{2, 512, 4, 2, 16, true, p, rope};
        Allocator alloc(cpu_backend(), 0);
        Recorder rec(cpu_backend().clock());
        cpu_backend().clock().start();
        rec.begin(true, nullptr);
        alloc.begin_step(&rec);
        const int64_t rows = c.B * c.T, W = (c.H + 2 * c.Hk) * c.hd, d = c.H * c.hd, es = elem_size(t);
        int64_t kept = 0;
        {
            OpContext ctx{alloc, cpu_backend(), 3};
            ctx.seq = c.T;
            auto layer = make_layer(attention_spec(c, AttentionImpl::flash), ctx, "attn", 0);
            Tensor x = typed(ctx, std::vector<float>(size_t(rows * W), 0.5f), {rows, W}, t);
            StatePtr st;
            Tensor y = layer->forward(ctx, x, &st);
            kept = alloc.live()[int(Category::activation)];
            Tensor dy = typed(ctx, std::vector<float>(size_t(rows * d), 0.25f), {rows, d}, t);
            layer->backward(ctx, *st, dy, true);
        }
        std::vector<MemoryEvent> ev;
        rec.finish(&ev, nullptr);
        QCOMPARE(kept, rows * W * es + rows * d * es + c.B * c.H * c.T * 4);
        const int64_t fwd = flash_scratch(DeviceKind::cpu, c.B, c.T, c.H, c.Hk, c.hd, rope > 0, p > 0, t, true).bytes;
        const int64_t bwd = flash_scratch(DeviceKind::cpu, c.B, c.T, c.H, c.Hk, c.hd, rope > 0, p > 0, t, false).bytes;
        // Allocations in order: input, output, lse, forward scratch, the three kept ones moving to
        // activation; dy, dx, backward scratch.
        std::vector<int64_t> sizes;
        for (const MemoryEvent& e : ev)
            if (e.bytes > 0) sizes.push_back(e.bytes);
        const int64_t in = rows * W * es, out = rows * d * es, lse = c.B * c.H * c.T * 4;
        QCOMPARE(sizes, (std::vector<int64_t>{in, out, lse, fwd, in, out, lse, out, in, bwd}));
        const int64_t probs = c.B * c.H * c.T * c.T * 4;
        for (int64_t s : sizes) QVERIFY2(s < probs / 2, qPrintable(QString("an allocation of %1 bytes").arg(s)));
    }
};

QTEST_GUILESS_MAIN(TestFlashAttention)
#include "tst_flash_attention.moc"
