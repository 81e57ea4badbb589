// Reading a JSON report back (recorded_run.h). The writer (writers.cpp) is the format's
// definition; this reader accepts what it writes, and reports from before the events and spans
// were added, and refuses everything else with the path of the first bad field. Nesting is
// checked on the raw text before nlohmann builds a tree, so a hostile file cannot exhaust the
// stack; the model spec is handed to parse_model_spec, whose rules and limits apply to it.
#include "ckpt/recorded_run.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "ckpt/names.h"
#include "ckpt/session.h"
#include "io/files.h"

namespace ckpt {
namespace {

using json = nlohmann::json;

constexpr int kMaxDepth = 64;  // a report nests six levels; a spec a few more

struct Bad {
    std::string message;
};

// The deepest nesting of arrays and objects, counted on the text (strings skipped).
int nesting_depth(const std::string& text) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > kMaxDepth) return deepest;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

// Typed access to one JSON value with its path for messages ("report.blocks[3].kept_bytes").
class Field {
public:
    Field(const json& v, std::string path) : v_(v), path_(std::move(path)) {}

    [[noreturn]] void bad(const std::string& why) const { throw Bad{path_ + ": " + why}; }
    const std::string& path() const { return path_; }
    const json& raw() const { return v_; }

    Field at(const char* key) const {
        if (!v_.is_object()) bad("expected an object");
        auto it = v_.find(key);
        if (it == v_.end()) throw Bad{path_ + "." + key + ": missing"};
        return Field(*it, path_ + "." + key);
    }
    bool has(const char* key) const { return v_.is_object() && v_.contains(key); }
    Field item(size_t i) const { return Field(v_[i], path_ + "[" + std::to_string(i) + "]"); }
    size_t size(size_t expected = 0) const {
        if (!v_.is_array()) bad("expected an array");
        if (expected && v_.size() != expected) bad("expected " + std::to_string(expected) + " values");
        return v_.size();
    }

    int64_t integer(int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max()) const {
        if (!v_.is_number_integer()) bad("expected an integer");
        const bool above = v_.is_number_unsigned() && v_.get<uint64_t>() > uint64_t(std::max<int64_t>(hi, 0));
        const int64_t x = above ? hi : v_.get<int64_t>();
        if (above || x < lo || x > hi) bad("expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
        return x;
    }
    double number() const {
        if (v_.is_null()) return std::numeric_limits<double>::quiet_NaN();  // the writer's NaN
        if (!v_.is_number()) bad("expected a number");
        return v_.get<double>();
    }
    bool flag() const {
        if (!v_.is_boolean()) bad("expected true or false");
        return v_.get<bool>();
    }
    std::string text(size_t max = 4096) const {
        if (!v_.is_string()) bad("expected a string");
        std::string s = v_.get<std::string>();
        if (s.size() > max) bad("longer than " + std::to_string(max) + " characters");
        return s;
    }
    template <typename E>
    E name() const {
        const std::string s = text(64);
        const std::optional<E> e = enum_from_name<E>(s);
        if (!e) bad("unknown name (expected " + enum_choices<E>() + ")");
        return *e;
    }

private:
    const json& v_;
    std::string path_;
};

int64_t opt_int(const Field& f, const char* key, int64_t fallback = 0) { return f.has(key) ? f.at(key).integer() : fallback; }

// A [lo, hi] pair of ns (a time's quartiles over repeats); a report from before repeats has none,
// and the range is then the figure itself.
TimeRange time_range(const Field& f, const char* key, int64_t figure) {
    if (!f.has(key)) return {figure, figure};
    const Field r = f.at(key);
    r.size(2);
    const TimeRange t{r.item(0).integer(0), r.item(1).integer(0)};
    if (t.lo_ns > t.hi_ns) r.bad("expected [lo, hi] with lo <= hi");
    return t;
}

// Categories written before a category existed (weight_cast) read as 0.
CategoryBytes categories(const Field& f) {
    CategoryBytes b{};
    if (!f.raw().is_object()) f.bad("expected an object");
    for (const EnumName<Category>& c : enum_names<Category>())
        if (f.has(std::string(c.name).c_str())) b[size_t(c.value)] = f.at(std::string(c.name).c_str()).integer(0);
    for (auto it = f.raw().begin(); it != f.raw().end(); ++it)
        if (!enum_from_name<Category>(it.key())) f.bad("unknown category (expected " + enum_choices<Category>() + ")");
    return b;
}

MemoryTag tag(const Field& f, int blocks) {
    MemoryTag t;
    t.category = f.at("category").name<Category>();
    t.block = int32_t(f.at("block").integer(-1, blocks - 1));
    t.layer = int32_t(f.at("layer").integer(-1, std::numeric_limits<int32_t>::max()));
    t.phase = f.at("phase").name<Phase>();
    return t;
}

RecordedRun read(const json& doc) {
    const Field root(doc, "report");
    if (!doc.is_object()) root.bad("expected a JSON object (a report written by checkpointlab run --report)");
    RecordedRun out;
    // The model first: the block count bounds every block index below.
    {
        const Field spec = root.at("spec");
        Result<ModelSpec> s = parse_model_spec(spec.raw().dump());
        if (!s) throw Bad{"report.spec." + s.error().message};
        out.spec = std::move(*s);
    }
    const int nblocks = int(out.spec.blocks.size());
    StepReport& r = out.report;
    r.model_name = root.at("model").text();
    r.device = root.at("device").text();
    r.tf32 = root.at("tf32").flag();
    if (root.has("precision")) r.precision = std::string(enum_name(root.at("precision").name<Precision>()));
    if (root.has("loss_scale")) r.loss_scale = float(root.at("loss_scale").number());
    if (root.has("step_skipped")) r.step_skipped = root.at("step_skipped").flag();
    r.step = int(root.at("step").integer(0, std::numeric_limits<int>::max()));
    r.dry_run = root.at("dry_run").flag();
    r.status = root.at("status").name<StepStatus>();
    r.message = root.at("message").text();
    if (r.status == StepStatus::out_of_memory) {
        const Field o = root.at("out_of_memory");
        r.oom.requested = o.at("requested_bytes").integer(0);
        r.oom.free_bytes = o.at("free_bytes").integer();
        r.oom.limit = o.at("limit_bytes").integer(0);
        if (o.has("device_refused")) r.oom.device = o.at("device_refused").flag();
        r.oom.tag = tag(o.at("tag"), nblocks);
    }
    r.loss = root.at("loss").number();
    const Field t = root.at("timings_ns");
    r.step_ns = t.at("step").integer(0);
    r.forward_ns = t.at("forward").integer(0);
    r.loss_ns = t.at("loss").integer(0);
    r.backward_ns = t.at("backward").integer(0);
    r.recompute_ns = t.at("recompute").integer(0);
    r.optimizer_ns = t.at("optimizer").integer(0);
    r.single_sample_ranges();  // a report from before repeats: one sample
    if (root.has("timing")) {
        const Field tm = root.at("timing");
        r.repeats = int(tm.at("repeats").integer(1, kMaxRepeats));
        r.kept_repeat = int(tm.at("kept_repeat").integer(0, r.repeats - 1));
        const Field g = tm.at("ranges_ns");
        r.step_range = time_range(g, "step", r.step_ns);
        r.forward_range = time_range(g, "forward", r.forward_ns);
        r.loss_range = time_range(g, "loss", r.loss_ns);
        r.backward_range = time_range(g, "backward", r.backward_ns);
        r.recompute_range = time_range(g, "recompute", r.recompute_ns);
        r.optimizer_range = time_range(g, "optimizer", r.optimizer_ns);
        const Field samples = tm.at("repeats_ns");
        const size_t n = samples.size();
        if (n != 0 && n != size_t(r.repeats)) samples.bad("expected one entry per repeat");
        for (size_t i = 0; i < n; ++i) {
            const Field x = samples.item(i);
            r.repeat_times.push_back({x.at("step").integer(0), x.at("forward").integer(0), x.at("loss").integer(0),
                                      x.at("backward").integer(0), x.at("recompute").integer(0),
                                      x.at("optimizer").integer(0)});
        }
    }

    const Field m = root.at("memory");
    r.baseline = categories(m.at("baseline"));
    r.peak = categories(m.at("peak"));
    r.peak_total = m.at("peak_total").integer(0);
    r.at_peak = categories(m.at("at_peak"));
    r.peak_tag = tag(m.at("peak_tag"), nblocks);
    r.peak_event = m.at("peak_event").integer(-1);
    r.peak_time_ns = m.at("peak_time_ns").integer(0);
    r.loss_kept_bytes = m.at("loss_kept_bytes").integer(0);
    if (m.has("device")) {
        const Field d = m.at("device");
        r.device_memory.reserved = d.at("reserved_bytes").integer(0);
        r.device_memory.reserved_peak = d.at("reserved_peak_bytes").integer(0);
        r.device_memory.workspace = d.at("workspace_bytes").integer(0);
        r.device_memory.context = d.at("context_bytes").integer(0);
        r.device_memory.total = d.at("total_bytes").integer(0);
    }

    if (root.has("predicted_time")) {
        const Field p = root.at("predicted_time");
        TimePrediction& tp = out.predicted_time;
        const Field pt = p.at("timings_ns");
        tp.step_ns = pt.at("step").integer(0);
        tp.forward_ns = pt.at("forward").integer(0);
        tp.loss_ns = pt.at("loss").integer(0);
        tp.backward_ns = pt.at("backward").integer(0);
        tp.recompute_ns = pt.at("recompute").integer(0);
        tp.optimizer_ns = pt.at("optimizer").integer(0);
        const Field th = p.at("throughput");
        tp.throughput.key = th.at("key").text();
        tp.throughput.gemm_flops = th.at("gemm_flops_per_s").number();
        tp.throughput.bandwidth = th.at("bandwidth_bytes_per_s").number();
        tp.throughput.elementwise = th.at("elementwise_per_s").number();
        tp.throughput.call_ns = th.at("call_ns").number();
        tp.throughput.measured = th.at("measured").text();
        tp.throughput.from_cache = true;
        const Field pb = p.at("blocks");
        pb.size(size_t(nblocks));
        for (size_t i = 0; i < size_t(nblocks); ++i) {
            const Field b = pb.item(i);
            BlockTimePrediction bt;
            bt.forward.ns = b.at("forward_ns").integer(0);
            bt.backward.ns = b.at("backward_ns").integer(0);
            bt.recompute.ns = b.at("recompute_ns").integer(0);
            bt.recompute_if_checkpointed = bt.recompute;
            tp.blocks.push_back(std::move(bt));
        }
        out.has_predicted_time = true;
    }
    const Field blocks = root.at("blocks");
    if (blocks.size() != size_t(nblocks))
        blocks.bad("has " + std::to_string(blocks.size()) + " blocks, the model " + std::to_string(nblocks));
    for (size_t i = 0; i < size_t(nblocks); ++i) {
        const Field b = blocks.item(i);
        BlockReport br;
        br.index = int(b.at("index").integer(int64_t(i), int64_t(i)));
        br.name = b.at("name").text();
        br.checkpoint = b.at("checkpoint").flag();
        br.forward_ns = b.at("forward_ns").integer(0);
        br.backward_ns = b.at("backward_ns").integer(0);
        br.recompute_ns = b.at("recompute_ns").integer(0);
        br.forward_range = time_range(b, "forward_range_ns", br.forward_ns);
        br.backward_range = time_range(b, "backward_range_ns", br.backward_ns);
        br.recompute_range = time_range(b, "recompute_range_ns", br.recompute_ns);
        br.kept_bytes = b.at("kept_bytes").integer(0);
        br.kept_bytes_unchecked = b.at("kept_bytes_unchecked").integer(0);
        br.avoided_bytes = b.at("avoided_bytes").integer();
        br.recomputed_bytes = b.at("recomputed_bytes").integer(0);
        br.input_kept_bytes = b.at("input_kept_bytes").integer(0);
        br.weight_cast_bytes = opt_int(b, "weight_cast_bytes");
        const Field layers = b.at("layers");
        const size_t nl = layers.size();
        if (nl != out.spec.blocks[i].layers.size()) layers.bad("does not match the model's layers");
        for (size_t k = 0; k < nl; ++k) {
            const Field l = layers.item(k);
            LayerReport lr;
            lr.type = l.at("type").text(64);
            lr.saved = l.at("saved").flag();
            lr.kept_bytes = l.at("kept_bytes").integer(0);
            lr.recomputed_bytes = l.at("recomputed_bytes").integer(0);
            br.layers.push_back(std::move(lr));
        }
        r.blocks.push_back(std::move(br));
    }
    const Field g = root.at("gradient");
    {
        const std::string hex = g.at("checksum").text(32);
        size_t used = 0;
        try {
            if (hex.rfind("0x", 0) != 0) throw std::invalid_argument("");
            r.gradient_checksum = std::stoull(hex.substr(2), &used, 16);
        } catch (const std::exception&) {
            used = std::string::npos;
        }
        if (used != hex.size() - 2) g.at("checksum").bad("expected a hexadecimal 0x... checksum");
    }
    r.gradient_sum = g.at("sum").number();
    r.gradient_abs_sum = g.at("abs_sum").number();
    r.preserve_rng = root.at("preserve_rng").flag();
    r.dropout_present = root.at("dropout_present").flag();

    // The timeline: events and spans, both or neither.
    out.has_timeline = root.has("events") && root.has("spans");
    if (!out.has_timeline) return out;
    const Field events = root.at("events");
    const size_t ne = events.size();
    if (int64_t(ne) != root.at("event_count").integer(0)) events.bad("does not hold event_count events");
    r.events.reserve(ne);
    int64_t live = total(r.baseline);
    for (size_t i = 0; i < ne; ++i) {
        const Field e = events.item(i);
        e.size(7);
        MemoryEvent ev;
        ev.time_ns = e.item(0).integer(0);
        ev.bytes = e.item(1).integer(-(int64_t(1) << 60), int64_t(1) << 60);
        ev.tag.category = e.item(2).name<Category>();
        ev.tag.block = int32_t(e.item(3).integer(-1, nblocks - 1));
        ev.tag.layer = int32_t(e.item(4).integer(-1, std::numeric_limits<int32_t>::max()));
        ev.tag.phase = e.item(5).name<Phase>();
        ev.live_total = e.item(6).integer(0);
        live += ev.bytes;
        if (ev.live_total != live) e.item(6).bad("does not equal the baseline plus the events before it");
        r.events.push_back(ev);
    }
    if (r.peak_event >= int64_t(ne)) m.at("peak_event").bad("is past the last event");
    const Field spans = root.at("spans");
    const size_t ns = spans.size();
    if (int64_t(ns) != root.at("span_count").integer(0)) spans.bad("does not hold span_count spans");
    r.spans.reserve(ns);
    for (size_t i = 0; i < ns; ++i) {
        const Field s = spans.item(i);
        s.size(5);
        Span sp;
        sp.block = int32_t(s.item(0).integer(-1, nblocks - 1));
        sp.layer = int32_t(s.item(1).integer(-1, std::numeric_limits<int32_t>::max()));
        sp.phase = s.item(2).name<Phase>();
        sp.start_ns = s.item(3).integer(0);
        sp.end_ns = s.item(4).integer(sp.start_ns);
        r.spans.push_back(sp);
    }
    return out;
}

}  // namespace

Result<RecordedRun> parse_recorded_run(const std::string& text) {
    if (text.size() > kMaxReportBytes)
        return Error{"the report is larger than " + std::to_string(kMaxReportBytes >> 20) + " MiB"};
    if (nesting_depth(text) > kMaxDepth)
        return Error{"the report nests deeper than " + std::to_string(kMaxDepth) + " levels; not a checkpointlab report"};
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return Error{"not valid JSON (a report written by checkpointlab run --report is expected)"};
    try {
        return read(doc);
    } catch (const Bad& b) {
        return Error{b.message};
    }
}

Result<RecordedRun> load_recorded_run(const std::string& path) {
    Result<std::string> text = read_text_file(path, kMaxReportBytes, "report");
    if (!text) return text.error();
    Result<RecordedRun> r = parse_recorded_run(*text);
    if (!r) return Error{path + ": " + r.error().message, r.error().kind};
    return r;
}

}  // namespace ckpt
