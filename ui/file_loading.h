// Reading the files the window opens, off the GUI thread: experiments and model specs, run
// reports (File > Open run), Hugging Face configs (File > Import config) and PyTorch memory
// snapshots (File > Open PyTorch snapshot). A file is untrusted:
// only regular files are read (opening /dev/zero is a one-line error, not an abort), never more
// than the kind's cap, and parsing (which takes seconds on a hostile file) runs on a worker while
// the window stays responsive. Only the newest request is delivered.
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <memory>

#include "ckpt/recorded_run.h"
#include "ckpt/torch_snapshot.h"
#include "ui/experiment.h"
#include "ui/run_controller.h"

namespace ckptui {

enum class FileKind {
    any,         // an experiment, a model spec or a run report, by its content (drag and drop)
    experiment,  // an experiment or a bare model spec
    run,         // a report written by checkpointlab run --report
    config,      // a Hugging Face config.json, imported at a batch and sequence
    torch_snapshot,  // a PyTorch CUDA memory snapshot (torch.cuda.memory._dump_snapshot)
};

struct LoadedFile {
    FileKind kind = FileKind::experiment;  // what it turned out to be
    QString path;
    QString error;  // "" on success, else one line (shown in a dialog)
    Experiment experiment;  // experiment and config: the model (and run settings) to open
    // run: the recorded step, and the dry run of its model for that step on its kind of device,
    // which the charts draw beside the measurement as they do for a step run here
    std::shared_ptr<const ckpt::RecordedRun> run;
    ReportPtr predicted;
    // torch_snapshot: what PyTorch measured, shown in a window of its own (the model is kept)
    std::shared_ptr<const ckpt::TorchSnapshot> snapshot;
    bool ok() const { return error.isEmpty(); }
};

// The whole file if it is a regular file of at most `cap` bytes; else "" and *error says why.
QByteArray readCapped(const QString& path, qint64 cap, QString* error);
// The work itself, on the calling thread (the loader runs it on a worker; tests may call it).
// `batch` and `seq` are for configs; `stop`, once set, ends a run report's prediction early.
// Memory running out is an error, as a bad file is.
LoadedFile loadFile(const QString& path, FileKind kind, qint64 batch = 8, qint64 seq = 1024,
                    const std::atomic<bool>* stop = nullptr);

class FileLoader : public QObject {
    Q_OBJECT

public:
    explicit FileLoader(QObject* parent = nullptr);
    ~FileLoader() override;
    void load(const QString& path, FileKind kind, qint64 batch = 8, qint64 seq = 1024);
    bool isLoading() const { return pending_ > 0; }

signals:
    void loaded(const ckptui::LoadedFile& file);  // the newest request's result

private:
    int generation_ = 0;
    int pending_ = 0;
    std::shared_ptr<std::atomic<bool>> stop_;  // the newest request's
};

}  // namespace ckptui

Q_DECLARE_METATYPE(ckptui::LoadedFile)
