// The bounded JSON reader (json_reader.h): nlohmann's SAX parser, which is iterative, feeding a
// document builder that refuses the value that would pass a limit before it is stored. The
// builder keeps, per open array or object, where the next value goes, so an error can name the
// path to the offending value without walking the document. Rows (JsonRows) are built like any
// value, handed over when they close, and dropped.
#include "spec/json_reader.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/printable.h"

namespace ckpt {

using json = nlohmann::json;

namespace {

class BoundedBuilder {
public:
    BoundedBuilder(const JsonLimits& limits, const JsonRows* rows) : limits_(limits), rows_(rows) {}
    ~BoundedBuilder() { release_json(root); }
    BoundedBuilder(const BoundedBuilder&) = delete;
    BoundedBuilder& operator=(const BoundedBuilder&) = delete;

    json root;
    std::string error;

    // The key of the root object's member whose value is being read (inside it), if any.
    std::string root_member() const {
        return frames_.size() > 1 && frames_[0].node->is_object() ? frames_[0].key : std::string();
    }

    bool null() { return scalar(json(nullptr)); }
    bool boolean(bool v) { return scalar(json(v)); }
    bool number_integer(json::number_integer_t v) { return scalar(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) { return scalar(json(v)); }
    bool number_float(json::number_float_t v, const std::string&) { return scalar(json(v)); }
    bool string(std::string& v) { return scalar(json(std::move(v))); }
    bool binary(json::binary_t& v) { return scalar(json::binary(std::move(v))); }
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
        std::string key;    // objects: the key of the member being read
        size_t index = 0;   // arrays: the index of the element being read
        size_t count = 0;   // arrays: elements begun so far (rows are taken out, so not the size)
        bool rows = false;  // arrays: the elements are rows (JsonRows)
    };
    const JsonLimits& limits_;
    const JsonRows* rows_;
    std::vector<Frame> frames_;
    size_t values_ = 0;
    size_t row_start_values_ = 0;  // values_ before the row being read began

    bool scalar(json v) { return add(std::move(v)) != nullptr && row_done(); }

    // Stores `v` where the next value goes; null (with `error` set) if a limit forbids it.
    json* add(json v) {
        if (!frames_.empty() && frames_.back().node->is_array()) {
            Frame& f = frames_.back();
            f.index = f.count++;
            if (f.rows) row_start_values_ = values_;
        }
        if (++values_ > limits_.max_values + limits_.wrapper_values) {
            std::string outside;  // rows do not count
            for (size_t i = 0; rows_ && i < rows_->members.size(); ++i)
                outside += (i == 0 ? " outside " : " and ") + rows_->members[i];
            error = located("the file has more than " + std::to_string(limits_.max_values) + " JSON values" + outside +
                            " (the limit for " + limits_.what + ")");
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
            if (!frames_.empty() && frames_.back().node->is_array()) frames_.back().index = frames_.back().count;
            error = located("arrays and objects nested more than " + std::to_string(limits_.max_depth) +
                            " deep (the limit for " + limits_.what + ")");
            return false;
        }
        json* node = add(json(type));
        if (!node) return false;
        const bool rows = type == json::value_t::array && rows_ && frames_.size() == 1 &&
                          frames_[0].node->is_object() && is_row_member(frames_[0].key);
        frames_.push_back({node, {}, 0, 0, rows});
        return true;
    }

    bool close() {
        frames_.pop_back();
        return row_done();
    }

    bool is_row_member(const std::string& key) const {
        for (const std::string& m : rows_->members)
            if (m == key) return true;
        return false;
    }

    // After a value ends: when it was a row, hands it over and drops it.
    bool row_done() {
        if (frames_.empty() || !frames_.back().rows) return true;
        Frame& f = frames_.back();
        json& row = f.node->back();
        error = rows_->take(frames_[0].key, f.index, row, root);
        if (!error.empty()) return false;
        release_json(row);
        f.node->get_ref<json::array_t&>().pop_back();
        values_ = row_start_values_;
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

void release_json(json& doc) noexcept {
    // From the back, each child emptied before it is erased: nlohmann then destroys only
    // scalars and empty containers, for which it allocates nothing.
    if (doc.is_array()) {
        json::array_t& a = doc.get_ref<json::array_t&>();
        while (!a.empty()) {
            release_json(a.back());
            a.pop_back();
        }
    } else if (doc.is_object()) {
        json::object_t& o = doc.get_ref<json::object_t&>();
        while (!o.empty()) {
            const auto last = std::prev(o.end());
            release_json(last->second);
            o.erase(last);
        }
    }
    doc = nullptr;
}

namespace {

// Where the first string or key longer than `max` bytes (as written, escapes included) begins,
// or npos. In text that is not JSON the answer does not matter: the parser refuses it.
size_t long_string_at(std::string_view text, size_t max) {
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '"') continue;
        const size_t start = i++;
        while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
        if (i - start - 1 > max) return start;
    }
    return std::string_view::npos;
}

}  // namespace

Result<json> read_json(std::string_view text, const JsonLimits& limits, std::string* failed_in, const JsonRows* rows) {
    if (limits.max_string > 0) {
        if (const size_t at = long_string_at(text, limits.max_string); at != std::string_view::npos) {
            const size_t line = size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(at), '\n')) + 1;
            return Error{"line " + std::to_string(line) + ": a string longer than " + std::to_string(limits.max_string) +
                         " bytes (the limit for " + limits.what + ")"};
        }
    }
    BoundedBuilder builder(limits, rows);
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
