// Files a run leaves behind: a JSON report, a CSV memory timeline, a Chrome/Perfetto trace and
// a safetensors dump that PyTorch can load. Each returns an error naming the path on failure.
#pragma once

#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"
#include "ckpt/timing.h"

namespace ckpt {

// With `predicted`, the report carries the predicted times of the same step beside the measured
// ones ("predicted_time": the throughputs, the step's phases, each block's).
std::string report_to_json(const StepReport& report, const ModelSpec& spec, const TimePrediction* predicted = nullptr);
Status write_report_json(const std::string& path, const StepReport& report, const ModelSpec& spec,
                         const TimePrediction* predicted = nullptr);
Status write_timeline_csv(const std::string& path, const StepReport& report);
// The texts the two writers above write (the GUI writes them through its own QSaveFile).
std::string timeline_csv(const StepReport& report);
std::string trace_json(const StepReport& report);
Status write_trace_json(const std::string& path, const StepReport& report);
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors);

}  // namespace ckpt
