// Models from published configs and from templates (ckpt/templates.h). The oracle for the
// importer is the published parameter count of each shipped config (tests/data/configs): GPT-2
// 124,439,808 (its model card and Radford et al.'s released checkpoint), Llama-3-8B
// 8,030,261,248, Mistral-7B-v0.1 7,241,732,096, Qwen2-0.5B 494,032,768 (the counts the
// Hugging Face checkpoints hold). A missing bias, an untied head or a wrong MLP width moves
// them. Also: the GPT-2 template at GPT-2's knobs is the imported GPT-2 block for block, every
// template validates and runs a step, and every bad config is one line that names the field.
#include <QtTest>

#include <algorithm>

#include <string>

#include "ckpt/planner.h"
#include "ckpt/session.h"
#include "ckpt/printable.h"
#include "ckpt/templates.h"
#include "ckpt/units.h"

using namespace ckpt;

namespace {

const std::string kConfigs = CKPT_SOURCE_DIR "/tests/data/configs/";

ModelSpec imported(const std::string& file, int64_t batch, int64_t seq) {
    auto s = import_hf_config_file(kConfigs + file, batch, seq);
    if (!s) qFatal("%s", s.error().message.c_str());
    return *s;
}

}  // namespace

class TestTemplates : public QObject {
    Q_OBJECT

private slots:
    void publishedParameterCounts_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<qint64>("published");
        QTest::newRow("gpt2") << "gpt2.json" << qint64(124439808);
        QTest::newRow("llama3_8b") << "llama3_8b.json" << qint64(8030261248);
        QTest::newRow("mistral_7b") << "mistral_7b.json" << qint64(7241732096);
        QTest::newRow("qwen2_0_5b") << "qwen2_0_5b.json" << qint64(494032768);
    }

    void publishedParameterCounts() {
        QFETCH(QString, file);
        QFETCH(qint64, published);
        const ModelSpec s = imported(file.toStdString(), 1, 512);
        QCOMPARE(parameter_count(s), int64_t(published));
        // The engine allocates what the spec counts: its dry step's parameter bytes are 4 per
        // parameter (f32 master weights) in every precision.
        ModelSpec bf16 = s;
        bf16.precision = Precision::bf16_mixed;
        auto p = predict(bf16, 1);
        QVERIFY2(p, p ? "" : p.error().message.c_str());
        QCOMPARE(p->baseline[int(Category::parameter)], 4 * int64_t(published));
        // The written spec reads back as the same model.
        auto back = parse_model_spec(to_json(s));
        QVERIFY2(back, back ? "" : back.error().message.c_str());
        QVERIFY(*back == s);
        QVERIFY(QString::fromStdString(s.description).contains(QString::fromStdString(format_count(published))));
    }

    // The importer's layout, read off the LLaMA config: fused q|k|v of (32 + 2*8) * 128, rotary
    // at Llama 3's base, SwiGLU on a fused gate|up of 2 * 14336, RMSNorm at the config's eps.
    void llamaLayout() {
        const ModelSpec s = imported("llama3_8b.json", 1, 8192);
        QCOMPARE(int(s.blocks.size()), 1 + 2 * 32 + 1);
        QCOMPARE(s.input_shape, (std::vector<int64_t>{1, 8192}));
        const BlockSpec& attn = s.blocks[1];
        QVERIFY(attn.residual);
        QCOMPARE(attn.layers[0].type, LayerType::rmsnorm);
        QCOMPARE(attn.layers[0].eps, 1e-5);
        QCOMPARE(attn.layers[1].out, int64_t(48 * 128));
        QVERIFY(!attn.layers[1].bias);
        QCOMPARE(attn.layers[2].kv_heads, int64_t(8));
        QCOMPARE(attn.layers[2].rope_theta, 500000.0);
        QCOMPARE(s.blocks[2].layers[1].out, int64_t(2 * 14336));
        QCOMPARE(s.blocks[2].layers[2].type, LayerType::swiglu);
        QVERIFY(!s.blocks.back().layers.back().tied);
        // Qwen2: a bias on q|k|v, none on the output projection; the head tied.
        const ModelSpec q = imported("qwen2_0_5b.json", 1, 128);
        QVERIFY(q.blocks[1].layers[1].bias);
        QVERIFY(!q.blocks[1].layers[3].bias);
        QVERIFY(q.blocks.back().layers.back().tied);
    }

    // Two roads to GPT-2 small meet: the template at GPT-2's knobs is the imported config.
    void gpt2TemplateIsTheImportedConfig() {
        TemplateKnobs k;
        k.batch = 2;
        k.seq = 1024;
        k.depth = 12;
        k.width = 768;
        k.heads = 12;
        k.vocab = 50257;
        k.dropout = 0.1;
        k.tied = true;
        auto t = make_template(TemplateKind::gpt2, k);
        QVERIFY2(t, t ? "" : t.error().message.c_str());
        const ModelSpec i = imported("gpt2.json", 2, 1024);
        QCOMPARE(t->blocks.size(), i.blocks.size());
        for (size_t b = 0; b < i.blocks.size(); ++b) QVERIFY2(t->blocks[b] == i.blocks[b], i.blocks[b].name.c_str());
        QCOMPARE(parameter_count(*t), int64_t(124439808));
    }

    // Every template at small knobs validates and trains: a real step with a finite loss, and
    // its measured peak is the prediction's.
    void templatesRun_data() {
        QTest::addColumn<int>("kind");
        for (TemplateKind k : {TemplateKind::mlp, TemplateKind::residual_mlp, TemplateKind::gpt2, TemplateKind::llama,
                               TemplateKind::resnet})
            QTest::newRow(std::string(template_name(k)).c_str()) << int(k);
    }

    void templatesRun() {
        QFETCH(int, kind);
        TemplateKnobs k;
        k.batch = 2;
        k.seq = 16;
        k.depth = 2;
        k.width = 32;
        k.heads = 4;
        k.kv_heads = 2;
        k.vocab = 61;
        k.dropout = 0.1;
        k.tied = true;
        auto s = make_template(TemplateKind(kind), k);
        QVERIFY2(s, s ? "" : s.error().message.c_str());
        QCOMPARE(parse_template(std::string(template_name(TemplateKind(kind)))).value(), TemplateKind(kind));
        auto session = Session::create(*s, {});
        QVERIFY(session);
        const StepReport r = (*session)->step({});
        QCOMPARE(r.status, StepStatus::ok);
        QVERIFY(std::isfinite(r.loss));
        auto p = predict(*s, 1);
        QVERIFY(p);
        QCOMPARE(r.peak_total, p->peak_total);
    }

    void llamaDefaultFfn() {
        TemplateKnobs k;
        k.width = 4096;
        k.heads = 32;
        k.kv_heads = 8;
        k.depth = 1;
        auto s = make_template(TemplateKind::llama, k);
        QVERIFY(s);
        // 8/3 * 4096 = 10922.67, up to a multiple of 64: 10944.
        QCOMPARE(s->blocks[2].layers[3].in, int64_t(10944));
    }

    void resnetIsResNet20() {
        // Depth 3 at width 16 on 32x32 images is ResNet-20 with projection shortcuts, the
        // resnet20_cifar preset (up to its name, description and batch).
        TemplateKnobs k;
        k.depth = 3;
        k.width = 16;
        k.batch = 32;
        k.image = 32;
        auto t = make_template(TemplateKind::resnet, k);
        QVERIFY2(t, t ? "" : t.error().message.c_str());
        QCOMPARE(parameter_count(*t), int64_t(272474));
        auto preset = load_model_spec(CKPT_SOURCE_DIR "/resources/presets/resnet20_cifar.json");
        QVERIFY(preset);
        QCOMPARE(t->blocks.size(), preset->blocks.size());
        for (size_t b = 0; b < t->blocks.size(); ++b)
            QVERIFY2(t->blocks[b] == preset->blocks[b], t->blocks[b].name.c_str());
        QCOMPARE(t->input_shape, preset->input_shape);
    }

    void badKnobs_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("knob");
        QTest::addColumn<qint64>("value");
        QTest::addColumn<QString>("expected");
        QTest::newRow("depth 0") << int(TemplateKind::mlp) << "depth" << qint64(0) << "template mlp: depth must be at least 1, got 0";
        QTest::newRow("width not a multiple of heads")
            << int(TemplateKind::gpt2) << "width" << qint64(100) << "template gpt2: width 100 is not a multiple of heads 8";
        QTest::newRow("heads not a multiple of kv heads")
            << int(TemplateKind::llama) << "kv_heads" << qint64(3) << "template llama: heads 8 is not a multiple of kv_heads 3";
        QTest::newRow("vocab 0") << int(TemplateKind::llama) << "vocab" << qint64(0) << "template llama: vocab must be at least 1";
        QTest::newRow("image 0") << int(TemplateKind::resnet) << "image" << qint64(0) << "template resnet: image must be at least 1";
        QTest::newRow("too big") << int(TemplateKind::residual_mlp) << "width" << qint64(int64_t(1) << 40)
                                 << "template residual_mlp: ";
    }

    void badKnobs() {
        QFETCH(int, kind);
        QFETCH(QString, knob);
        QFETCH(qint64, value);
        QFETCH(QString, expected);
        TemplateKnobs k;
        if (knob == "depth") k.depth = value;
        if (knob == "width") k.width = value;
        if (knob == "kv_heads") k.kv_heads = value;
        if (knob == "vocab") k.vocab = value;
        if (knob == "image") k.image = value;
        auto s = make_template(TemplateKind(kind), k);
        QVERIFY(!s);
        const QString m = QString::fromStdString(s.error().message);
        QVERIFY2(m.startsWith(expected), qPrintable(m));
        QVERIFY(!m.contains('\n'));
        QVERIFY(!parse_template("resnet9000"));
    }

    void badConfigs_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not json") << "{\"model_type\": " << "config.json: not valid JSON";
        QTest::newRow("array") << "[1, 2]" << "config.json: the top level must be an object";
        QTest::newRow("no architecture") << "{\"hidden_size\": 8}" << "no \"model_type\" or \"architectures\"";
        QTest::newRow("unknown architecture") << "{\"model_type\": \"bert\"}"
                                              << "architecture \"bert\" is not supported (gpt2, llama, mistral, qwen2)";
        QTest::newRow("architectures list") << "{\"architectures\": [\"T5ForConditionalGeneration\"]}"
                                            << "architecture \"T5ForConditionalGeneration\" is not supported";
        QTest::newRow("missing field") << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                                          "\"num_attention_heads\": 4, \"vocab_size\": 100}"
                                       << "config.json (llama): missing field \"intermediate_size\"";
        QTest::newRow("gpt2 missing n_embd") << "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, \"vocab_size\": 10}"
                                             << "missing field \"n_embd\"";
        QTest::newRow("negative") << "{\"model_type\": \"gpt2\", \"n_embd\": -768, \"n_layer\": 2, \"n_head\": 2, \"vocab_size\": 10}"
                                  << "\"n_embd\" must be a positive integer, got -768";
        QTest::newRow("float size") << "{\"model_type\": \"gpt2\", \"n_embd\": 76.8, \"n_layer\": 2, \"n_head\": 2, \"vocab_size\": 10}"
                                    << "\"n_embd\" must be a positive integer, got 76.8";
        QTest::newRow("heads") << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                                  "\"num_attention_heads\": 4, \"num_key_value_heads\": 3, \"intermediate_size\": 100, "
                                  "\"vocab_size\": 100}"
                               << "num_attention_heads 4 is not a multiple of num_key_value_heads 3";
        QTest::newRow("activation") << "{\"model_type\": \"llama\", \"hidden_act\": \"relu\", \"hidden_size\": 64, "
                                       "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 100, "
                                       "\"vocab_size\": 100}"
                                    << "hidden_act \"relu\" is not supported";
        QTest::newRow("seq past positions") << "{\"model_type\": \"gpt2\", \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, "
                                               "\"vocab_size\": 10, \"n_positions\": 64}"
                                            << "--seq 128 exceeds the model's n_positions 64";
        QTest::newRow("sliding window") << "{\"model_type\": \"mistral\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                                           "\"num_attention_heads\": 4, \"intermediate_size\": 100, \"vocab_size\": 100, "
                                           "\"sliding_window\": 100}"
                                        << "--seq 128 exceeds the model's sliding_window 100";
        QTest::newRow("too big") << "{\"model_type\": \"llama\", \"hidden_size\": 2000000000, \"num_hidden_layers\": 2, "
                                    "\"num_attention_heads\": 4, \"intermediate_size\": 100, \"vocab_size\": 2000000000}"
                                 << "config.json: ";
        // Hostile configs (issue 16): a value nested a million deep (once a stack overflow when
        // the message printed it), escape sequences, a duplicate key.
        QTest::newRow("deep value") << "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_embd\": " +
                                           QString(1000000, '[') + QString(1000000, ']') + "}"
                                    << "config.json: n_embd[0][0][0]";
        QTest::newRow("escape in architecture") << "{\"model_type\": \"\\u001b[2Jbert\"}"
                                                << "architecture \"\\x1B[2Jbert\" is not supported";
        QTest::newRow("escape in value") << "{\"model_type\": \"gpt2\", \"vocab_size\": \"\\u009b31m\"}"
                                         << "\"vocab_size\" must be a positive integer, got \"\\u009B31m\"";
        QTest::newRow("duplicate key") << "{\"model_type\": \"gpt2\", \"n_embd\": 8, \"n_embd\": 16}"
                                       << "config.json: n_embd: duplicate key";
    }

    void badConfigs() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        auto s = import_hf_config(json.toStdString(), 1, 128);
        QVERIFY(!s);
        const QString m = QString::fromStdString(s.error().message);
        QVERIFY2(m.contains(expected), qPrintable(m));
        QVERIFY2(!m.contains('\n'), qPrintable(m));
        QCOMPARE(printable(s.error().message, s.error().message.size()), s.error().message);  // printable
        QVERIFY2(m.size() < 700, qPrintable(m));
        QCOMPARE(s.error().kind, ErrorKind::bad_input);
    }

    void missingFileIsAnIoError() {
        auto s = import_hf_config_file("/no/such/config.json", 1, 8);
        QVERIFY(!s);
        QCOMPARE(s.error().kind, ErrorKind::io);
        QVERIFY(!import_hf_config_file(kConfigs + "gpt2.json", 0, 8));
    }

    // "Will it fit": Llama-3-8B-shaped at 8192 tokens in bf16 is answered from the prediction.
    // AdamW's f32 state alone (weights, gradients, two moments: 16 bytes a parameter) is
    // 119.7 GiB, so no plan fits 80 GB; checkpointing every block cuts the rest to a few GiB.
    // With eager attention (8 GiB of probabilities a layer) the unchecked peak is over three
    // times that; with flash attention (the import's default) the gap is the other activations.
    void llama8bWillItFit_data() {
        QTest::addColumn<int>("impl");
        QTest::newRow("eager") << int(AttentionImpl::eager);
        QTest::newRow("flash") << int(AttentionImpl::flash);
    }
    void llama8bWillItFit() {
        QFETCH(int, impl);
        ModelSpec s = imported("llama3_8b.json", 1, 8192);
        s.precision = Precision::bf16_mixed;
        QCOMPARE(s.blocks[1].layers[2].impl, AttentionImpl::flash);  // import's default, as Hugging Face's sdpa
        set_attention_impl(s, AttentionImpl(impl));
        auto table = plan_table(s, PlannerKind::dp, int64_t(80) * 1000 * 1000 * 1000);
        QVERIFY2(table, table ? "" : table.error().message.c_str());
        QVERIFY(!table->chosen_candidate());
        const int64_t state = 16 * int64_t(8030261248);
        // By name: the table also lists the segment optimum and sqrt's segments.
        auto named = [&](const char* planner) {
            return std::find_if(table->candidates.begin(), table->candidates.end(),
                                [&](const PlanCandidate& c) { return c.plan.planner == planner; });
        };
        QVERIFY(named("none") != table->candidates.end() && named("all") != table->candidates.end());
        const PlanCandidate& none = *named("none");
        const PlanCandidate& all = *named("all");
        QCOMPARE(none.plan.checkpointed(), 0);
        QCOMPARE(all.plan.checkpointed(), 66);
        QVERIFY(all.plan.predicted_peak > state);
        if (AttentionImpl(impl) == AttentionImpl::eager) QVERIFY(none.plan.predicted_peak > 3 * all.plan.predicted_peak);
        else QVERIFY(none.plan.predicted_peak > all.plan.predicted_peak + (int64_t(16) << 30));
        QVERIFY2(all.plan.predicted_peak < state + (int64_t(8) << 30), qPrintable(QString::number(all.plan.predicted_peak)));
    }
};

QTEST_GUILESS_MAIN(TestTemplates)
#include "tst_templates.moc"
