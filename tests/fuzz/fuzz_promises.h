// What the fuzz targets do when a promise breaks (a finding, like a crash: the input is kept as a
// crash-* artifact), and the promise every error of a loader keeps: one printable line, short,
// of kind bad_input (or out_of_memory when reading exhausted memory).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ckpt/printable.h"
#include "ckpt/result.h"

namespace fuzz {

[[noreturn]] inline void broken(const char* target, const char* promise, const std::string& detail) {
    std::fprintf(stderr, "%s: broken promise: %s: %s\n", target, promise, detail.c_str());
    std::abort();
}

inline void check_error(const char* target, const ckpt::Error& e) {
    if (e.kind != ckpt::ErrorKind::bad_input && e.kind != ckpt::ErrorKind::out_of_memory)
        broken(target, "error kind", e.message);
    if (e.message.empty() || e.message.size() > 2000) broken(target, "error length", ckpt::printable(e.message, 200));
    if (ckpt::printable(e.message, e.message.size()) != e.message)
        broken(target, "error printable", ckpt::printable(e.message, 400));
}

}  // namespace fuzz
