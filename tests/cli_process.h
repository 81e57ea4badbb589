// Running the checkpointlab executable from a test as a user would (QProcess, no display), and
// the shape of its errors: shared by tst_cli and tst_cli_predict.
#pragma once

#include <QList>
#include <QPair>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

inline const QString kBinary = QStringLiteral(CKPT_CLI_PATH);

struct Run {
    QProcess::ExitStatus status = QProcess::CrashExit;
    int code = -1;
    QString out, err;
};

inline Run runCli(const QStringList& args, const QString& workDir = {}, const QList<QPair<QString, QString>>& setEnv = {}) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const auto& [name, value] : setEnv) env.insert(name, value);
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.remove("QT_QPA_PLATFORM");  // with none of the three, no arguments means the demo, not the GUI
    p.setProcessEnvironment(env);
    if (!workDir.isEmpty()) p.setWorkingDirectory(workDir);
    p.start(kBinary, args);
    Run r;
    if (!p.waitForStarted(30000)) {
        r.err = "failed to start " + kBinary;
        return r;
    }
    if (!p.waitForFinished(300000)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.status = p.exitStatus();
    r.code = p.exitCode();
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

// One line: "checkpointlab: error: ...\n" and nothing else.
inline bool isOneErrorLine(const QString& err) {
    return err.startsWith("checkpointlab: error: ") && err.endsWith('\n') && err.count('\n') == 1;
}
