// Experiment files in the window (experiment.h): the engine parses and writes them; Qt reads the
// bytes, because presets live in Qt resources the engine cannot open.
#include "ui/experiment.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace ckptui {

QString parseExperiment(const QByteArray& json, Experiment* out) {
    ckpt::Result<ckpt::Experiment> e = ckpt::parse_experiment(json.toStdString());
    if (!e) return QString::fromStdString(e.error().message);
    *out = std::move(*e);
    return {};
}

QString loadExperiment(const QString& path, Experiment* out) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return QStringLiteral("cannot open %1: %2").arg(path, f.errorString());
    Experiment e;
    const QString err = parseExperiment(f.readAll(), &e);
    if (!err.isEmpty()) return QStringLiteral("%1: %2").arg(QFileInfo(path).fileName(), err);
    *out = std::move(e);
    return {};
}

QByteArray experimentToJson(const Experiment& e) { return QByteArray::fromStdString(ckpt::to_json(e)); }

QString saveExperiment(const QString& path, const Experiment& e) {
    const ckpt::Status st = ckpt::save_experiment(QFile::encodeName(path).toStdString(), e);
    return st ? QString() : QString::fromStdString(st.message());
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
