// A run recorded elsewhere: the JSON report `checkpointlab run --report` writes (writers.h),
// read back into the StepReport and the model spec it came from, so a front end can show a step
// that ran on a headless GPU server exactly as if it had run here. The file is untrusted input:
// its size and nesting are capped before parsing, every field is checked (types, enum names,
// block indices, event and span counts) and the first bad one is named in a one-line error.
// Reports written before they carried the memory events and spans still load; `has_timeline`
// says whether the timeline can be drawn. A report with its predicted time brings that too: the
// prediction of the machine it ran on, not of this one.
#pragma once

#include <cstddef>
#include <string>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"
#include "ckpt/timing.h"

namespace ckpt {

struct RecordedRun {
    StepReport report;
    ModelSpec spec;
    bool has_timeline = false;  // the file carried its memory events and spans
    // "predicted_time", when the report has it: the phases and each block's times, and the key
    // and figures of the throughput they came from (the layers' times are not in the file).
    bool has_predicted_time = false;
    TimePrediction predicted_time;
};

// The largest report file read (a million-event step writes about 60 MiB).
inline constexpr size_t kMaxReportBytes = size_t(256) << 20;

Result<RecordedRun> parse_recorded_run(const std::string& json_text);
// Errors start with the path; a file that cannot be read is an io error.
Result<RecordedRun> load_recorded_run(const std::string& path);

}  // namespace ckpt
