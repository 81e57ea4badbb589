// Sums of byte counts and times that cannot wrap. Numbers from the engine's own steps are far
// from the int64 range, but a report read from a file can hold any int64 (recorded_run.h), and
// signed overflow is undefined behaviour that, in a Release build, wraps into a figure the window
// then shows. The reader refuses a report whose sums would leave the range (checked_add); code
// that adds a report's numbers and has no error to return saturates (saturating_add), which on
// an accepted report is the exact sum.
#pragma once

#include <cstdint>
#include <limits>

namespace ckpt {

// a + b into *out; false (and *out unspecified) when the sum leaves the int64 range.
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_sub(int64_t a, int64_t b, int64_t* out) { return !__builtin_sub_overflow(a, b, out); }

// a + b, or the int64 bound it passed.
inline int64_t saturating_add(int64_t a, int64_t b) {
    int64_t s;
    if (!__builtin_add_overflow(a, b, &s)) return s;
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}
inline int64_t saturating_sub(int64_t a, int64_t b) {
    int64_t s;
    if (!__builtin_sub_overflow(a, b, &s)) return s;
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

}  // namespace ckpt
