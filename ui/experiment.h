// An experiment in the window: the engine's Experiment (model spec plus run settings, one JSON
// file {"model": <model spec>, "run": {...}}; see ckpt/experiment.h), read and written by the
// engine so that the file the GUI saves is the file `checkpointlab run` runs. These wrappers
// add what only Qt knows: Qt resource paths (the compiled-in presets) and QString errors.
// Loading returns an error naming the file and never touches the experiment the user has open.
#pragma once

#include <QString>
#include <QStringList>

#include "ckpt/experiment.h"

namespace ckptui {

using Experiment = ckpt::Experiment;
using RunOptions = ckpt::ExperimentRun;

// Return an empty string on success, else a one-line error.
QString loadExperiment(const QString& path, Experiment* out);  // also ":/presets/..." resources
QString saveExperiment(const QString& path, const Experiment& e);
QString parseExperiment(const QByteArray& json, Experiment* out);
QByteArray experimentToJson(const Experiment& e);

// The presets compiled into the application (":/presets/NAME.json"), by file name.
QStringList presetNames();
QString loadPreset(const QString& name, Experiment* out);

}  // namespace ckptui
