// What the front ends read instead of message text: each enum's one name table (every value
// named once, names unique, to-name and from-name inverse, the old per-enum functions reading
// the same table, messages listing the table's choices), and the kind every engine error
// carries (out of memory, io, bad input, stopped, device) where the engine raises it.
#include <QtTest>

#include <set>
#include <string>

#include "test_models.h"

#include "ckpt/names.h"
#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"

using namespace ckpt;

namespace {

// Every value once (the enums are dense from 0), names unique and non-empty, and back again.
template <typename E>
bool tableIsComplete(int count) {
    const auto table = enum_names<E>();
    if (int(table.size()) != count) return false;
    std::set<int> values;
    std::set<std::string_view> names;
    for (const auto& [value, name] : table) {
        if (name.empty() || !values.insert(int(value)).second || !names.insert(name).second) return false;
        if (enum_name(value) != name || enum_from_name<E>(name) != value) return false;
    }
    return *values.begin() == 0 && *values.rbegin() == count - 1 && !enum_from_name<E>("no such name");
}

}  // namespace

class TestNames : public QObject {
    Q_OBJECT

private slots:
    void everyTableIsComplete() {
        QVERIFY(tableIsComplete<Category>(kCategoryCount));
        QVERIFY(tableIsComplete<Phase>(kPhaseCount));
        QVERIFY(tableIsComplete<LayerType>(17));  // linear ... swiglu, conv2d ... flatten
        QVERIFY(tableIsComplete<Precision>(3));
        QVERIFY(tableIsComplete<LossType>(2));
        QVERIFY(tableIsComplete<OptimizerType>(3));
        QVERIFY(tableIsComplete<BlockSpec::Policy>(4));
        QVERIFY(tableIsComplete<PlannerKind>(6));
        QVERIFY(tableIsComplete<StepStatus>(4));
        QVERIFY(tableIsComplete<ErrorKind>(5));
    }

    void namedFunctionsReadTheTables() {
        for (const auto& [v, name] : enum_names<Category>()) QCOMPARE(category_name(v), name);
        for (const auto& [v, name] : enum_names<Phase>()) QCOMPARE(phase_name(v), name);
        for (const auto& [v, name] : enum_names<LayerType>()) QCOMPARE(layer_type_name(v), name);
        for (const auto& [v, name] : enum_names<LossType>()) QCOMPARE(loss_name(v), name);
        for (const auto& [v, name] : enum_names<OptimizerType>()) QCOMPARE(optimizer_name(v), name);
        for (const auto& [v, name] : enum_names<BlockSpec::Policy>()) QCOMPARE(policy_name(v), name);
        for (const auto& [v, name] : enum_names<StepStatus>()) QCOMPARE(status_name(v), name);
        for (const auto& [v, name] : enum_names<ErrorKind>()) QCOMPARE(error_kind_name(v), name);
        for (const auto& [v, name] : enum_names<PlannerKind>()) {
            QCOMPARE(planner_name(v), name);
            QCOMPARE(*parse_planner(std::string(name)), v);
        }
        QCOMPARE(enum_choices<LossType>(), std::string("mse or cross_entropy"));
        QCOMPARE(enum_choices<PlannerKind>(), std::string("dp, segments, sqrt, every-k, all or none"));
        QCOMPARE(parse_planner("greedy").error().message,
                 std::string("unknown planner \"greedy\" (expected dp, segments, sqrt, every-k, all or none)"));
    }

    // The parser reads names through the table: a spec with every layer type, loss, optimizer
    // and policy written by to_json reads back.
    void specNamesRoundTrip() {
        for (const auto& [policy, name] : enum_names<BlockSpec::Policy>()) {
            ModelSpec s = testmodels::gpt(64, 24, 2, 1, 2, 4, 0.1, policy, true);
            s.loss = LossType::cross_entropy;
            Result<ModelSpec> back = parse_model_spec(to_json(s));
            QVERIFY2(back, back ? "" : back.error().message.c_str());
            QVERIFY(*back == s);
        }
    }

    void errorKinds() {
        // A plain Error is bad input; the kind does not change what the message says.
        QCOMPARE(Error{"x"}.kind, ErrorKind::bad_input);
        QCOMPARE(parse_model_spec("{}").error().kind, ErrorKind::bad_input);
        QCOMPARE(find_device("tpu").error().kind, ErrorKind::bad_input);

        // Parameters that do not fit the limit: out of memory at creation.
        RunSettings tiny;
        tiny.memory_limit = 1024;
        auto s = Session::create(testmodels::textbook(), tiny);
        QVERIFY(!s);
        QCOMPARE(s.error().kind, ErrorKind::out_of_memory);

        // A step that does not fit: its status names the kind.
        RunSettings some;
        some.memory_limit = 12 << 20;
        auto t = Session::create(testmodels::textbook(), some);
        QVERIFY(t);
        const StepReport r = (*t)->step();
        QCOMPARE(r.status, StepStatus::out_of_memory);
        QCOMPARE(error_kind(r.status), ErrorKind::out_of_memory);
        QCOMPARE(error_kind(StepStatus::stopped), ErrorKind::stopped);
        QCOMPARE(error_kind(StepStatus::failed), ErrorKind::device);

        // No checkpoint set fits: out of memory, from the DP and from the plan table.
        Result<ChainModel> m = ChainModel::build(testmodels::tutorial());
        QVERIFY(m);
        QCOMPARE(plan_optimal(*m, 1024).error().kind, ErrorKind::out_of_memory);
        Result<PlanTable> table = plan_table(testmodels::tutorial(), PlannerKind::dp, 1024);
        QVERIFY(table);
        QVERIFY(!table->chosen_candidate());
        QCOMPARE(table->no_fit_error().kind, ErrorKind::out_of_memory);

        // A file that cannot be written.
        QTemporaryDir dir;
        QCOMPARE(write_report_json(dir.filePath("no/such/r.json").toStdString(), r, testmodels::textbook()).err->kind,
                 ErrorKind::io);
        QCOMPARE(write_timeline_csv(dir.filePath("no/such/m.csv").toStdString(), r).err->kind, ErrorKind::io);
    }
};

QTEST_GUILESS_MAIN(TestNames)
#include "tst_names.moc"
