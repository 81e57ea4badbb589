// The bounded JSON reader (json_reader.h): nlohmann's SAX parser, which is iterative, feeding a
// document builder that refuses the value that would pass a limit before it is stored. The
// builder keeps, per open array or object, where the next value goes, so an error can name the
// path to the offending value without walking the document.
#include "spec/json_reader.h"

#include <string>
#include <utility>
#include <vector>

#include "ckpt/printable.h"

namespace ckpt {

using json = nlohmann::json;

namespace {

class BoundedBuilder {
public:
    explicit BoundedBuilder(const JsonLimits& limits) : limits_(limits) {}

    json root;
    std::string error;

    // The key of the root object's member whose value is being read (inside it), if any.
    std::string root_member() const {
        return frames_.size() > 1 && frames_[0].node->is_object() ? frames_[0].key : std::string();
    }

    bool null() { return add(json(nullptr)) != nullptr; }
    bool boolean(bool v) { return add(json(v)) != nullptr; }
    bool number_integer(json::number_integer_t v) { return add(json(v)) != nullptr; }
    bool number_unsigned(json::number_unsigned_t v) { return add(json(v)) != nullptr; }
    bool number_float(json::number_float_t v, const std::string&) { return add(json(v)) != nullptr; }
    bool string(std::string& v) { return add(json(std::move(v))) != nullptr; }
    bool binary(json::binary_t& v) { return add(json::binary(std::move(v))) != nullptr; }
    bool start_object(std::size_t) { return open(json::value_t::object); }
    bool start_array(std::size_t) { return open(json::value_t::array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(std::string& k) {
        Frame& f = frames_.back();
        f.key = std::move(k);
        if (f.node->contains(f.key)) {
            error = path() + ": duplicate key (each key may appear once per object)";
            return false;
        }
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const json::exception& e) {
        error = "invalid JSON " + json_error_reason(e);
        return false;
    }

private:
    struct Frame {
        json* node;
        std::string key;   // objects: the key of the member being read
        size_t index = 0;  // arrays: the index of the element being read
    };
    const JsonLimits& limits_;
    std::vector<Frame> frames_;
    size_t values_ = 0;

    // Stores `v` where the next value goes; null (with `error` set) if a limit forbids it.
    json* add(json v) {
        if (!frames_.empty() && frames_.back().node->is_array()) frames_.back().index = frames_.back().node->size();
        if (++values_ > limits_.max_values + limits_.wrapper_values) {
            error = located("the file has more than " + std::to_string(limits_.max_values) +
                            " JSON values (the limit for " + limits_.what + ")");
            return nullptr;
        }
        if (frames_.empty()) {
            root = std::move(v);
            return &root;
        }
        json& parent = *frames_.back().node;
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        return &parent.get_ref<json::object_t&>().emplace(frames_.back().key, std::move(v)).first->second;
    }

    bool open(json::value_t type) {
        if (frames_.size() >= limits_.max_depth + limits_.wrapper_depth) {
            if (!frames_.empty() && frames_.back().node->is_array()) frames_.back().index = frames_.back().node->size();
            error = located("arrays and objects nested more than " + std::to_string(limits_.max_depth) +
                            " deep (the limit for " + limits_.what + ")");
            return false;
        }
        json* node = add(json(type));
        if (!node) return false;
        frames_.push_back({node, {}, 0});
        return true;
    }

    bool close() {
        frames_.pop_back();
        return true;
    }

    std::string located(const std::string& reason) const {
        const std::string p = path();
        return p.empty() ? reason : p + ": " + reason;
    }

    // "blocks[2].layers[0].in"; a long path keeps its two ends.
    std::string path() const {
        std::string p;
        for (const Frame& f : frames_) {
            if (f.node->is_array()) {
                p.append("[").append(std::to_string(f.index)).append("]");
            } else {
                if (!p.empty()) p.append(".");
                p.append(printable(f.key));
            }
        }
        if (p.size() > 240) p = p.substr(0, 120) + "..." + p.substr(p.size() - 100);
        return printable(p, 400);
    }
};

}  // namespace

std::string json_error_reason(const std::exception& e) {
    std::string what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) {
        const auto close = what.find("] ");
        if (close != std::string::npos) what = what.substr(close + 2);
    }
    if (what.rfind("parse error ", 0) == 0) what = what.substr(12);
    for (char& c : what)
        if (c == '\n' || c == '\r') c = ' ';
    return printable(what, 300);
}

std::string json_shown(const json& v) {
    if (v.is_structured()) {
        bool flat = v.size() <= 8;
        for (const json& e : v) flat = flat && !e.is_structured();
        if (!flat) return v.is_object() ? "{...}" : "[...]";
    }
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 40) {
        size_t cut = 37;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole characters
        s = s.substr(0, cut) + "...";
    }
    return printable(s, 80);
}

Result<json> read_json(std::string_view text, const JsonLimits& limits, std::string* failed_in) {
    BoundedBuilder builder(limits);
    bool ok = false;
    try {
        ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
    } catch (const std::bad_alloc&) {
        return Error{std::string("out of memory while reading the ") + limits.what, ErrorKind::out_of_memory};
    } catch (const std::exception& e) {
        return Error{"invalid JSON: " + json_error_reason(e)};
    }
    if (!ok) {
        if (failed_in) *failed_in = builder.root_member();
        return Error{builder.error.empty() ? std::string("invalid JSON") : builder.error};
    }
    return std::move(builder.root);
}

}  // namespace ckpt
