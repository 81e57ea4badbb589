// Experiment files in the window (experiment.h): the engine parses and writes them; Qt reads the
// bytes, because presets live in Qt resources the engine cannot open.
#include "ui/experiment.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "ui/file_loading.h"
#include "ui/save_file.h"

namespace ckptui {

QString parseExperiment(const QByteArray& json, Experiment* out) {
    ckpt::Result<ckpt::Experiment> e = ckpt::parse_experiment(json.toStdString());
    if (!e) return QString::fromStdString(e.error().message);
    *out = std::move(*e);
    return {};
}

QString loadExperiment(const QString& path, Experiment* out) {
    // A preset is ours; any other file is read with the size cap every opened file has.
    QByteArray text;
    if (path.startsWith(QLatin1String(":/"))) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) return QStringLiteral("cannot open %1: %2").arg(path, f.errorString());
        text = f.readAll();
    } else {
        QString why;
        text = readCapped(path, qint64(64) << 20, &why);
        if (!why.isEmpty()) return why;
    }
    Experiment e;
    const QString err = parseExperiment(text, &e);
    if (!err.isEmpty()) return QStringLiteral("%1: %2").arg(QFileInfo(path).fileName(), err);
    *out = std::move(e);
    return {};
}

QByteArray experimentToJson(const Experiment& e) { return QByteArray::fromStdString(ckpt::to_json(e)); }

QString saveExperiment(const QString& path, const Experiment& e) { return saveFileAtomically(path, experimentToJson(e)); }

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
