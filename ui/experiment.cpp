// Experiment files: the engine parses the model part (same validation as the CLI); the run
// settings around it are checked here.
#include "ui/experiment.h"

#include <QDir>
#include <QFileInfo>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

namespace ckptui {

QString parseExperiment(const QByteArray& json, Experiment* out) {
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    // A bare model spec (what the CLI reads) opens as an experiment with default settings.
    if (err.error != QJsonParseError::NoError || !doc.isObject() || !doc.object().contains(QStringLiteral("model"))) {
        auto spec = ckpt::parse_model_spec(json.toStdString());
        if (!spec) return QString::fromStdString(spec.error().message);
        out->spec = *spec;
        out->run = RunOptions{};
        return {};
    }
    const QJsonObject root = doc.object();
    for (auto it = root.begin(); it != root.end(); ++it)
        if (it.key() != QLatin1String("model") && it.key() != QLatin1String("run"))
            return QStringLiteral("%1: unknown key in an experiment (expected model, run)").arg(it.key());
    auto spec = ckpt::parse_model_spec(QJsonDocument(root.value(QStringLiteral("model")).toObject()).toJson().toStdString());
    if (!root.value(QStringLiteral("model")).isObject()) return QStringLiteral("model: expected an object");
    if (!spec) return QStringLiteral("model.") + QString::fromStdString(spec.error().message);
    RunOptions run;
    const QJsonObject r = root.value(QStringLiteral("run")).toObject();
    for (auto it = r.begin(); it != r.end(); ++it) {
        const QString k = it.key();
        if (k == QLatin1String("device")) {
            if (!it->isString()) return QStringLiteral("run.device: expected a string");
            run.device = it->toString();
        } else if (k == QLatin1String("threads")) {
            if (!it->isDouble() || it->toDouble() < 0 || it->toDouble() > 1024) return QStringLiteral("run.threads: expected 0..1024");
            run.threads = it->toInt();
        } else if (k == QLatin1String("memory_limit")) {
            if (!it->isDouble() || it->toDouble() < 0) return QStringLiteral("run.memory_limit: expected bytes >= 0");
            run.memoryLimit = qint64(it->toDouble());
        } else if (k == QLatin1String("verify")) {
            if (!it->isBool()) return QStringLiteral("run.verify: expected true or false");
            run.verify = it->toBool();
        } else {
            return QStringLiteral("run.%1: unknown key (expected device, threads, memory_limit, verify)").arg(k);
        }
    }
    out->spec = *spec;
    out->run = run;
    return {};
}

QString loadExperiment(const QString& path, Experiment* out) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return QStringLiteral("cannot open %1: %2").arg(path, f.errorString());
    Experiment e;
    const QString err = parseExperiment(f.readAll(), &e);
    if (!err.isEmpty()) return QStringLiteral("%1: %2").arg(QFileInfo(path).fileName(), err);
    *out = e;
    return {};
}

QByteArray experimentToJson(const Experiment& e) {
    QJsonObject root;
    root.insert(QStringLiteral("model"), QJsonDocument::fromJson(QByteArray::fromStdString(ckpt::to_json(e.spec))).object());
    QJsonObject run;
    run.insert(QStringLiteral("device"), e.run.device);
    run.insert(QStringLiteral("threads"), e.run.threads);
    run.insert(QStringLiteral("memory_limit"), double(e.run.memoryLimit));
    run.insert(QStringLiteral("verify"), e.run.verify);
    root.insert(QStringLiteral("run"), run);
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

QString saveExperiment(const QString& path, const Experiment& e) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
    if (f.write(experimentToJson(e)) < 0) return QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
    return {};
}

QStringList presetNames() {
    QStringList names;
    for (const QString& f : QDir(QStringLiteral(":/presets")).entryList({QStringLiteral("*.json")}, QDir::Files))
        names << f.chopped(5);
    return names;
}

QString loadPreset(const QString& name, Experiment* out) {
    return loadExperiment(QStringLiteral(":/presets/%1.json").arg(name), out);
}

}  // namespace ckptui
