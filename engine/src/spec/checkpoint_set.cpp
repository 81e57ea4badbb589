// Checkpoint sets written as text (the CLI's --checkpoint, the planner's output): which blocks
// keep only their input in forward and recompute the rest in backward. (A block's "policy" is
// something else: which of its layers a checkpointed block saves; see BlockSpec::Policy.)
//
//   none      no block is checkpointed
//   all       every block is checkpointed
//   every:K   blocks 0, K, 2K, ... (index % K == 0); every:1 is the same as all
//   sqrt      every:K with K = max(1, round(sqrt(n))) for n blocks, after Chen et al. 2016
//             ("Training deep nets with sublinear memory cost"): about sqrt(n) checkpointed
//             blocks, one at the start of each segment of about sqrt(n) blocks.
//             n = 24 -> K = 5 -> blocks 0, 5, 10, 15, 20.
//   0,3,5     the listed block indices; "4-12" is an inclusive range; spaces are ignored
//             (format_checkpoint_set writes any set this way)
//
// Counting from block 0 means a policy never comes out empty when K >= n (every:8 on a
// 5-block model checkpoints block 0), which would silently measure the unchecked model.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"

namespace ckpt {
namespace {

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

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

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<bool> every(int n, int64_t k) {
    std::vector<bool> f(size_t(n), false);
    for (int b = 0; b < n; ++b) f[size_t(b)] = b % k == 0;
    return f;
}

}  // namespace

Result<std::vector<bool>> parse_checkpoint_set(const std::string& text, int block_count) {
    const std::string t = lower(trim(text));
    const std::string quoted = "checkpoint policy \"" + text + "\"";
    if (block_count < 0) return Error{quoted + ": the model has a negative block count"};
    const int n = block_count;
    if (t.empty())
        return Error{"checkpoint policy: empty (expected none, all, sqrt, every:K or block indices like 0,3,5)"};
    if (t == "none") return std::vector<bool>(size_t(n), false);
    if (t == "all") return std::vector<bool>(size_t(n), true);
    if (t == "sqrt") {
        const int64_t k = std::max<int64_t>(1, std::llround(std::sqrt(double(n))));
        return every(n, k);
    }
    if (t.rfind("every:", 0) == 0) {
        const int64_t k = parse_index(trim(t.substr(6)));
        if (k < 1) return Error{quoted + ": K must be a positive integer (every:K checkpoints blocks 0, K, 2K, ...)"};
        return every(n, k);
    }
    if (t.find_first_not_of("0123456789,- \t") != std::string::npos)
        return Error{quoted + ": expected none, all, sqrt, every:K or block indices like 0,3,5"};

    std::vector<bool> flags(size_t(n), false);
    const std::string range_hint = n > 0 ? " (the model has " + std::to_string(n) + " blocks, 0-" +
                                               std::to_string(n - 1) + ")"
                                         : " (the model has no blocks)";
    size_t pos = 0;
    while (pos <= t.size()) {
        const size_t comma = std::min(t.find(',', pos), t.size());
        const std::string item = trim(t.substr(pos, comma - pos));
        pos = comma + 1;
        if (item.empty()) return Error{quoted + ": empty entry in the list"};
        int64_t first = 0, last = 0;
        const size_t dash = item.find('-');
        if (dash == std::string::npos) {
            first = last = parse_index(item);
            if (first < 0) return Error{quoted + ": \"" + item + "\" is not a block index"};
        } else {
            first = parse_index(trim(item.substr(0, dash)));
            last = parse_index(trim(item.substr(dash + 1)));
            if (first < 0 || last < 0) return Error{quoted + ": \"" + item + "\" is not a range like 4-12"};
            if (last < first) return Error{quoted + ": range \"" + item + "\" runs backwards"};
        }
        for (int64_t b = first; b <= last; ++b) {
            if (b >= n) return Error{quoted + ": block " + std::to_string(b) + " is out of range" + range_hint};
            if (flags[size_t(b)]) return Error{quoted + ": block " + std::to_string(b) + " is listed twice"};
            flags[size_t(b)] = true;
        }
    }
    return flags;
}

std::string format_checkpoint_set(const std::vector<bool>& flags) {
    std::string s;
    for (size_t b = 0; b < flags.size();) {
        if (!flags[b]) {
            ++b;
            continue;
        }
        size_t e = b;
        while (e + 1 < flags.size() && flags[e + 1]) ++e;
        if (!s.empty()) s += ',';
        s += std::to_string(b);
        if (e > b) {
            s += e == b + 1 ? ',' : '-';  // "4,5" reads better than "4-5"
            s += std::to_string(e);
        }
        b = e + 1;
    }
    return s.empty() ? "none" : s;
}

void apply_checkpoint_set(ModelSpec& spec, const std::vector<bool>& checkpoint) {
    for (size_t b = 0; b < spec.blocks.size() && b < checkpoint.size(); ++b) spec.blocks[b].checkpoint = checkpoint[b];
}

}  // namespace ckpt
