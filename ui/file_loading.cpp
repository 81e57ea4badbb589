// Loading files off the GUI thread (see file_loading.h).
#include "ui/file_loading.h"

#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "ckpt/templates.h"
#include "ui/messages.h"

namespace ckptui {

namespace {

constexpr qint64 kMaxExperimentBytes = qint64(64) << 20;  // as the engine's loaders
constexpr qint64 kMaxConfigBytes = qint64(1) << 20;

// As messages show it: one printable line (a file name may hold a line break).
QString fileName(const QString& path) { return shownText(QFileInfo(path).fileName().toStdString()); }

// A report is recognised by the fields only a report has, before it is parsed as one.
bool looksLikeReport(const QByteArray& text) {
    return text.contains("\"timings_ns\"") && text.contains("\"spec\"") && text.contains("\"blocks\"");
}

LoadedFile loadRun(LoadedFile out, const QByteArray& text, const std::atomic<bool>* stop) {
    out.kind = FileKind::run;
    ckpt::Result<ckpt::RecordedRun> r = ckpt::parse_recorded_run(std::string_view(text.constData(), size_t(text.size())));
    if (!r) {
        out.error = QStringLiteral("%1: %2").arg(fileName(out.path), QString::fromStdString(r.error().message));
        return out;
    }
    // The dry run of the same model for the same kind of step on the same kind of device: the
    // steady step, or the first one when the run started without optimizer state. Linear in the
    // model's layers, each of which the report lists, so bounded by the file's size; a newer
    // request stops it.
    const ckpt::DeviceKind device =
        r->report.device.rfind("cuda", 0) == 0 ? ckpt::DeviceKind::cuda : ckpt::DeviceKind::cpu;
    for (int steps : {2, 1}) {
        ckpt::Result<ckpt::StepReport> p = ckpt::predict(r->spec, steps, device, stop);
        if (p && p->baseline == r->report.baseline) {
            out.predicted = std::make_shared<const ckpt::StepReport>(std::move(*p));
            break;
        }
    }
    out.experiment.spec = r->spec;
    out.run = std::make_shared<const ckpt::RecordedRun>(std::move(*r));
    return out;
}

}  // namespace

QByteArray readCapped(const QString& path, qint64 cap, QString* error) {
    const QFileInfo info(path);
    if (!info.exists()) {
        *error = QStringLiteral("%1: no such file").arg(path);
        return {};
    }
    if (!info.isFile()) {
        *error = QStringLiteral("%1: not a regular file").arg(path);
        return {};
    }
    if (info.size() > cap) {
        *error = QStringLiteral("%1: %2 MiB is larger than the %3 MiB such a file may have")
                     .arg(fileName(path))
                     .arg(double(info.size()) / (1 << 20), 0, 'f', 1)
                     .arg(cap >> 20);
        return {};
    }
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot open %1: %2").arg(path, f.errorString());
        return {};
    }
    QByteArray data = f.read(cap + 1);  // a file that grew since: still never more than the cap
    if (data.size() > cap) {
        *error = QStringLiteral("%1: larger than the %2 MiB such a file may have").arg(fileName(path)).arg(cap >> 20);
        return {};
    }
    error->clear();
    return data;
}

namespace {

LoadedFile loadFileOrThrow(const QString& path, FileKind kind, qint64 batch, qint64 seq, const std::atomic<bool>* stop) {
    // A dropped or named .pickle is a PyTorch snapshot (no other file the window opens is one).
    if (kind == FileKind::any && (path.endsWith(QLatin1String(".pickle")) || path.endsWith(QLatin1String(".pkl"))))
        kind = FileKind::torch_snapshot;
    LoadedFile out;
    out.path = path;
    out.kind = kind == FileKind::any ? FileKind::experiment : kind;
    if (kind == FileKind::config) {
        QString err;
        readCapped(path, kMaxConfigBytes, &err);  // the same refusals as every other file, first
        if (!err.isEmpty()) {
            out.error = err;
            return out;
        }
        ckpt::Result<ckpt::ModelSpec> s = ckpt::import_hf_config_file(path.toStdString(), batch, seq);
        if (!s) out.error = QString::fromStdString(s.error().message);
        else out.experiment.spec = std::move(*s);
        return out;
    }
    if (kind == FileKind::torch_snapshot) {
        QString err;
        const QByteArray data = readCapped(path, qint64(ckpt::kMaxSnapshotBytes), &err);
        if (!err.isEmpty()) {
            out.error = err;
            return out;
        }
        ckpt::Result<ckpt::TorchSnapshot> s = ckpt::parse_torch_snapshot(std::string_view(data.constData(), size_t(data.size())),
                                                                        fileName(path).toStdString());
        if (!s) out.error = QStringLiteral("%1: %2").arg(fileName(path), QString::fromStdString(s.error().message));
        else out.snapshot = std::make_shared<const ckpt::TorchSnapshot>(std::move(*s));
        return out;
    }
    const qint64 cap = kind == FileKind::experiment ? kMaxExperimentBytes : qint64(ckpt::kMaxReportBytes);
    QString err;
    const QByteArray text = readCapped(path, cap, &err);
    if (!err.isEmpty()) {
        out.error = err;
        return out;
    }
    if (kind == FileKind::run || (kind == FileKind::any && looksLikeReport(text))) return loadRun(out, text, stop);
    if (text.size() > kMaxExperimentBytes) {
        out.error = QStringLiteral("%1: larger than the %2 MiB a model or experiment file may have")
                        .arg(fileName(path))
                        .arg(kMaxExperimentBytes >> 20);
        return out;
    }
    const QString e = parseExperiment(text, &out.experiment);
    if (!e.isEmpty()) out.error = QStringLiteral("%1: %2").arg(fileName(path), e);
    return out;
}

}  // namespace

LoadedFile loadFile(const QString& path, FileKind kind, qint64 batch, qint64 seq, const std::atomic<bool>* stop) {
    try {
        return loadFileOrThrow(path, kind, batch, seq, stop);
    } catch (const std::bad_alloc&) {
        LoadedFile out;
        out.path = path;
        out.kind = kind == FileKind::any ? FileKind::experiment : kind;
        out.error = QStringLiteral("%1: out of memory while reading it").arg(fileName(path));
        return out;
    }
}

FileLoader::FileLoader(QObject* parent) : QObject(parent) { qRegisterMetaType<LoadedFile>(); }

FileLoader::~FileLoader() {
    if (stop_) stop_->store(true);  // a prediction still running is of no use to anyone
}

void FileLoader::load(const QString& path, FileKind kind, qint64 batch, qint64 seq) {
    const int generation = ++generation_;
    ++pending_;
    // Only the newest request is delivered: the older one's prediction stops.
    if (stop_) stop_->store(true);
    stop_ = std::make_shared<std::atomic<bool>>(false);
    auto* watcher = new QFutureWatcher<LoadedFile>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        --pending_;
        if (generation == generation_) emit loaded(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run([path, kind, batch, seq, stop = stop_] { return loadFile(path, kind, batch, seq, stop.get()); }));
}

}  // namespace ckptui
