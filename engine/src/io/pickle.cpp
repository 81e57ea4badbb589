// The restricted pickle reader (pickle.h). The opcodes and their arguments are those of
// CPython's Lib/pickletools.py; the machine below runs the data-building subset of them over a
// stack of values and a stack of MARK positions, and throws at the first opcode it does not run.
// Python 3's pickler writes, for protocols 2 to 5, only the opcodes kept here for plain data
// (the text opcodes of protocol 0, INT, STRING, PUT..., are never written by them and refused).
#include "ckpt/pickle.h"

#include <cstring>
#include <new>
#include <unordered_map>

namespace ckpt {

namespace {

struct Refused {
    std::string message;
};

struct OpName {
    uint8_t code;
    const char* name;
};

// Every opcode of protocols 0 to 5, for messages; kept or refused is decided in run().
constexpr OpName kOpNames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
    {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
    {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
    {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
    {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
    {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"},
    {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"},
    {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"}, {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

std::string hex(uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    do {
        s.insert(s.begin(), digits[v & 15]);
        v >>= 4;
    } while (v);
    return "0x" + (s.size() % 2 ? "0" + s : s);
}

// "GLOBAL (0x63)", or "unknown opcode 0xff".
std::string op_label(uint8_t code) {
    for (const OpName& o : kOpNames)
        if (o.code == code) return std::string(o.name) + " (" + hex(code) + ")";
    return "unknown opcode " + hex(code);
}

// Why an opcode that exists is refused, by what it would do in Python.
const char* refusal(uint8_t code) {
    switch (code) {
    case 'c': case 0x93: case 'i': case 0x82: case 0x83: case 0x84:
        return "it imports Python code (only plain data is read)";
    case 'R': case 'o': case 0x81: case 0x92:
        return "it calls Python code (only plain data is read)";
    case 'b': return "it sets an object's state through Python code (only plain data is read)";
    case 'P': case 'Q': return "it asks the loader for an outside object (only plain data is read)";
    case 0x97: case 0x98: return "it needs out-of-band buffers (only plain data is read)";
    case 'I': case 'L': case 'F': case 'S': case 'V': case 'p': case 'g':
        return "it is a text opcode of protocol 0, which the snapshot's protocols 2 to 5 never write";
    case 'T': case 'U': return "it is a Python 2 string, which Python 3 never writes";
    case 0x8f: case 0x90: case 0x91: return "sets are not part of the data read here";
    default: return nullptr;
    }
}

}  // namespace

std::string_view pickle_kind_name(PickleDoc::Kind k) {
    switch (k) {
    case PickleDoc::Kind::none: return "None";
    case PickleDoc::Kind::boolean: return "bool";
    case PickleDoc::Kind::integer: return "int";
    case PickleDoc::Kind::real: return "float";
    case PickleDoc::Kind::text: return "str";
    case PickleDoc::Kind::bytes: return "bytes";
    case PickleDoc::Kind::list: return "list";
    case PickleDoc::Kind::tuple: return "tuple";
    case PickleDoc::Kind::dict: return "dict";
    }
    return "?";
}

const std::vector<PickleDoc::Value>& PickleDoc::items(const Value& v) const {
    static const std::vector<Value> none;
    return v.kind == Kind::list || v.kind == Kind::tuple || v.kind == Kind::dict ? containers_[v.index] : none;
}

const PickleDoc::Value* PickleDoc::find(const Value& dict, std::string_view key) const {
    if (dict.kind != Kind::dict) return nullptr;
    const std::vector<Value>& kv = containers_[dict.index];
    for (size_t i = kv.size(); i >= 2; i -= 2)
        if (kv[i - 2].kind == Kind::text && strings_[kv[i - 2].index] == key) return &kv[i - 1];
    return nullptr;
}

class PickleMachine {
public:
    explicit PickleMachine(std::string_view data) : in_(data) {}

    PickleDoc run() {
        while (true) {
            if (pos_ >= in_.size()) fail_at(pos_, "ends without STOP (the file is truncated)");
            op_at_ = pos_;
            const uint8_t op = uint8_t(in_[pos_++]);
            switch (op) {
            case 0x80: {  // PROTO
                const uint8_t proto = u8();
                if (proto > 5) fail("protocol " + std::to_string(proto) + " is newer than 5, the newest known");
                break;
            }
            case 0x95: {  // FRAME: a length hint for buffered reading; the bytes follow as usual
                const uint64_t n = le(8);
                if (n > in_.size() - pos_) truncated();
                break;
            }
            case '.': {  // STOP
                if (stack_.size() != 1 || !marks_.empty())
                    fail("STOP with " + std::to_string(stack_.size()) + " values and " + std::to_string(marks_.size()) +
                         " open MARKs on the stack (expected one value)");
                if (pos_ != in_.size())
                    fail_at(pos_, std::to_string(in_.size() - pos_) + " bytes follow STOP (one pickle per file)");
                doc_.root_ = stack_.back();
                return std::move(doc_);
            }
            case '(':  // MARK
                if (marks_.size() >= kMaxPickleMarks)
                    fail("more than " + std::to_string(kMaxPickleMarks) + " MARKs open at once");
                marks_.push_back(stack_.size());
                break;
            case '0':  // POP: at the innermost MARK it pops the MARK (as CPython)
                if (stack_.size() > floor()) stack_.pop_back();
                else pop_mark();
                break;
            case '1': pop_mark(); break;  // POP_MARK: what was pushed since the mark goes
            case '2': push(top()); break;  // DUP
            case 'N': push(Value{}); break;
            case 0x88: push(scalar(Kind::boolean, 1)); break;
            case 0x89: push(scalar(Kind::boolean, 0)); break;
            case 'J': push(scalar(Kind::integer, int32_t(uint32_t(le(4))))); break;  // BININT: signed
            case 'K': push(scalar(Kind::integer, int64_t(le(1)))); break;
            case 'M': push(scalar(Kind::integer, int64_t(le(2)))); break;
            case 0x8a: push(long_int(le(1))); break;  // LONG1
            case 0x8b: push(long_int(le(4))); break;  // LONG4
            case 'G': {  // BINFLOAT: big-endian IEEE 754 double
                uint64_t bits = 0;
                for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();
                Value v;
                v.kind = Kind::real;
                std::memcpy(&v.d, &bits, sizeof bits);
                push(v);
                break;
            }
            case 0x8c: push(string(Kind::text, le(1))); break;  // SHORT_BINUNICODE
            case 'X': push(string(Kind::text, le(4))); break;   // BINUNICODE
            case 0x8d: push(string(Kind::text, le(8))); break;  // BINUNICODE8
            case 'C': push(string(Kind::bytes, le(1))); break;  // SHORT_BINBYTES
            case 'B': push(string(Kind::bytes, le(4))); break;  // BINBYTES
            case 0x8e: case 0x96: push(string(Kind::bytes, le(8))); break;  // BINBYTES8, BYTEARRAY8
            case '}': push(container(Kind::dict)); break;
            case ']': push(container(Kind::list)); break;
            case ')': push(container(Kind::tuple)); break;
            case 0x85: case 0x86: case 0x87: {  // TUPLE1..3: the top n values
                const size_t n = size_t(op - 0x84);
                if (stack_.size() < floor() + n) fail("needs " + std::to_string(n) + " values on the stack");
                Value t = container(Kind::tuple);
                auto& items = doc_.containers_[t.index];
                items.assign(stack_.end() - long(n), stack_.end());
                stack_.resize(stack_.size() - n);
                push(t);
                break;
            }
            case 't': case 'l': case 'd': {  // TUPLE, LIST, DICT: everything above the last mark
                const size_t from = pop_mark_position();
                Value c = container(op == 't' ? Kind::tuple : op == 'l' ? Kind::list : Kind::dict);
                if (op == 'd' && (stack_.size() - from) % 2) fail("an odd number of keys and values");
                doc_.containers_[c.index].assign(stack_.begin() + long(from), stack_.end());
                stack_.resize(from);
                push(c);
                break;
            }
            case 'a': {  // APPEND
                const Value v = pop();
                into(top(), Kind::list, "APPEND").push_back(v);
                break;
            }
            case 'e': case 'u': {  // APPENDS, SETITEMS: everything above the last mark
                const size_t from = pop_mark_position();
                if (from == 0 || from - 1 < floor()) fail("has no list or dict below its MARK");
                const bool dict = op == 'u';
                if (dict && (stack_.size() - from) % 2) fail("an odd number of keys and values");
                auto& items = into(stack_[from - 1], dict ? Kind::dict : Kind::list, dict ? "SETITEMS" : "APPENDS");
                items.insert(items.end(), stack_.begin() + long(from), stack_.end());
                stack_.resize(from);
                break;
            }
            case 's': {  // SETITEM
                const Value v = pop();
                const Value k = pop();
                auto& items = into(top(), Kind::dict, "SETITEM");
                items.push_back(k);
                items.push_back(v);
                break;
            }
            case 'q': memo_put(le(1)); break;     // BINPUT
            case 'r': memo_put(le(4)); break;     // LONG_BINPUT
            case 0x94: memo_put(memo_.size()); break;  // MEMOIZE: the next free index
            case 'h': memo_get(le(1)); break;     // BINGET
            case 'j': memo_get(le(4)); break;     // LONG_BINGET
            default: {
                const char* why = refusal(op);
                fail(std::string("is refused: ") + (why ? why : "it is not a pickle opcode"));
            }
            }
        }
    }

private:
    using Kind = PickleDoc::Kind;
    using Value = PickleDoc::Value;

    [[noreturn]] void fail_at(size_t at, const std::string& why) {
        throw Refused{"pickle: byte " + std::to_string(at) + ": " + why};
    }
    [[noreturn]] void fail(const std::string& why) {
        throw Refused{"pickle: opcode " + op_label(uint8_t(in_[op_at_])) + " at byte " + std::to_string(op_at_) + " " + why};
    }
    [[noreturn]] void truncated() {
        throw Refused{"pickle: truncated inside " + op_label(uint8_t(in_[op_at_])) + " at byte " + std::to_string(op_at_) +
                      " (the file has " + std::to_string(in_.size()) + " bytes)"};
    }

    uint8_t u8() {
        if (pos_ >= in_.size()) truncated();
        return uint8_t(in_[pos_++]);
    }
    uint64_t le(int n) {  // an unsigned little-endian integer of n bytes
        if (size_t(n) > in_.size() - pos_) truncated();
        uint64_t v = 0;
        for (int k = n - 1; k >= 0; --k) v = (v << 8) | uint8_t(in_[pos_ + size_t(k)]);
        pos_ += size_t(n);
        return v;
    }

    static Value scalar(Kind k, int64_t i) {
        Value v;
        v.kind = k;
        v.i = i;
        return v;
    }
    // LONG1/LONG4: n bytes of two's complement, little-endian; more than 64 bits is refused.
    Value long_int(uint64_t n) {
        if (n > in_.size() - pos_) truncated();
        if (n > 8) fail("holds an integer of " + std::to_string(n) + " bytes (at most 8 are read)");
        uint64_t v = 0;
        for (size_t k = n; k-- > 0;) v = (v << 8) | uint8_t(in_[pos_ + k]);
        if (n > 0 && n < 8 && (uint8_t(in_[pos_ + n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
        pos_ += n;
        return scalar(Kind::integer, int64_t(v));
    }

    Value string(Kind k, uint64_t n) {
        if (n > in_.size() - pos_) truncated();
        Value v;
        v.kind = k;
        v.index = uint32_t(doc_.strings_.size());
        doc_.strings_.emplace_back(in_.substr(pos_, size_t(n)));
        pos_ += size_t(n);
        return v;
    }
    Value container(Kind k) {
        Value v;
        v.kind = k;
        v.index = uint32_t(doc_.containers_.size());
        doc_.containers_.emplace_back();
        return v;
    }
    // The container a value refers to, which must be of `want` (APPEND onto a list, ...).
    std::vector<Value>& into(const Value& target, Kind want, const char* what) {
        if (target.kind != want)
            fail("(" + std::string(what) + ") onto a " + std::string(pickle_kind_name(target.kind)) + ", not a " +
                 std::string(pickle_kind_name(want)));
        return doc_.containers_[target.index];
    }

    // The stack below the innermost MARK belongs to the enclosing frame: opcodes between a MARK
    // and the opcode that closes it may not reach under it (CPython refuses that too).
    size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
    // Every value put on the stack counts, copies from the memo and DUP too: what the document
    // holds (stack, containers) is bounded by the pushes.
    void push(const Value& v) {
        if (++values_ > kMaxPickleValues) fail("puts more than " + std::to_string(kMaxPickleValues) + " values on the stack");
        stack_.push_back(v);
    }
    const Value& top() {
        if (stack_.size() <= floor()) fail("needs a value on the stack");
        return stack_.back();
    }
    Value pop() {
        const Value v = top();
        stack_.pop_back();
        return v;
    }
    size_t pop_mark_position() {
        if (marks_.empty()) fail("without a MARK before it");
        const size_t m = marks_.back();
        marks_.pop_back();
        return m;
    }
    void pop_mark() { stack_.resize(pop_mark_position()); }

    void memo_put(uint64_t index) {
        memo_[index] = top();  // at most one entry per opcode: bounded by the input
    }
    void memo_get(uint64_t index) {
        auto it = memo_.find(index);
        if (it == memo_.end()) fail("reads memo entry " + std::to_string(index) + ", which was never stored");
        push(it->second);
    }

    std::string_view in_;
    size_t pos_ = 0, op_at_ = 0, values_ = 0;
    std::vector<Value> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, Value> memo_;
    PickleDoc doc_;
};

Result<PickleDoc> parse_pickle(std::string_view data) {
    if (data.size() > kMaxPickleBytes)
        return Error{"pickle: " + std::to_string(data.size() >> 20) + " MiB is larger than the " +
                     std::to_string(kMaxPickleBytes >> 20) + " MiB read"};
    if (data.empty()) return Error{"pickle: the file is empty"};
    try {
        return PickleMachine(data).run();
    } catch (const Refused& r) {
        return Error{r.message};
    } catch (const std::bad_alloc&) {
        return Error{"pickle: out of memory while reading (" + std::to_string(data.size()) + " bytes)",
                     ErrorKind::out_of_memory};
    }
}

}  // namespace ckpt
