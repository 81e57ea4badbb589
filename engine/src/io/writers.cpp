// The files a run leaves behind (writers.h).
//
// Report JSON: every field of the StepReport, plus the model spec as an object, so one file says
// what ran and what it cost and the GUI's File > Open run can draw every chart from it
// (recorded_run.h reads it back). The memory events and spans are arrays of rows, one per line:
//   "events": [[time_ns, bytes, category, block, layer, phase, live_total], ...]
//   "spans":  [[block, layer, phase, start_ns, end_ns], ...]
// (the field names are in "event_fields" and "span_fields"). The gradient checksum is a hex
// string: JSON numbers are doubles in most readers and would lose the low bits of a 64-bit hash;
// every other integer is written as an integer, exactly.
//
// A report without a timeline (has_timeline false) leaves out the rows, their counts and their
// field names, as reports did before they carried them.
//
// Sums of a report's numbers saturate (checked.h): a report read from a file whose sums would
// leave the int64 range is refused on reading, so on every report that can reach a writer they
// are exact.
//
// Timeline CSV, one row per memory event:
//   time_ns      nanoseconds since the step started
//   bytes        signed size of the event (+ allocation, - free)
//   category     parameter, gradient, optimizer_state, input, activation, recomputed, temporary
//   block,layer  who asked (-1: outside every block / the whole block)
//   phase        setup, forward, loss, backward, recompute, optimizer
//   live_total   live bytes of all categories after the event
//   live_<cat>   one column per category (same order as above): its live bytes after the
//                event, starting from the step's baseline, so a spreadsheet can stack them
//
// Trace JSON (chrome://tracing, ui.perfetto.dev): a "live bytes" counter ("ph":"C") whose args
// hold one value per category (Perfetto draws one track per arg, Chrome stacks them), "ph":"X"
// spans for whole-block phases and the loss/optimizer on thread 1 and for single layers on
// thread 2, an instant event at the peak, and name metadata. Times are microseconds (floats).
//
// Safetensors: 8-byte little-endian header length, a JSON header padded with spaces to a
// multiple of 8 bytes, then the tensors' raw little-endian bytes back to back.
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/checked.h"
#include "ckpt/writers.h"
#include "io/files.h"

namespace ckpt {

using ordered_json = nlohmann::ordered_json;

namespace {


ordered_json categories_json(const CategoryBytes& b) {
    ordered_json j = ordered_json::object();
    for (int c = 0; c < kCategoryCount; ++c) j[std::string(category_name(Category(c)))] = b[size_t(c)];
    return j;
}

ordered_json tag_json(const MemoryTag& t) {
    return ordered_json{{"category", std::string(category_name(t.category))},
                        {"block", t.block},
                        {"layer", t.layer},
                        {"phase", std::string(phase_name(t.phase))}};
}

std::string hex64(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

double us(int64_t ns) { return double(ns) / 1000.0; }

std::string span_name(const Span& s) {
    if (s.block < 0) return std::string(phase_name(s.phase));
    std::string n = "block " + std::to_string(s.block);
    if (s.layer >= 0) n += " layer " + std::to_string(s.layer);
    return n + " " + std::string(phase_name(s.phase));
}

// Appends v's bytes in little-endian order whatever the host's order is.
template <typename T>
void append_le(std::string& out, T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big)
        for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    out.append(reinterpret_cast<const char*>(b), sizeof(T));
}

}  // namespace

std::string report_to_json(const StepReport& r, const ModelSpec& spec, const TimePrediction* predicted) {
    ordered_json j;
    j["model"] = r.model_name;
    j["device"] = r.device;
    j["tf32"] = r.tf32;
    j["precision"] = r.precision;
    j["loss_scale"] = r.loss_scale;
    j["step_skipped"] = r.step_skipped;
    j["step"] = r.step;
    j["dry_run"] = r.dry_run;
    if (!r.parallel.empty()) j["parallel"] = r.parallel;
    j["status"] = std::string(status_name(r.status));
    j["message"] = r.message;
    if (r.status == StepStatus::out_of_memory) {
        j["out_of_memory"] = {{"requested_bytes", r.oom.requested},
                              {"free_bytes", r.oom.free_bytes},
                              {"limit_bytes", r.oom.limit},
                              {"device_refused", r.oom.device},
                              {"tag", tag_json(r.oom.tag)}};
    } else {
        j["out_of_memory"] = nullptr;
    }
    j["loss"] = r.loss;  // NaN and infinity become null
    j["timings_ns"] = {{"step", r.step_ns},         {"forward", r.forward_ns},   {"loss", r.loss_ns},
                       {"backward", r.backward_ns}, {"recompute", r.recompute_ns}, {"optimizer", r.optimizer_ns}};
    // Each time above is the median of the step's timed repeats; the ranges are their quartiles.
    auto range = [](const TimeRange& t) { return ordered_json::array({t.lo_ns, t.hi_ns}); };
    ordered_json samples = ordered_json::array();
    for (const RepeatTimes& t : r.repeat_times)
        samples.push_back({{"step", t.step_ns}, {"forward", t.forward_ns}, {"loss", t.loss_ns},
                           {"backward", t.backward_ns}, {"recompute", t.recompute_ns}, {"optimizer", t.optimizer_ns}});
    j["timing"] = {{"repeats", r.repeats},
                   {"statistic", "median of the timed repeats of this step; ranges are their lower and upper quartiles"},
                   {"kept_repeat", r.kept_repeat},
                   {"ranges_ns", {{"step", range(r.step_range)}, {"forward", range(r.forward_range)},
                                  {"loss", range(r.loss_range)}, {"backward", range(r.backward_range)},
                                  {"recompute", range(r.recompute_range)}, {"optimizer", range(r.optimizer_range)}}},
                   {"repeats_ns", std::move(samples)}};

    ordered_json mem;
    mem["baseline"] = categories_json(r.baseline);
    mem["peak"] = categories_json(r.peak);
    mem["peak_total"] = r.peak_total;
    mem["at_peak"] = categories_json(r.at_peak);
    mem["peak_tag"] = tag_json(r.peak_tag);
    mem["peak_event"] = r.peak_event;
    mem["peak_time_ns"] = r.peak_time_ns;
    mem["kept_bytes_total"] = r.kept_bytes_total();
    mem["avoided_bytes_total"] = r.avoided_bytes_total();
    mem["loss_kept_bytes"] = r.loss_kept_bytes;
    // Beside the requested bytes above: what the device's pool held (CUDA; the CPU's cache).
    const DeviceMemoryReport& d = r.device_memory;
    mem["device"] = {{"reserved_bytes", d.reserved},   {"reserved_peak_bytes", d.reserved_peak},
                     {"workspace_bytes", d.workspace}, {"context_bytes", d.context},
                     {"total_bytes", d.total}};
    j["memory"] = std::move(mem);

    ordered_json blocks = ordered_json::array();
    for (const BlockReport& b : r.blocks) {
        // The checkpointed run the block is recomputed with, [first, last] ([i, i]: alone), or null.
        ordered_json segment = nullptr;
        if (b.segment_first >= 0) segment = ordered_json::array({b.segment_first, b.segment_last});
        blocks.push_back({{"index", b.index},
                          {"name", b.name},
                          {"checkpoint", b.checkpoint},
                          {"segment", std::move(segment)},
                          {"forward_ns", b.forward_ns},
                          {"backward_ns", b.backward_ns},
                          {"recompute_ns", b.recompute_ns},
                          {"forward_range_ns", range(b.forward_range)},
                          {"backward_range_ns", range(b.backward_range)},
                          {"recompute_range_ns", range(b.recompute_range)},
                          {"kept_bytes", b.kept_bytes},
                          {"kept_bytes_unchecked", b.kept_bytes_unchecked},
                          {"avoided_bytes", b.avoided_bytes},
                          {"recomputed_bytes", b.recomputed_bytes},
                          {"input_kept_bytes", b.input_kept_bytes},
                          {"weight_cast_bytes", b.weight_cast_bytes}});
        // Per layer: what selective checkpointing keeps and what recomputation rematerialises.
        ordered_json layers = ordered_json::array();
        for (const LayerReport& l : b.layers)
            layers.push_back({{"type", l.type}, {"saved", l.saved}, {"kept_bytes", l.kept_bytes},
                              {"recomputed_bytes", l.recomputed_bytes}});
        blocks.back()["layers"] = std::move(layers);
    }
    j["checkpointed_blocks"] = r.checkpointed_blocks();
    j["blocks"] = std::move(blocks);
    j["gradient"] = {{"checksum", hex64(r.gradient_checksum)},
                     {"checksum_algorithm",
                      "fnv1a64 over the raw bits of every parameter gradient (64-bit words in chunks of 4096, "
                      "chunk hashes folded in order, parameter hashes folded in order)"},
                     {"sum", r.gradient_sum},
                     {"abs_sum", r.gradient_abs_sum}};
    if (predicted && predicted->blocks.size() == r.blocks.size()) {
        const TimePrediction& p = *predicted;
        const Throughput& t = p.throughput;
        ordered_json pb = ordered_json::array();
        for (const BlockTimePrediction& b : p.blocks)
            pb.push_back({{"forward_ns", b.forward.ns}, {"backward_ns", b.backward.ns}, {"recompute_ns", b.recompute.ns},
                          {"flops", b.forward.flops + b.backward.flops + b.recompute.flops},
                          {"bytes_moved", b.forward.bytes + b.backward.bytes + b.recompute.bytes}});
        ordered_json throughput = {{"key", t.key}, {"gemm_flops_per_s", t.gemm_flops}, {"bandwidth_bytes_per_s", t.bandwidth},
                                   {"elementwise_per_s", t.elementwise}, {"call_ns", t.call_ns}, {"measured", t.measured}};
        // The products' rates by size ([FLOPs of one call, FLOP/s], smallest first), when measured.
        if (!t.gemm_curve.empty()) throughput["gemm_curve"] = t.gemm_curve;
        j["predicted_time"] = {
            {"how", "each layer's matrix-product FLOPs and bytes moved over this machine's measured throughput"},
            {"throughput", std::move(throughput)},
            {"timings_ns", {{"step", p.step_ns}, {"forward", p.forward_ns}, {"loss", p.loss_ns}, {"backward", p.backward_ns},
                            {"recompute", p.recompute_ns}, {"optimizer", p.optimizer_ns}}},
            {"blocks", std::move(pb)}};
    }
    j["preserve_rng"] = r.preserve_rng;
    j["dropout_present"] = r.dropout_present;
    if (r.has_timeline) {
        j["event_count"] = r.events.size();
        j["span_count"] = r.spans.size();
    }
    j["spec"] = ordered_json::parse(to_json(spec));
    if (!r.has_timeline) return j.dump(2) + "\n";  // as reports were before they carried one
    j["event_fields"] = {"time_ns", "bytes", "category", "block", "layer", "phase", "live_total"};
    j["span_fields"] = {"block", "layer", "phase", "start_ns", "end_ns"};
    // The rows are appended by hand, one per line: dump(2) would spread every number over a line
    // of its own and make a million-event report ten times larger.
    std::string out = j.dump(2);
    out.pop_back();  // the closing brace
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    out += ",\n  \"events\": [";
    for (size_t i = 0; i < r.events.size(); ++i) {
        const MemoryEvent& e = r.events[i];
        out += i ? ",\n    [" : "\n    [";
        out += std::to_string(e.time_ns) + ',' + std::to_string(e.bytes) + ",\"" +
               std::string(category_name(e.tag.category)) + "\"," + std::to_string(e.tag.block) + ',' +
               std::to_string(e.tag.layer) + ",\"" + std::string(phase_name(e.tag.phase)) + "\"," +
               std::to_string(e.live_total) + ']';
    }
    out += r.events.empty() ? "],\n  \"spans\": [" : "\n  ],\n  \"spans\": [";
    for (size_t i = 0; i < r.spans.size(); ++i) {
        const Span& s = r.spans[i];
        out += i ? ",\n    [" : "\n    [";
        out += std::to_string(s.block) + ',' + std::to_string(s.layer) + ",\"" + std::string(phase_name(s.phase)) +
               "\"," + std::to_string(s.start_ns) + ',' + std::to_string(s.end_ns) + ']';
    }
    out += r.spans.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

Status write_report_json(const std::string& path, const StepReport& report, const ModelSpec& spec,
                         const TimePrediction* predicted) {
    return write_file_atomic(path, report_to_json(report, spec, predicted));
}

std::string timeline_csv(const StepReport& r) {
    std::string out = "time_ns,bytes,category,block,layer,phase,live_total";
    for (int c = 0; c < kCategoryCount; ++c) out += ",live_" + std::string(category_name(Category(c)));
    out += '\n';
    CategoryBytes live = r.baseline;
    for (const MemoryEvent& e : r.events) {
        live[size_t(e.tag.category)] = saturating_add(live[size_t(e.tag.category)], e.bytes);
        out += std::to_string(e.time_ns) + ',' + std::to_string(e.bytes) + ',' +
               std::string(category_name(e.tag.category)) + ',' + std::to_string(e.tag.block) + ',' +
               std::to_string(e.tag.layer) + ',' + std::string(phase_name(e.tag.phase)) + ',' +
               std::to_string(e.live_total);
        for (int64_t v : live) out += ',' + std::to_string(v);
        out += '\n';
    }
    return out;
}

Status write_timeline_csv(const std::string& path, const StepReport& r) { return write_file_atomic(path, timeline_csv(r)); }

std::string trace_json(const StepReport& r) {
    constexpr int pid = 1, tid_blocks = 1, tid_layers = 2;
    ordered_json ev = ordered_json::array();
    const std::string process = "checkpointlab: " + r.model_name + " step " + std::to_string(r.step);
    ev.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"args", {{"name", process}}}});
    ev.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid_blocks},
                  {"args", {{"name", "blocks, loss, optimizer"}}}});
    ev.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid_layers},
                  {"args", {{"name", "layers"}}}});

    auto counter = [&](int64_t t_ns, const CategoryBytes& live) {
        ev.push_back({{"name", "live bytes"}, {"ph", "C"}, {"ts", us(t_ns)}, {"pid", pid},
                      {"args", categories_json(live)}});
    };
    CategoryBytes live = r.baseline;
    counter(0, live);
    for (const MemoryEvent& e : r.events) {
        live[size_t(e.tag.category)] = saturating_add(live[size_t(e.tag.category)], e.bytes);
        counter(e.time_ns, live);
    }

    for (const Span& s : r.spans) {
        ordered_json args = {{"block", s.block}, {"layer", s.layer}, {"phase", std::string(phase_name(s.phase))}};
        if (s.block >= 0 && size_t(s.block) < r.blocks.size()) args["block_name"] = r.blocks[size_t(s.block)].name;
        ev.push_back({{"name", span_name(s)},
                      {"cat", std::string(phase_name(s.phase))},
                      {"ph", "X"},
                      {"ts", us(s.start_ns)},
                      {"dur", us(saturating_sub(s.end_ns, s.start_ns))},
                      {"pid", pid},
                      {"tid", s.layer < 0 ? tid_blocks : tid_layers},
                      {"args", std::move(args)}});
    }
    if (r.peak_event >= 0) {
        ordered_json args = tag_json(r.peak_tag);
        args["peak_total_bytes"] = r.peak_total;
        ev.push_back({{"name", "peak"}, {"ph", "i"}, {"s", "p"}, {"ts", us(r.peak_time_ns)}, {"pid", pid},
                      {"tid", tid_blocks}, {"args", std::move(args)}});
    }
    ordered_json doc;
    doc["traceEvents"] = std::move(ev);
    doc["displayTimeUnit"] = "ns";
    return doc.dump() + "\n";
}

Status write_trace_json(const std::string& path, const StepReport& r) { return write_file_atomic(path, trace_json(r)); }

Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors) {
    ordered_json header = ordered_json::object();
    std::set<std::string> names;
    uint64_t offset = 0;
    for (const NamedTensor& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__")
            return Status::failure("safetensors \"" + path + "\": invalid tensor name \"" + t.name + "\"");
        if (!names.insert(t.name).second)
            return Status::failure("safetensors \"" + path + "\": tensor \"" + t.name + "\" appears twice");
        uint64_t numel = 1;
        for (int64_t d : t.shape) {
            if (d < 0) return Status::failure("safetensors \"" + path + "\": tensor \"" + t.name + "\" has a negative dim");
            numel *= uint64_t(d);
        }
        const bool f32 = t.type == NamedTensor::Type::f32;
        const uint64_t have = f32 ? t.f32.size() : t.i64.size();
        if (have != numel)
            return Status::failure("safetensors \"" + path + "\": tensor \"" + t.name + "\" has " +
                                   std::to_string(have) + " values for " + std::to_string(numel) + " elements");
        const uint64_t bytes = numel * (f32 ? 4 : 8);
        header[t.name] = {{"dtype", f32 ? "F32" : "I64"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    header["__metadata__"] = {{"format", "pt"}, {"producer", "checkpointlab"}};
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');

    std::string out;
    out.reserve(8 + h.size() + size_t(offset));
    append_le<uint64_t>(out, h.size());
    out += h;
    for (const NamedTensor& t : tensors) {
        if (t.type == NamedTensor::Type::f32) {
            if constexpr (std::endian::native == std::endian::little)
                out.append(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * sizeof(float));
            else
                for (float v : t.f32) append_le(out, v);
        } else {
            if constexpr (std::endian::native == std::endian::little)
                out.append(reinterpret_cast<const char*>(t.i64.data()), t.i64.size() * sizeof(int64_t));
            else
                for (int64_t v : t.i64) append_le(out, v);
        }
    }
    return write_file_atomic(path, out);
}

}  // namespace ckpt
