// A restricted reader of Python pickles, for files that hold plain data only: PyTorch's CUDA
// memory snapshots (torch_snapshot.h) are dicts, lists, strings and numbers. A pickle is a
// program for a small stack machine, and Python's own loader runs whatever it names
// (GLOBAL/STACK_GLOBAL import any callable, REDUCE calls it), so `pickle.load` on a file from
// elsewhere runs that file's code. This reader implements only the opcodes that build plain
// values (protocols 2 to 5: dicts, lists, tuples, str, bytes, ints up to 64 bits, floats, None,
// booleans, the memo, MARK, FRAME, PROTO, STOP) and refuses every other one, naming it and its
// byte offset; it never imports, calls or builds an object.
//
// It is bounded: the input's size, the values it may put on its stack (kMaxPickleValues) and the MARK
// nesting are capped; every length is checked against what is left of the input before it is
// read; a truncated or hostile file is a one-line error, never a crash. Memory is linear in the
// input (a value is 16 bytes; strings are copied once). The memo can make a list contain itself:
// values are held by index in the document, never owned by each other, so a cycle leaks nothing,
// and readers of the document walk known shapes to a fixed depth rather than recursing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/result.h"

namespace ckpt {

// The largest pickle read (a snapshot of 100,000 trace entries with 20 frames each is ~200 MiB).
inline constexpr size_t kMaxPickleBytes = size_t(512) << 20;
// Values put on the stack, all together (16 bytes each; a snapshot of 100,000 trace entries with
// 20 frames each puts about 16 million).
inline constexpr size_t kMaxPickleValues = size_t(64) << 20;
// MARKs open at once: nested tuples and batched appends of plain data need a handful.
inline constexpr size_t kMaxPickleMarks = 10000;

class PickleDoc {
public:
    enum class Kind : uint8_t { none, boolean, integer, real, text, bytes, list, tuple, dict };

    // A value: scalars in place; text, bytes and containers by their index in the document.
    struct Value {
        Kind kind = Kind::none;
        uint32_t index = 0;  // text/bytes: into strings_; list/tuple/dict: into containers_
        union {
            int64_t i = 0;  // boolean (0/1), integer
            double d;       // real
        };
    };

    const Value& root() const { return root_; }

    // Typed access. The "as" functions return nullptr/false when the value is not of that kind.
    const std::string* text(const Value& v) const { return v.kind == Kind::text ? &strings_[v.index] : nullptr; }
    bool integer(const Value& v, int64_t* out) const {
        if (v.kind != Kind::integer && v.kind != Kind::boolean) return false;
        *out = v.i;
        return true;
    }
    // Items of a list or tuple; a dict's keys and values alternate (key 0, value 0, key 1, ...).
    // Empty for any other kind.
    const std::vector<Value>& items(const Value& v) const;
    bool is_sequence(const Value& v) const { return v.kind == Kind::list || v.kind == Kind::tuple; }
    // The value under a string key of a dict (the last one set, as in Python), else nullptr.
    const Value* find(const Value& dict, std::string_view key) const;

private:
    friend class PickleMachine;
    Value root_;
    std::vector<std::string> strings_;
    std::vector<std::vector<Value>> containers_;
};

std::string_view pickle_kind_name(PickleDoc::Kind k);  // "dict", "list", "int", ...

// Errors name the opcode and its byte offset: "pickle: opcode GLOBAL (0x63) at byte 2 is
// refused: it imports Python code (only plain data is read)".
Result<PickleDoc> parse_pickle(std::string_view data);

}  // namespace ckpt
