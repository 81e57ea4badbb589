// How text that came from outside (a key or a value in a model file, a command-line argument, a
// model or block name) is shown in a message or on a terminal: one line, no control characters,
// no bytes that are not UTF-8, no characters that reorder what follows (bidirectional
// overrides), and no longer than a cap. A hostile file must not be able to paint the terminal
// with escape sequences or fill a dialog with a megabyte-long key; ordinary names pass through
// unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ckpt {

// `text` with control characters, DEL, C1 controls, line and paragraph separators and
// bidirectional controls written as \xHH (bytes below 0x80) or \uHHHH, bytes that are not
// UTF-8 as \xHH, and, when the result would pass `max_bytes`, cut at a character boundary and
// ended with "...(N bytes)" giving the original length. The result is valid UTF-8.
std::string printable(std::string_view text, size_t max_bytes = 64);

}  // namespace ckpt
