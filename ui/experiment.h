// An experiment: the model spec plus the run settings, saved as one JSON file
// {"model": <model spec>, "run": {...}}. A bare model-spec file opens too. Loading returns an
// error naming the problem and never touches the experiment the user has open.
#pragma once

#include <QString>

#include "ckpt/model_spec.h"

namespace ckptui {

struct RunOptions {
    QString device = QStringLiteral("cpu");
    int threads = 0;           // 0: the BLAS default
    qint64 memoryLimit = 0;    // bytes; 0: none
    bool verify = true;        // run an unchecked twin to compare gradients and time
    bool operator==(const RunOptions&) const = default;
};

struct Experiment {
    ckpt::ModelSpec spec;
    RunOptions run;
};

// Returns an empty string on success, else a one-line error.
QString loadExperiment(const QString& path, Experiment* out);
QString saveExperiment(const QString& path, const Experiment& e);
QString parseExperiment(const QByteArray& json, Experiment* out);
QByteArray experimentToJson(const Experiment& e);

// The presets compiled into the application (":/presets/NAME.json"), by file name.
QStringList presetNames();
QString loadPreset(const QString& name, Experiment* out);

}  // namespace ckptui
