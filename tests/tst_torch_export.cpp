// `checkpointlab export-torch`: the script a user gets is readable (the plan visible block by
// block), and it is the same model. Round trip with the installed PyTorch on the CPU: for small
// models and the plans none, all and a mixed one (f32, and bf16 under autocast), the exported
// script runs, its two losses and its first step's gradients agree with the engine's step from
// the same parameters and batch within tests/crosscheck's tolerances, and the bytes its
// saved_tensors_hooks saw per block equal the engine's measured kept bytes plus the extras the
// script names. A feature this PyTorch lacks is named in one line; the Hugging Face variant
// wraps the right modules. What needs python3 and torch skips where they are missing.
#include <QtTest>

#include <cmath>
#include <map>

#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "ckpt/torch_export.h"

namespace {

const QString kBinary = QStringLiteral(CKPT_CLI_PATH);
const QString kPython = QStringLiteral(CKPT_SYSTEM_PYTHON);

struct Proc {
    int code = -1;
    QString out, err;
};

Proc runProcess(const QString& program, const QStringList& args) {
    QProcess p;
    p.start(program, args);
    Proc r;
    if (!p.waitForStarted(30000)) {
        r.err = "failed to start " + program;
        return r;
    }
    if (!p.waitForFinished(600000)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

// The f32 tensors of a safetensors file (the script's --dump-grads), by name.
std::map<std::string, std::vector<float>> readSafetensors(const QString& path) {
    std::map<std::string, std::vector<float>> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return out;
    const QByteArray data = f.readAll();
    if (data.size() < 8) return out;
    quint64 n = 0;
    std::memcpy(&n, data.constData(), 8);
    const QJsonObject header = QJsonDocument::fromJson(data.mid(8, qsizetype(n))).object();
    for (auto it = header.begin(); it != header.end(); ++it) {
        const QJsonObject info = it.value().toObject();
        if (info.value("dtype").toString() != "F32") continue;
        const QJsonArray at = info.value("data_offsets").toArray();
        const qint64 b = at[0].toInteger(), e = at[1].toInteger();
        std::vector<float> v(size_t((e - b) / 4));
        std::memcpy(v.data(), data.constData() + 8 + n + b, size_t(e - b));
        out[it.key().toStdString()] = std::move(v);
    }
    return out;
}

ckpt::ModelSpec loadSpec(const QString& file) {
    auto spec = ckpt::load_model_spec(file.toStdString());
    if (!spec) qFatal("%s", spec.error().message.c_str());
    return *spec;
}

}  // namespace

class TstTorchExport : public QObject {
    Q_OBJECT

private slots:
    void scriptShowsThePlan();
    void extrasAreNamed();
    void badInputIsOneLine();
    void scriptNamesTheSameRun();
    void hostileNamesStayInsideStrings();
    void roundTrip_data();
    void roundTrip();
    void missingFeaturesAreNamed_data();
    void missingFeaturesAreNamed();
    void hfPlanWrapsTheLayers_data();
    void hfPlanWrapsTheLayers();
    void hfPlanRefusesOtherModels();
};

// A reader sees the plan: every block named as in the app, a checkpoint() call with a comment
// on exactly the checkpointed blocks, the header saying what wrote it and how to run it.
void TstTorchExport::scriptShowsThePlan() {
    ckpt::ModelSpec spec = loadSpec(CKPT_SOURCE_DIR "/tests/crosscheck/small_gpt.json");
    std::vector<bool> plan(spec.blocks.size(), false);
    plan[1] = plan[4] = true;
    ckpt::apply_checkpoint_set(spec, plan);
    for (ckpt::BlockSpec& b : spec.blocks) b.policy = ckpt::BlockSpec::Policy::full;
    auto cpu = ckpt::predict(spec, 1, ckpt::DeviceKind::cpu);
    QVERIFY(cpu);
    ckpt::TorchExportOptions opt;
    opt.version = "9.9.9";
    opt.script_name = "gpt.py";
    auto text = ckpt::torch_script(spec, *cpu, *cpu, opt);
    QVERIFY(text);
    const QString s = QString::fromStdString(*text);
    QVERIFY(s.startsWith("#!/usr/bin/env python3\n"));
    QVERIFY(s.contains("written by CheckpointLab 9.9.9"));
    QVERIFY(s.contains("# Run:  python3 gpt.py"));
    QVERIFY(s.contains("# Plan: --checkpoint 1,4"));
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
        const QString label = QString("# block %1 \"%2\"").arg(b).arg(QString::fromStdString(spec.blocks[b].name));
        QVERIFY2(s.contains(label), qPrintable(label));
        const QString call = QString("h = checkpoint(self.blocks[%1], h, use_reentrant=False, preserve_rng_state=True)").arg(b);
        QCOMPARE(s.contains(call), bool(plan[b]));
        QCOMPARE(s.contains(QString("# block %1 \"%2\": checkpointed.").arg(b).arg(QString::fromStdString(spec.blocks[b].name))),
                 bool(plan[b]));
    }
    QCOMPARE(s.count("checkpoint(self.blocks["), 2);

    // A segment of two checkpointed blocks: one checkpoint() around both.
    auto set = ckpt::parse_checkpoint("segments:1-2", spec);
    QVERIFY(set);
    ckpt::apply_checkpoint(spec, *set);
    auto seg = ckpt::predict(spec, 1, ckpt::DeviceKind::cpu);
    QVERIFY(seg);
    auto segText = ckpt::torch_script(spec, *seg, *seg, opt);
    QVERIFY(segText);
    const QString t = QString::fromStdString(*segText);
    QVERIFY(t.contains("# blocks 1-2 (\"h0.attn\", \"h0.mlp\"): one checkpointed segment"));
    QVERIFY(t.contains("h = checkpoint(nn.Sequential(*self.blocks[1:3]), h, use_reentrant=False"));
    QCOMPARE(t.count("h = checkpoint("), 1);
}

// The extras a block's PyTorch composites save are named and counted (the causal mask of an
// eager causal attention over T tokens is T*T bools; rmsnorm keeps two f32 copies); a
// checkpointed block has none.
void TstTorchExport::extrasAreNamed() {
    ckpt::ModelSpec spec = loadSpec(CKPT_SOURCE_DIR "/tests/crosscheck/small_llama.json");
    const int64_t T = spec.sequence_length(), rows = spec.rows();
    auto extras = ckpt::torch_saved_extras(spec);
    bool mask = false, rms = false;
    for (size_t b = 0; b < spec.blocks.size(); ++b)
        for (const ckpt::TorchExtra& e : extras[b]) {
            if (e.what.find("causal mask") != std::string::npos) mask = e.bytes == T * T;
            if (e.what.find("rmsnorm") != std::string::npos) rms = e.bytes == 2 * rows * spec.blocks[b].layers[0].dim * 4;
        }
    QVERIFY(mask);
    QVERIFY(rms);
    ckpt::apply_checkpoint_set(spec, std::vector<bool>(spec.blocks.size(), true));
    for (const auto& e : ckpt::torch_saved_extras(spec)) QVERIFY(e.empty());
}

void TstTorchExport::badInputIsOneLine() {
    QTemporaryDir dir;
    Proc r = runProcess(kBinary, {"export-torch", "tutorial_mlp"});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("needs -o SCRIPT.py") && r.err.count('\n') == 1, qPrintable(r.err));
    r = runProcess(kBinary, {"export-torch", "tutorial_mlp", "--checkpoint", "7", "-o", dir.filePath("m.py")});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("--checkpoint") && r.err.count('\n') == 1, qPrintable(r.err));
    r = runProcess(kBinary, {"export-torch", "tutorial_mlp", "-o", dir.filePath("no/such/dir/m.py")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.count('\n') == 1, qPrintable(r.err));
}

// The script names CheckpointLab's own run of the same plan: the --checkpoint as given, so that
// `run` reads it against the same file (a segment plan once came out as a list of blocks alone).
void TstTorchExport::scriptNamesTheSameRun() {
    QTemporaryDir dir;
    const Proc r = runProcess(kBinary, {"export-torch", "lesson1_activations", "--checkpoint", "segments:0-3",
                                        "--no-tensors", "-o", dir.filePath("m.py")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QFile f(dir.filePath("m.py"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString s = QString::fromUtf8(f.readAll());
    QVERIFY2(s.contains("RUN_COMMAND = \"checkpointlab run lesson1_activations --checkpoint segments:0-3\""), qPrintable(s.left(3000)));
}

// Names come from a model file: quotes, backslashes, line breaks and a docstring's end stay
// inside string literals and comments, and the script still parses as Python.
void TstTorchExport::hostileNamesStayInsideStrings() {
    if (kPython.isEmpty()) QSKIP("no python3 in /usr/bin to parse the script");
    ckpt::ModelSpec spec = loadSpec(CKPT_SOURCE_DIR "/resources/presets/tutorial_mlp.json");
    spec.name = "m\"\"\"\n\\'x\u2028 # \x1b[31m";
    spec.blocks[1].name = "b\"\"\"\r\nimport os; os.system('false')\\";
    spec.blocks[1].checkpoint = true;
    auto cpu = ckpt::predict(spec, 1, ckpt::DeviceKind::cpu);
    QVERIFY(cpu);
    auto text = ckpt::torch_script(spec, *cpu, *cpu, {});
    QVERIFY(text);
    QTemporaryDir dir;
    QFile f(dir.filePath("m.py"));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray::fromStdString(*text));
    f.close();
    const Proc r = runProcess(kPython, {"-c", "import ast, sys; t = ast.parse(open(sys.argv[1]).read()); "
                                              "print(sum(isinstance(n, ast.Import) for n in ast.walk(t)))", f.fileName()});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.out.trimmed(), QString("12"));  // the script's own imports, none from a name
}

void TstTorchExport::roundTrip_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("plan");
    QTest::addColumn<QString>("precision");
    const QString cross = CKPT_SOURCE_DIR "/tests/crosscheck/";
    const QString presets = CKPT_SOURCE_DIR "/resources/presets/";
    for (const char* plan : {"none", "all"}) {
        QTest::addRow("tutorial_mlp %s", plan) << presets + "tutorial_mlp.json" << plan << "f32";
        QTest::addRow("small_resnet %s", plan) << cross + "small_resnet.json" << plan << "f32";
    }
    QTest::addRow("tutorial_mlp mixed") << presets + "tutorial_mlp.json" << "1" << "f32";
    QTest::addRow("small_resnet mixed") << cross + "small_resnet.json" << "0,2" << "f32";
    // The lessons, each with a mixed plan (every other block).
    for (const char* lesson : {"lesson1_activations", "lesson2_optimizer_state", "lesson3_selective_attention",
                               "lesson4_memory_limit", "lesson5_fused_attention"})
        QTest::addRow("%s every:2", lesson) << presets + lesson + ".json" << "every:2" << "f32";
    for (const char* plan : {"none", "all", "1,4"}) {
        QTest::addRow("small_gpt %s", plan) << cross + "small_gpt.json" << plan << "f32";
        QTest::addRow("small_llama %s", plan) << cross + "small_llama.json" << plan << "f32";
    }
    // Segments: a run of checkpointed blocks of one segment is one checkpoint() call.
    QTest::addRow("small_gpt segments:1-2,3-4") << cross + "small_gpt.json" << "segments:1-2,3-4" << "f32";
    QTest::addRow("small_llama segments:1-2") << cross + "small_llama.json" << "segments:1-2" << "f32";
    QTest::addRow("small_chain sqrt") << cross + "small_chain.json" << "sqrt" << "f32";
    // Mixed precision: torch.autocast (bf16 on the CPU) against the engine's bf16-mixed.
    for (const char* model : {"small_gpt", "small_llama", "small_resnet"})
        QTest::addRow("%s 1,3 bf16-mixed", model) << cross + model + ".json" << "1,3" << "bf16-mixed";
}

void TstTorchExport::roundTrip() {
    QFETCH(QString, model);
    QFETCH(QString, plan);
    QFETCH(QString, precision);
    const bool bf16 = precision == "bf16-mixed";
    if (kPython.isEmpty()) QSKIP("no python3 in /usr/bin: the exported script cannot run here");
    if (runProcess(kPython, {"-c", "import torch"}).code != 0)
        QSKIP("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch): the exported script cannot run here");

    // Dropout off (PyTorch cannot replay the engine's Philox masks), full recomputation (this
    // PyTorch has no selective policies), as tests/crosscheck does.
    ckpt::ModelSpec spec = loadSpec(model);
    for (ckpt::BlockSpec& b : spec.blocks) {
        b.policy = ckpt::BlockSpec::Policy::full;
        for (size_t i = 0; i < b.layer_count(); ++i) b.layer(i).p = 0.0;
    }
    auto set = ckpt::parse_checkpoint(plan.toStdString(), spec);
    QVERIFY2(set, set ? "" : set.error().message.c_str());
    ckpt::apply_checkpoint(spec, *set);
    if (bf16) spec.precision = ckpt::Precision::bf16_mixed;
    QTemporaryDir dir;
    const QString specFile = dir.filePath("spec.json"), script = dir.filePath("model.py");
    QVERIFY(ckpt::save_model_spec(specFile.toStdString(), spec));

    Proc r = runProcess(kBinary, {"export-torch", specFile, "-o", script});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(QFile::exists(dir.filePath("model.safetensors")));
    r = runProcess(kPython, {script, "--device", "cpu", "--steps", "2", "--threads", "1", "--json", dir.filePath("fig.json"),
                             "--dump-grads", dir.filePath("grads.safetensors")});
    QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
    QFile figFile(dir.filePath("fig.json"));
    QVERIFY(figFile.open(QIODevice::ReadOnly));
    const QJsonObject fig = QJsonDocument::fromJson(figFile.readAll()).object();

    // The engine's two steps from the same seed.
    ckpt::RunSettings settings;
    settings.threads = 1;
    auto session = ckpt::Session::create(spec, settings);
    QVERIFY(session);
    ckpt::StepOptions opts;
    opts.capture_tensors = true;
    const ckpt::StepReport first = (*session)->step(opts);
    QCOMPARE(first.status, ckpt::StepStatus::ok);
    const ckpt::StepReport second = (*session)->step({});
    QCOMPARE(second.status, ckpt::StepStatus::ok);

    // Loss and gradients: tests/crosscheck's tolerances (f32: the summation order inside GEMMs;
    // bf16: 8 significant bits, rounded at not quite the same places), the loss of both steps
    // (the second after each side's optimizer).
    const double lossTol = bf16 ? 2e-2 : 1e-5, gradTol = bf16 ? 5e-2 : 2e-4;
    const QJsonArray losses = fig.value("losses").toArray();
    QCOMPARE(losses.size(), 2);
    const double engineLoss[2] = {first.loss, second.loss};
    for (int s = 0; s < 2; ++s) {
        const double t = losses[s].toDouble();
        QVERIFY2(std::abs(engineLoss[s] - t) <= lossTol * std::abs(t),
                 qPrintable(QString("step %1: engine %2, torch %3").arg(s + 1).arg(engineLoss[s], 0, 'g', 9).arg(t, 0, 'g', 9)));
    }
    // Gradients: max|engine - torch| <= tol max|torch| + 1e-7 for every parameter.
    const auto grads = readSafetensors(dir.filePath("grads.safetensors"));
    int compared = 0;
    for (const ckpt::NamedTensor& t : first.tensors) {
        if (t.name.rfind("grad.", 0) != 0) continue;
        auto it = grads.find(t.name);
        QVERIFY2(it != grads.end(), t.name.c_str());
        QCOMPARE(it->second.size(), t.f32.size());
        double err = 0, scale = 0;
        for (size_t i = 0; i < t.f32.size(); ++i) {
            err = std::max(err, double(std::abs(t.f32[i] - it->second[i])));
            scale = std::max(scale, double(std::abs(it->second[i])));
        }
        QVERIFY2(err <= gradTol * scale + 1e-7, qPrintable(QString("%1: error %2, largest %3").arg(t.name.c_str()).arg(err).arg(scale)));
        ++compared;
    }
    QCOMPARE(size_t(compared), grads.size());
    QVERIFY(compared > 0);

    // Saved bytes: what the script embedded as CheckpointLab's (predicted) is what the engine
    // measured, and PyTorch's hooks saw exactly that plus the extras it named, every block.
    const QJsonArray blocks = fig.value("blocks").toArray();
    QCOMPARE(size_t(blocks.size()), first.blocks.size());
    for (int b = 0; b < blocks.size(); ++b) {
        const QJsonObject o = blocks[b].toObject();
        QVERIFY2(o.value("compared").toBool(), qPrintable(QString("block %1 not compared").arg(b)));
        // (In bf16 PyTorch's saved tensors hold autocast's cached weight casts too: the engine's
        // 16-bit weight copies count beside its kept bytes, as in the crosscheck.)
        QCOMPARE(o.value("checkpointlab_kept").toInteger(),
                 first.blocks[size_t(b)].kept_bytes + (bf16 ? first.blocks[size_t(b)].weight_cast_bytes : 0));
        QCOMPARE(o.value("checkpointed").toBool(), spec.blocks[size_t(b)].checkpoint);
        QVERIFY2(o.value("torch_saved").toInteger() == o.value("checkpointlab_kept").toInteger() + o.value("torch_extras").toInteger(),
                 qPrintable(QString("block %1: torch %2, CheckpointLab %3 + extras %4").arg(b).arg(o.value("torch_saved").toInteger())
                                .arg(o.value("checkpointlab_kept").toInteger()).arg(o.value("torch_extras").toInteger())));
    }
    QVERIFY(fig.value("saved_bytes_agree").toBool());
}

// Where the installed PyTorch lacks what the plan needs, the script stops before any work with
// one line naming the feature (PyTorch 1.13 has neither scaled_dot_product_attention nor
// selective checkpointing).
void TstTorchExport::missingFeaturesAreNamed_data() {
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QString>("feature");
    QTest::addColumn<QString>("probe");  // what PyTorch must lack for the row to apply
    QTest::addRow("flash attention") << QStringList{"--attention", "flash", "--policy", "full"} << "scaled_dot_product_attention"
                                     << "import torch.nn.functional as F; assert not hasattr(F, 'scaled_dot_product_attention')";
    QTest::addRow("selective policy") << QStringList{"--checkpoint", "all", "--policy", "save_matmuls"}
                                      << "create_selective_checkpoint_contexts"
                                      << "import torch.utils.checkpoint as c; assert not hasattr(c, 'create_selective_checkpoint_contexts')";
}

void TstTorchExport::missingFeaturesAreNamed() {
    QFETCH(QStringList, options);
    QFETCH(QString, feature);
    QFETCH(QString, probe);
    if (kPython.isEmpty() || runProcess(kPython, {"-c", "import torch"}).code != 0)
        QSKIP("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch): the script cannot run here");
    if (runProcess(kPython, {"-c", probe}).code != 0) QSKIP("this PyTorch has the feature");
    QTemporaryDir dir;
    const QString script = dir.filePath("m.py");
    Proc r = runProcess(kBinary, QStringList{"export-torch", CKPT_SOURCE_DIR "/tests/crosscheck/small_gpt.json", "-o", script} + options);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = runProcess(kPython, {script, "--device", "cpu", "--json", dir.filePath("fig.json")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("lacks") && r.err.contains(feature) && r.err.count('\n') == 1, qPrintable(r.err));
    QVERIFY(r.out.isEmpty());                         // before any work
    QVERIFY(!QFile::exists(dir.filePath("fig.json")));
}

// A GPT-2-shaped module tree (transformer.h[i] with attn and mlp), the exported --hf module
// applied to it with the installed PyTorch, and what got wrapped, one line per layer:
// "L:whole", "L:attn", "L:mlp" or "L:-"; "enable" when gradient_checkpointing_enable was called.
const char* const kFakeHf = R"PY(
import importlib.util, sys, torch, torch.nn as nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
spec = importlib.util.spec_from_file_location("plan", sys.argv[1])
plan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plan)
class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.attn, self.ln_2, self.mlp = nn.LayerNorm(4), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 4)
    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.h = nn.ModuleList([Layer() for _ in range(n)])
        self.enabled = None
    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None):
        self.enabled = gradient_checkpointing_kwargs
    def forward(self, x):
        for l in self.transformer.h:
            x = l(x)
        return x
m = Model(int(sys.argv[2]))
plan.apply_plan(m)
m(torch.randn(3, 4, requires_grad=True)).sum().backward()
if m.enabled is not None:
    print("enable", m.enabled)
for i, l in enumerate(m.transformer.h):
    kind = "whole" if isinstance(l, CheckpointWrapper) else "attn" if isinstance(l.attn, CheckpointWrapper) else \
        "mlp" if isinstance(l.mlp, CheckpointWrapper) else "-"
    print(f"{i}:{kind}")
)PY";

void TstTorchExport::hfPlanWrapsTheLayers_data() {
    QTest::addColumn<QString>("plan");
    QTest::addColumn<QString>("wrapped");
    // Blocks: 0 the embedding, 1 + 2i layer i's attention, 2 + 2i its MLP, 7 the head.
    QTest::addRow("mixed") << "1,2,3,6" << "0:whole 1:attn 2:mlp";
    QTest::addRow("every layer") << "1-6" << "enable {'use_reentrant': False} 0:- 1:- 2:-";
    QTest::addRow("none") << "none" << "0:- 1:- 2:-";
}

void TstTorchExport::hfPlanWrapsTheLayers() {
    QFETCH(QString, plan);
    QFETCH(QString, wrapped);
    if (kPython.isEmpty() || runProcess(kPython, {"-c", "import torch"}).code != 0)
        QSKIP("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch): the module cannot run here");
    QTemporaryDir dir;
    auto spec = ckpt::import_hf_config_file(CKPT_SOURCE_DIR "/tests/data/configs/gpt2.json", 1, 8);
    QVERIFY(spec);
    spec->blocks.erase(spec->blocks.begin() + 7, spec->blocks.end() - 1);  // three decoder layers
    std::erase_if(spec->segments, [](const ckpt::BlockRange& r) { return r.last > 6; });  // and their segments
    auto flags = ckpt::parse_checkpoint_set(plan.toStdString(), int(spec->blocks.size()));
    QVERIFY(flags);
    ckpt::apply_checkpoint_set(*spec, *flags);
    const QString specFile = dir.filePath("gpt2.json"), module = dir.filePath("gpt2_plan.py");
    QVERIFY(ckpt::save_model_spec(specFile.toStdString(), *spec));
    Proc r = runProcess(kBinary, {"export-torch", specFile, "--hf", "-o", module});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = runProcess(kPython, {"-c", kFakeHf, module, "3"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.out.simplified(), wrapped);
}

void TstTorchExport::hfPlanRefusesOtherModels() {
    QTemporaryDir dir;
    const Proc r = runProcess(kBinary, {"export-torch", "tutorial_mlp", "--hf", "-o", dir.filePath("m.py")});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("no decoder-layer blocks") && r.err.count('\n') == 1, qPrintable(r.err));
    QVERIFY(!QFile::exists(dir.filePath("m.py")));
}

QTEST_GUILESS_MAIN(TstTorchExport)
#include "tst_torch_export.moc"
