// Text from outside made safe to show (printable.h). The decoder accepts only well-formed
// UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) so that what passes through
// is exactly what a terminal will draw.
#include "ckpt/printable.h"

#include <cstdint>
#include <cstdio>

namespace ckpt {
namespace {

// The length of the well-formed UTF-8 sequence at s[i] and its code point, or 0.
size_t decode(std::string_view s, size_t i, uint32_t* cp) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len = 0;
    uint32_t v = 0, min = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xC0) != 0x80) return 0;
        v = (v << 6) | (b(k) & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

bool hidden(uint32_t cp) {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)  // C0, DEL, C1 (0x9B is CSI)
           || cp == 0x2028 || cp == 0x2029                          // line and paragraph separators
           || cp == 0x200E || cp == 0x200F || cp == 0x061C          // direction marks
           || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)  // embeddings, isolates
           || cp == 0xFEFF;                                          // zero-width no-break space
}

}  // namespace

std::string printable(std::string_view text, size_t max_bytes) {
    std::string out;
    out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
    char esc[16];
    for (size_t i = 0; i < text.size();) {
        uint32_t cp = 0;
        const size_t len = decode(text, i, &cp);
        std::string_view piece;
        if (len == 0) {
            std::snprintf(esc, sizeof esc, "\\x%02X", static_cast<unsigned char>(text[i]));
            piece = esc;
        } else if (hidden(cp)) {
            if (cp < 0x80) std::snprintf(esc, sizeof esc, "\\x%02X", unsigned(cp));
            else std::snprintf(esc, sizeof esc, "\\u%04X", unsigned(cp));
            piece = esc;
        } else {
            piece = text.substr(i, len);
        }
        if (out.size() + piece.size() > max_bytes) {
            out += "...(" + std::to_string(text.size()) + " bytes)";
            return out;
        }
        out += piece;
        i += len == 0 ? 1 : len;
    }
    return out;
}

}  // namespace ckpt
