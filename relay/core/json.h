// The one JSON library of the relay (rapidjson), with the few conveniences every file
// needs: parsing a buffer, reading optional members, and compact serialization.
#pragma once

#define RAPIDJSON_HAS_STDSTRING 1
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rt::json {

using Value = rapidjson::Value;
using Document = rapidjson::Document;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The deepest nesting of arrays and objects the relay accepts in any JSON it reads
// (frames, HTTP bodies, tokens, plugin documents). Supabase's clients stay within a few
// dozen levels; the bound keeps parsing and re-serializing (both walk the nesting) small.
inline constexpr int kMaxDepth = 128;

// Whether an object may repeat a member name. rapidjson keeps both members and
// FindMember returns the first, while Postgres' jsonb keeps the last: where the two
// could disagree (JWT claims), repeats are refused.
enum class Keys { Any, Unique };

// Parses text into doc; on failure returns false and sets error to a short reason.
// Parsing is iterative (never recursion proportional to the input) and stops at the
// first array or object past kMaxDepth, so what it accepts can be written out again
// within the same bound; with Keys::Unique also at the first repeated member name of an
// object (names compared unescaped).
bool parse(Document& doc, std::string_view text, std::string* error = nullptr, Keys keys = Keys::Any);

// The member name of an object, or nullptr when obj is not an object or lacks it.
const Value* member(const Value& obj, const char* name);
std::string_view string_or(const Value* v, std::string_view fallback);
// Accepts JSON booleans and the strings "true"/"false" in any case (clients send both).
bool bool_or(const Value* v, bool fallback);

// The members of a JSON object as raw text spans of the input, without decoding the
// values: lets a document be re-assembled with numbers and strings exactly as written
// (numeric precision), and without building a DOM for large values. Keys are returned
// raw (between their quotes, escapes untouched). Keys and values are checked to be JSON
// (any depth, no recursion), since their spans are sent on as they are. False if text is
// not an object of such members.
struct RawMember {
    std::string_view key;
    std::string_view value;
};
bool object_members(std::string_view text, std::vector<RawMember>& out);
// The same for the elements of a JSON array; false if text is not an array.
bool array_elements(std::string_view text, std::vector<std::string_view>& out);
// The raw text of the member name of the JSON object text (the first one, as member()
// finds it; names compared unescaped), or nullopt when text is not an object or lacks it.
std::optional<std::string_view> raw_member(std::string_view text, std::string_view name);
// text (valid JSON) without the whitespace between its tokens, each number and string as
// written. What the relay passes on from a client (broadcast payloads, presence metas)
// comes out as it came in: a parsed value written out again would turn
// 1814.7000000029802 into another double, and integers past 64 bits into doubles.
std::string compact(std::string_view text);

// Whether s is UTF-8 (shortest forms, no surrogates, at most U+10FFFF): what the relay
// may put into a JSON string it sends in a text frame.
bool is_utf8(std::string_view s);

// Whether the texts a and b are the same JSON value: object members in any order, numbers
// by value (claims as a token carries them and as jsonb writes them back). Text that does
// not parse is the same only as itself.
bool same(std::string_view a, std::string_view b);
// The same, but for objects a and b the members named in ignored are left out of the
// comparison (at the top level only, present in one, both or neither).
bool same_except(std::string_view a, std::string_view b, std::initializer_list<std::string_view> ignored);

// Compact JSON text of a value.
std::string stringify(const Value& v);
// Appends s as a JSON string literal (quotes and escapes included).
void append_string(std::string& out, std::string_view s);

}  // namespace rt::json
