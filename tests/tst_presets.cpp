// Every preset says in its description what it teaches; this test holds each one to it. The
// presets small enough for a CPU in CI time are measured (real steps, steady state); the big
// ones are checked on the prediction, which equals the measurement to the byte (tst_memory).
// Each row names the sentence of the description it checks, so the words and the numbers
// cannot drift apart, and every preset file must have a row.
#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QtTest>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "ckpt/units.h"
#include "ui/lessons.h"

namespace {

const QString kPresetDir = QStringLiteral(CKPT_SOURCE_DIR "/resources/presets/");

enum class Claim {
    cutsPeakByHalf,      // checkpointing every block at least halves the peak
    cutsPeakBy,          // checkpointing every block cuts the peak by at least `share` of it
    cannotLowerPeak,     // no checkpoint set lowers the peak (the preset's own included)
    selectiveBeatsFull,  // the preset's policy keeps most of full recomputation's saving for a fraction of its work
    selectiveSavesLittle,  // the preset's policy keeps at most `share` of full's saving for at least `work` of its work
    onlyAPlanFits,       // under the lesson's memory limit: none, every:2 and sqrt run out; dp fits, cheaper than all
    sublinear,           // the quoted peaks of none, every block alone and sqrt(n) segments; segments keep far less
    noPlanFits,          // no checkpoint set fits the row's budget
    uncheckedPeak,       // the first size quoted after the sentence is the unchecked peak
    fusedKeepsLess,      // flash against eager: the unchecked peaks quoted; attention_core saves little on flash
                         // (at most `share` of full's saving) and most on eager (at least `work` of it)
};

// "(147.33 MiB to 67.42 MiB)": a description's quoted peaks, unchecked then all checkpointed, the
// first pair at or after `from`.
bool quotedPeaks(const QString& description, qsizetype from, QString* none, QString* all) {
    static const QRegularExpression re(QStringLiteral("\\(([0-9.]+ [KMGT]?i?B) to ([0-9.]+ [KMGT]?i?B)\\)"));
    const QRegularExpressionMatch m = re.match(description, from);
    if (!m.hasMatch()) return false;
    *none = m.captured(1);
    *all = m.captured(2);
    return true;
}

// The preset on every attention layer's eager kernel (the rows that check what eager would do).
ckpt::ModelSpec eagerVariant(ckpt::ModelSpec s) {
    ckpt::set_attention_impl(s, ckpt::AttentionImpl::eager);
    return s;
}

ckpt::ModelSpec load(const QString& preset) {
    auto s = ckpt::load_model_spec((kPresetDir + preset + ".json").toStdString());
    if (!s) qFatal("%s", s.error().message.c_str());
    return *s;
}

ckpt::ModelSpec withFlags(ckpt::ModelSpec s, bool on) {
    for (auto& b : s.blocks) b.checkpoint = on;
    return s;
}

// The steady-state step (the second: optimizer state exists), measured or predicted.
ckpt::StepReport steadyStep(const ckpt::ModelSpec& spec, bool measure, int64_t limit = 0) {
    if (!measure) {
        auto p = ckpt::predict(spec, 2);
        if (!p) qFatal("%s", p.error().message.c_str());
        return *p;
    }
    ckpt::RunSettings settings;
    settings.memory_limit = limit;
    auto s = ckpt::Session::create(spec, settings);
    if (!s) qFatal("%s", s.error().message.c_str());
    ckpt::StepOptions quiet;
    quiet.record_events = false;
    const ckpt::StepReport first = (*s)->step(quiet);
    if (first.status != ckpt::StepStatus::ok) return first;
    return (*s)->step(quiet);
}

// What the checkpointed runs rerun: a block inside a run also its trailing layers.
double recomputeFlops(const ckpt::ModelSpec& s) {
    double t = 0;
    for (double f : ckpt::recompute_flops_as_grouped(s)) t += f;
    return t;
}

QString mib(int64_t b) { return QString::fromStdString(ckpt::format_bytes(b)); }

}  // namespace

class TestPresets : public QObject {
    Q_OBJECT

private slots:
    void everyPresetHasAClaimAndIsCompiledIn() {
        const QStringList files = QDir(kPresetDir).entryList({QStringLiteral("*.json")}, QDir::Files);
        QStringList rows;
        for (const auto& r : table()) rows << r.preset;
        for (const QString& f : files) QVERIFY2(rows.contains(f.chopped(5)), qPrintable(f + " has no claim row here"));
        QFile qrc(QStringLiteral(CKPT_SOURCE_DIR "/resources/checkpointlab.qrc"));
        QVERIFY(qrc.open(QIODevice::ReadOnly));
        const QByteArray listed = qrc.readAll();
        for (const QString& f : files) QVERIFY2(listed.contains("presets/" + f.toUtf8()), qPrintable(f + " is not in the .qrc"));
        for (const ckptui::Lesson& l : ckptui::lessons()) QVERIFY2(files.contains(l.preset + ".json"), qPrintable(l.preset));
    }

    void startupPresetIsQuickAndActivationBound() {
        // "Well under a second on two cores": a step (about three forwards plus a recomputed
        // one) stays under 3 GFLOP, about 150 ms on one busy laptop core at 20 GFLOP/s.
        const ckpt::ModelSpec s = load(ckptui::startupPreset());
        double forward = 0;
        for (double f : ckpt::block_forward_flops(s)) forward += f;
        QVERIFY2(4 * forward < 3e9, qPrintable(QString::number(4 * forward)));
        QCOMPARE(s.optimizer.type, ckpt::OptimizerType::sgd);
    }

    void lesson2SgdHalvesThePeak() {
        // "Switch the optimizer to SGD (no moments) and watch the peak halve instead."
        const ckpt::ModelSpec adamw = load(QStringLiteral("lesson2_optimizer_state"));
        QVERIFY(QString::fromStdString(adamw.description).contains(QLatin1String("watch the peak halve")));
        ckpt::ModelSpec sgd = adamw;
        sgd.optimizer.type = ckpt::OptimizerType::sgd;
        const int64_t a = steadyStep(adamw, true).peak_total, b = steadyStep(sgd, true).peak_total;
        QVERIFY2(b <= a * 0.55 && b >= a * 0.45, qPrintable(mib(b) + " against " + mib(a)));
    }

    // "124,439,808 parameters" in a description is the model's count, to the parameter.
    void quotedParameterCounts() {
        static const QRegularExpression re(QStringLiteral("([0-9]{1,3}(,[0-9]{3})+) parameters"));
        int quoted = 0;
        for (const QString& f : QDir(kPresetDir).entryList({QStringLiteral("*.json")}, QDir::Files)) {
            const ckpt::ModelSpec spec = load(f.chopped(5));
            const QRegularExpressionMatch m = re.match(QString::fromStdString(spec.description));
            if (!m.hasMatch()) continue;
            ++quoted;
            QCOMPARE(m.captured(1), QString::fromStdString(ckpt::format_count(ckpt::parameter_count(spec))));
        }
        QVERIFY(quoted >= 3);
    }

    void claimHolds_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("sentence");
        QTest::addColumn<int>("claim");
        QTest::addColumn<bool>("measure");
        QTest::addColumn<double>("share");  // selectiveBeatsFull: least share of full's saving
        QTest::addColumn<double>("work");   // selectiveBeatsFull: most share of full's recomputation FLOPs
        QTest::addColumn<qint64>("budget");  // noPlanFits
        QTest::addColumn<bool>("eager");     // the claim is about the preset on eager attention
        for (const auto& r : table())
            QTest::newRow(qPrintable(r.preset + (r.eager ? QStringLiteral(", eager attention") : QString())))
                << r.preset << r.sentence << int(r.claim) << r.measure << r.share << r.work << r.budget << r.eager;
    }

    void claimHolds() {
        QFETCH(QString, preset);
        QFETCH(QString, sentence);
        QFETCH(int, claim);
        QFETCH(bool, measure);
        QFETCH(double, share);
        QFETCH(double, work);
        QFETCH(qint64, budget);
        QFETCH(bool, eager);
        const ckpt::ModelSpec file = load(preset);
        const ckpt::ModelSpec spec = eager ? eagerVariant(file) : file;
        // As the window shows it: figures in braces filled in from the engine's dry run.
        const QString description = ckptui::describeModel(spec);
        QVERIFY2(!description.contains(QLatin1Char('{')), qPrintable(description));
        QVERIFY2(description.contains(sentence), qPrintable(description));
        const qsizetype at = description.indexOf(sentence);
        // What the description says the window starts with.
        if (description.contains(QLatin1String("starts checkpointed")))
            for (const auto& b : spec.blocks) QVERIFY2(b.checkpoint, qPrintable(QString::fromStdString(b.name)));
        if (description.contains(QLatin1String("no block checkpointed")))
            for (const auto& b : spec.blocks) QVERIFY(!b.checkpoint);

        const ckpt::StepReport none = steadyStep(withFlags(spec, false), measure);
        QCOMPARE(none.status, ckpt::StepStatus::ok);
        switch (Claim(claim)) {
        case Claim::cutsPeakByHalf:
        case Claim::cutsPeakBy:
        case Claim::noPlanFits: {
            const ckpt::StepReport all = steadyStep(withFlags(spec, true), measure);
            if (Claim(claim) == Claim::cutsPeakByHalf) {
                QVERIFY2(2 * all.peak_total < none.peak_total, qPrintable(mib(all.peak_total) + " vs " + mib(none.peak_total)));
                // Because activations dominate the unchecked peak.
                QVERIFY(2 * none.at_peak[int(ckpt::Category::activation)] > none.peak_total);
            }
            if (Claim(claim) == Claim::cutsPeakBy)
                QVERIFY2(double(all.peak_total) <= (1.0 - share) * double(none.peak_total),
                         qPrintable(mib(all.peak_total) + " vs " + mib(none.peak_total)));
            QString quotedNone, quotedAll;
            if (quotedPeaks(description, at, &quotedNone, &quotedAll)) {
                QCOMPARE(quotedNone, mib(none.peak_total));
                QCOMPARE(quotedAll, mib(all.peak_total));
            }
            if (Claim(claim) == Claim::noPlanFits) {
                auto chain = ckpt::ChainModel::build(spec);
                QVERIFY(chain);
                QVERIFY2(ckpt::minimal_peak(*chain) > budget, qPrintable(mib(ckpt::minimal_peak(*chain))));
                auto table = ckpt::plan_table(spec, ckpt::PlannerKind::dp, budget);
                QVERIFY(table && !table->chosen_candidate());
            }
            break;
        }
        case Claim::cannotLowerPeak: {
            for (const ckpt::ModelSpec& s : {withFlags(spec, true), spec}) {
                const ckpt::StepReport r = steadyStep(s, measure);
                QVERIFY2(r.peak_total >= none.peak_total, qPrintable(mib(r.peak_total) + " < " + mib(none.peak_total)));
            }
            // Not any set: the planner's smallest reachable peak is the unchecked one.
            auto chain = ckpt::ChainModel::build(spec);
            QVERIFY(chain);
            QVERIFY2(ckpt::minimal_peak(*chain) >= none.peak_total, qPrintable(mib(ckpt::minimal_peak(*chain))));
            break;
        }
        case Claim::selectiveBeatsFull:
        case Claim::selectiveSavesLittle: {
            ckpt::ModelSpec full = spec;
            for (auto& b : full.blocks) b.policy = ckpt::BlockSpec::Policy::full;
            const ckpt::StepReport sel = steadyStep(spec, measure), all = steadyStep(full, measure);
            const double savedSel = double(none.peak_total - sel.peak_total), savedFull = double(none.peak_total - all.peak_total);
            QVERIFY(savedFull > 0);
            const QString bytes = QString("%1 of %2").arg(savedSel).arg(savedFull);
            const QString flops = QString("%1 of %2 FLOPs").arg(recomputeFlops(spec)).arg(recomputeFlops(full));
            if (Claim(claim) == Claim::selectiveBeatsFull) {
                QVERIFY2(savedSel >= share * savedFull, qPrintable(bytes));
                QVERIFY2(recomputeFlops(spec) <= work * recomputeFlops(full), qPrintable(flops));
            } else {
                QVERIFY2(savedSel <= share * savedFull, qPrintable(bytes));
                QVERIFY2(recomputeFlops(spec) >= work * recomputeFlops(full), qPrintable(flops));
            }
            break;
        }
        case Claim::uncheckedPeak: {
            static const QRegularExpression size(QStringLiteral("([0-9.]+ [KMGT]?i?B)"));
            const QRegularExpressionMatch m = size.match(description, at);
            QVERIFY(m.hasMatch());
            QCOMPARE(m.captured(1), mib(none.peak_total));
            break;
        }
        case Claim::fusedKeepsLess: {
            // The lesson opens on eager with no block checkpointed; its blocks' policy is attention_core.
            ckpt::ModelSpec flash = spec;
            ckpt::set_attention_impl(flash, ckpt::AttentionImpl::flash);
            const ckpt::StepReport flashNone = steadyStep(withFlags(flash, false), measure);
            QString quotedEager, quotedFlash;
            QVERIFY(quotedPeaks(description, at, &quotedEager, &quotedFlash));
            QCOMPARE(quotedEager, mib(none.peak_total));
            QCOMPARE(quotedFlash, mib(flashNone.peak_total));
            auto saving = [&](const ckpt::ModelSpec& m, const ckpt::StepReport& unchecked, ckpt::BlockSpec::Policy p) {
                ckpt::ModelSpec s = withFlags(m, true);
                for (auto& b : s.blocks) b.policy = p;
                return double(unchecked.peak_total - steadyStep(s, measure).peak_total);
            };
            using P = ckpt::BlockSpec::Policy;
            const double flashCore = saving(flash, flashNone, P::attention_core), flashFull = saving(flash, flashNone, P::full);
            const double eagerCore = saving(spec, none, P::attention_core), eagerFull = saving(spec, none, P::full);
            QVERIFY2(flashCore <= share * flashFull, qPrintable(QString("flash: %1 of %2").arg(flashCore).arg(flashFull)));
            QVERIFY2(eagerCore >= work * eagerFull, qPrintable(QString("eager: %1 of %2").arg(eagerCore).arg(eagerFull)));
            break;
        }
        case Claim::sublinear: {
            // "33.77 MiB with no checkpointing, 17.78 MiB with every block alone and 7.52 MiB with
            // sqrt(n) segments": the three measured steps, to the hundredth of a MiB.
            static const QRegularExpression re(QStringLiteral(
                "([0-9.]+ MiB) with no checkpointing, ([0-9.]+ MiB) with every block alone and ([0-9.]+ MiB) with sqrt\\(n\\) segments"));
            const QRegularExpressionMatch m = re.match(description);
            QVERIFY2(m.hasMatch(), qPrintable(description));
            ckpt::ModelSpec chen = spec;
            auto set = ckpt::parse_checkpoint("sqrt", chen);
            QVERIFY(set);
            ckpt::apply_checkpoint(chen, *set);
            const ckpt::StepReport all = steadyStep(withFlags(spec, true), measure), sqrt = steadyStep(chen, measure);
            QCOMPARE(m.captured(1), mib(none.peak_total));
            QCOMPARE(m.captured(2), mib(all.peak_total));
            QCOMPARE(m.captured(3), mib(sqrt.peak_total));
            // Chen's segments: a run of several blocks recomputed as one, far below every block alone.
            int longest = 0;
            for (const ckpt::BlockRange& r : ckpt::recompute_segments(chen)) longest = std::max(longest, r.size());
            QVERIFY(longest > 1);
            QVERIFY(2 * sqrt.peak_total < all.peak_total);
            break;
        }
        case Claim::onlyAPlanFits: {
            const ckptui::Lesson* lesson = ckptui::findLesson(preset);
            QVERIFY(lesson && lesson->memoryLimit > 0);
            const int64_t limit = lesson->memoryLimit;
            QVERIFY2(description.contains(QStringLiteral("--memory-limit %1MiB").arg(limit >> 20)), qPrintable(description));
            const int n = int(spec.blocks.size());
            for (const char* policy : {"none", "every:2", "sqrt"}) {
                ckpt::ModelSpec s = spec;
                ckpt::apply_checkpoint(s, *ckpt::parse_checkpoint(policy, s));
                QCOMPARE(steadyStep(s, measure, limit).status, ckpt::StepStatus::out_of_memory);
            }
            auto table = ckpt::plan_table(spec, ckpt::PlannerKind::dp, limit);
            QVERIFY(table && table->chosen_candidate());
            const ckpt::Plan& plan = table->chosen_candidate()->plan;
            QVERIFY(plan.checkpointed() < n);
            ckpt::ModelSpec planned = spec;
            ckpt::apply_checkpoint(planned, table->chosen_candidate()->set);
            const ckpt::StepReport fits = steadyStep(planned, measure, limit);
            QCOMPARE(fits.status, ckpt::StepStatus::ok);
            QVERIFY(fits.peak_total <= limit);
            QVERIFY(recomputeFlops(planned) < recomputeFlops(withFlags(spec, true)));
            break;
        }
        }
    }

private:
    struct Row {
        QString preset, sentence;
        Claim claim;
        bool measure;
        double share = 0, work = 0;
        qint64 budget = 0;
        bool eager = false;  // the claim holds for the preset with eager attention
    };
    static QVector<Row> table() {
        return {
            {"lesson1_activations", "Checkpointing every block cuts the peak by more than half", Claim::cutsPeakByHalf, true},
            {"lesson2_optimizer_state", "checkpointing cannot lower the peak", Claim::cannotLowerPeak, true},
            {"lesson3_selective_attention",
             "attention_core keeps over 80% of the bytes that full recomputation saves, for a fraction of its "
             "recomputation work",
             Claim::selectiveBeatsFull, true, 0.8, 0.25},
            {"lesson4_memory_limit", "a memory limit that only a plan fits", Claim::onlyAPlanFits, true},
            {"lesson6_sublinear_memory", "so memory grows as sqrt(n)", Claim::sublinear, true},
            {"textbook_mlp", "Checkpointing saves nothing here", Claim::cannotLowerPeak, true},
            {"tutorial_mlp", "Checkpointing saves nothing here", Claim::cannotLowerPeak, true},
            {"deep_residual_mlp", "no checkpoint plan lowers the peak", Claim::cannotLowerPeak, false},
            {"gpt2_small", "checkpointing cannot lower the peak", Claim::cannotLowerPeak, false},
            {"lesson5_fused_attention", "Compare shows the peak fall", Claim::fusedKeepsLess, true, 0.15, 0.75},
            {"gpt2_small_gpu", "checkpointing every block cuts the predicted peak by over 40%", Claim::cutsPeakBy, false, 0.4},
            {"gpt2_small_gpu", "the unchecked peak is", Claim::uncheckedPeak, false, 0, 0, 0, true},
            {"gpt2_long_context", "saves under 10% of the bytes full recomputation saves", Claim::selectiveSavesLittle, false,
             0.1, 0.7},
            {"gpt2_long_context",
             "keeps over 90% of the bytes full recomputation saves, for under 80% of its recomputation work",
             Claim::selectiveBeatsFull, false, 0.9, 0.8, 0, true},
            {"llama_small", "Checkpointing every layer", Claim::cutsPeakBy, true, 1.0 / 3},
            {"llama_small", "it cuts the peak by over 45%", Claim::cutsPeakBy, true, 0.45, 0, 0, true},
            {"gpt2_124m", "checkpointing every block cuts the predicted peak by over a third", Claim::cutsPeakBy, false, 1.0 / 3},
            {"gpt2_124m", "with eager attention the unchecked peak is", Claim::uncheckedPeak, false, 0, 0, 0, true},
            {"llama3_8b_8k", "No checkpoint plan fits 80 GB", Claim::noPlanFits, false, 0, 0, qint64(80) * 1000 * 1000 * 1000},
            {"llama3_8b_8k", "lowers the predicted peak by a fifth", Claim::cutsPeakBy, false, 0.2},
            {"llama3_8b_8k", "checkpointing every block cuts the predicted peak by more than half", Claim::cutsPeakByHalf, false,
             0, 0, 0, true},
            {"resnet20_cifar", "Checkpointing every block cuts the peak by more than half", Claim::cutsPeakByHalf, true},
            {"resnet50_imagenet", "checkpointing every block cuts the predicted peak by more than half", Claim::cutsPeakByHalf,
             false},
        };
    }
};

QTEST_GUILESS_MAIN(TestPresets)
#include "tst_presets.moc"
