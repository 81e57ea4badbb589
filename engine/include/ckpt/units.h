// Human units for bytes, durations and counts, both ways, shared by every front end and message.
#pragma once

#include <cstdint>
#include <string>

#include "ckpt/result.h"

namespace ckpt {

// "1.50 MiB", "12.3 ms".
std::string format_bytes(int64_t bytes);
std::string format_duration_ns(int64_t ns);
// "8,030,261,248": a count with its thousands grouped, as papers and model cards print them.
std::string format_count(int64_t n);
// "2GiB", "512 MiB", "1.5e9", "24GB" -> bytes; error on anything else.
Result<int64_t> parse_bytes(const std::string& text);

}  // namespace ckpt
