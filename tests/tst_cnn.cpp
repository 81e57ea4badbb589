// The image layers (conv2d, batchnorm2d, max/avg/global-average pooling, flatten) and the
// ResNet-shaped blocks built from them: every backward against central finite differences
// (tst_ops's method and tolerance: |fd - analytic| <= 2e-3 + 1e-2 * |analytic| with h = 1e-2),
// checkpointed gradients and batch norm's running statistics bitwise equal to unchecked ones,
// running statistics moved once per step (a recomputation leaves them alone), kept bytes per
// block against a hand count from the shapes, dry-run predictions equal to the measurement
// per category, and one-line errors for shapes that cannot work.
//
// The hand counts follow engine/src/layers/layer.h: conv2d and max pooling keep their input,
// batchnorm2d its input plus the batch mean and 1/std of each channel (2C floats, not per
// row), ReLU its output, a linear its input; average pooling, global average pooling and
// flatten keep nothing; a tensor kept by two layers counts once, for the first block that
// keeps it; the batch is `input`. Running statistics are `buffer` bytes (2C floats per batch
// norm).
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>

#include "ckpt/layer_traits.h"
#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "core/philox.h"
#include "finite_differences.h"
#include "layers/layer.h"
#include "test_models.h"

using namespace ckpt;

namespace {

using fd::Fixture;
using fd::check;
using fd::dot;
constexpr int64_t F = 4;  // bytes per f32




// One finite-difference case: a layer and the image (B, C, H, W) it takes.
struct Case {
    const char* name;
    LayerSpec layer;
    std::vector<int64_t> in;
};

std::vector<Case> cases() {
    using testmodels::conv;
    using testmodels::pool;
    LayerSpec bn = testmodels::batchnorm(3), bn_plain = testmodels::batchnorm(3);
    bn_plain.bias = false;
    return {
        {"conv2d 3x3 pad 1, bias", conv(4, 6, 3, 1, 1, true), {2, 4, 5, 5}},
        {"conv2d 3x3 stride 2, no padding, no bias", conv(3, 4, 3, 2, 0), {2, 3, 7, 7}},
        {"conv2d 3x3 stride 2 pad 1, groups 2", conv(4, 6, 3, 2, 1, true, 2), {2, 4, 6, 6}},
        {"conv2d 3x3 depthwise (groups = channels)", conv(4, 4, 3, 1, 1, false, 4), {2, 4, 5, 5}},
        {"conv2d 1x1 stride 2 (projection)", conv(4, 5, 1, 2), {2, 4, 6, 6}},
        {"conv2d 7x7 stride 2 pad 3 (ResNet stem)", conv(3, 2, 7, 2, 3), {1, 3, 9, 9}},
        {"batchnorm2d", bn, {3, 3, 4, 4}},
        {"batchnorm2d, no affine", bn_plain, {3, 3, 4, 4}},
        {"maxpool2d 3 stride 2 pad 1", pool(LayerType::maxpool2d, 3, 2, 1), {2, 3, 7, 7}},
        {"maxpool2d 2", pool(LayerType::maxpool2d, 2), {2, 3, 6, 6}},
        {"avgpool2d 3 stride 2 pad 1", pool(LayerType::avgpool2d, 3, 2, 1), {2, 3, 7, 7}},
        {"avgpool2d 2", pool(LayerType::avgpool2d, 2), {2, 3, 6, 6}},
        {"global_avgpool", pool(LayerType::global_avgpool), {2, 3, 5, 4}},
        {"flatten", testmodels::act(LayerType::flatten), {2, 3, 2, 2}},
    };
}

std::unique_ptr<Session> make(const ModelSpec& spec) {
    auto s = Session::create(spec);
    if (!s) qFatal("%s", s.error().message.c_str());
    return std::move(*s);
}

std::vector<int64_t> kept(const StepReport& r) {
    std::vector<int64_t> k;
    for (const BlockReport& b : r.blocks) k.push_back(b.kept_bytes);
    return k;
}

struct Outcome {
    std::vector<uint64_t> checksums;
    std::vector<double> losses;
    std::vector<NamedTensor> tensors;  // gradients and buffers of the last step
};

Outcome run(const ModelSpec& spec, int steps) {
    Outcome o;
    auto session = make(spec);
    for (int s = 0; s < steps; ++s) {
        StepOptions opts;
        opts.capture_tensors = s == steps - 1;
        StepReport r = session->step(opts);
        if (r.status != StepStatus::ok) qFatal("%s", r.message.c_str());
        o.checksums.push_back(r.gradient_checksum);
        o.losses.push_back(r.loss);
        for (NamedTensor& t : r.tensors)
            if (t.name.rfind("grad.", 0) == 0 || t.name.rfind("buffer.", 0) == 0 || t.name == "input")
                o.tensors.push_back(std::move(t));
    }
    return o;
}

const NamedTensor* find(const Outcome& o, const std::string& name) {
    for (const NamedTensor& t : o.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

QString error_of(const ModelSpec& spec) {
    const Result<ModelSpec> r = parse_model_spec(to_json(spec));
    return r ? QString() : QString::fromStdString(r.error().message);
}

}  // namespace

class TestCnn : public QObject {
    Q_OBJECT

private slots:
    void layerGradients_data() {
        QTest::addColumn<int>("which");
        const std::vector<Case> all = cases();
        for (size_t i = 0; i < all.size(); ++i) QTest::newRow(all[i].name) << int(i);
    }

    void layerGradients() {
        QFETCH(int, which);
        const Case c = cases()[size_t(which)];
        Fixture fx;
        std::mt19937 rng(11 + which);
        auto layer = make_layer(c.layer, fx.ctx, "l", philox::kStreamParams);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (Param& p : layer->params())
            for (int64_t i = 0; i < p.value.numel(); ++i) p.value.f()[i] = u(rng);

        Tensor x = fx.ctx.make(c.in);  // (B, C, H, W)
        // Distinct values 0.05 apart, shuffled: no two elements of a pooling window lie within
        // the finite-difference step of each other, so the maximum never changes place.
        std::vector<int64_t> order(size_t(x.numel()));
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        for (int64_t i = 0; i < x.numel(); ++i) x.f()[i] = 0.05f * float(order[size_t(i)]) - 0.025f * float(x.numel());
        if (c.layer.type != LayerType::maxpool2d)
            for (int64_t i = 0; i < x.numel(); ++i) x.f()[i] = 2.0f * u(rng);

        StatePtr saved;
        Tensor y = layer->forward(fx.ctx, x, &saved);
        Tensor r = fx.ctx.make(y.shape);  // dL/dy
        for (int64_t i = 0; i < r.numel(); ++i) r.f()[i] = u(rng);
        Tensor dx = layer->backward(fx.ctx, *saved, r, true);
        QVERIFY(dx);
        QCOMPARE(dx.shape, x.shape);
        // Flatten's gradient is a view of dy: copy before the objective reuses anything.
        std::vector<float> dxv(dx.f(), dx.f() + dx.numel());

        auto objective = [&] { return dot(layer->forward(fx.ctx, x, nullptr), r); };
        QString where;
        double worst = check(objective, x.f(), dxv.data(), x.numel(), &where);
        QVERIFY2(worst <= 1.0, qPrintable("dx " + where));
        for (Param& p : layer->params()) {
            std::vector<float> g = to_host_f32(cpu_backend(), p.grad);
            worst = check(objective, p.value.f(), g.data(), p.value.numel(), &where);
            QVERIFY2(worst <= 1.0, qPrintable(QString::fromStdString(p.name) + " " + where));
        }
    }

    void traitsTableMatchesWhatLayersKeep_data() { layerGradients_data(); }

    void traitsTableMatchesWhatLayersKeep() {
        // The traits table's kept bytes and output shape (what the validator, the GUI and the
        // FLOP counts read) against what each layer's forward really keeps and returns, in f32.
        QFETCH(int, which);
        const Case c = cases()[size_t(which)];
        Fixture fx;
        auto layer = make_layer(c.layer, fx.ctx, "l", philox::kStreamParams);
        Tensor x = fx.ctx.make(c.in);
        std::fill(x.f(), x.f() + x.numel(), 0.5f);
        for (int64_t i = 0; i < x.numel(); i += 3) x.f()[i] = -1.0f;
        StatePtr state;
        const Tensor y = layer->forward(fx.ctx, x, &state);
        QVERIFY(state);
        int64_t kept = 0;
        std::vector<const void*> seen;
        for (const Tensor* t : state->tensors())
            if (*t && std::find(seen.begin(), seen.end(), t->data()) == seen.end()) {
                seen.push_back(t->data());
                kept += t->bytes();
            }
        const LayerTraits& traits = layer_traits(c.layer.type);
        const Features in = Features::image(c.in[1], c.in[2], c.in[3]);
        QCOMPARE(traits.kept_bytes(c.layer, c.in[0], 1, in), kept);
        const Features out = traits.out_features(c.layer, in);
        std::vector<int64_t> want{c.in[0], out.c};
        if (out.is_image()) want.insert(want.end(), {out.h, out.w});
        QCOMPARE(y.shape, want);
        int64_t params = 0;
        for (Param& p : layer->params()) params += p.value.numel();
        QCOMPARE(parameter_count(c.layer), params);
        int64_t buffers = 0;
        for (Param& p : layer->buffers()) buffers += p.value.numel();
        QCOMPARE(buffer_count(c.layer), buffers);
    }

    void outputShapes() {
        // PyTorch's sizes: floor((n + 2p - k) / s) + 1 per side.
        Fixture fx;
        auto conv = make_layer(testmodels::conv(3, 8, 3, 2, 1), fx.ctx, "c", philox::kStreamParams);
        Tensor x = fx.ctx.make({2, 3, 7, 7});
        std::fill(x.f(), x.f() + x.numel(), 0.5f);
        QCOMPARE(conv->forward(fx.ctx, x, nullptr).shape, (std::vector<int64_t>{2, 8, 4, 4}));
        auto mp = make_layer(testmodels::pool(LayerType::maxpool2d, 3, 2, 1), fx.ctx, "m", 0);
        QCOMPARE(mp->forward(fx.ctx, x, nullptr).shape, (std::vector<int64_t>{2, 3, 4, 4}));
        auto gp = make_layer(testmodels::pool(LayerType::global_avgpool), fx.ctx, "g", 0);
        QCOMPARE(gp->forward(fx.ctx, x, nullptr).shape, (std::vector<int64_t>{2, 3, 1, 1}));
    }

    void checkpointedBitwiseIdentical_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<int>("policy");
        QTest::addColumn<int>("variant");  // 1: no ReLU after the adds; 2: with dropout after each first ReLU
        for (const char* p : {"all", "first", "last", "odd", "even"})
            QTest::newRow(p) << QString(p) << int(BlockSpec::Policy::full) << 0;
        QTest::newRow("all, save_matmuls") << QString("all") << int(BlockSpec::Policy::save_matmuls) << 0;
        QTest::newRow("all, no post") << QString("all") << int(BlockSpec::Policy::full) << 1;
        QTest::newRow("all, no post, save_matmuls") << QString("all") << int(BlockSpec::Policy::save_matmuls) << 1;
        QTest::newRow("all, custom (first BN, shortcut conv, post ReLU saved)")
            << QString("all") << int(BlockSpec::Policy::custom) << 0;
        QTest::newRow("odd, dropout") << QString("odd") << int(BlockSpec::Policy::full) << 2;
    }

    void checkpointedBitwiseIdentical() {
        // A ResNet with batch norm everywhere (stem, both paths of the projection block): three
        // steps each way, the gradients, the loss and the running statistics bit for bit.
        QFETCH(QString, pattern);
        QFETCH(int, policy);
        QFETCH(int, variant);
        ModelSpec base = testmodels::resnet(4, 8, {8, 16});
        for (BlockSpec& b : base.blocks) {
            if (variant == 1) b.post.clear();
            if (variant == 2 && b.residual) b.layers.insert(b.layers.begin() + 3, testmodels::dropout(0.2));
            if (BlockSpec::Policy(policy) == BlockSpec::Policy::custom && b.residual) {
                b.layers[1].save = true;
                if (!b.shortcut.empty()) b.shortcut[0].save = true;
                b.post[0].save = true;
            }
        }
        const int n = int(base.blocks.size());
        std::vector<bool> flags(static_cast<size_t>(n), false);
        for (int b = 0; b < n; ++b)
            flags[size_t(b)] = pattern == "all" || (pattern == "first" && b == 0) || (pattern == "last" && b == n - 1) ||
                               (pattern == "odd" && b % 2 == 1) || (pattern == "even" && b % 2 == 0);
        ModelSpec checked = testmodels::with_checkpoints(base, flags);
        for (auto& b : checked.blocks) b.policy = BlockSpec::Policy(policy);
        const Outcome ref = run(base, 3);
        const Outcome got = run(checked, 3);
        QCOMPARE(got.losses, ref.losses);
        QCOMPARE(got.checksums, ref.checksums);
        QCOMPARE(got.tensors.size(), ref.tensors.size());
        int buffers = 0;
        for (size_t i = 0; i < got.tensors.size(); ++i) {
            QCOMPARE(got.tensors[i].name, ref.tensors[i].name);
            buffers += got.tensors[i].name.rfind("buffer.", 0) == 0;
            QVERIFY2(std::memcmp(got.tensors[i].f32.data(), ref.tensors[i].f32.data(), got.tensors[i].f32.size() * 4) == 0,
                     got.tensors[i].name.c_str());
        }
        QCOMPARE(buffers, 2 * 6);  // six batch norms, a mean and a variance each
        if (variant == 2) {  // the masks were replayed: without that the gradients differ
            ModelSpec off = checked;
            off.preserve_rng = false;
            QVERIFY(run(off, 1).checksums[0] != ref.checksums[0]);
        }
        QVERIFY(ref.checksums[0] != 0);
    }

    void runningStatisticsMoveOncePerStep() {
        // Batch norm first on the batch itself, in a checkpointed block: after one step its
        // running mean is momentum * the batch mean and its running variance (1 - momentum) +
        // momentum * the unbiased batch variance, computed here from the dumped input. A second
        // update in the recomputation would give 0.19 * the mean instead of 0.1.
        ModelSpec spec = testmodels::resnet(4, 6, {8});
        spec.blocks[0].layers.insert(spec.blocks[0].layers.begin(), testmodels::batchnorm(3));
        for (bool checkpoint : {false, true}) {
            for (auto& b : spec.blocks) b.checkpoint = checkpoint;
            const Outcome o = run(spec, 1);
            const NamedTensor* x = find(o, "input");
            const NamedTensor* mean = find(o, "buffer.blocks.0.0.running_mean");
            const NamedTensor* var = find(o, "buffer.blocks.0.0.running_var");
            QVERIFY(x && mean && var);
            const int64_t B = 4, C = 3, HW = 36;
            for (int64_t c = 0; c < C; ++c) {
                double s = 0, ss = 0;
                for (int64_t i = 0; i < B; ++i)
                    for (int64_t p = 0; p < HW; ++p) s += x->f32[size_t((i * C + c) * HW + p)];
                const double m = s / double(B * HW);
                for (int64_t i = 0; i < B; ++i)
                    for (int64_t p = 0; p < HW; ++p) {
                        const double d = x->f32[size_t((i * C + c) * HW + p)] - m;
                        ss += d * d;
                    }
                const double unbiased = ss / double(B * HW - 1);
                QVERIFY2(std::fabs(mean->f32[size_t(c)] - 0.1 * m) <= 1e-6 + 1e-5 * std::fabs(0.1 * m),
                         qPrintable(QString("channel %1: %2 against %3").arg(c).arg(mean->f32[size_t(c)]).arg(0.1 * m)));
                QVERIFY2(std::fabs(var->f32[size_t(c)] - (0.9 + 0.1 * unbiased)) <= 1e-5,
                         qPrintable(QString("channel %1: %2 against %3").arg(c).arg(var->f32[size_t(c)]).arg(0.9 + 0.1 * unbiased)));
            }
        }
    }

    void keptBytesHandCount() {
        // stem [conv 3->8, BN, ReLU] on (B, 3, 8, 8); stage0: a basic block 8->8 at stride 1
        // (identity shortcut); stage1: 8->16 at stride 2 with a [conv1x1, BN] shortcut; head
        // [global average pool, flatten, Linear 16->10]; cross-entropy.
        const int64_t B = 4;
        const int64_t a8 = B * 8 * 8 * 8 * F;    // one (B, 8, 8, 8) f32 image
        const int64_t a16 = B * 16 * 4 * 4 * F;  // one (B, 16, 4, 4) f32 image
        const int64_t stats8 = 2 * 8 * F, stats16 = 2 * 16 * F;  // a batch norm's mean and 1/std
        auto s = make(testmodels::resnet(B, 8, {8, 16}));
        StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        // stem: BN's input (conv's output) and stats, ReLU's output (conv keeps the batch: input).
        // stage0: BN1's input, ReLU's output (conv2's input too), BN2's input, the post ReLU's
        // output; conv1 keeps the block input, counted in the stem.
        // stage1: the same four plus the shortcut BN's input and stats (the shortcut conv keeps
        // the block input, counted in stage0).
        // head: the Linear's input, the pooled (B, 16, 1, 1) seen flat (pooling keeps nothing).
        QCOMPARE(kept(r), (std::vector<int64_t>{a8 + stats8 + a8, 4 * a8 + 2 * stats8, 5 * a16 + 3 * stats16, B * 16 * F}));
        QCOMPARE(r.loss_kept_bytes, B * 10 * F);  // softmax output

        // Parameters and buffers, counted from the shapes.
        const int64_t params = 3 * 8 * 9 + 2 * 8                                  // stem conv (no bias), BN
                               + 2 * (8 * 8 * 9 + 2 * 8)                          // stage0
                               + 8 * 16 * 9 + 16 * 16 * 9 + 8 * 16 + 3 * 2 * 16  // stage1: convs, shortcut, 3 BNs
                               + 16 * 10 + 10;                                    // head
        QCOMPARE(r.peak[int(Category::parameter)], params * F);
        QCOMPARE(r.peak[int(Category::buffer)], (8 + 2 * 8 + 3 * 16) * 2 * F);
        QCOMPARE(r.at_peak[int(Category::buffer)], (8 + 2 * 8 + 3 * 16) * 2 * F);

        // All checkpointed: each block keeps its input (the stem's is the batch). stage1's
        // recomputation rematerialises what it kept unchecked.
        s->set_checkpoint({true, true, true, true});
        r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        QCOMPARE(kept(r), (std::vector<int64_t>{0, a8, a8, a16}));
        QCOMPARE(r.blocks[2].recomputed_bytes, 5 * a16 + 3 * stats16);
        QCOMPARE(r.blocks[2].avoided_bytes, 5 * a16 + 3 * stats16 - a8);
        QCOMPARE(r.peak[int(Category::buffer)], (8 + 2 * 8 + 3 * 16) * 2 * F);
    }

    void predictionEqualsMeasurement_data() {
        QTest::addColumn<bool>("checkpoint");
        QTest::newRow("unchecked") << false;
        QTest::newRow("all checkpointed") << true;
    }

    void predictionEqualsMeasurement() {
        QFETCH(bool, checkpoint);
        ModelSpec spec = testmodels::resnet(4, 8, {8, 16});
        for (auto& b : spec.blocks) b.checkpoint = checkpoint;
        auto s = make(spec);
        for (int step = 1; step <= 2; ++step) {
            const StepReport measured = s->step();
            const Result<StepReport> predicted = predict(spec, step);
            QVERIFY(predicted);
            QCOMPARE(predicted->peak, measured.peak);
            QCOMPARE(predicted->peak_total, measured.peak_total);
            QCOMPARE(predicted->at_peak, measured.at_peak);
            QCOMPARE(kept(*predicted), kept(measured));
        }
    }

    void impossibleShapesAreOneLineErrors_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("expected");
        QTest::newRow("kernel larger than the image") << 0 << "blocks[0].layers[0].kernel: a 12 x 12 window does not fit the 10 x 10 padded image";
        QTest::newRow("groups") << 1 << "blocks[0].layers[0].groups: 3 groups do not divide 3 input and 8 output channels";
        QTest::newRow("channels") << 2 << "blocks[1].layers[0].in_channels: expected 8 (the channels coming in), got 4";
        QTest::newRow("batchnorm channels") << 3 << "blocks[0].layers[1].channels: expected 8 (the channels coming in), got 7";
        QTest::newRow("linear on an image") << 4 << "takes flat features, but an image (16, 4, 4) comes in (add a flatten before it)";
        QTest::newRow("ends in an image") << 5 << "loss: the model ends in an image (16, 1, 1)";
        QTest::newRow("shortcut shape") << 6 << "blocks[2].shortcut: ends in (16, 8, 8) but the layers end in (16, 4, 4)";
        QTest::newRow("identity shortcut, new shape") << 7 << "blocks[2].residual: output features (16, 4, 4) differ from input features (8, 8, 8)";
        QTest::newRow("pool padding") << 8 << "blocks[3].layers[0].padding: must be at most half the kernel (1), got 2";
        QTest::newRow("conv on flat features") << 9 << "takes an image (C, H, W), but 12 flat features come in";
        QTest::newRow("batch norm of one value") << 10 << "blocks[3].layers[1].type: batch norm needs more than one value per channel";
    }

    void impossibleShapesAreOneLineErrors() {
        QFETCH(int, which);
        QFETCH(QString, expected);
        ModelSpec s = testmodels::resnet(2, 8, {8, 16});
        switch (which) {
        case 0: s.blocks[0].layers[0].kernel = 12; break;
        case 1: s.blocks[0].layers[0].groups = 3; break;
        case 2: s.blocks[1].layers[0].in = 4; break;
        case 3: s.blocks[0].layers[1].dim = 7; break;
        case 4: s.blocks[3].layers.erase(s.blocks[3].layers.begin(), s.blocks[3].layers.begin() + 2); break;
        case 5: s.blocks[3].layers.resize(1); break;
        case 6: s.blocks[2].shortcut[0].stride = 1; break;
        case 7: s.blocks[2].shortcut.clear(); break;
        case 8: s.blocks[3].layers[0] = testmodels::pool(LayerType::avgpool2d, 3, 1, 2); break;
        case 9:
            s.input_shape = {2, 12};
            s.blocks.resize(1);
            break;
        case 10:  // after global pooling, a batch of one leaves one value per channel
            s.input_shape[0] = 1;
            s.blocks[3].layers.insert(s.blocks[3].layers.begin() + 1, testmodels::batchnorm(16));
            break;
        }
        const QString message = error_of(s);
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY(!message.contains('\n'));
    }

    void presetParameterCounts() {
        // The shipped ResNets against arithmetic on the published architectures (no torchvision
        // here): a convolution has out * in * k * k weights (no bias before a batch norm), a
        // batch norm 2C, a linear in * out + out.
        auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k * k; };
        auto bn = [](int64_t c) { return 2 * c; };
        // ResNet-50: stem 7x7 3->64; bottlenecks [1x1 in->m, 3x3 m->m, 1x1 m->4m], a BN after
        // each, a projection [1x1 in->4m, BN] in each stage's first block; fc 2048 -> 1000.
        int64_t r50 = conv(3, 64, 7) + bn(64), in = 64;
        for (auto [m, n] : {std::pair{64, 3}, {128, 4}, {256, 6}, {512, 3}})
            for (int i = 0; i < n; ++i) {
                r50 += conv(in, m, 1) + bn(m) + conv(m, m, 3) + bn(m) + conv(m, 4 * m, 1) + bn(4 * m);
                if (i == 0) r50 += conv(in, 4 * m, 1) + bn(4 * m);
                in = 4 * m;
            }
        r50 += 2048 * 1000 + 1000;
        QCOMPARE(r50, int64_t(25557032));  // torchvision's resnet50()
        // ResNet-20: stem 3x3 3->16; three stages of three basic blocks [3x3, BN, 3x3, BN] at
        // 16, 32, 64 channels, a projection [1x1, BN] where the width doubles; fc 64 -> 10.
        int64_t r20 = conv(3, 16, 3) + bn(16);
        in = 16;
        for (int64_t w : {16, 32, 64})
            for (int i = 0; i < 3; ++i) {
                r20 += conv(in, w, 3) + bn(w) + conv(w, w, 3) + bn(w);
                if (in != w) r20 += conv(in, w, 1) + bn(w);
                in = w;
            }
        r20 += 64 * 10 + 10;
        for (auto [preset, count] : {std::pair{"resnet50_imagenet", r50}, {"resnet20_cifar", r20}}) {
            auto spec = load_model_spec(std::string(CKPT_SOURCE_DIR "/resources/presets/") + preset + ".json");
            QVERIFY2(spec, preset);
            QCOMPARE(parameter_count(*spec), count);
        }
        QCOMPARE(r20, int64_t(272474));
    }

    void mixedPrecisionRuns() {
        // bf16-mixed: convolutions in bf16 (their weights' copies are weight_cast), batch norm's
        // statistics, parameters and buffers in f32; the step trains and predictions still equal
        // the measurement.
        ModelSpec spec = testmodels::resnet(4, 8, {8, 16});
        spec.precision = Precision::bf16_mixed;
        auto s = make(spec);
        const StepReport r = s->step();
        QCOMPARE(r.status, StepStatus::ok);
        QVERIFY(std::isfinite(r.loss));
        QVERIFY(r.peak[int(Category::weight_cast)] > 0);
        QCOMPARE(r.peak[int(Category::buffer)], (8 + 2 * 8 + 3 * 16) * 2 * F);
        const Result<StepReport> predicted = predict(spec, 1);
        QVERIFY(predicted);
        QCOMPARE(predicted->at_peak, r.at_peak);
        QCOMPARE(kept(*predicted), kept(r));
    }
};

QTEST_GUILESS_MAIN(TestCnn)
#include "tst_cnn.moc"
