// Owns: the small amount of JSON reading and writing the load generator needs. Reading
// does not build a tree: it locates one member of an object or one element of an array
// as a slice of the original text, skipping everything else, which keeps the per-message
// cost of classifying server pushes low. Writing is a minimal streaming writer.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace lg::json {

// Returns the first non-whitespace position at or after p (e when none).
const char* skip_ws(const char* p, const char* e);
// Returns the position just after the JSON value starting at p (after whitespace),
// or nullptr when the text is not a well-formed value.
const char* skip_value(const char* p, const char* e);
// The whole value at the start of text, trimmed; empty when malformed.
std::string_view value_at(std::string_view text);

// Member `key` of the object `obj` (a slice starting with '{'). Keys are compared with
// their raw text between the quotes (no unescaping), which is enough for plain keys.
bool object_get(std::string_view obj, std::string_view key, std::string_view* out);
// Element idx of the array `arr` (a slice starting with '[').
bool array_get(std::string_view arr, size_t idx, std::string_view* out);

bool is_null(std::string_view v);
// True when v is a JSON string whose raw contents equal s.
bool string_equals(std::string_view v, std::string_view s);
// Contents of a JSON string, unescaped (\uXXXX below 0x80 only; others kept as '?').
bool as_string(std::string_view v, std::string* out);
// An integer written as a JSON number (fraction truncated) or as a string of one.
bool as_int64(std::string_view v, int64_t* out);

// Appends s as a quoted, escaped JSON string.
void append_quoted(std::string* out, std::string_view s);

// Streaming writer producing compact JSON with correct commas.
class Writer {
public:
    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();
    Writer& key(std::string_view k);
    Writer& value(std::string_view s);
    Writer& value(const char* s) { return value(std::string_view(s)); }
    Writer& value(const std::string& s) { return value(std::string_view(s)); }
    Writer& value(int64_t v);
    Writer& value(uint64_t v);
    Writer& value(int v) { return value(int64_t(v)); }
    Writer& value(unsigned v) { return value(uint64_t(v)); }
    Writer& value(long long v) { return value(int64_t(v)); }
    Writer& value(unsigned long long v) { return value(uint64_t(v)); }
    Writer& value(double v);
    Writer& value(bool v);
    Writer& null();
    Writer& raw(std::string_view json);  // an already serialized value
    const std::string& str() const { return out_; }

private:
    void comma();
    std::string out_;
    bool need_comma_ = false;
};

}  // namespace lg::json
