// Checkpoint sets written as text (the CLI's --checkpoint, the planner's output): which blocks
// keep only their input in forward and are recomputed in backward, and how they group into
// segments. (A block's "policy" is something else: which of its layers a checkpointed block
// saves; see BlockSpec::Policy.) The counting forms count units (checkpoint_units): a segment
// of the model, e.g. a transformer layer's two blocks, or a block outside every segment.
//
//   none      no block is checkpointed
//   all       every unit is checkpointed
//   every:K   units 0, K, 2K, ... (index % K == 0); every:1 is the same as all
//   sqrt      Chen et al. 2016 ("Training deep nets with sublinear memory cost"): the n units
//             cut into ceil(sqrt(n)) segments of about equal forward FLOPs, each keeping only
//             its input, all but the last checkpointed, as torch's checkpoint_sequential does
//             (the last one's recomputation would follow its own forward at once). Peak
//             activation memory grows as sqrt(n) instead of n. 24 blocks -> 0-4,5-9,10-13,14-18
//             checkpointed, 19-23 not.
//   0,3,5     the listed block indices; "4-12" is an inclusive range; spaces are ignored
//             (format_checkpoint_set writes any per-block set this way); the segments stay
//   segments:0-3,4-7   these runs checkpointed, each recomputed as one ("5" alone is a block
//             checkpointed alone); every other block unchecked
//
// Counting from unit 0 means a policy never comes out empty when K >= n (every:8 on a 5-block
// model checkpoints block 0), which would silently measure the unchecked model.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"
#include "ckpt/planner.h"

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

std::string range_hint(int n) {
    return n > 0 ? " (the model has " + std::to_string(n) + " blocks, 0-" + std::to_string(n - 1) + ")"
                 : " (the model has no blocks)";
}

// Sets the flags of every block of each unit to the unit's pick.
void set_units(const std::vector<BlockRange>& units, const std::vector<bool>& picked, std::vector<bool>& flags) {
    for (size_t u = 0; u < units.size(); ++u)
        for (int b = units[u].first; b <= units[u].last; ++b) flags[size_t(b)] = picked[u];
}

// What the text form needs to know of the model: its units, its segments and, for sqrt, the
// forward FLOPs of its blocks (empty: count the units).
struct Chain {
    int blocks = 0;
    std::vector<BlockRange> units;
    std::vector<BlockRange> segments;
    std::vector<double> flops;
};

// Chen's cut of the units into ceil(sqrt(n)) runs of about equal cost; all but the last run
// checkpointed, each as one segment.
std::vector<BlockRange> sqrt_runs(const Chain& c) {
    const int n = int(c.units.size());
    if (n == 0) return {};
    if (n == 1) return {c.units[0]};  // one unit: checkpoint it, not nothing
    int k = 1;
    while (k * k < n) ++k;  // ceil(sqrt(n)), exactly
    // prefix[u]: the cost of units 0..u-1 (forward FLOPs, or 1 a unit without them).
    std::vector<double> prefix(size_t(n) + 1, 0.0);
    for (int u = 0; u < n; ++u) {
        double f = 1.0;
        if (!c.flops.empty()) {
            f = 0.0;
            for (int b = c.units[size_t(u)].first; b <= c.units[size_t(u)].last; ++b) f += c.flops[size_t(b)];
        }
        prefix[size_t(u) + 1] = prefix[size_t(u)] + f;
    }
    if (!(prefix[size_t(n)] > 0.0))
        for (int u = 0; u <= n; ++u) prefix[size_t(u)] = u;
    // Cut j (1..k-1) before the unit where the running cost comes nearest j/k of the total,
    // leaving at least one unit to every run.
    std::vector<int> starts{0};
    for (int j = 1; j < k; ++j) {
        const double target = prefix[size_t(n)] * j / k;
        const int lo = starts.back() + 1, hi = n - (k - j);
        int best = lo;
        for (int cut = lo; cut <= hi; ++cut) {
            if (std::fabs(prefix[size_t(cut)] - target) < std::fabs(prefix[size_t(best)] - target)) best = cut;
            if (prefix[size_t(cut)] > target) break;  // the prefix only grows from here
        }
        starts.push_back(best);
    }
    std::vector<BlockRange> runs;  // the last run (from starts.back()) is left unchecked
    for (size_t i = 0; i + 1 < starts.size(); ++i)
        runs.push_back({c.units[size_t(starts[i])].first, c.units[size_t(starts[i + 1] - 1)].last});
    return runs;
}

Result<CheckpointSet> parse(const std::string& text, const Chain& c) {
    const std::string t = lower(trim(text));
    const std::string quoted = "checkpoint policy \"" + text + "\"";
    const int n = c.blocks;
    CheckpointSet set;
    set.checkpoint.assign(size_t(n), false);
    set.segments = c.segments;
    if (t.empty())
        return Error{"checkpoint policy: empty (expected none, all, sqrt, every:K, block indices like 0,3,5 or "
                     "segments:0-3,4-7)"};
    if (t == "none") return set;
    const int units = int(c.units.size());
    if (t == "all") {
        set.checkpoint.assign(size_t(n), true);
        return set;
    }
    if (t == "sqrt") return checkpoint_from_runs(sqrt_runs(c), c.blocks, c.segments);
    if (t.rfind("every:", 0) == 0) {
        const int64_t k = parse_index(trim(t.substr(6)));
        if (k < 1) return Error{quoted + ": K must be a positive integer (every:K checkpoints blocks 0, K, 2K, ...)"};
        std::vector<bool> picked(static_cast<size_t>(units));
        for (int u = 0; u < units; ++u) picked[size_t(u)] = u % k == 0;
        set_units(c.units, picked, set.checkpoint);
        return set;
    }
    if (t.rfind("segments:", 0) == 0) {
        std::vector<BlockRange> runs;
        const std::string list = t.substr(9);
        size_t pos = 0;
        while (pos <= list.size()) {
            const size_t comma = std::min(list.find(',', pos), list.size());
            const std::string item = trim(list.substr(pos, comma - pos));
            pos = comma + 1;
            if (item.empty()) return Error{quoted + ": empty segment in the list (expected segments:0-3,4-7)"};
            Result<BlockRange> r = parse_block_range(item);
            if (!r) return Error{quoted + ": " + r.error().message};
            const std::string seg = "segment \"" + item + "\"";
            if (r->last < r->first) return Error{quoted + ": " + seg + " is empty: its last block comes before its first"};
            if (r->last >= n)
                return Error{quoted + ": " + seg + ": block " + std::to_string(r->last) + " is out of range" + range_hint(n)};
            if (!runs.empty()) {
                const BlockRange& p = runs.back();
                const std::string prev = "\"" + format_block_range(p) + "\"";
                if (r->first < p.first)
                    return Error{quoted + ": " + seg + " comes before " + prev + ": list segments in block order"};
                if (r->first <= p.last)
                    return Error{quoted + ": " + seg + " overlaps " + prev + " (block " + std::to_string(r->first) +
                                 " is in both)"};
            }
            runs.push_back(*r);
        }
        return checkpoint_from_runs(runs, c.blocks, c.segments);
    }
    if (t.find_first_not_of("0123456789,- \t") != std::string::npos)
        return Error{quoted + ": expected none, all, sqrt, every:K, block indices like 0,3,5 or segments:0-3,4-7"};

    std::vector<bool>& flags = set.checkpoint;
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
            if (b >= n) return Error{quoted + ": block " + std::to_string(b) + " is out of range" + range_hint(n)};
            if (flags[size_t(b)]) return Error{quoted + ": block " + std::to_string(b) + " is listed twice"};
            flags[size_t(b)] = true;
        }
    }
    return set;
}

}  // namespace

CheckpointSet checkpoint_from_runs(const std::vector<BlockRange>& runs, int block_count,
                                   const std::vector<BlockRange>& segments) {
    CheckpointSet set;
    set.checkpoint.assign(size_t(block_count), false);
    for (const BlockRange& r : runs) {
        for (int b = r.first; b <= r.last; ++b) set.checkpoint[size_t(b)] = true;
        if (r.size() > 1) set.segments.push_back(r);
    }
    // The model's other segments stay (a transformer layer's grouping outside the runs), unless
    // one touches a run: it would merge checkpointed blocks that the runs keep apart.
    for (const BlockRange& s : segments) {
        const bool touches = std::any_of(runs.begin(), runs.end(), [&](const BlockRange& r) {
            return r.first <= s.last && s.first <= r.last;
        });
        if (!touches) set.segments.push_back(s);
    }
    std::sort(set.segments.begin(), set.segments.end(),
              [](const BlockRange& a, const BlockRange& b) { return a.first < b.first; });
    return set;
}

Result<CheckpointSet> parse_checkpoint(const std::string& text, const ModelSpec& spec) {
    const int n = int(spec.blocks.size());
    if (std::string bad = check_segments(spec.segments, n); !bad.empty()) return Error{bad};
    Chain c{n, checkpoint_units(spec), spec.segments, {}};
    if (lower(trim(text)) == "sqrt") c.flops = block_forward_flops(spec);
    return parse(text, c);
}

Result<CheckpointSet> parse_checkpoint(const std::string& text, int block_count, const std::vector<BlockRange>& segments,
                                       const std::vector<double>& block_flops) {
    if (std::string bad = check_segments(segments, block_count); !bad.empty()) return Error{bad};
    if (!block_flops.empty() && int(block_flops.size()) != block_count)
        return Error{"checkpoint policy: expected " + std::to_string(block_count) + " block costs, got " +
                     std::to_string(block_flops.size())};
    return parse(text, Chain{block_count, checkpoint_units(block_count, segments), segments, block_flops});
}

Result<std::vector<bool>> parse_checkpoint_set(const std::string& text, int block_count) {
    if (block_count < 0) return Error{"checkpoint policy \"" + text + "\": the model has a negative block count"};
    Chain c{block_count, {}, {}, {}};
    for (int b = 0; b < block_count; ++b) c.units.push_back({b, b});
    Result<CheckpointSet> set = parse(text, c);
    if (!set) return set.error();
    if (!set->segments.empty())
        return Error{"checkpoint policy \"" + text + "\" groups blocks into segments; a per-block set was expected"};
    return set->checkpoint;
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

std::string format_checkpoint(const CheckpointSet& set, const ModelSpec& spec) {
    if (set.segments == spec.segments) return format_checkpoint_set(set.checkpoint);
    ModelSpec s = spec;
    apply_checkpoint(s, set);
    const std::vector<BlockRange> runs = recompute_segments(s);
    if (runs.empty()) return "none";
    std::string out = "segments:";
    for (size_t i = 0; i < runs.size(); ++i) out += (i ? "," : "") + format_block_range(runs[i]);
    return out;
}

void apply_checkpoint_set(ModelSpec& spec, const std::vector<bool>& checkpoint) {
    for (size_t b = 0; b < spec.blocks.size() && b < checkpoint.size(); ++b) spec.blocks[b].checkpoint = checkpoint[b];
}

void apply_checkpoint(ModelSpec& spec, const CheckpointSet& set) {
    apply_checkpoint_set(spec, set.checkpoint);
    spec.segments = set.segments;
}

CheckpointSet checkpoint_of(const ModelSpec& spec) {
    CheckpointSet set;
    for (const BlockSpec& b : spec.blocks) set.checkpoint.push_back(b.checkpoint);
    set.segments = spec.segments;
    return set;
}

std::string checkpoint_set_of(const ModelSpec& spec) {
    return format_checkpoint(checkpoint_of(spec), spec);
}

}  // namespace ckpt
