// Reading a JSON report back (recorded_run.h). The writer (writers.cpp) is the format's
// definition; this reader accepts what it writes, and reports from before the events and spans
// were added, and refuses everything else with the path of the first bad field. The text goes
// through the bounded reader of model files (json_reader.h) with the report's limits; the rows of
// "events" and "spans" are converted as they are read and never held as JSON. The model spec is
// handed to parse_model_spec, whose rules and limits apply to it, and the result must pass
// check_report (report_check.cpp) before it is returned.
//
// Keys the reader does not know are ignored, so that a report written by a later version with
// more fields still opens: a new field is one more line in read() (or in the row readers).
#include "ckpt/recorded_run.h"

#include <cmath>
#include <limits>
#include <new>

#include <nlohmann/json.hpp>

#include "ckpt/names.h"
#include "ckpt/units.h"
#include "ckpt/session.h"
#include "io/files.h"
#include "spec/json_reader.h"

namespace ckpt {
namespace {

using json = nlohmann::json;

// Nesting and values as model files (the spec is nested one level inside the report), strings up
// to kMaxReportString. The values are those held at once: the rows are not held.
constexpr JsonLimits kReportJsonLimits{kMaxJsonDepth, kMaxJsonValues, "reports", 1, 0, kMaxReportString};

// The shortest rows the text can hold, comma included ([0,0,"input",0,0,"setup",0], and
// [0,0,"loss",0,0]): a bound on how many rows a text of a given size has.
constexpr size_t kShortestEventRow = 28, kShortestSpanRow = 17;

struct Bad {
    std::string message;
};

// Typed access to one JSON value, with its path for messages ("blocks[3].kept_bytes"). The path
// is put together only for a message: a field knows its parent and its key or index, and a
// report has millions of fields that are never wrong.
class Field {
public:
    // A root: the document (name ""), or one row ("events", i).
    explicit Field(const json& v, const char* name = "", size_t index = kNone) : v_(v), key_(name), index_(index) {}

    [[noreturn]] void bad(const std::string& why) const { throw Bad{path() + ": " + why}; }
    const json& raw() const { return v_; }
    std::string path() const {
        std::string p = parent_ ? parent_->path() : std::string();
        if (*key_) p += (p.empty() ? "" : ".") + std::string(key_);
        if (index_ != kNone) p += "[" + std::to_string(index_) + "]";
        return p;
    }

    // The parent must outlive the child (fields are temporaries of one expression or locals).
    Field at(const char* key) const {
        if (!v_.is_object()) bad("expected an object");
        auto it = v_.find(key);
        if (it == v_.end()) Field(v_, this, key, kNone).bad("missing");
        return Field(*it, this, key, kNone);
    }
    bool has(const char* key) const { return v_.is_object() && v_.contains(key); }
    Field item(size_t i) const { return Field(v_[i], this, "", i); }
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
    int32_t index() const { return int32_t(integer(-1, std::numeric_limits<int32_t>::max())); }
    double number() const {
        if (v_.is_null()) return std::numeric_limits<double>::quiet_NaN();  // the writer's NaN
        if (!v_.is_number()) bad("expected a number");
        return v_.get<double>();
    }
    bool flag() const {
        if (!v_.is_boolean()) bad("expected true or false");
        return v_.get<bool>();
    }
    // Any length the reader's limit allows (kMaxReportString): names come from model files.
    std::string text(size_t max = kMaxReportString) const {
        if (!v_.is_string()) bad("expected a string");
        const std::string& s = v_.get_ref<const std::string&>();
        if (s.size() > max) bad("longer than " + std::to_string(max) + " bytes");
        return s;
    }
    template <typename E>
    E name() const {
        if (!v_.is_string()) bad("expected a string");
        const std::optional<E> e = enum_from_name<E>(v_.get_ref<const std::string&>());
        if (!e) bad("unknown name (expected " + enum_choices<E>() + ")");
        return *e;
    }

private:
    static constexpr size_t kNone = size_t(-1);
    Field(const json& v, const Field* parent, const char* key, size_t index)
        : v_(v), parent_(parent), key_(key), index_(index) {}

    const json& v_;
    const Field* parent_ = nullptr;
    const char* key_ = "";
    size_t index_ = kNone;
};

int64_t opt_int(const Field& f, const char* key, int64_t fallback = 0) { return f.has(key) ? f.at(key).integer() : fallback; }

// A step's times by phase, {"step", "forward", "loss", "backward", "recompute", "optimizer"} in
// ns: the measured step's, each repeat's and the predicted step's have this shape.
RepeatTimes phase_times(const Field& f) {
    return {f.at("step").integer(0),     f.at("forward").integer(0),   f.at("loss").integer(0),
            f.at("backward").integer(0), f.at("recompute").integer(0), f.at("optimizer").integer(0)};
}

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

// Block and layer are read as any index; check_report holds them to the model.
MemoryTag tag(const Field& f) {
    MemoryTag t;
    t.category = f.at("category").name<Category>();
    t.block = f.at("block").index();
    t.layer = f.at("layer").index();
    t.phase = f.at("phase").name<Phase>();
    return t;
}

// The rows of "events" and "spans", converted as read_json hands them over.
class Rows {
public:
    explicit Rows(size_t text_size) : text_size_(text_size) {}

    std::vector<MemoryEvent> events;
    std::vector<Span> spans;

    std::string take(const std::string& member, size_t i, const json& row, const json& root) {
        try {
            if (member == "events") event(i, row, root);
            else span(i, row, root);
        } catch (const Bad& b) {
            return b.message;
        }
        return {};
    }

private:
    size_t text_size_;
    size_t expected_events_ = size_t(-1), expected_spans_ = size_t(-1);  // the counts, when read first

    // Row i of `member` into `v`, checked to have `fields` values. The writer puts the count before
    // the rows: the vector is sized once, to at most what the text can hold, and a row past the
    // count is refused at once, not after the whole file.
    template <typename T>
    Field row(std::vector<T>& v, size_t* expected, const char* member, const char* count, size_t shortest, size_t fields,
              size_t i, const json& row, const json& root) {
        if (i == 0) {
            const auto it = root.find(count);
            if (it != root.end() && it->is_number_unsigned()) {
                const uint64_t n = it->get<uint64_t>();
                v.reserve(size_t(std::min<uint64_t>(n, text_size_ / shortest + 1)));
                *expected = n < uint64_t(size_t(-1)) ? size_t(n) : size_t(-1);
            }
        }
        if (i == *expected)
            Field(root, member).bad("holds more than the " + format_count(int64_t(i)) + " rows of " + count);
        const Field f(row, member, i);
        f.size(fields);
        return f;
    }

    void event(size_t i, const json& r, const json& root) {
        const Field e = row(events, &expected_events_, "events", "event_count", kShortestEventRow, 7, i, r, root);
        MemoryTag t;
        t.category = e.item(2).name<Category>();
        t.block = e.item(3).index();
        t.layer = e.item(4).index();
        t.phase = e.item(5).name<Phase>();
        events.emplace_back(e.item(0).integer(0), e.item(1).integer(), t, e.item(6).integer());
    }

    void span(size_t i, const json& r, const json& root) {
        const Field s = row(spans, &expected_spans_, "spans", "span_count", kShortestSpanRow, 5, i, r, root);
        spans.emplace_back(s.item(0).index(), s.item(1).index(), s.item(2).name<Phase>(), s.item(3).integer(0),
                           s.item(4).integer(0));
    }
};

RecordedRun read(const json& doc, Rows& rows) {
    const Field root(doc);
    if (!doc.is_object()) throw Bad{"not a report: expected a JSON object (a report written by checkpointlab run --report)"};
    RecordedRun out;
    {
        // Through the model file's parser, so the same rules and messages apply; the text is the
        // canonical dump of what read_json accepted.
        const Field spec = root.at("spec");
        Result<ModelSpec> s = parse_model_spec(spec.raw().dump());
        if (!s && s.error().kind == ErrorKind::out_of_memory) throw std::bad_alloc();
        if (!s) throw Bad{"spec." + s.error().message};
        out.spec = std::move(*s);
    }
    StepReport& r = out.report;
    r.model_name = root.at("model").text();
    r.device = root.at("device").text();
    r.tf32 = root.at("tf32").flag();
    if (root.has("precision")) r.precision = std::string(enum_name(root.at("precision").name<Precision>()));
    if (root.has("loss_scale")) {
        // A float: a double past its range would not convert (undefined behaviour).
        const Field f = root.at("loss_scale");
        const double v = f.number();
        if (std::isfinite(v) && std::fabs(v) > double(std::numeric_limits<float>::max())) f.bad("out of the range of a float");
        r.loss_scale = float(v);
    }
    if (root.has("step_skipped")) r.step_skipped = root.at("step_skipped").flag();
    r.step = int(root.at("step").integer(0, std::numeric_limits<int>::max()));
    r.dry_run = root.at("dry_run").flag();
    if (root.has("parallel")) r.parallel = root.at("parallel").text();
    r.status = root.at("status").name<StepStatus>();
    r.message = root.at("message").text();
    if (r.status == StepStatus::out_of_memory) {
        const Field o = root.at("out_of_memory");
        r.oom.requested = o.at("requested_bytes").integer(0);
        r.oom.free_bytes = o.at("free_bytes").integer();
        r.oom.limit = o.at("limit_bytes").integer(0);
        if (o.has("device_refused")) r.oom.device = o.at("device_refused").flag();
        r.oom.tag = tag(o.at("tag"));
    }
    r.loss = root.at("loss").number();
    const RepeatTimes t = phase_times(root.at("timings_ns"));
    r.step_ns = t.step_ns;
    r.forward_ns = t.forward_ns;
    r.loss_ns = t.loss_ns;
    r.backward_ns = t.backward_ns;
    r.recompute_ns = t.recompute_ns;
    r.optimizer_ns = t.optimizer_ns;
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
        for (size_t i = 0; i < n; ++i) r.repeat_times.push_back(phase_times(samples.item(i)));
    }

    const Field m = root.at("memory");
    r.baseline = categories(m.at("baseline"));
    r.peak = categories(m.at("peak"));
    r.peak_total = m.at("peak_total").integer(0);
    r.at_peak = categories(m.at("at_peak"));
    r.peak_tag = tag(m.at("peak_tag"));
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

    const Field blocks = root.at("blocks");
    const size_t nblocks = out.spec.blocks.size();
    // What each block is recomputed with, from the model (reports from before segments carry
    // nothing else); a report that carries it must agree.
    std::vector<int> run_first(nblocks, -1), run_last(nblocks, -1);
    for (const BlockRange& g : recompute_segments(out.spec))
        for (int b = g.first; b <= g.last; ++b) run_first[size_t(b)] = g.first, run_last[size_t(b)] = g.last;
    if (blocks.size() != nblocks)
        blocks.bad("has " + std::to_string(blocks.size()) + " blocks, the model " + std::to_string(nblocks));
    if (root.has("predicted_time")) {
        const Field p = root.at("predicted_time");
        TimePrediction& tp = out.predicted_time;
        const RepeatTimes pt = phase_times(p.at("timings_ns"));
        tp.step_ns = pt.step_ns;
        tp.forward_ns = pt.forward_ns;
        tp.loss_ns = pt.loss_ns;
        tp.backward_ns = pt.backward_ns;
        tp.recompute_ns = pt.recompute_ns;
        tp.optimizer_ns = pt.optimizer_ns;
        // A rate the time model divides by: positive and finite (a NaN or 0 would draw nonsense).
        auto rate = [](const Field& f) {
            const double x = f.number();
            if (!(x > 0) || !std::isfinite(x)) f.bad("expected a positive number");
            return x;
        };
        const Field th = p.at("throughput");
        tp.throughput.key = th.at("key").text();
        tp.throughput.gemm_flops = rate(th.at("gemm_flops_per_s"));
        tp.throughput.bandwidth = rate(th.at("bandwidth_bytes_per_s"));
        tp.throughput.elementwise = rate(th.at("elementwise_per_s"));
        tp.throughput.call_ns = th.at("call_ns").number();
        if (!(tp.throughput.call_ns >= 0) || !std::isfinite(tp.throughput.call_ns)) th.at("call_ns").bad("expected a number of at least 0");
        tp.throughput.measured = th.at("measured").text();
        if (th.has("gemm_curve")) {  // reports from before it have the large product's rate alone
            const Field curve = th.at("gemm_curve");
            const size_t points = curve.size();
            if (points > 64) curve.bad("more than 64 points");
            for (size_t i = 0; i < points; ++i) {
                const Field pt = curve.item(i);
                pt.size(2);
                const double f = rate(pt.item(0)), r = rate(pt.item(1));
                if (i > 0 && !(f > tp.throughput.gemm_curve.back()[0])) pt.item(0).bad("expected sizes in rising order");
                tp.throughput.gemm_curve.push_back({f, r});
            }
        }
        tp.throughput.from_cache = true;
        const Field pb = p.at("blocks");
        pb.size(nblocks);
        for (size_t i = 0; i < nblocks; ++i) {
            const Field b = pb.item(i);
            BlockTimePrediction bt;
            bt.forward.ns = b.at("forward_ns").integer(0);
            bt.backward.ns = b.at("backward_ns").integer(0);
            bt.recompute.ns = b.at("recompute_ns").integer(0);
            // The file has the block's work as one sum (writers.cpp): kept whole on forward, so that
            // written again it is the same sum.
            for (const char* key : {"flops", "bytes_moved"}) {
                const double x = b.at(key).number();
                if (!(x >= 0) || !std::isfinite(x)) b.at(key).bad("expected a number of at least 0");
                (*key == 'f' ? bt.forward.flops : bt.forward.bytes) = x;
            }
            bt.recompute_if_checkpointed = bt.recompute_if_inner = bt.recompute;
            tp.blocks.push_back(std::move(bt));
        }
        out.has_predicted_time = true;
    }
    r.blocks.reserve(nblocks);
    for (size_t i = 0; i < nblocks; ++i) {
        const Field b = blocks.item(i);
        BlockReport br;
        br.index = int(b.at("index").integer(int64_t(i), int64_t(i)));
        br.name = b.at("name").text();
        br.checkpoint = b.at("checkpoint").flag();
        br.segment_first = run_first[i];
        br.segment_last = run_last[i];
        if (b.has("segment")) {
            const Field g = b.at("segment");
            const bool none = g.raw().is_null();
            if (!none && g.size(2) == 2 &&
                (g.item(0).integer(0, int64_t(nblocks) - 1) != run_first[i] ||
                 g.item(1).integer(0, int64_t(nblocks) - 1) != run_last[i]))
                g.bad("does not match the model's segments and checkpoint flags");
            if (none != (run_first[i] < 0)) g.bad("does not match the model's segments and checkpoint flags");
        }
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
        // Every layer of the block as it runs: its layers, then a residual block's shortcut
        // and post layers (BlockSpec::layer_count).
        const Field layers = b.at("layers");
        const size_t nl = layers.size();
        const size_t expected = out.spec.blocks[i].layer_count();
        if (nl != expected)
            layers.bad("has " + std::to_string(nl) + " layers, the model's block " + std::to_string(expected));
        br.layers.reserve(nl);
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
        // Exactly as written: "0x" and 16 hexadecimal digits.
        const Field c = g.at("checksum");
        const std::string hex = c.text(64);
        const bool form = hex.size() == 18 && hex[0] == '0' && hex[1] == 'x' &&
                          hex.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
        if (!form) c.bad("expected 0x and 16 hexadecimal digits");
        r.gradient_checksum = std::stoull(hex.substr(2), nullptr, 16);
    }
    r.gradient_sum = g.at("sum").number();
    r.gradient_abs_sum = g.at("abs_sum").number();
    r.preserve_rng = root.at("preserve_rng").flag();
    r.dropout_present = root.at("dropout_present").flag();

    // The timeline: events and spans, both or neither (reports before them have neither).
    const bool events = root.has("events"), spans = root.has("spans");
    if (events != spans) root.at(events ? "spans" : "events");  // "...: missing"
    r.has_timeline = events;
    if (!r.has_timeline) return out;
    // Their rows were taken as they were read; the arrays left in the document are empty.
    root.at("events").size();
    root.at("spans").size();
    if (const int64_t n = root.at("event_count").integer(0); n != int64_t(rows.events.size()))
        root.at("events").bad("holds " + format_count(int64_t(rows.events.size())) + " events, event_count says " + format_count(n));
    if (const int64_t n = root.at("span_count").integer(0); n != int64_t(rows.spans.size()))
        root.at("spans").bad("holds " + format_count(int64_t(rows.spans.size())) + " spans, span_count says " + format_count(n));
    r.events = std::move(rows.events);
    r.spans = std::move(rows.spans);
    return out;
}

// The figures the writer derives from the blocks, where the file states them (after
// check_report, which has made sure the sums fit).
void check_stated_totals(const json& doc, const StepReport& r) {
    const Field root(doc);
    const Field m = root.at("memory");
    if (m.has("kept_bytes_total") && m.at("kept_bytes_total").integer() != r.kept_bytes_total())
        m.at("kept_bytes_total").bad("is not the kept bytes of the blocks and the loss added up (" +
                                     format_count(r.kept_bytes_total()) + ")");
    if (m.has("avoided_bytes_total") && m.at("avoided_bytes_total").integer() != r.avoided_bytes_total())
        m.at("avoided_bytes_total").bad("is not the avoided bytes of the blocks added up (" +
                                        format_count(r.avoided_bytes_total()) + ")");
    if (root.has("checkpointed_blocks") && root.at("checkpointed_blocks").integer() != r.checkpointed_blocks())
        root.at("checkpointed_blocks").bad("is not the number of checkpointed blocks (" +
                                           std::to_string(r.checkpointed_blocks()) + ")");
}

}  // namespace

Result<RecordedRun> parse_recorded_run(std::string_view text) {
    if (text.size() > kMaxReportBytes)
        return Error{"the report is larger than " + std::to_string(kMaxReportBytes >> 20) + " MiB"};
    try {
        Rows rows(text.size());
        JsonRows streamed{{"events", "spans"},
                          [&rows](const std::string& member, size_t i, const json& row, const json& root) {
                              return rows.take(member, i, row, root);
                          }};
        Result<json> doc = read_json(text, kReportJsonLimits, nullptr, &streamed);
        if (!doc && doc.error().kind == ErrorKind::out_of_memory) throw std::bad_alloc();
        if (!doc) return doc.error();
        const JsonRelease release(*doc);
        RecordedRun run = read(*doc, rows);
        if (Status st = check_report(run.report, run.spec); !st) return *st.err;
        check_stated_totals(*doc, run.report);
        return run;
    } catch (const Bad& b) {
        return Error{b.message};
    } catch (const std::bad_alloc&) {
        return Error{"out of memory while reading the report", ErrorKind::out_of_memory};
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
