// The malformed model files shared by tst_model_spec (the loader) and tst_cli (the command
// line): tests/data/malformed/*.json, with the expected error substring of each listed in
// expected_errors.tsv as "file<TAB>substring".
#pragma once

#include <QFile>
#include <QList>
#include <QPair>
#include <QString>

inline const QString kMalformedDir = QStringLiteral(CKPT_SOURCE_DIR "/tests/data/malformed/");

inline QList<QPair<QString, QString>> malformedCases() {
    QList<QPair<QString, QString>> cases;
    QFile f(kMalformedDir + "expected_errors.tsv");
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(f.fileName()));
    for (const QByteArray& raw : f.readAll().split('\n')) {
        const QString line = QString::fromUtf8(raw);
        if (line.trimmed().isEmpty() || line.startsWith('#')) continue;
        const qsizetype tab = line.indexOf('\t');
        cases.append({line.left(tab), line.mid(tab + 1)});
    }
    return cases;
}
