// A small file read whole (keys, JWKS): bounded, with a reason when it cannot be read.
#pragma once

#include <string>

namespace rt {

// The file's text into text; false with a reason ("cannot open it: ...", "it is larger
// than ...") in error.
bool read_file_text(const std::string& path, long max_bytes, std::string& text, std::string& error);

}  // namespace rt
