// The malformed files shared by tst_model_spec (the loader) and tst_cli (the command line), and
// the malformed reports of tst_recorded_run: tests/data/malformed/*.json, with the expected error
// substring of each listed in expected_errors.tsv as "file<TAB>substring". Files named
// experiment_*.json are experiment files (the model file loader would only say "model: unknown
// key"); files named report_*.json are run reports (File › Open run; made by
// make_report_cases.py); the others are model files, which the experiment loader must judge the
// same way.
#pragma once

#include <QFile>
#include <QList>
#include <QPair>
#include <QString>

inline const QString kMalformedDir = QStringLiteral(CKPT_SOURCE_DIR "/tests/data/malformed/");

inline bool isExperimentCase(const QString& file) { return file.startsWith(QLatin1String("experiment_")); }
inline bool isReportCase(const QString& file) { return file.startsWith(QLatin1String("report_")); }

enum class MalformedKind { specs, reports };

// The model and experiment cases, or the report cases.
inline QList<QPair<QString, QString>> malformedCases(MalformedKind kind = MalformedKind::specs) {
    QList<QPair<QString, QString>> cases;
    QFile f(kMalformedDir + "expected_errors.tsv");
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(f.fileName()));
    for (const QByteArray& raw : f.readAll().split('\n')) {
        const QString line = QString::fromUtf8(raw);
        if (line.trimmed().isEmpty() || line.startsWith('#')) continue;
        const qsizetype tab = line.indexOf('\t');
        if (isReportCase(line.left(tab)) != (kind == MalformedKind::reports)) continue;
        cases.append({line.left(tab), line.mid(tab + 1)});
    }
    return cases;
}
