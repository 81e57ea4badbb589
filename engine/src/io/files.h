// Reading and writing whole files for the engine's loaders and writers, in one place: a read
// refuses anything larger than a cap (a model file is never 64 MiB; /dev/zero must not eat the
// memory), and a write goes to a temporary file beside the target, is flushed to disk and
// renamed over it, so a full disk or a crash leaves the old file whole and an error is returned.
#pragma once

#include <cstddef>
#include <string>

#include "ckpt/result.h"

namespace ckpt {

// The whole file, or an io error naming `what` and the path ("model file", "experiment").
Result<std::string> read_text_file(const std::string& path, size_t max_bytes, const std::string& what);
// Replaces `path` with `data` atomically (device files and FIFOs are written in place).
Status write_file_atomic(const std::string& path, const std::string& data);

}  // namespace ckpt
