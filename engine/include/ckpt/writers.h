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
Status write_trace_json(const std::string& path, const StepReport& report);
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors);

// Human units: "1.50 MiB", "12.3 ms".
std::string format_bytes(int64_t bytes);
std::string format_duration_ns(int64_t ns);
// "2GiB", "512 MiB", "1.5e9", "24GB" -> bytes; error on anything else.
Result<int64_t> parse_bytes(const std::string& text);

}  // namespace ckpt
