// What every fuzz target starts from: libFuzzer's bytes as a mode byte (which variant of
// the parser to drive) and the text after it. Targets abort() on a broken property, so
// libFuzzer records the input as a crash.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace rt::fuzz {

struct Input {
    uint8_t mode = 0;
    std::string_view text;
};

inline Input split(const uint8_t* data, size_t size) {
    Input in;
    if (size == 0) return in;
    in.mode = data[0];
    in.text = std::string_view(reinterpret_cast<const char*>(data + 1), size - 1);
    return in;
}

// A property of the parser that must hold for every input.
inline void require(bool holds) {
    if (!holds) std::abort();
}

}  // namespace rt::fuzz
