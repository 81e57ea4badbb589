// An experiment: a model spec and the settings to run it with, in one JSON file
//   {"model": <model spec>,
//    "run": {"device": "cpu", "threads": 0, "memory_limit": 0, "tf32": false, "repeats": 0, "verify": true},
//    "parallel": {"dp": 8, "zero": 3, "tp": 1, "pp": 1, "microbatches": 1, "schedule": "1f1b", "rank": 0}}
// ("parallel" only when the experiment is one rank of a layout over several devices: such an
// experiment is predicted, not run).
// The GUI saves and opens it; `checkpointlab run FILE` runs it, its options overriding the file's
// settings. A bare model spec loads too, with default settings. The engine reads and writes the
// file so that both front ends judge it by the same rules, and so that 64-bit integers (a seed up
// to 2^64 - 1, a memory limit in bytes) survive a save and a load exactly: they never pass
// through a double.
#pragma once

#include <string>

#include "ckpt/model_spec.h"
#include "ckpt/parallel.h"
#include "ckpt/result.h"
#include "ckpt/session.h"

namespace ckpt {

struct ExperimentRun {
    // device, threads, memory_limit, tf32 and repeats are saved; dry_run is not: it is how a
    // front end asks for a prediction, not part of what the user set up. A front end times every
    // step as the device's default says (repeats 0) unless the file says otherwise.
    RunSettings settings{.repeats = 0};
    bool verify = true;  // the GUI steps an unchecked twin beside the run to compare gradients and time

    bool operator==(const ExperimentRun&) const = default;
};

struct Experiment {
    ModelSpec spec;
    ExperimentRun run;
    ParallelLayout parallel;  // one device unless the file says otherwise
    int rank = 0;             // the rank shown of a layout

    bool operator==(const Experiment&) const = default;
};

// Parse and validate. The model part is read by parse_model_spec itself, from the file's own
// text, so its rules (unknown and duplicate keys, sizes written as floats) and messages are
// those of a bare model file, prefixed "model."; run settings errors start "run.".
Result<Experiment> parse_experiment(const std::string& json_text);
// Errors start with the path; a file that cannot be read is an io error.
Result<Experiment> load_experiment(const std::string& path);
// The canonical file: parse_experiment(to_json(e)) == e and writing that again gives the same bytes.
std::string to_json(const Experiment& experiment);
Status save_experiment(const std::string& path, const Experiment& experiment);

}  // namespace ckpt
