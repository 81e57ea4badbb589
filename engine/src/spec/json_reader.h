// Reading the JSON of a model or experiment file into nlohmann's document with the file's size
// limits checked while the document grows: nesting depth (a value nested 90,000 levels deep
// once overflowed the stack of every recursive walk over it), the number of values (each costs
// a heap node, so a 64 MiB file of "{}" would take gigabytes), and duplicate keys (nlohmann
// keeps the last of two equal keys silently). The check is one lookup in the object being
// built per key, so reading takes time linear in the text (times the log of an object's width).
#pragma once

#include <cstddef>
#include <string_view>

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
};

// The limits of model and experiment files (model_spec.h).
inline constexpr JsonLimits kModelJsonLimits{kMaxJsonDepth, kMaxJsonValues, "model and experiment files"};
inline constexpr JsonLimits kExperimentJsonLimits{kMaxJsonDepth, kMaxJsonValues, "model and experiment files", 1, 16};

// The document, or a one-line error: "invalid JSON at line 3, column 1: ..." for bad syntax,
// "<path>: duplicate key (...)", or "<path>: <the limit passed>". Paths and echoed text are
// made printable and capped (printable.h).
// When the root is an object and reading fails inside the value of one of its members,
// *failed_in gets that member's key (an experiment tells a failure in its model from one
// elsewhere); otherwise it is left empty.
Result<nlohmann::json> read_json(std::string_view text, const JsonLimits& limits, std::string* failed_in = nullptr);

// "[json.exception.parse_error.101] parse error at line 3, column 1: ..." -> "at line 3, ...",
// on one line, printable, capped.
std::string json_error_reason(const std::exception& e);

// How a JSON value looks in a message: at most about 40 characters, one line, printable. Only a
// small flat container is written out, so showing a value never walks a large or deep one.
std::string json_shown(const nlohmann::json& v);

}  // namespace ckpt
