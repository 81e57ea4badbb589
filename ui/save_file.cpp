// Atomic saves through QSaveFile (see save_file.h).
#include "ui/save_file.h"

#include <QFileInfo>
#include <QSaveFile>

namespace ckptui {

QString saveFileAtomically(const QString& path, const QByteArray& data) {
    const QString name = QFileInfo(path).fileName();
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return QStringLiteral("cannot write %1: %2").arg(name, file.errorString());
    if (file.write(data) != data.size() || !file.flush()) {
        const QString why = file.errorString();
        file.cancelWriting();
        return QStringLiteral("cannot write %1: %2").arg(name, why);
    }
    if (!file.commit()) return QStringLiteral("cannot write %1: %2").arg(name, file.errorString());
    return {};
}

}  // namespace ckptui
