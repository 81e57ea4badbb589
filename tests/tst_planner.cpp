// The planner's facts: the chain model's peak equals the executor's dry-run peak for every
// checkpoint set of small real models; the prediction equals a real run to the byte, per
// category, on 200 random stacks and policies; the dynamic program matches exhaustive search
// over all 2^n sets on random chains (cost and feasibility) and never exceeds its budget; an
// infeasible budget names the smallest feasible one; and a memory limit between the planned and
// the unchecked peaks makes the unchecked run fail and the planned run succeed.
#include <QtTest>

#include <atomic>
#include <cmath>
#include <random>

#include "ckpt/names.h"
#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "plan/chain_dp.h"
#include "plan/chain_segments.h"
#include "test_models.h"

using namespace ckpt;

namespace {

std::vector<bool> flags_of(unsigned mask, int n) {
    std::vector<bool> c(static_cast<size_t>(n));
    for (int b = 0; b < n; ++b) c[size_t(b)] = (mask >> b) & 1u;
    return c;
}

// Many rows, narrow layers, no optimizer state: activations decide the peak, so checkpoint
// sets differ in it.
ModelSpec activation_bound() {
    ModelSpec s = testmodels::deep_residual(9, 512, 16);
    s.optimizer.type = OptimizerType::none;
    return s;
}

// A random stack: widths, activations, layernorm, dropout, residual blocks, both losses.
ModelSpec random_stack(std::mt19937& rng) {
    auto pick = [&](int n) { return int(rng() % unsigned(n)); };
    ModelSpec s;
    s.name = "random";
    const int64_t widths[] = {4, 8, 12, 16};
    int64_t f = widths[pick(4)];
    s.input_shape = pick(2) ? std::vector<int64_t>{int64_t(1 + pick(6)), f}
                            : std::vector<int64_t>{int64_t(1 + pick(3)), int64_t(1 + pick(4)), f};
    s.loss = pick(2) ? LossType::mse : LossType::cross_entropy;
    s.optimizer.type = OptimizerType(pick(3));
    s.optimizer.momentum = pick(2) ? 0.9 : 0.0;
    s.seed = rng();
    const int blocks = 1 + pick(6);
    for (int b = 0; b < blocks; ++b) {
        BlockSpec blk;
        blk.name = "b" + std::to_string(b);
        blk.residual = pick(3) == 0;
        blk.checkpoint = pick(2);
        const int64_t in = f;
        const int layers = 1 + pick(4);
        for (int l = 0; l < layers; ++l) {
            switch (pick(6)) {
            case 0: {
                const int64_t out = (blk.residual && l == layers - 1) ? in : widths[pick(4)];
                blk.layers.push_back(testmodels::linear(f, out, pick(4) != 0));
                f = out;
                break;
            }
            case 1: blk.layers.push_back(testmodels::act(LayerType::relu)); break;
            case 2: blk.layers.push_back(testmodels::act(LayerType::gelu)); break;
            case 3: blk.layers.push_back(testmodels::act(LayerType::tanh)); break;
            case 4: { auto ln = testmodels::layernorm(f); ln.bias = pick(2); blk.layers.push_back(ln); break; }
            default: blk.layers.push_back(testmodels::dropout(0.25)); break;
            }
        }
        if (blk.residual && f != in) blk.layers.push_back(testmodels::linear(f, in));
        f = in == f || !blk.residual ? f : in;
        s.blocks.push_back(blk);
    }
    return s;
}

// A random chain model with arbitrary segment effects: the DP must be exact for any numbers.
ChainModel random_chain(std::mt19937& rng, int n) {
    ChainModel m;
    std::uniform_int_distribution<int64_t> small(0, 1000), signed_small(-400, 600);
    m.start = 5000;
    m.end = 5200;
    m.before_peak = 5000;
    m.optimizer_peak = 5300;
    for (int b = 0; b <= n; ++b) {
        WindowEffect f, k;
        for (int i = 0; i < 4; ++i) {
            f.end[size_t(i)] = signed_small(rng);
            f.peak[size_t(i)] = std::max<int64_t>(0, f.end[size_t(i)]) + small(rng);
            k.end[size_t(i)] = -signed_small(rng);
            k.peak[size_t(i)] = std::max<int64_t>(0, k.end[size_t(i)]) + small(rng);
        }
        m.forward.push_back(f);
        m.backward.push_back(k);
    }
    std::uniform_real_distribution<double> cost(1.0, 100.0);
    for (int b = 0; b < n; ++b) m.cost.push_back(cost(rng));
    m.forward_cost = m.cost;
    return m;
}

// Every checkpoint set of n blocks given as runs: each block unchecked or in a run of any length
// (runs side by side are distinct sets: they recompute apart).
void all_run_sets(int n, std::vector<std::vector<BlockRange>>& out, std::vector<BlockRange>& now, int b = 0) {
    if (b == n) {
        out.push_back(now);
        return;
    }
    all_run_sets(n, out, now, b + 1);  // block b unchecked
    for (int e = b; e < n; ++e) {
        now.push_back({b, e});
        all_run_sets(n, out, now, e + 1);
        now.pop_back();
    }
}

std::vector<std::vector<BlockRange>> all_run_sets(int n) {
    std::vector<std::vector<BlockRange>> out;
    std::vector<BlockRange> now;
    all_run_sets(n, out, now);
    return out;
}

// A stack of up to `most` blocks of mixed kinds: MLP blocks of several widths, residual ones,
// attention, dropout, selective policies (on token input when attention is in it).
ModelSpec mixed_stack(std::mt19937& rng, int most) {
    auto pick = [&](int n) { return int(rng() % unsigned(n)); };
    ModelSpec s;
    s.name = "mixed";
    const int64_t d = 8;
    s.input_shape = {2, 3, d};
    s.loss = pick(2) ? LossType::mse : LossType::cross_entropy;
    s.optimizer.type = OptimizerType(pick(3));
    s.seed = rng();
    const int blocks = 2 + pick(most - 1);
    for (int b = 0; b < blocks; ++b) {
        BlockSpec blk;
        blk.name = "b" + std::to_string(b);
        blk.policy = BlockSpec::Policy(pick(3));
        switch (pick(4)) {
        case 0:
            blk.residual = true;
            blk.layers = {testmodels::layernorm(d), testmodels::linear(d, 3 * d), testmodels::attention(2, true, 0.2),
                          testmodels::linear(d, d), testmodels::dropout(0.1)};
            break;
        case 1:
            blk.residual = true;
            blk.layers = {testmodels::layernorm(d), testmodels::linear(d, 4 * d), testmodels::act(LayerType::gelu),
                          testmodels::linear(4 * d, d)};
            break;
        case 2: blk.layers = {testmodels::linear(d, 2 * d), testmodels::act(LayerType::relu), testmodels::linear(2 * d, d)}; break;
        default: blk.layers = {testmodels::act(LayerType::tanh), testmodels::dropout(0.3)}; break;
        }
        s.blocks.push_back(blk);
    }
    return s;
}

// A ResNet whose blocks end in their residual add and checkpoint selectively.
ModelSpec resnet_variant() {
    ModelSpec s = testmodels::resnet(4, 8, {8, 16, 32});
    for (BlockSpec& b : s.blocks) {
        b.post.clear();
        b.policy = BlockSpec::Policy::save_matmuls;
    }
    return s;
}

// A chain of n copies of one random block (the first block and the loss differ): the shape a
// model with "repeat" has, where the dynamic program's labels line up in runs. `tied`: the
// backward frees what the forward kept plus a constant (residual blocks); `whole`: costs are
// whole numbers (FLOPs) or not (measured times, where runs are not formed).
ChainModel identical_chain(std::mt19937& rng, int n, bool tied, bool whole) {
    const ChainModel one = random_chain(rng, 2);
    ChainModel m = one;
    m.forward.assign(size_t(n) + 1, one.forward[1]);
    m.backward.assign(size_t(n) + 1, one.backward[1]);
    m.forward[0] = one.forward[0];
    m.backward[0] = one.backward[0];
    m.forward[size_t(n)] = one.forward[2];
    m.backward[size_t(n)] = one.backward[2];
    if (tied) {
        for (int b = 0; b < n; ++b) {
            WindowEffect& k = m.backward[size_t(b)];
            for (size_t i = 0; i < 4; ++i) {
                k.end[i] = 300 - m.forward[size_t(b)].end[i];
                k.peak[i] = std::max<int64_t>(0, k.end[i]) + 50 * int64_t(i);
            }
        }
    }
    const double c = whole ? double(1 + rng() % 50u) : 0.1 * double(1 + rng() % 50u);
    m.cost.assign(size_t(n), c);
    m.forward_cost = m.cost;
    return m;
}

}  // namespace

class TestPlanner : public QObject {
    Q_OBJECT

private slots:
    void chainModelEqualsDryRun_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("textbook") << 0;
        QTest::newRow("tutorial") << 1;
        QTest::newRow("dropout_mlp") << 2;
        QTest::newRow("deep_residual 6 blocks") << 3;
        QTest::newRow("resnet (projection shortcuts, batch norm)") << 4;
        QTest::newRow("resnet, selective (save_matmuls), no ReLU after the adds") << 5;
        for (int i = 0; i < 8; ++i) QTest::newRow(qPrintable(QString("random stack %1").arg(i))) << 10 + i;
    }

    void chainModelEqualsDryRun() {
        QFETCH(int, which);
        std::mt19937 rng{unsigned(which)};
        const ModelSpec spec = which == 0 ? testmodels::textbook(8, 64)
                             : which == 1 ? testmodels::tutorial()
                             : which == 2 ? testmodels::dropout_mlp()
                             : which == 3 ? testmodels::deep_residual(6, 16, 32)
                             : which == 4 ? testmodels::resnet(4, 8, {8, 16, 16, 32})
                             : which == 5 ? resnet_variant()
                                          : random_stack(rng);
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY2(m, m ? "" : m.error().message.c_str());
        const int n = int(spec.blocks.size());
        for (unsigned mask = 0; mask < (1u << n); ++mask) {
            const auto c = flags_of(mask, n);
            Result<StepReport> r = predict(testmodels::with_checkpoints(spec, c), 2);
            QVERIFY(r);
            QVERIFY2(m->peak(c) == r->peak_total,
                     qPrintable(QString("mask %1: chain %2, dry run %3").arg(mask).arg(m->peak(c)).arg(r->peak_total)));
            // And where: the allocation that first reaches the peak.
            const MemoryTag t = m->peak_tag(c);
            QVERIFY2(t.block == r->peak_tag.block && t.layer == r->peak_tag.layer && t.phase == r->peak_tag.phase &&
                         t.category == r->peak_tag.category,
                     qPrintable(QString("mask %1: chain block %2 layer %3 phase %4, dry run block %5 layer %6 phase %7")
                                    .arg(mask).arg(t.block).arg(t.layer).arg(int(t.phase)).arg(r->peak_tag.block)
                                    .arg(r->peak_tag.layer).arg(int(r->peak_tag.phase))));
        }
    }

    void predictionEqualsMeasurementOnRandomStacks() {
        std::mt19937 rng(2024);
        for (int i = 0; i < 200; ++i) {
            const ModelSpec spec = random_stack(rng);
            if (Status st = validate_model_spec(spec); !st) QFAIL(st.message().c_str());
            auto s = Session::create(spec);
            QVERIFY2(s, s ? "" : s.error().message.c_str());
            for (int step = 1; step <= 2; ++step) {
                const StepReport measured = (*s)->step();
                QCOMPARE(measured.status, StepStatus::ok);
                const Result<StepReport> predicted = predict(spec, step);
                QVERIFY(predicted);
                QVERIFY2(predicted->peak == measured.peak, qPrintable(QString("case %1 step %2").arg(i).arg(step)));
                QCOMPARE(predicted->peak_total, measured.peak_total);
                QCOMPARE(predicted->at_peak, measured.at_peak);
            }
        }
    }

    void dpMatchesExhaustiveSearch() {
        std::mt19937 rng(99);
        int feasible = 0, infeasible = 0;
        for (int trial = 0; trial < 60; ++trial) {
            const int n = 1 + int(rng() % 16u);
            const ChainModel m = random_chain(rng, n);
            int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
            for (unsigned mask = 0; mask < (1u << n); ++mask) {
                const int64_t p = m.peak(flags_of(mask, n));
                lo = std::min(lo, p);
                hi = std::max(hi, p);
            }
            QCOMPARE(minimal_peak(m), lo);
            for (int64_t budget : {lo - 1, lo, (lo + hi) / 2, lo + (hi - lo) / 5, hi}) {
                double best = std::numeric_limits<double>::infinity();
                for (unsigned mask = 0; mask < (1u << n); ++mask) {
                    const auto c = flags_of(mask, n);
                    if (m.peak(c) <= budget) best = std::min(best, m.recompute_cost(c));
                }
                Result<Plan> p = plan_optimal(m, budget);
                QCOMPARE(bool(p), std::isfinite(best));
                if (!p) {
                    ++infeasible;
                    QVERIFY(QString::fromStdString(p.error().message).contains(QString::number(lo)));
                    continue;
                }
                ++feasible;
                QVERIFY(p->predicted_peak <= budget);
                QCOMPARE(p->predicted_peak, m.peak(p->checkpoint));
                QVERIFY2(std::fabs(p->recompute_cost - best) < 1e-9,
                         qPrintable(QString("n %1: dp %2, exhaustive %3").arg(n).arg(p->recompute_cost).arg(best)));
            }
        }
        QVERIFY(feasible > 100 && infeasible > 10);
    }

    // The run pruning (chain_dp.cpp) on chains of identical blocks, forced on for every label
    // set, against exhaustive search: the same least cost and feasibility, a set within budget.
    void runsMatchExhaustiveSearch() {
        std::mt19937 rng(7);
        int checked = 0;
        for (int trial = 0; trial < 120; ++trial) {
            const int n = 1 + int(rng() % 14u);
            const ChainModel m = identical_chain(rng, n, trial % 2 == 0, trial % 3 != 0);
            int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
            for (unsigned mask = 0; mask < (1u << n); ++mask) {
                const int64_t p = m.peak(flags_of(mask, n));
                lo = std::min(lo, p);
                hi = std::max(hi, p);
            }
            QCOMPARE(minimal_peak(m), lo);
            for (int64_t budget : {lo - 1, lo, lo + (hi - lo) / 4, (lo + hi) / 2, hi}) {
                double best = std::numeric_limits<double>::infinity();
                for (unsigned mask = 0; mask < (1u << n); ++mask) {
                    const auto c = flags_of(mask, n);
                    if (m.peak(c) <= budget) best = std::min(best, m.recompute_cost(c));
                }
                Result<dp::Solution> s = dp::solve(m, budget, true, true, /*run_threshold=*/0);
                QVERIFY(s);
                QCOMPARE(s->feasible, std::isfinite(best));
                if (!s->feasible) continue;
                QVERIFY(m.peak(s->checkpoint) <= budget);
                QVERIFY2(std::fabs(m.recompute_cost(s->checkpoint) - best) < 1e-9,
                         qPrintable(QString("n %1: runs %2, exhaustive %3").arg(n).arg(s->cost).arg(best)));
                ++checked;
            }
        }
        QVERIFY(checked > 300);
    }

    // Long chains of identical blocks from real specs (residual, plain, with dropout, with
    // selective checkpointing): runs and label-by-label pruning agree on the cost, and the runs
    // stay at one per state and block (the bound chain_dp.cpp states), where label by label
    // holds up to a label per checkpointed block.
    void runsStayFewOnLongChains_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("residual MLP") << 0;
        QTest::newRow("linear gelu") << 1;
        QTest::newRow("linear gelu dropout") << 2;
        QTest::newRow("residual, save_matmuls") << 3;
    }

    void runsStayFewOnLongChains() {
        QFETCH(int, which);
        const int n = 1500;
        // Parameters about as large as activations (as in bench_planner): the budget binds late in
        // the chain, so early blocks have many checkpoint counts open and label sets are wide.
        ModelSpec spec = testmodels::deep_residual(n, 128, 128, 0.1);
        spec.optimizer = OptimizerSpec{};  // plain SGD: no state, the optimizer phase is not the peak
        if (which == 1 || which == 2) {
            for (BlockSpec& b : spec.blocks) {
                b.residual = false;
                b.layers = {testmodels::linear(128, 128), testmodels::act(LayerType::gelu)};
                if (which == 2) b.layers.push_back(testmodels::dropout(0.1));
            }
        }
        if (which == 3)
            for (BlockSpec& b : spec.blocks) b.policy = BlockSpec::Policy::save_matmuls;
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY2(m, m ? "" : m.error().message.c_str());
        const int64_t lo = minimal_peak(*m), hi = m->peak(std::vector<bool>(size_t(n), false));
        QVERIFY(lo < hi);
        for (int64_t budget : {lo, lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3}) {
            Result<dp::Solution> runs = dp::solve(*m, budget, true);
            Result<dp::Solution> labels = dp::solve(*m, budget, true, true, std::numeric_limits<size_t>::max());
            QVERIFY(runs && labels);
            QVERIFY(runs->feasible && labels->feasible);
            QCOMPARE(runs->cost, labels->cost);
            QVERIFY(m->peak(runs->checkpoint) <= budget);
            QCOMPARE(m->recompute_cost(runs->checkpoint), runs->cost);
            QVERIFY2(runs->runs_held <= 2 * size_t(n + 1),
                     qPrintable(QString("%1 runs for %2 blocks").arg(runs->runs_held).arg(n)));
            if (budget > lo)  // (at the smallest peak every label set is narrow anyway)
                QVERIFY2(runs->work * 20 < labels->work, qPrintable(QString("work: runs %1, labels %2")
                                                                      .arg(runs->work).arg(labels->work)));
        }
    }

    // Alternating block kinds with unrelated costs can make the exact Pareto sets grow with the
    // square of the chain: the planner stops at its limit with an error naming it, in bounded
    // time, and the plan table says so instead of choosing without the optimum.
    void plannerLimitIsAnError() {
        ModelSpec spec = testmodels::deep_residual(3000, 16, 32, 0.0);
        for (size_t b = 0; b < spec.blocks.size(); b += 2)
            spec.blocks[b].layers = {testmodels::layernorm(32), testmodels::linear(32, 32), testmodels::act(LayerType::tanh)};
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY(m);
        const int64_t lo = minimal_peak(*m), hi = m->peak(std::vector<bool>(spec.blocks.size(), false));
        QElapsedTimer timer;
        timer.start();
        Result<Plan> p = plan_optimal(*m, lo + (hi - lo) / 2);
        QVERIFY(!p);
        QCOMPARE(p.error().kind, ErrorKind::bad_input);
        QVERIFY2(p.error().message.find("(the planner's limit)") != std::string::npos, p.error().message.c_str());
        QVERIFY2(timer.elapsed() < 60000, qPrintable(QString("%1 ms").arg(timer.elapsed())));
        Result<PlanTable> t = plan_table(spec, PlannerKind::dp, lo + (hi - lo) / 2);
        QVERIFY(!t);
        QCOMPARE(t.error().message, p.error().message);
    }

    // A planning job is bounded as a whole (PlanLimits), not only each of its programs: the
    // Pareto sweep of 2,000 blocks with measured (random) times, which once took 54 s, stops at
    // the job's bound with the plans found so far and says why; a stop flag ends a sweep or a
    // plan at once, and the plan table answers "stopped".
    void planningJobsAreBoundedAndStop() {
        const ModelSpec spec = testmodels::deep_residual(2000, 16, 32, 0.0);
        std::mt19937 rng(7);
        std::vector<double> forward;
        for (size_t b = 0; b < spec.blocks.size(); ++b) forward.push_back(double(1000 + rng() % 100000));
        Result<ChainModel> m = ChainModel::build(spec, forward);
        QVERIFY(m);
        PlanLimits bounded;
        bounded.max_work = 5000000;
        const ParetoSweep cut = pareto_sweep(*m, 16, &bounded);
        QVERIFY2(cut.cut_short.find("the bound of one planning job") != std::string::npos, cut.cut_short.c_str());
        QVERIFY2(cut.cut_short.rfind("the sweep stopped ", 0) == 0, cut.cut_short.c_str());
        QVERIFY(cut.points.size() >= 2);  // none, all and the fixed patterns at least
        QVERIFY(bounded.work > bounded.max_work);  // it ran to the bound, then stopped
        std::atomic<bool> stop{true};
        PlanLimits stopped;
        stopped.stop = &stop;
        const ParetoSweep none = pareto_sweep(*m, 16, &stopped);
        QVERIFY2(none.cut_short.find("planning stopped") != std::string::npos, none.cut_short.c_str());
        QVERIFY(none.points.size() >= 2);
        QCOMPARE(stopped.work, uint64_t(0));
        Result<PlanTable> table = plan_table(spec, PlannerKind::dp, m->peak(std::vector<bool>(2000, false)) - 1, forward,
                                             DeviceKind::cpu, &stopped);
        QVERIFY(!table);
        QCOMPARE(table.error().kind, ErrorKind::stopped);
    }

    // Past seg::kMaxBlocks the segment search is refused at once, in one line naming the limit,
    // and `plan` (dp) keeps its per-block optimum and says why segments are absent (at 10,000
    // blocks the search once ran 4.8 s and 880 MiB before its label limit stopped it).
    void segmentSearchRefusesVeryLongChainsAtOnce() {
        const int n = seg::kMaxBlocks + 1;
        const ModelSpec spec = testmodels::deep_residual(n, 4, 8, 0.0);
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY(m);
        const int64_t budget = (m->peak(std::vector<bool>(size_t(n), false)) + minimal_peak(*m)) / 2;
        PlanLimits limits;
        Result<Plan> p = plan_segments(*m, budget, &limits);
        QVERIFY(!p);
        QVERIFY2(p.error().message.find("chains of up to 4096 blocks, this one has 4097") != std::string::npos,
                 p.error().message.c_str());
        QCOMPARE(limits.work, uint64_t(0));  // refused before any work
        Result<PlanTable> table = plan_table(spec, PlannerKind::dp, budget);
        QVERIFY(table && table->chosen_candidate());
        QVERIFY(table->per_block >= 0 && table->segments < 0);  // dp's optimum listed, no segment plan
        QVERIFY2(table->comparison().find("4096 blocks") != std::string::npos, table->comparison().c_str());
    }

    void plannedRunFitsWhereUncheckedDoesNot() {
        // Activations dominate: many rows, narrow layers, no optimizer state.
        ModelSpec spec = testmodels::deep_residual(8, 1024, 64);
        spec.optimizer.type = OptimizerType::none;
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY(m);
        const int64_t unchecked = m->peak(std::vector<bool>(8, false));
        const int64_t floor = minimal_peak(*m);
        QVERIFY(floor < unchecked);
        const int64_t budget = floor + (unchecked - floor) / 3;
        Result<Plan> plan = plan_optimal(*m, budget);
        QVERIFY(plan);
        QVERIFY(plan->predicted_peak <= budget);
        QVERIFY(plan->recompute_cost > 0);

        RunSettings settings;
        settings.memory_limit = budget;
        auto s = Session::create(spec, settings);
        QVERIFY(s);
        QCOMPARE((*s)->step().status, StepStatus::out_of_memory);
        QVERIFY((*s)->set_checkpoint(plan->checkpoint).ok());
        for (int step = 0; step < 2; ++step) {
            const StepReport r = (*s)->step();
            QCOMPARE(r.status, StepStatus::ok);
            QVERIFY(r.peak_total <= budget);
        }
    }

    void namedPlanners() {
        Result<ChainModel> m = ChainModel::build(testmodels::deep_residual(9, 16, 32));
        QVERIFY(m);
        for (const char* name : {"none", "all", "sqrt", "every-k", "dp", "segments"}) {
            Result<PlannerKind> k = parse_planner(name);
            QVERIFY(k);
            Result<Plan> p = make_plan(*m, *k, 1ll << 40, 3);
            QVERIFY2(p, name);
            QCOMPARE(int(p->checkpoint.size()), 9);
        }
        QVERIFY(!parse_planner("greedy"));
        const ParetoSweep swept = pareto_sweep(*m, 8);
        QCOMPARE(swept.cut_short, std::string());
        const std::vector<ParetoPoint>& sweep = swept.points;
        QVERIFY(sweep.size() >= 3);
        QVERIFY(sweep.front().frontier);
        for (size_t i = 1; i < sweep.size(); ++i) QVERIFY(sweep[i].plan.predicted_peak >= sweep[i - 1].plan.predicted_peak);
    }

    // Segments: the chain model's peak and where it happens equal the executor's dry run for
    // every checkpoint set given as runs (each block unchecked or in a run of any length) of
    // small real models: residual and plain blocks, attention with dropout, selective policies,
    // shortcuts and batch norm, mixed precision.
    void segmentChainModelEqualsDryRun_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("textbook") << 0;
        QTest::newRow("dropout_mlp") << 1;
        QTest::newRow("gpt, every policy, dropout") << 2;
        QTest::newRow("resnet (projection shortcuts, batch norm)") << 3;
        QTest::newRow("llama, bf16-mixed") << 4;
        for (int i = 0; i < 6; ++i) QTest::newRow(qPrintable(QString("mixed stack %1").arg(i))) << 10 + i;
    }

    void segmentChainModelEqualsDryRun() {
        QFETCH(int, which);
        std::mt19937 rng{unsigned(which)};
        ModelSpec spec;
        if (which == 0) spec = testmodels::textbook(8, 64);
        else if (which == 1) spec = testmodels::dropout_mlp();
        else if (which == 2) {
            spec = testmodels::gpt(29, 8, 2, 2, 2, 5, 0.2);
            for (size_t b = 0; b < spec.blocks.size(); ++b) spec.blocks[b].policy = BlockSpec::Policy(b % 3);
        } else if (which == 3) spec = testmodels::resnet(2, 8, {4, 8, 8, 16});
        else if (which == 4) {
            spec = testmodels::llama(31, 16, 2, 1, 24, 2, 2, 6);
            spec.precision = Precision::bf16_mixed;
        } else spec = mixed_stack(rng, 7);
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY2(m, m ? "" : m.error().message.c_str());
        const int n = int(spec.blocks.size());
        QVERIFY(n <= 7);
        int checked = 0;
        for (const std::vector<BlockRange>& runs : all_run_sets(n)) {
            ModelSpec s = spec;
            apply_checkpoint(s, checkpoint_from_runs(runs, n, {}));
            QCOMPARE(recompute_segments(s), runs);
            Result<StepReport> r = predict(s, 2);
            QVERIFY(r);
            const auto [peak, t] = m->peak_and_tag(runs);
            const QString at = QString::fromStdString(format_checkpoint(checkpoint_of(s), spec));
            QVERIFY2(peak == r->peak_total, qPrintable(QString("%1: chain %2, dry run %3").arg(at).arg(peak).arg(r->peak_total)));
            QVERIFY2(t.block == r->peak_tag.block && t.layer == r->peak_tag.layer && t.phase == r->peak_tag.phase &&
                         t.category == r->peak_tag.category,
                     qPrintable(QString("%1: chain block %2 layer %3 phase %4, dry run block %5 layer %6 phase %7")
                                    .arg(at).arg(t.block).arg(t.layer).arg(int(t.phase)).arg(r->peak_tag.block)
                                    .arg(r->peak_tag.layer).arg(int(r->peak_tag.phase))));
            ++checked;
        }
        QVERIFY(checked >= 5);
    }

    // The segment planner against brute force over every checkpoint set given as runs, on
    // chains of up to 12 blocks: real stacks of mixed block kinds (whose label sets are tied,
    // the fast path) and random chain models with arbitrary window effects (the general path):
    // the same least cost, feasibility and smallest peak, and a set within budget.
    void segmentPlannerMatchesBruteForce() {
        std::mt19937 rng(77);
        int feasible = 0, infeasible = 0, cheaper = 0;
        for (int trial = 0; trial < 36; ++trial) {
            ChainModel m;
            if (trial % 3 == 2) {
                m = random_chain(rng, 2 + int(rng() % 10u));
                // Arbitrary recomputation windows and costs inside runs.
                std::uniform_int_distribution<int64_t> small(0, 800), signed_small(-300, 500);
                for (int b = 0; b < m.blocks(); ++b) {
                    WindowEffect r, f = m.forward[size_t(b)], k = m.backward[size_t(b)];
                    for (int c = 0; c < kContexts; ++c) {
                        if (c >= 4) {  // the per-block contexts came with random_chain
                            f.end[size_t(c)] = signed_small(rng);
                            f.peak[size_t(c)] = std::max<int64_t>(0, f.end[size_t(c)]) + small(rng);
                            k.end[size_t(c)] = -signed_small(rng);
                            k.peak[size_t(c)] = std::max<int64_t>(0, k.end[size_t(c)]) + small(rng);
                        }
                        if (!checkpointed(c)) continue;
                        r.end[size_t(c)] = signed_small(rng);
                        r.peak[size_t(c)] = std::max<int64_t>(0, r.end[size_t(c)]) + small(rng);
                    }
                    m.forward[size_t(b)] = f;
                    m.backward[size_t(b)] = k;
                    m.recompute.push_back(r);
                    m.cost_inner.push_back(m.cost[size_t(b)] * (1.0 + double(rng() % 5u) / 4.0));
                }
            } else {
                Result<ChainModel> built = ChainModel::build(mixed_stack(rng, 12));
                QVERIFY2(built, built ? "" : built.error().message.c_str());
                m = *built;
            }
            const int n = m.blocks();
            const std::vector<std::vector<BlockRange>> sets = all_run_sets(n);
            int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
            std::vector<int64_t> peaks;
            for (const auto& runs : sets) {
                peaks.push_back(m.peak_and_tag(runs).first);
                lo = std::min(lo, peaks.back());
                hi = std::max(hi, peaks.back());
            }
            QCOMPARE(minimal_segment_peak(m), lo);
            for (int64_t budget : {lo - 1, lo, lo + (hi - lo) / 7, lo + (hi - lo) / 3, (lo + hi) / 2, hi}) {
                double best = std::numeric_limits<double>::infinity();
                for (size_t i = 0; i < sets.size(); ++i)
                    if (peaks[i] <= budget) best = std::min(best, m.recompute_cost(sets[i]));
                Result<Plan> p = plan_segments(m, budget);
                QCOMPARE(bool(p), std::isfinite(best));
                if (!p) {
                    ++infeasible;
                    QCOMPARE(p.error().kind, ErrorKind::out_of_memory);
                    continue;
                }
                ++feasible;
                QVERIFY(p->predicted_peak <= budget);
                QCOMPARE(p->predicted_peak, m.peak_and_tag(p->runs).first);
                QVERIFY2(std::fabs(p->recompute_cost - best) <= 1e-9 * std::max(1.0, best),
                         qPrintable(QString("trial %1, n %2: segments %3, brute force %4").arg(trial).arg(n).arg(p->recompute_cost).arg(best)));
                if (Result<Plan> block = plan_optimal(m, budget); !block || block->recompute_cost > p->recompute_cost + 1e-9)
                    ++cheaper;
            }
        }
        QVERIFY(feasible > 100 && infeasible > 10);
        QVERIFY2(cheaper > 10, qPrintable(QString("segments beat per block %1 times").arg(cheaper)));
    }

    // Chen et al. 2016's result on the sublinear-memory lesson's deep narrow chain: fitting
    // peak activation memory (dry runs, n = 16 to 1,024 blocks) to a n^p + c, sqrt
    // segments give p = 0.5 and every block checkpointed alone p = 1, as no checkpointing does.
    void sqrtSegmentsAreSublinear() {
        Result<ModelSpec> lesson = load_model_spec(CKPT_SOURCE_DIR "/resources/presets/lesson6_sublinear_memory.json");
        QVERIFY(lesson);
        const std::vector<int> depths{16, 32, 64, 128, 256, 512, 1024};
        Result<std::vector<DepthPoint>> sweep = depth_sweep(*lesson, depths);
        QVERIFY2(sweep, sweep ? "" : sweep.error().message.c_str());
        for (const DepthPoint& d : *sweep)
            qInfo("n %d: none %lld, alone %lld, sqrt %lld bytes", d.depth, (long long)d.activation[0], (long long)d.activation[1],
                  (long long)d.activation[2]);
        // The exponent p with the least relative residual of a n^p + c (a, c by least squares).
        auto fit = [&](int policy) {
            double best_p = 0, best_err = std::numeric_limits<double>::infinity();
            for (int k = 100; k <= 1500; ++k) {
                const double p = k / 1000.0;
                double sxx = 0, sx = 0, s1 = 0, sxy = 0, sy = 0;  // weighted by 1/M^2
                for (const DepthPoint& d : *sweep) {
                    const double m = double(d.activation[size_t(policy)]), w = 1.0 / (m * m), x = std::pow(double(d.depth), p);
                    sxx += w * x * x, sx += w * x, s1 += w, sxy += w * x * m, sy += w * m;
                }
                const double det = sxx * s1 - sx * sx, a = (sxy * s1 - sx * sy) / det, c = (sxx * sy - sx * sxy) / det;
                double err = 0;
                for (const DepthPoint& d : *sweep) {
                    const double m = double(d.activation[size_t(policy)]);
                    err += std::pow((a * std::pow(double(d.depth), p) + c - m) / m, 2);
                }
                if (err < best_err) best_err = err, best_p = p;
            }
            return best_p;
        };
        const double none = fit(int(DepthPolicy::none)), all = fit(int(DepthPolicy::per_block)),
                     sqrt = fit(int(DepthPolicy::sqrt));
        qInfo("exponents: none %.3f, every block alone %.3f, sqrt segments %.3f", none, all, sqrt);
        QVERIFY2(std::fabs(sqrt - 0.5) <= 0.05, qPrintable(QString::number(sqrt)));
        QVERIFY2(std::fabs(all - 1.0) <= 0.05, qPrintable(QString::number(all)));
        QVERIFY2(std::fabs(none - 1.0) <= 0.05, qPrintable(QString::number(none)));
        // And what it costs: one forward of all but the last segment, against one of every block.
        const DepthPoint& deep = sweep->back();
        QVERIFY(deep.recompute[size_t(DepthPolicy::none)] == 0.0);
        QVERIFY(deep.recompute[size_t(DepthPolicy::sqrt)] > 0.0);
        QVERIFY(deep.activation[size_t(DepthPolicy::sqrt)] * 8 < deep.activation[size_t(DepthPolicy::per_block)]);
    }

    // The plan table both front ends show: each planner lists its sets once, cheapest first,
    // with the chain model's exact peak and a --checkpoint text that selects the same set; the
    // choice is the first that fits, and for dp it costs what the DP's optimum costs.
    void planTable_data() {
        QTest::addColumn<int>("planner");
        for (const auto& [k, name] : enum_names<PlannerKind>()) QTest::newRow(name.data()) << int(k);
    }

    void planTable() {
        QFETCH(int, planner);
        const PlannerKind kind = PlannerKind(planner);
        const ModelSpec spec = activation_bound();
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY(m);
        const int64_t lo = minimal_peak(*m), hi = m->peak(std::vector<bool>(9, false));
        QVERIFY(lo < hi);
        for (const int64_t budget : {lo, lo + (hi - lo) / 2, hi, int64_t(1) << 40}) {
            Result<PlanTable> t = plan_table(spec, kind, budget);
            QVERIFY2(t, t ? "" : t.error().message.c_str());
            QCOMPARE(t->blocks, 9);
            QVERIFY(!t->candidates.empty());
            for (size_t i = 0; i < t->candidates.size(); ++i) {
                const PlanCandidate& c = t->candidates[i];
                QCOMPARE(c.plan.predicted_peak, m->peak_and_tag(c.plan.runs).first);
                QCOMPARE(c.plan.fits, c.plan.predicted_peak <= budget);
                // Its --checkpoint text, and the set it applies, recompute exactly its runs.
                Result<CheckpointSet> again = parse_checkpoint(c.checkpoint_arg, spec);
                QVERIFY(again);
                ModelSpec applied = spec, direct = spec;
                apply_checkpoint(applied, *again);
                apply_checkpoint(direct, c.set);
                QCOMPARE(recompute_segments(applied), c.plan.runs);
                QCOMPARE(recompute_segments(direct), c.plan.runs);
                for (size_t j = 0; j < i; ++j) {
                    QVERIFY(t->candidates[j].plan.runs != c.plan.runs);  // each set once
                    QVERIFY(t->candidates[j].plan.recompute_cost <= c.plan.recompute_cost);
                }
            }
            const PlanCandidate* chosen = t->chosen_candidate();
            for (int i = 0; i < (chosen ? t->chosen : int(t->candidates.size())); ++i)
                QVERIFY(!t->candidates[size_t(i)].plan.fits);
            if (chosen) QVERIFY(chosen->plan.fits);
            else QCOMPARE(t->minimal_peak, minimal_segment_peak(*m));  // a fixed pattern can miss a budget the DP meets
            if (kind == PlannerKind::dp || kind == PlannerKind::segments) {
                // Both optima: segment partitions include the per-block sets, so never dearer.
                Result<Plan> block = plan_optimal(*m, budget), seg = plan_segments(*m, budget);
                QVERIFY(seg && chosen);
                QCOMPARE(chosen->plan.recompute_cost, seg->recompute_cost);
                if (block) QVERIFY(seg->recompute_cost <= block->recompute_cost);
                if (kind == PlannerKind::dp) {
                    QVERIFY(t->segments >= 0 && (t->per_block >= 0) == bool(block));
                    QVERIFY(!t->comparison().empty());
                }
            }
            if (kind == PlannerKind::all || kind == PlannerKind::none || kind == PlannerKind::sqrt)
                QCOMPARE(int(t->candidates.size()), 1);
            if (budget == int64_t(1) << 40) QVERIFY(chosen && t->chosen == 0);  // everything fits: the cheapest
        }
    }

    // Nothing fits: the table is still there to print, with the smallest budget that works.
    void planTableWhenNothingFits() {
        const ModelSpec spec = activation_bound();
        Result<ChainModel> m = ChainModel::build(spec);
        const int64_t lo = minimal_segment_peak(*m);
        Result<PlanTable> t = plan_table(spec, PlannerKind::dp, lo - 1);
        QVERIFY(t);
        QCOMPARE(t->chosen, -1);
        QCOMPARE(t->minimal_peak, lo);
        QCOMPARE(t->no_fit_error().kind, ErrorKind::out_of_memory);
        QVERIFY(t->no_fit_error().message.find(std::to_string(lo) + " bytes") != std::string::npos);
        // A fixed planner that misses a budget dp can meet says so.
        Result<PlanTable> none = plan_table(spec, PlannerKind::none, lo);
        QVERIFY(none && none->chosen < 0);
        QVERIFY(none->no_fit_error().message.rfind("no none plan fits in", 0) == 0);
        QVERIFY(!plan_table(spec, PlannerKind::dp, 0));
    }

    // Long chains of repeated blocks are measured shortened (chain_compress.h). The shortened
    // model must be the whole one, field by field and tag by tag: built both ways on chains
    // short enough to measure whole.
    void shortenedChainModelEqualsWhole_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("identical residual blocks, adamw") << 0;
        QTest::newRow("gpt: embedding, attention/MLP pairs (period 2), head; attention_core") << 1;
        QTest::newRow("llama, bf16-mixed") << 2;
        QTest::newRow("two stretches of different widths and one of period 3, fp16-mixed") << 3;
        QTest::newRow("resnet with a run of equal basic blocks (batch-norm buffers)") << 4;
        QTest::newRow("more kinds of period than are shortened") << 5;
    }

    void shortenedChainModelEqualsWhole() {
        QFETCH(int, which);
        ModelSpec spec;
        if (which == 0) {
            spec = testmodels::deep_residual(40, 16, 16);
            spec.optimizer.type = OptimizerType::adamw;
        } else if (which == 1) {
            spec = testmodels::gpt(50, 16, 2, 14, 2, 8, 0.1, BlockSpec::Policy::attention_core);
        } else if (which == 2) {
            spec = testmodels::llama(40, 16, 4, 2, 24, 12, 2, 8);
            spec.precision = Precision::bf16_mixed;
        } else if (which == 3) {
            spec = testmodels::deep_residual(25, 16, 16);
            const ModelSpec wide = testmodels::deep_residual(30, 16, 24);
            spec.blocks.push_back(wide.blocks[0]);  // 16 -> 24 is not residual: make it a plain block
            spec.blocks.back().residual = false;
            spec.blocks.back().layers = {testmodels::linear(16, 24)};
            for (const BlockSpec& b : wide.blocks) spec.blocks.push_back(b);
            for (int r = 0; r < 12; ++r) {  // period 3: relu, gelu, tanh blocks of width 24
                for (LayerType t : {LayerType::relu, LayerType::gelu, LayerType::tanh}) {
                    BlockSpec b{"p3", {testmodels::act(t)}, false, false};
                    spec.blocks.push_back(b);
                }
            }
            spec.precision = Precision::fp16_mixed;
            spec.optimizer.type = OptimizerType::sgd;
            spec.optimizer.momentum = 0.9;
        } else if (which == 4) {
            spec = testmodels::resnet(2, 8, std::vector<int64_t>(14, 8));
        } else {
            // Ten widths, each a stretch of 12 identical blocks joined by plain projections:
            // only the first kMaxGroups kinds are shortened, the rest measured as they are.
            spec = testmodels::deep_residual(0, 8, 8);
            int64_t w = 8;
            for (int k = 0; k < 10; ++k) {
                const int64_t next = 8 + 2 * k;
                if (next != w) spec.blocks.push_back({"proj", {testmodels::linear(w, next)}, false, false});
                for (const BlockSpec& b : testmodels::deep_residual(12, 8, next).blocks) spec.blocks.push_back(b);
                w = next;
            }
        }
        QVERIFY2(validate_model_spec(spec), validate_model_spec(spec) ? "" : validate_model_spec(spec).err->message.c_str());
        Result<ChainModel> whole = build_chain_model(spec, {}, DeviceKind::cpu, std::numeric_limits<int>::max());
        Result<ChainModel> shortened = build_chain_model(spec, {}, DeviceKind::cpu, 1);
        QVERIFY(whole && shortened);
        QVERIFY(whole->measured_whole);
        QVERIFY2(!shortened->measured_whole, "the chain was not shortened");
        const auto same = [](const MemoryTag& a, const MemoryTag& b) {
            return a.block == b.block && a.layer == b.layer && a.phase == b.phase && a.category == b.category;
        };
        QCOMPARE(shortened->start, whole->start);
        QCOMPARE(shortened->end, whole->end);
        QCOMPARE(shortened->before_peak, whole->before_peak);
        QCOMPARE(shortened->optimizer_peak, whole->optimizer_peak);
        QVERIFY(same(shortened->before_tag, whole->before_tag));
        QVERIFY(same(shortened->optimizer_tag, whole->optimizer_tag));
        QCOMPARE(shortened->blocks(), whole->blocks());
        QVERIFY(shortened->cost == whole->cost && shortened->forward_cost == whole->forward_cost);
        QVERIFY(shortened->cost_inner == whole->cost_inner);
        QCOMPARE(shortened->recompute.size(), whole->recompute.size());
        for (size_t b = 0; b < whole->forward.size(); ++b) {
            for (size_t i = 0; i < size_t(kContexts); ++i) {
                const QString at = QString("block %1, context %2").arg(b).arg(i);
                QVERIFY2(shortened->forward[b].peak[i] == whole->forward[b].peak[i], qPrintable(at));
                QVERIFY2(shortened->forward[b].end[i] == whole->forward[b].end[i], qPrintable(at));
                QVERIFY2(shortened->backward[b].peak[i] == whole->backward[b].peak[i], qPrintable(at));
                QVERIFY2(shortened->backward[b].end[i] == whole->backward[b].end[i], qPrintable(at));
                QVERIFY2(same(shortened->forward_tag[b][i], whole->forward_tag[b][i]), qPrintable(at));
                QVERIFY2(same(shortened->backward_tag[b][i], whole->backward_tag[b][i]), qPrintable(at));
                if (b == whole->recompute.size()) continue;  // the loss
                QVERIFY2(shortened->recompute[b].peak[i] == whole->recompute[b].peak[i], qPrintable(at));
                QVERIFY2(shortened->recompute[b].end[i] == whole->recompute[b].end[i], qPrintable(at));
                QVERIFY2(same(shortened->recompute_tag[b][i], whole->recompute_tag[b][i]), qPrintable(at));
            }
        }
    }

    // At the length where shortening starts, the plan table's choice and a scattered set still
    // predict the executor's own dry run of the whole chain, peak and place.
    void longChainPlanEqualsDryRun() {
        ModelSpec spec = testmodels::deep_residual(6000, 8, 8);
        spec.optimizer.type = OptimizerType::adamw;
        Result<ChainModel> m = ChainModel::build(spec);
        QVERIFY(m);
        QVERIFY(!m->measured_whole);
        const int64_t top = m->peak(std::vector<bool>(6000, false));
        Result<PlanTable> t = plan_table(spec, PlannerKind::dp, minimal_peak(*m) + (top - minimal_peak(*m)) / 3);
        QVERIFY(t && t->chosen >= 0);
        std::mt19937 rng(7);
        std::vector<bool> scattered(6000);
        for (size_t b = 0; b < scattered.size(); ++b) scattered[b] = rng() % 5 == 0;
        for (const std::vector<bool>& c : {t->candidates[size_t(t->chosen)].plan.checkpoint, scattered}) {
            Result<StepReport> r = predict(testmodels::with_checkpoints(spec, c), 2);
            QVERIFY(r);
            QCOMPARE(m->peak(c), r->peak_total);
            const MemoryTag tag = m->peak_tag(c);
            QCOMPARE(tag.block, r->peak_tag.block);
            QCOMPARE(tag.layer, r->peak_tag.layer);
            QVERIFY(tag.phase == r->peak_tag.phase && tag.category == r->peak_tag.category);
        }
    }
};

QTEST_GUILESS_MAIN(TestPlanner)
#include "tst_planner.moc"
