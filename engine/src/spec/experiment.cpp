// Reading and writing experiment files (experiment.h). The model part must be judged exactly as
// a bare model file is, so it is not re-encoded: the document is parsed once to check its
// syntax and the file limits (json_reader.h: depth, values, duplicate keys anywhere, named by
// their path), then a small scanner finds the raw text of the "model" value and hands that text
// to parse_model_spec. Sizes written as 1024.0, every message: the same as the CLI gives for
// the model file on its own.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/experiment.h"
#include "ckpt/printable.h"
#include "io/files.h"
#include "spec/json_reader.h"

namespace ckpt {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr int kMaxThreads = 4096;                   // as the CLI's --threads

// ---- the raw-text scanner; it only ever runs on text nlohmann has accepted as JSON ---------

struct Member {
    std::string key;
    size_t begin = 0, end = 0;  // the value's text
};

size_t skip_space(const std::string& t, size_t i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
    return i;
}

// i at an opening quote; returns the index after the closing one.
size_t skip_string(const std::string& t, size_t i) {
    for (++i; i < t.size() && t[i] != '"'; ++i)
        if (t[i] == '\\') ++i;
    return i + 1;
}

size_t skip_value(const std::string& t, size_t i) {
    if (i >= t.size()) return i;
    if (t[i] == '"') return skip_string(t, i);
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        while (i < t.size()) {
            const char c = t[i];
            if (c == '"') {
                i = skip_string(t, i);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if ((c == '}' || c == ']') && --depth == 0) return i + 1;
            ++i;
        }
        return i;
    }
    while (i < t.size() && !std::strchr(",}] \t\n\r", t[i])) ++i;  // a number, true, false, null
    return i;
}

// The members of the object whose text starts at `begin`, keys decoded ("mod\u0065l" is model).
std::vector<Member> members(const std::string& t, size_t begin) {
    std::vector<Member> out;
    size_t i = skip_space(t, begin);
    if (i >= t.size() || t[i] != '{') return out;
    i = skip_space(t, i + 1);
    while (i < t.size() && t[i] == '"') {
        const size_t key_end = skip_string(t, i);
        Member m;
        m.key = json::parse(t.substr(i, key_end - i)).get<std::string>();
        i = skip_space(t, key_end);
        if (i >= t.size() || t[i] != ':') break;
        m.begin = skip_space(t, i + 1);
        m.end = skip_value(t, m.begin);
        out.push_back(m);
        i = skip_space(t, m.end);
        if (i >= t.size() || t[i] != ',') break;
        i = skip_space(t, i + 1);
    }
    return out;
}

// ---- the run settings ------------------------------------------------------------------------

std::string shown(const json& v) { return json_shown(v); }

// "cpu", "cuda" or "cuda:N": whether such a device exists here is for the run to say, so that a
// file saved on a GPU machine still opens on a laptop.
bool device_syntax(const std::string& d) {
    if (d == "cpu" || d == "cuda") return true;
    if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 9) return false;
    return d.find_first_not_of("0123456789", 5) == std::string::npos;
}

Result<ExperimentRun> parse_run(const json& run) {
    ExperimentRun out;
    if (!run.is_object()) return Error{"run: expected an object, got " + shown(run)};
    for (auto it = run.begin(); it != run.end(); ++it) {
        const std::string path = "run." + printable(it.key());
        const json& v = it.value();
        if (it.key() == "device") {
            if (!v.is_string() || !device_syntax(v.get<std::string>()))
                return Error{path + ": expected \"cpu\", \"cuda\" or \"cuda:N\", got " + shown(v)};
            out.settings.device = v.get<std::string>();
        } else if (it.key() == "threads") {
            // Integers only, compared as integers: 2.5 threads or 1e3 is a mistake, not a rounding.
            const bool fits = v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(kMaxThreads);
            if (!fits)
                return Error{path + ": expected an integer from 0 (the default) to " + std::to_string(kMaxThreads) +
                             ", got " + shown(v)};
            out.settings.threads = int(v.get<uint64_t>());
        } else if (it.key() == "memory_limit") {
            const bool fits = v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max());
            if (!fits) return Error{path + ": expected a whole number of bytes, 0 for no limit, got " + shown(v)};
            out.settings.memory_limit = int64_t(v.get<uint64_t>());
        } else if (it.key() == "tf32") {
            if (!v.is_boolean()) return Error{path + ": expected true or false, got " + shown(v)};
            out.settings.tf32 = v.get<bool>();
        } else if (it.key() == "repeats") {
            const bool fits = v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(kMaxRepeats);
            if (!fits)
                return Error{path + ": expected an integer from 0 (the device's default) to " + std::to_string(kMaxRepeats) +
                             ", got " + shown(v)};
            out.settings.repeats = int(v.get<uint64_t>());
        } else if (it.key() == "verify") {
            if (!v.is_boolean()) return Error{path + ": expected true or false, got " + shown(v)};
            out.verify = v.get<bool>();
        } else {
            return Error{path + ": unknown key in the run settings (expected device, threads, memory_limit, tf32, repeats, verify)"};
        }
    }
    return out;
}

// "parallel": {"dp": 8, "zero": 3, ...}: integers in range (the layout's fit to the model is
// checked with the model, check_layout).
Result<std::pair<ParallelLayout, int>> parse_parallel(const json& v) {
    if (!v.is_object()) return Error{"parallel: expected an object, got " + shown(v)};
    ParallelLayout p;
    int rank = 0;
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string path = "parallel." + printable(it.key());
        const json& x = it.value();
        if (it.key() == "sp") {
            if (!x.is_boolean()) return Error{path + ": expected true or false, got " + shown(x)};
            p.sp = x.get<bool>();
            continue;
        }
        if (it.key() == "states") {
            if (!x.is_string() || (x.get<std::string>() != "fsdp" && x.get<std::string>() != "deepspeed"))
                return Error{path + ": expected \"fsdp\" or \"deepspeed\", got " + shown(x)};
            p.states = x.get<std::string>() == "deepspeed" ? ModelStates::deepspeed : ModelStates::fsdp;
            continue;
        }
        if (it.key() == "schedule") {
            if (!x.is_string() || (x.get<std::string>() != "1f1b" && x.get<std::string>() != "gpipe"))
                return Error{path + ": expected \"1f1b\" or \"gpipe\", got " + shown(x)};
            p.schedule = x.get<std::string>() == "gpipe" ? PipelineSchedule::gpipe : PipelineSchedule::one_f_one_b;
            continue;
        }
        int* field = it.key() == "dp" ? &p.dp : it.key() == "zero" ? &p.zero : it.key() == "tp" ? &p.tp
                   : it.key() == "pp" ? &p.pp : it.key() == "microbatches" ? &p.microbatches : it.key() == "rank" ? &rank : nullptr;
        if (!field)
            return Error{path + ": unknown key in the layout (expected dp, zero, tp, sp, pp, microbatches, schedule, states, rank)"};
        const int lo = it.key() == "zero" || it.key() == "rank" ? 0 : 1;
        const int hi = it.key() == "zero" ? 3 : it.key() == "rank" ? (1 << 20) - 1 : 1 << 16;
        if (!x.is_number_integer() || x.get<int64_t>() < lo || x.get<int64_t>() > hi)
            return Error{path + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + shown(x)};
        *field = int(x.get<int64_t>());
    }
    if (rank >= p.world())
        return Error{"parallel.rank: " + std::to_string(rank) + " is not one of the " + std::to_string(p.world()) + " ranks"};
    return std::pair{p, rank};
}

}  // namespace

Result<Experiment> parse_experiment(const std::string& text) {
    // A bare model spec, or text that is not JSON at all: the model parser says what is wrong,
    // in the words it uses for model files.
    auto bare = [&]() -> Result<Experiment> {  // (reads the text a second time: still linear)
        Result<ModelSpec> spec = parse_model_spec(text);
        if (!spec) return spec.error();
        return Experiment{std::move(*spec), {}};
    };
    // Read once within the file limits (depth, values, duplicate keys anywhere, with the path:
    // "model.blocks[0].layers[0].in: duplicate key"). A failure inside "model" is the model
    // part's, at the value and with the message the bare model file would have (the wrapper's
    // level and values are allowed on top); any other is the whole text's, as a model file's.
    std::string failed_in;
    Result<json> parsed = read_json(text, kExperimentJsonLimits, &failed_in);
    if (!parsed) return failed_in == "model" ? parsed.error() : bare();
    const JsonRelease release(*parsed);
    if (!parsed->is_object() || !parsed->contains("model")) {
        release_json(*parsed);  // one document in memory at a time
        return bare();
    }
    // What is needed of the document is taken out of it before the model is read again.
    json model_value = std::move((*parsed)["model"]);
    const JsonRelease release_model(model_value);
    if (model_value.is_object()) {  // read again from its text below
        release_json(model_value);
        model_value = json::object();
    }
    json run_value = parsed->contains("run") ? std::move((*parsed)["run"]) : json();
    const JsonRelease release_run(run_value);
    json parallel_value = parsed->contains("parallel") ? std::move((*parsed)["parallel"]) : json();
    const JsonRelease release_parallel(parallel_value);
    release_json(*parsed);

    // nlohmann skips a UTF-8 byte order mark; the scanner must too.
    const size_t start = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
    const std::vector<Member> top = members(text, start);
    const Member* model = nullptr;
    const Member* run = nullptr;
    const Member* parallel = nullptr;
    for (const Member& m : top) {
        if (m.key == "model") model = &m;
        else if (m.key == "run") run = &m;
        else if (m.key == "parallel") parallel = &m;
        else return Error{printable(m.key) + ": unknown key in an experiment (expected model, run, parallel)"};
    }
    if (!model) return Error{"model: the experiment's model could not be found"};  // cannot happen: doc has it
    if (!model_value.is_object()) return Error{"model: expected an object (a model spec), got " + shown(model_value)};

    Experiment e;
    Result<ModelSpec> spec = parse_model_spec(text.substr(model->begin, model->end - model->begin));
    if (!spec) return Error{"model." + spec.error().message, spec.error().kind};
    e.spec = std::move(*spec);
    if (run) {
        Result<ExperimentRun> r = parse_run(run_value);
        if (!r) return r.error();
        e.run = *r;
    }
    if (parallel) {
        Result<std::pair<ParallelLayout, int>> p = parse_parallel(parallel_value);
        if (!p) return p.error();
        std::tie(e.parallel, e.rank) = *p;
        if (std::string bad = check_layout(e.spec, e.parallel); !bad.empty()) return Error{"parallel: " + bad};
    }
    return e;
}

Result<Experiment> load_experiment(const std::string& path) {
    Result<std::string> text = read_text_file(path, kMaxModelFileBytes, "experiment or model file");
    if (!text) return text.error();
    Result<Experiment> e = parse_experiment(*text);
    if (!e) return Error{path + ": " + e.error().message, e.error().kind};
    return e;
}

std::string to_json(const Experiment& e) {
    ordered_json root;
    // Re-read with nlohmann's own parser: integers stay integers (unsigned for the seed) and
    // doubles keep the shortest text that reads back to the same bits.
    root["model"] = ordered_json::parse(to_json(e.spec));
    ordered_json run;
    run["device"] = e.run.settings.device;
    run["threads"] = e.run.settings.threads;
    run["memory_limit"] = e.run.settings.memory_limit;
    run["tf32"] = e.run.settings.tf32;
    run["repeats"] = e.run.settings.repeats;
    run["verify"] = e.run.verify;
    root["run"] = std::move(run);
    if (!e.parallel.single_device() || e.rank != 0) {
        ordered_json p;
        p["dp"] = e.parallel.dp;
        p["zero"] = e.parallel.zero;
        p["tp"] = e.parallel.tp;
        if (e.parallel.sp) p["sp"] = true;
        p["pp"] = e.parallel.pp;
        p["microbatches"] = e.parallel.microbatches;
        p["schedule"] = std::string(schedule_name(e.parallel.schedule));
        if (e.parallel.states == ModelStates::deepspeed) p["states"] = "deepspeed";
        p["rank"] = e.rank;
        root["parallel"] = std::move(p);
    }
    return root.dump(2) + "\n";
}

Status save_experiment(const std::string& path, const Experiment& e) { return write_file_atomic(path, to_json(e)); }

}  // namespace ckpt
