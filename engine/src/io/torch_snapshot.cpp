// Reading a PyTorch CUDA memory snapshot into a report (torch_snapshot.h). The format is the dict
// torch.cuda.memory._snapshot() returns (PyTorch's torch/cuda/memory.py documents it as the
// TypedDicts Segment, Block, TraceEntry and Frame): "segments", a list of dicts with "device",
// "total_size", ...; "device_traces", one list of TraceEntry per device, each a dict with
// "action", "addr", "size", "stream", optional "frames" (dicts of "filename", "line", "name",
// innermost first), "time_us" (PyTorch 2.1 on) and, for `oom`, "device_free". Keys the reader does
// not use are ignored, so snapshots with fields added later still open.
//
// Two passes over the chosen trace: the first pairs each free with its alloc by address (so an
// allocation's category may depend on whether it is freed, and blocks allocated before the trace
// began are found), the second emits the events. The peaks are computed as the tracking
// allocator computes them and the result must pass check_report, as a report read from a file.
#include "ckpt/torch_snapshot.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <new>
#include <unordered_map>

#include "ckpt/checked.h"
#include "ckpt/names.h"
#include "ckpt/printable.h"
#include "ckpt/recorded_run.h"
#include "ckpt/units.h"
#include "io/files.h"

namespace ckpt {

namespace {

using Value = PickleDoc::Value;
using Kind = PickleDoc::Kind;

struct Bad {
    std::string message;
};

[[noreturn]] void bad(const std::string& where, const std::string& why) { throw Bad{where + ": " + why}; }

// Windows paths too: torch\utils\checkpoint.py.
bool path_ends_with(std::string_view path, std::string_view tail) {
    if (path.size() < tail.size()) return false;
    const std::string_view end = path.substr(path.size() - tail.size());
    for (size_t i = 0; i < tail.size(); ++i)
        if (end[i] != tail[i] && !(tail[i] == '/' && end[i] == '\\')) return false;
    return true;
}

bool path_contains(std::string_view path, std::string_view part) {
    std::string p(path);
    std::replace(p.begin(), p.end(), '\\', '/');
    return p.find(part) != std::string::npos;
}

// One trace entry, as the passes need it.
struct Entry {
    enum class Action : uint8_t { alloc, free_requested, free_completed, segment_up, segment_down, oom, other };
    Action action = Action::other;
    int64_t addr = 0, size = 0, time_us = 0, device_free = 0;
    bool has_time = false;
    const Value* frames = nullptr;
};

class Reader {
public:
    explicit Reader(const PickleDoc& doc) : doc_(doc) {}

    const Value& at(const Value& dict, const char* key, const std::string& where) const {
        if (dict.kind != Kind::dict) bad(where, "expected a dict, got " + std::string(pickle_kind_name(dict.kind)));
        const Value* v = doc_.find(dict, key);
        if (!v) bad(where + "." + key, "missing");
        return *v;
    }
    int64_t integer(const Value& v, const std::string& where) const {
        int64_t x = 0;
        if (!doc_.integer(v, &x)) bad(where, "expected an int, got " + std::string(pickle_kind_name(v.kind)));
        return x;
    }
    int64_t bytes(const Value& v, const std::string& where) const {
        const int64_t x = integer(v, where);
        if (x < 0) bad(where, "is negative (" + std::to_string(x) + ")");
        return x;
    }
    const std::vector<Value>& sequence(const Value& v, const std::string& where) const {
        if (!doc_.is_sequence(v)) bad(where, "expected a list, got " + std::string(pickle_kind_name(v.kind)));
        return doc_.items(v);
    }
    std::string_view text(const Value& v) const {
        const std::string* s = doc_.text(v);
        return s ? std::string_view(*s) : std::string_view();
    }

    Entry entry(const Value& e, const std::string& where) const {
        Entry out;
        const std::string_view action = text(at(e, "action", where));
        using A = Entry::Action;
        if (action == "alloc") out.action = A::alloc;
        else if (action == "free_requested") out.action = A::free_requested;
        else if (action == "free_completed") out.action = A::free_completed;
        else if (action == "segment_alloc" || action == "segment_map") out.action = A::segment_up;
        else if (action == "segment_free" || action == "segment_unmap") out.action = A::segment_down;
        else if (action == "oom") out.action = A::oom;
        if (out.action != A::other) out.size = bytes(at(e, "size", where), where + ".size");
        if (out.action != A::other && out.action != A::oom) out.addr = integer(at(e, "addr", where), where + ".addr");
        if (out.action == A::oom)
            if (const Value* f = doc_.find(e, "device_free")) out.device_free = bytes(*f, where + ".device_free");
        if (const Value* t = doc_.find(e, "time_us"); t && t->kind == Kind::integer) {
            out.time_us = t->i;
            out.has_time = true;
        }
        if (const Value* f = doc_.find(e, "frames"); f && doc_.is_sequence(*f)) out.frames = f;
        return out;
    }

    std::vector<SnapshotFrame> frames(const Entry& e) const {
        std::vector<SnapshotFrame> out;
        if (!e.frames) return out;
        for (const Value& f : doc_.items(*e.frames)) {
            const Value* file = doc_.find(f, "filename");
            const Value* name = doc_.find(f, "name");
            out.push_back({file ? text(*file) : std::string_view(), name ? text(*name) : std::string_view()});
        }
        return out;
    }

private:
    const PickleDoc& doc_;
};

std::string bytes_text(int64_t b) { return format_bytes(b); }

TorchSnapshot convert(const PickleDoc& doc, std::string_view name, int device) {
    Reader rd(doc);
    const Value& root = doc.root();
    if (root.kind != Kind::dict)
        bad("snapshot", "expected a dict with \"segments\" and \"device_traces\", got a " +
                            std::string(pickle_kind_name(root.kind)));
    const std::vector<Value>& traces = rd.sequence(rd.at(root, "device_traces", "snapshot"), "device_traces");
    const std::vector<Value>& segments = rd.sequence(rd.at(root, "segments", "snapshot"), "segments");

    TorchSnapshot s;
    size_t best = 0;
    for (size_t d = 0; d < traces.size(); ++d) {
        const size_t n = rd.sequence(traces[d], "device_traces[" + std::to_string(d) + "]").size();
        if (n) {
            ++s.devices_traced;
            s.traces.push_back({int(d), int64_t(n)});
        }
        if (n > best && device < 0) {
            best = n;
            s.device = int(d);
        }
    }
    if (s.traces.empty())
        bad("device_traces", "no trace entries (record them with torch.cuda.memory._record_memory_history() "
                             "before taking the snapshot)");
    if (device >= 0) {
        s.device_chosen = true;
        if (size_t(device) >= traces.size() || doc.items(traces[size_t(device)]).empty()) {
            std::string traced;  // the first eight: a hostile file may list millions
            for (size_t i = 0; i < s.traces.size() && i < 8; ++i) traced += (i ? ", " : "") + std::to_string(s.traces[i].device);
            if (s.traces.size() > 8) traced += ", ... (" + std::to_string(s.traces.size()) + " in all)";
            bad("device_traces", "device " + std::to_string(device) + " has no trace entries (devices traced: " + traced + ")");
        }
        s.device = device;
    }
    const std::string at = "device_traces[" + std::to_string(s.device) + "]";
    const std::vector<Value>& trace = doc.items(traces[size_t(s.device)]);

    // Reserved bytes at the snapshot: the chosen device's segments.
    int64_t reserved_end = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const std::string where = "segments[" + std::to_string(i) + "]";
        if (const Value* d = doc.find(segments[i], "device"); d && rd.integer(*d, where + ".device") != s.device) continue;
        ++s.segments;
        if (!checked_add(reserved_end, rd.bytes(rd.at(segments[i], "total_size", where), where + ".total_size"), &reserved_end))
            bad(where, "the segments' sizes add up past the int64 range");
    }

    // Pass 1: read every entry, pair frees with allocs, find the blocks live before the trace.
    using A = Entry::Action;
    std::vector<Entry> entries(trace.size());
    std::vector<int64_t> alloc_of(trace.size(), -1);  // a free_completed: the entry of its alloc
    std::vector<char> freed(trace.size(), 0);          // an alloc: freed later in the trace
    std::unordered_map<int64_t, size_t> live;          // address -> its alloc entry
    bool timed = true;
    int64_t reserved_net = 0;
    for (size_t i = 0; i < trace.size(); ++i) {
        const std::string where = at + "[" + std::to_string(i) + "]";
        Entry& e = entries[i] = rd.entry(trace[i], where);
        timed = timed && e.has_time && (i == 0 || e.time_us >= entries[i - 1].time_us);
        switch (e.action) {
        case A::alloc:
            if (auto it = live.find(e.addr); it != live.end())
                bad(where, "alloc at address " + std::to_string(e.addr) + ", which entry " + std::to_string(it->second) +
                               " allocated and the trace never freed");
            live[e.addr] = i;
            ++s.allocs;
            break;
        case A::free_completed:
            if (auto it = live.find(e.addr); it != live.end()) {
                if (entries[it->second].size != e.size)
                    bad(where, "frees " + std::to_string(e.size) + " bytes at address " + std::to_string(e.addr) +
                                   ", allocated as " + std::to_string(entries[it->second].size) + " bytes by entry " +
                                   std::to_string(it->second));
                alloc_of[i] = int64_t(it->second);
                freed[it->second] = 1;
                live.erase(it);
            } else {
                ++s.baseline_blocks;
            }
            ++s.frees;
            break;
        case A::free_requested: ++s.free_requests; break;
        case A::segment_up:
        case A::segment_down:
            if (!checked_add(reserved_net, e.action == A::segment_up ? e.size : -e.size, &reserved_net))
                bad(where, "reserved bytes pass the int64 range");
            ++s.segment_entries;
            break;
        case A::oom:
            if (s.ooms++ == 0) s.oom_entry = int64_t(i);
            break;
        case A::other: ++s.other_entries; break;
        }
    }
    s.entries = int64_t(trace.size());
    s.timed = timed;
    s.reserved_end = reserved_end;
    if (!checked_sub(reserved_end, reserved_net, &s.reserved_start) || s.reserved_start < 0)
        bad("segments", "the device's segments hold " + bytes_text(reserved_end) + ", less than the trace's segment entries add (" +
                            bytes_text(reserved_net) + ")");

    // Pass 2: the events. An allocation's tag comes from its alloc's frames and its free carries
    // the same tag. A block from before the trace is unattributed: its free's frames say where it
    // was freed (PyTorch records the free's own stack), not what it was.
    StepReport& r = s.report;
    r.model_name = "PyTorch snapshot " + std::string(name);
    r.device = "cuda:" + std::to_string(s.device) + " (PyTorch snapshot)";
    r.step = 1;
    r.has_timeline = true;
    std::vector<MemoryTag> tags(trace.size());
    for (size_t i = 0; i < trace.size(); ++i) {
        const Entry& e = entries[i];
        if (e.action == A::alloc || e.action == A::oom) {
            const FrameAttribution f = attribute_frames(rd.frames(e), e.action == A::alloc && freed[i]);
            tags[i] = {f.category, -1, -1, f.phase};
            if (e.action == A::alloc) {
                ++s.allocs_by_rule[size_t(f.rule)];
                ++s.allocs_by_category[size_t(f.category)];
            }
        } else if (e.action == A::free_completed && alloc_of[i] >= 0) {
            tags[i] = tags[size_t(alloc_of[i])];
        } else if (e.action == A::free_completed) {
            tags[i] = {Category::unattributed, -1, -1, Phase::setup};
            const size_t u = size_t(Category::unattributed);
            if (!checked_add(r.baseline[u], e.size, &r.baseline[u])) bad(at, "the baseline passes the int64 range");
        }
    }
    const int64_t t0 = timed ? entries.front().time_us : 0;
    auto time_of = [&](size_t i) {
        if (!timed) return int64_t(i);
        int64_t ns = 0;
        if (__builtin_sub_overflow(entries[i].time_us, t0, &ns) || __builtin_mul_overflow(ns, int64_t(1000), &ns))
            bad(at, "time_us passes the int64 range in ns");
        return ns;
    };
    CategoryBytes live_bytes = r.baseline;
    r.peak = r.baseline;
    r.at_peak = r.baseline;
    int64_t total = 0, reserved = s.reserved_start;
    for (int64_t v : r.baseline)
        if (!checked_add(total, v, &total)) bad(at, "the baseline passes the int64 range");
    r.peak_total = total;
    s.reserved_peak = reserved;
    r.events.reserve(size_t(s.allocs + s.frees));
    s.reserved_over_time.reserve(size_t(s.segment_entries) + 1);
    s.reserved_over_time.push_back({0, 0, reserved});
    for (size_t i = 0; i < trace.size(); ++i) {
        const Entry& e = entries[i];
        if (e.action == A::segment_up || e.action == A::segment_down) {
            if (!checked_add(reserved, e.action == A::segment_up ? e.size : -e.size, &reserved) || reserved < 0)
                bad(at + "[" + std::to_string(i) + "]", "reserved bytes leave the range from 0 to int64's largest");
            if (reserved > s.reserved_peak) {
                s.reserved_peak = reserved;
                s.reserved_peak_entry = int64_t(i);
            }
            s.reserved_over_time.push_back({time_of(i), int64_t(r.events.size()), reserved});
            continue;
        }
        if (e.action == A::oom && int64_t(i) == s.oom_entry) {
            // Not the report's status: PyTorch raised an exception the program may have caught,
            // and the trace goes on after it.
            s.oom_requested = e.size;
            s.oom_device_free = e.device_free;
            s.oom_time_ns = time_of(i);
            s.oom_message = "PyTorch ran out of memory at trace entry " + std::to_string(i) + ": asked for " +
                            bytes_text(e.size) + " with " + bytes_text(e.device_free) + " free on the device";
            continue;
        }
        if (e.action != A::alloc && e.action != A::free_completed) continue;
        const int64_t delta = e.action == A::alloc ? e.size : -e.size;
        const size_t c = size_t(tags[i].category);
        if (!checked_add(live_bytes[c], delta, &live_bytes[c]) || !checked_add(total, delta, &total))
            bad(at + "[" + std::to_string(i) + "]", "live bytes pass the int64 range");
        const int64_t t = time_of(i);
        r.events.emplace_back(t, delta, tags[i], total);
        r.peak[c] = std::max(r.peak[c], live_bytes[c]);
        if (delta > 0 && total > r.peak_total) {  // the first allocation past every total before it
            r.peak_total = total;
            r.at_peak = live_bytes;
            r.peak_event = int64_t(r.events.size() - 1);
            r.peak_tag = tags[i];
            r.peak_time_ns = t;
        }
    }
    r.step_ns = time_of(trace.size() - 1);
    r.device_memory.reserved = reserved;
    r.device_memory.reserved_peak = s.reserved_peak;
    r.single_sample_ranges();
    if (Status ok = check_report(r, ModelSpec{}); !ok) bad(at, "does not add up: " + ok.message());
    return s;
}

}  // namespace

std::string_view snapshot_rule_name(SnapshotRule r) {
    switch (r) {
    case SnapshotRule::none: return "none";
    case SnapshotRule::recompute: return "recompute";
    case SnapshotRule::accumulate_grad: return "accumulate_grad";
    case SnapshotRule::optimizer_kept: return "optimizer_kept";
    case SnapshotRule::optimizer_freed: return "optimizer_freed";
    case SnapshotRule::module_apply: return "module_apply";
    case SnapshotRule::backward: return "backward";
    }
    return "?";
}

FrameAttribution attribute_frames(const std::vector<SnapshotFrame>& frames, bool freed) {
    bool recompute = false, accumulate = false, optimizer = false, apply = false, backward = false;
    for (const SnapshotFrame& f : frames) {
        // torch.utils.checkpoint re-running a block's forward inside backward: the reentrant
        // CheckpointFunction.backward, the non-reentrant unpack hooks (1.13: unpack; 2.x:
        // unpack_hook and recompute_fn). Its forward also runs through checkpoint.py (checkpoint,
        // forward, pack hooks), which is no recomputation, so only these names count.
        if (path_ends_with(f.filename, "torch/utils/checkpoint.py") &&
            (f.name == "backward" || f.name == "unpack" || f.name == "unpack_hook" || f.name == "recompute_fn"))
            recompute = true;
        if (f.name.find("AccumulateGrad") != std::string_view::npos) accumulate = true;
        if (path_contains(f.filename, "torch/optim/")) optimizer = true;
        if (path_ends_with(f.filename, "torch/nn/modules/module.py") && f.name == "_apply") apply = true;
        if ((path_ends_with(f.filename, "torch/autograd/__init__.py") && (f.name == "backward" || f.name == "grad")) ||
            (path_ends_with(f.filename, "torch/_tensor.py") && f.name == "backward") ||
            f.name.find("torch::autograd::Engine") != std::string_view::npos)
            backward = true;
    }
    // Most specific first: a recomputation runs inside backward; AccumulateGrad inside backward.
    if (recompute) return {Category::recomputed, Phase::recompute, SnapshotRule::recompute};
    if (accumulate) return {Category::gradient, Phase::backward, SnapshotRule::accumulate_grad};
    if (optimizer)
        return freed ? FrameAttribution{Category::temporary, Phase::optimizer, SnapshotRule::optimizer_freed}
                     : FrameAttribution{Category::optimizer_state, Phase::optimizer, SnapshotRule::optimizer_kept};
    if (apply) return {Category::parameter, Phase::setup, SnapshotRule::module_apply};
    if (backward) return {Category::unattributed, Phase::backward, SnapshotRule::backward};
    return {};
}

Result<TorchSnapshot> parse_torch_snapshot(std::string_view data, std::string_view name, int device) {
    Result<PickleDoc> doc = parse_pickle(data);
    if (!doc) return doc.error();
    try {
        return convert(*doc, name, device);
    } catch (const Bad& b) {
        return Error{b.message};
    } catch (const std::bad_alloc&) {
        return Error{"out of memory while reading the snapshot", ErrorKind::out_of_memory};
    }
}

Result<TorchSnapshot> load_torch_snapshot(const std::string& path, int device) {
    Result<std::string> text = read_text_file(path, kMaxSnapshotBytes, "PyTorch snapshot");
    if (!text) return text.error();
    const size_t slash = path.find_last_of('/');
    Result<TorchSnapshot> s =
        parse_torch_snapshot(*text, printable(slash == std::string::npos ? path : path.substr(slash + 1), 200), device);
    if (!s) return Error{printable(path, 200) + ": " + s.error().message, s.error().kind};
    return s;
}

std::string torch_snapshot_json(const TorchSnapshot& s) {
    using json = nlohmann::ordered_json;
    const StepReport& r = s.report;
    json cats = json::object(), rules = json::object();
    for (int c = 0; c < kCategoryCount; ++c)
        cats[std::string(category_name(Category(c)))] = {{"allocations", s.allocs_by_category[size_t(c)]},
                                                         {"baseline", r.baseline[size_t(c)]},
                                                         {"at_peak", r.at_peak[size_t(c)]},
                                                         {"own_peak", r.peak[size_t(c)]}};
    for (int k = 0; k < kSnapshotRuleCount; ++k) rules[std::string(snapshot_rule_name(SnapshotRule(k)))] = s.allocs_by_rule[size_t(k)];
    json traces = json::array();
    for (const TorchSnapshot::Trace& t : s.traces) traces.push_back({{"device", t.device}, {"entries", t.entries}});
    int64_t end = 0;
    for (int64_t v : r.baseline) end += v;
    for (const MemoryEvent& e : r.events) end += e.bytes;
    json j = {{"source", "pytorch_memory_snapshot"},
              {"name", r.model_name},
              {"device", s.device},
              {"devices_traced", s.devices_traced},
              {"traces", traces},
              {"device_chosen", s.device_chosen},
              {"timed", s.timed},
              {"entries", s.entries},
              {"allocs", s.allocs},
              {"frees_completed", s.frees},
              {"frees_requested", s.free_requests},
              {"segment_entries", s.segment_entries},
              {"other_entries", s.other_entries},
              {"blocks_from_before_the_trace", s.baseline_blocks},
              {"allocated", {{"start", total(r.baseline)}, {"peak", r.peak_total}, {"end", end},
                             {"peak_event", r.peak_event}, {"peak_time_ns", r.peak_time_ns}}},
              {"reserved", {{"start", s.reserved_start}, {"peak", s.reserved_peak}, {"end", s.reserved_end},
                            {"peak_entry", s.reserved_peak_entry}, {"segments", s.segments}}},
              {"categories", cats},
              {"allocations_by_rule", rules},
              {"ooms", s.ooms}};
    if (s.ooms)
        j["oom"] = {{"entry", s.oom_entry}, {"time_ns", s.oom_time_ns}, {"requested", s.oom_requested},
                    {"device_free", s.oom_device_free}, {"message", s.oom_message}};
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status write_torch_snapshot_json(const std::string& path, const TorchSnapshot& s) {
    return write_file_atomic(path, torch_snapshot_json(s));
}

}  // namespace ckpt
