// A run recorded elsewhere: the JSON report `checkpointlab run --report` writes (writers.h),
// read back into the StepReport and the model spec it came from, so a front end can show a step
// that ran on a headless GPU server exactly as if it had run here. The file is untrusted input:
//   - it is read within the limits of model files (json_reader.h): the size cap below, nesting
//     depth, 4,000,000 JSON values held at once, strings of at most kMaxReportString bytes,
//     duplicate keys refused, all checked while reading, before memory grows; the events and
//     spans are taken row by row into the report's vectors instead of being held as JSON;
//   - every field is checked (types, enum names, ranges), keys it does not know are ignored (so
//     reports with fields added later still open);
//   - the report must agree with itself and with its model (check_report) before anything is
//     drawn from it.
// The first problem is named in a one-line, printable message. Reading takes time linear in the
// file's size and memory of at most a few times it (README, "Open run").
// Reports written before they carried the memory events and spans still load, with
// report.has_timeline false.
// A report with its predicted time brings that too (has_predicted_time): the prediction of the
// machine it ran on, not of this one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"
#include "ckpt/timing.h"

namespace ckpt {

struct RecordedRun {
    StepReport report;  // report.has_timeline: the file carried its memory events and spans
    ModelSpec spec;
    // "predicted_time", when the report has it: the phases and each block's times, and the key
    // and figures of the throughput they came from (the layers' times are not in the file).
    bool has_predicted_time = false;
    TimePrediction predicted_time;
};

// The largest report file read (a million-event step writes about 60 MiB).
inline constexpr size_t kMaxReportBytes = size_t(256) << 20;
// The longest string in a report (names, messages, the model's description), in bytes as written.
inline constexpr size_t kMaxReportString = size_t(1) << 20;

Result<RecordedRun> parse_recorded_run(std::string_view json_text);
// Errors start with the path; a file that cannot be read is an io error.
Result<RecordedRun> load_recorded_run(const std::string& path);

// Whether a report agrees with itself and with the model it names, to the byte: blocks and
// layers as the model has them; block and layer indices inside the model; every total within
// int64; and when it has a timeline, its replay: per-category live bytes, from the baseline,
// never negative; each event's live_total the running sum; event times non-decreasing and inside
// the step; span ends not before their starts and inside the step; the stated peaks, the at-peak
// breakdown, the peak event, its tag and its time those of the replay. The first contradiction
// is the error, e.g. "events[812]: parameter live bytes go negative (−1,099,511,627,776)".
// Every report the engine produces passes; the reader refuses those that do not.
Status check_report(const StepReport& report, const ModelSpec& spec);

}  // namespace ckpt
