// Files a run leaves behind: a JSON report, a CSV memory timeline, a Chrome/Perfetto trace and
// a safetensors dump that PyTorch can load. Each returns an error naming the path on failure.
#pragma once

#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/report.h"
#include "ckpt/result.h"

namespace ckpt {

std::string report_to_json(const StepReport& report, const ModelSpec& spec);
Status write_report_json(const std::string& path, const StepReport& report, const ModelSpec& spec);
Status write_timeline_csv(const std::string& path, const StepReport& report);
// The texts the two writers above write (the GUI writes them through its own QSaveFile).
std::string timeline_csv(const StepReport& report);
std::string trace_json(const StepReport& report);
Status write_trace_json(const std::string& path, const StepReport& report);
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors);

}  // namespace ckpt
