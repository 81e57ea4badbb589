// Errors as values. The engine never aborts, exits or prints on bad input: functions that can
// fail on user input return Result<T>, whose error is one line naming the field and the reason,
// plus a kind that front ends act on (the CLI's exit code, the GUI's dialog) instead of
// matching the message text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ckpt {

enum class ErrorKind {
    bad_input,      // a spec, setting or argument that cannot work as given (the default)
    out_of_memory,  // the step, its parameters or every checkpoint plan exceed the memory available
    io,             // a file could not be read or written
    stopped,        // the user asked the run to stop
    device,         // the device refused or failed (a refused host allocation, a kernel error)
};
std::string_view error_kind_name(ErrorKind k);  // "bad_input", "out_of_memory", ...

struct Error {
    // message first, so the many Error{"text"} constructions keep meaning "bad input".
    std::string message;  // one line, e.g. "blocks[2].layers[0].in: must be positive, got -4"
    ErrorKind kind = ErrorKind::bad_input;
};

template <typename T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const T& operator*() const { return value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// Result<void>: success or an error.
struct Status {
    std::optional<Error> err;
    static Status success() { return {}; }
    static Status failure(std::string m, ErrorKind kind = ErrorKind::bad_input) { return {Error{std::move(m), kind}}; }
    bool ok() const { return !err; }
    explicit operator bool() const { return ok(); }
    const std::string& message() const { static const std::string none; return err ? err->message : none; }
};

}  // namespace ckpt
