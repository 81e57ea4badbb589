// Human units for bytes and durations, both ways. Binary prefixes (KiB = 1024) are what the
// allocator counts in; decimal ones (GB = 10^9) are accepted on input because that is how
// vendors sell memory, and the two are never confused: "16G" alone is refused as ambiguous.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "ckpt/units.h"

namespace ckpt {

std::string format_bytes(int64_t bytes) {
    const char* sign = bytes < 0 ? "-" : "";
    // Through double: the magnitude of INT64_MIN is not an int64.
    const double v = std::fabs(double(bytes));
    char buf[48];
    if (v < 1024) {
        std::snprintf(buf, sizeof buf, "%s%d B", sign, int(v));
        return buf;
    }
    static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double scaled = v / 1024;
    int u = 0;
    // Move up a unit when the two-decimal rounding would print 1024.00.
    while (u < 5 && scaled >= 1024 - 0.005) {
        scaled /= 1024;
        ++u;
    }
    std::snprintf(buf, sizeof buf, "%s%.2f %s", sign, scaled, units[u]);
    return buf;
}

std::string format_duration_ns(int64_t ns) {
    const char* sign = ns < 0 ? "-" : "";
    const double v = std::fabs(double(ns));
    char buf[48];
    if (v < 1000) {
        std::snprintf(buf, sizeof buf, "%s%d ns", sign, int(v));
        return buf;
    }
    // Three significant digits; a value that rounds up to 1000 moves to the next unit.
    static const char* units[] = {"µs", "ms", "s"};
    double scaled = v / 1000;
    int u = 0;
    while (u < 2 && scaled >= 999.5) {
        scaled /= 1000;
        ++u;
    }
    const int decimals = scaled < 9.995 ? 2 : scaled < 99.95 ? 1 : 0;
    std::snprintf(buf, sizeof buf, "%s%.*f %s", sign, decimals, scaled, units[u]);
    return buf;
}

Result<int64_t> parse_bytes(const std::string& text) {
    const std::string quoted = "\"" + text + "\"";
    const std::string expected =
        " (expected a byte count such as 123, 1e9, 512MiB, 2 GiB or 1.5GB; KiB/MiB/GiB/TiB are powers "
        "of 1024, KB/MB/GB/TB powers of 1000)";
    size_t i = 0;
    const size_t n = text.size();
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i < n && text[i] == '-') return Error{quoted + ": a byte count must not be negative"};
    // The number: digits [. digits] [e [+-] digits]. Written out by hand so "inf", "nan", hex
    // and locale-dependent forms never slip through strtod.
    const size_t start = i;
    size_t digits = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
    if (i < n && text[i] == '.') {
        ++i;
        while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
    }
    if (digits == 0) return Error{quoted + ": no number" + expected};
    if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (text[j] == '+' || text[j] == '-')) ++j;
        size_t exp_digits = 0;
        while (j < n && std::isdigit(static_cast<unsigned char>(text[j]))) ++j, ++exp_digits;
        if (exp_digits > 0) i = j;  // otherwise the "e" starts a unit and is refused below
    }
    const double value = std::strtod(text.substr(start, i - start).c_str(), nullptr);

    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t end = n;
    while (end > i && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    std::string unit = text.substr(i, end - i);
    for (char& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));

    double scale = 0;
    if (unit.empty() || unit == "b") scale = 1;
    else if (unit == "kib") scale = 1024.0;
    else if (unit == "mib") scale = 1024.0 * 1024;
    else if (unit == "gib") scale = 1024.0 * 1024 * 1024;
    else if (unit == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
    else if (unit == "kb") scale = 1e3;
    else if (unit == "mb") scale = 1e6;
    else if (unit == "gb") scale = 1e9;
    else if (unit == "tb") scale = 1e12;
    else return Error{quoted + ": unknown unit \"" + text.substr(i, end - i) + "\"" + expected};

    const double bytes = value * scale;
    if (!std::isfinite(bytes) || bytes >= 9.2e18) return Error{quoted + ": too large for a byte count"};
    const double whole = std::round(bytes);
    // 1.5 KiB is 1536 bytes exactly; 0.5 B is no byte count. A tiny tolerance absorbs the
    // binary rounding of decimal fractions (0.1 * 1000).
    if (std::fabs(bytes - whole) > 1e-6 * std::max(1.0, bytes))
        return Error{quoted + ": not a whole number of bytes"};
    return int64_t(whole);
}

std::string format_count(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -(n + 1) + 1ULL : uint64_t(n));
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

}  // namespace ckpt
