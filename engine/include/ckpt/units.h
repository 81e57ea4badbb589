// Human units for bytes and durations, both ways, shared by every front end and message.
#pragma once

#include <cstdint>
#include <string>

#include "ckpt/result.h"

namespace ckpt {

// "1.50 MiB", "12.3 ms".
std::string format_bytes(int64_t bytes);
std::string format_duration_ns(int64_t ns);
// "2GiB", "512 MiB", "1.5e9", "24GB" -> bytes; error on anything else.
Result<int64_t> parse_bytes(const std::string& text);

}  // namespace ckpt
