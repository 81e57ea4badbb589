// Reading the JSON of a model, experiment or report file into nlohmann's document with the file's
// size limits checked while the document grows: nesting depth (a value nested 90,000 levels deep
// once overflowed the stack of every recursive walk over it), the number of values (each costs
// a heap node, so a 64 MiB file of "{}" would take gigabytes), the length of a string (checked
// on the text before it is read), and duplicate keys (nlohmann keeps the last of two equal keys
// silently). The check is one lookup in the object being built per key, so reading takes time
// linear in the text (times the log of an object's width). A report's events and spans, millions
// of rows, are handed to the caller row by row instead of being stored (JsonRows), and documents
// are torn down without allocating (release_json), so running out of memory while reading is an
// error like any other.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt/model_spec.h"
#include "ckpt/result.h"

namespace ckpt {

struct JsonLimits {
    size_t max_depth;   // arrays and objects nested in each other, the outermost counting 1
    size_t max_values;  // every value: objects, arrays, strings, numbers, booleans, nulls
    const char* what;   // "model files": how the messages name the limit's owner
    // An experiment wraps the model one level deep beside a few run settings: allowing these on
    // top makes the model part hit a limit at the same value, with the same message behind
    // "model.", as the bare model file.
    size_t wrapper_depth = 0, wrapper_values = 0;
    // The longest string or key, in bytes of the file's text (0: no limit but the file's size).
    // Checked on the text before parsing, since nlohmann's reader holds a string whole (and
    // grows it by doubling) before the document sees it.
    size_t max_string = 0;
};

// The limits of model and experiment files (model_spec.h).
inline constexpr JsonLimits kModelJsonLimits{kMaxJsonDepth, kMaxJsonValues, "model and experiment files"};
inline constexpr JsonLimits kExperimentJsonLimits{kMaxJsonDepth, kMaxJsonValues, "model and experiment files", 1, 16};

// Rows handed over as they are read instead of stored in the document: the elements of the arrays
// that are the values of the root object's members named in `members`. Such an array stays in the
// document, empty; its rows do not count against max_values once taken (the limit is on values
// held at once). `take` gets the member, the row's index, the row and the document read so far
// (the root object, members before this one complete), and returns "" or the one-line message
// that refuses the file.
struct JsonRows {
    std::vector<std::string> members;
    std::function<std::string(const std::string& member, size_t index, const nlohmann::json& row,
                              const nlohmann::json& root)>
        take;
};

// The document, or a one-line error: "invalid JSON at line 3, column 1: ..." for bad syntax,
// "<path>: duplicate key (...)", or "<path>: <the limit passed>". Paths and echoed text are
// made printable and capped (printable.h).
// When the root is an object and reading fails inside the value of one of its members,
// *failed_in gets that member's key (an experiment tells a failure in its model from one
// elsewhere); otherwise it is left empty.
// Running out of memory while reading is an out_of_memory error. `rows`, when given, streams
// the rows it names.
Result<nlohmann::json> read_json(std::string_view text, const JsonLimits& limits, std::string* failed_in = nullptr,
                                 const JsonRows* rows = nullptr);

// Empties `doc` (leaving null) without allocating: nlohmann's own destructor first allocates a
// stack as long as the widest array or object, which under memory exhaustion throws from a
// destructor and ends the program. Recursive: for documents read_json built (depth capped).
void release_json(nlohmann::json& doc) noexcept;

// Releases a document with release_json when the scope ends, however it ends.
class JsonRelease {
public:
    explicit JsonRelease(nlohmann::json& doc) : doc_(doc) {}
    ~JsonRelease() { release_json(doc_); }
    JsonRelease(const JsonRelease&) = delete;
    JsonRelease& operator=(const JsonRelease&) = delete;

private:
    nlohmann::json& doc_;
};

// "[json.exception.parse_error.101] parse error at line 3, column 1: ..." -> "at line 3, ...",
// on one line, printable, capped.
std::string json_error_reason(const std::exception& e);

// How a JSON value looks in a message: at most about 40 characters, one line, printable. Only a
// small flat container is written out, so showing a value never walks a large or deep one.
std::string json_shown(const nlohmann::json& v);

}  // namespace ckpt
