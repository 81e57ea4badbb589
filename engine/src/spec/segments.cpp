// Segments of a model (ModelSpec::segments): runs of consecutive blocks that are checkpointed as
// one. Here: their text form ("4-7"), the checks a list of them must pass (shared by the spec
// parser, validate_model_spec and the CLI's "segments:" sets), and the two partitions the
// rest of the engine reads: the units of checkpointing (what "every:K" counts and the editor
// ticks at once) and the runs that backward recomputes together (what the executor runs).
#include <cctype>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/printable.h"

namespace ckpt {
namespace {

// A non-negative decimal integer below 10^9, or -1.
int64_t parse_index(const std::string& s) {
    if (s.empty() || s.size() > 9) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::string without_spaces(const std::string& s) {
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    return out;
}

std::string quoted(const BlockRange& r) { return "\"" + format_block_range(r) + "\""; }

}  // namespace

std::string format_block_range(const BlockRange& r) {
    return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

Result<BlockRange> parse_block_range(const std::string& text) {
    const std::string t = without_spaces(text);
    if (t.empty()) return Error{"empty (expected block indices like \"4-7\")"};
    const size_t dash = t.find('-');
    const int64_t first = parse_index(t.substr(0, dash));
    const int64_t last = dash == std::string::npos ? first : parse_index(t.substr(dash + 1));
    if (first < 0 || last < 0)
        return Error{"\"" + printable(text) + "\" is not a block range like \"4-7\" (first and last block, inclusive)"};
    return BlockRange{int(first), int(last)};
}

std::string check_segments(const std::vector<BlockRange>& segments, int n) {
    for (size_t i = 0; i < segments.size(); ++i) {
        const BlockRange& s = segments[i];
        const std::string at = "segments[" + std::to_string(i) + "]: ";
        if (s.first < 0 || s.last < 0) return at + "block indices must not be negative";
        if (s.last < s.first)
            return at + "segment " + quoted(s) + " is empty: its last block comes before its first";
        if (s.last >= n)
            return at + "segment " + quoted(s) + ": block " + std::to_string(s.last) + " is out of range (the model has " +
                   std::to_string(n) + " blocks, 0-" + std::to_string(n - 1) + ")";
        if (s.first == s.last)
            return at + "segment " + quoted(s) +
                   " has one block: a block alone is already a segment of one (list runs of two or more)";
        if (i == 0) continue;
        const BlockRange& p = segments[i - 1];
        if (s.first < p.first)
            return at + "segment " + quoted(s) + " comes before segments[" + std::to_string(i - 1) + "] " + quoted(p) +
                   ": list segments in block order";
        if (s.first <= p.last)
            return at + "segment " + quoted(s) + " overlaps segments[" + std::to_string(i - 1) + "] " + quoted(p) +
                   " (block " + std::to_string(s.first) + " is in both)";
    }
    return {};
}

std::vector<BlockRange> checkpoint_units(int n, const std::vector<BlockRange>& segments) {
    std::vector<BlockRange> units;
    size_t next = 0;
    for (int b = 0; b < n;) {
        while (next < segments.size() && segments[next].last < b) ++next;
        if (next < segments.size() && segments[next].first == b && segments[next].last < n) {
            units.push_back(segments[next]);
            b = segments[next].last + 1;
        } else {
            units.push_back({b, b});
            ++b;
        }
    }
    return units;
}

std::vector<BlockRange> checkpoint_units(const ModelSpec& spec) {
    return checkpoint_units(int(spec.blocks.size()), spec.segments);
}

std::vector<BlockRange> recompute_segments(const CheckpointSet& set) {
    std::vector<BlockRange> runs;
    for (const BlockRange& u : checkpoint_units(int(set.checkpoint.size()), set.segments))
        for (int b = u.first; b <= u.last;) {
            if (!set.checkpoint[size_t(b)]) {
                ++b;
                continue;
            }
            int e = b;
            while (e + 1 <= u.last && set.checkpoint[size_t(e + 1)]) ++e;
            runs.push_back({b, e});
            b = e + 1;
        }
    return runs;
}

std::vector<BlockRange> recompute_segments(const ModelSpec& spec) { return recompute_segments(checkpoint_of(spec)); }

}  // namespace ckpt
