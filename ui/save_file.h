// Every file the window writes (experiments, run reports, timelines, traces; charts in
// chart_export.cpp) goes through QSaveFile: the bytes go to a temporary file beside the target,
// are flushed, and replace the target only when all of them were written. Any failure (no write
// permission, a full disk, a vanished folder) leaves the old file as it was and comes back as one
// line for the error dialog.
#pragma once

#include <QByteArray>
#include <QString>

namespace ckptui {

// "" when `path` now holds `data`, else why not (and the old file is untouched).
QString saveFileAtomically(const QString& path, const QByteArray& data);

}  // namespace ckptui
