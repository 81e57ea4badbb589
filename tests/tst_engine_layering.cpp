// The engine must stay free of Qt (DESIGN.md): a headless GPU server links it without Qt, and
// the UI reaches it only through the public headers. This test reads every engine source.
#include <QtTest>

class TestEngineLayering : public QObject {
    Q_OBJECT

private slots:
    void noQtHeaderInEngine() {
        QDirIterator it(QStringLiteral(CKPT_SOURCE_DIR "/engine"), QDir::Files, QDirIterator::Subdirectories);
        int files = 0;
        const QRegularExpression qtInclude(QStringLiteral("^\\s*#\\s*include\\s*[<\"]Q[A-Za-z]*[>/\"]"),
                                           QRegularExpression::MultilineOption);
        while (it.hasNext()) {
            const QString path = it.next();
            if (!QRegularExpression(QStringLiteral("\\.(h|hpp|cpp|cu|cuh)$")).match(path).hasMatch()) continue;
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(f.readAll());
            QVERIFY2(!qtInclude.match(text).hasMatch(), qPrintable(path + " includes a Qt header"));
            ++files;
        }
        QVERIFY2(files > 10, "the engine sources were not found");
    }

    void uiIncludesNoCudaHeader() {
        QDirIterator it(QStringLiteral(CKPT_SOURCE_DIR "/ui"), QDir::Files, QDirIterator::Subdirectories);
        const QRegularExpression cuda(QStringLiteral("#\\s*include\\s*[<\"](cuda|cublas|curand)[A-Za-z_]*\\.h"));
        while (it.hasNext()) {
            const QString path = it.next();
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY2(!cuda.match(QString::fromUtf8(f.readAll())).hasMatch(), qPrintable(path));
        }
    }
};

QTEST_GUILESS_MAIN(TestEngineLayering)
#include "tst_engine_layering.moc"
