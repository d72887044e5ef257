// JSON conveniences over rapidjson.
#include "relay/core/json.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cctype>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <locale.h>
#include <unordered_set>

namespace rt::json {

namespace {

// Whether decoded string bytes hold a UTF-16 surrogate (ED A0..ED BF): rapidjson 1.1.0
// validates the raw UTF-8 of the input but decodes a lone low-surrogate escape such as
// "\udc00" into those bytes, which are not UTF-8. Re-sent in a text frame, they would make
// every receiving browser close its socket (RFC 6455 requires UTF-8), so they are refused.
// Found by fuzz_json.
bool has_surrogate(const char* s, rapidjson::SizeType n) {
    const char* end = s + n;
    for (const char* p = s; (p = static_cast<const char*>(std::memchr(p, 0xED, end - p))); ++p)
        if (p + 1 < end && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
    return false;
}

// Reads a JSON number correctly rounded (strtod in the C locale, whatever the process'
// locale); false when its magnitude is too large for a double. Underflow is 0 or a
// subnormal, as JSON readers make it.
bool read_double(std::string_view t, double& out) {
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
    char small[64];
    std::string large;
    const char* text = small;
    if (t.size() < sizeof small) {
        std::memcpy(small, t.data(), t.size());
        small[t.size()] = '\0';
    } else {
        large.assign(t);
        text = large.c_str();
    }
    out = strtod_l(text, nullptr, c_locale);
    return std::isfinite(out);
}

// Builds the document from the reader's events, refusing nesting past kMaxDepth and,
// with Keys::Unique, an object's repeated member name. Every parse goes through here, so
// a rule on what the relay accepts is enforced while parsing.
class Builder {
public:
    Builder(Document& doc, Keys keys) : doc_(doc), unique_(keys == Keys::Unique) {}
    bool exceeded() const { return exceeded_; }
    bool surrogate() const { return surrogate_; }
    bool out_of_range() const { return range_; }
    // The name whose repeat ended the parse, or nullptr.
    const std::string* duplicate() const { return repeated_ ? &duplicate_ : nullptr; }

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    bool Int(int i) { return doc_.Int(i); }
    bool Uint(unsigned i) { return doc_.Uint(i); }
    bool Int64(int64_t i) { return doc_.Int64(i); }
    bool Uint64(uint64_t i) { return doc_.Uint64(i); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return number(std::string_view(s, n)); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return utf8(s, n) && doc_.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        return utf8(s, n) && unique_name(s, n) && doc_.Key(s, n, copy);
    }
    bool StartObject() { return enter() && open_object() && doc_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) {
        --depth_;
        --objects_;
        return doc_.EndObject(members);
    }
    bool StartArray() { return enter() && doc_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) {
        --depth_;
        return doc_.EndArray(elements);
    }

private:
    // A number's text (rapidjson checked its grammar) as the value rapidjson would make
    // of it, except that a non-integer is read correctly rounded: rapidjson 1.1.0's
    // default reading is off by an ulp for some numbers (so what the relay writes out
    // reads back as another number), and its full-precision one turns 0e105 into
    // 2.29e105. Both found by fuzz_json.
    bool number(std::string_view t) {
        const char* end = t.data() + t.size();
        if (t.find_first_of(".eE") == std::string_view::npos) {
            if (t[0] == '-') {
                int64_t i;
                auto r = std::from_chars(t.data(), end, i);
                if (r.ec == std::errc() && r.ptr == end) return doc_.Int64(i);
            } else {
                uint64_t u;
                auto r = std::from_chars(t.data(), end, u);
                if (r.ec == std::errc() && r.ptr == end) return doc_.Uint64(u);
            }
        }
        double d = 0;
        if (!read_double(t, d)) {
            range_ = true;
            return false;
        }
        return doc_.Double(d);
    }
    bool utf8(const char* s, rapidjson::SizeType n) {
        surrogate_ = has_surrogate(s, n);
        return !surrogate_;
    }
    bool enter() {
        if (++depth_ <= kMaxDepth) return true;
        exceeded_ = true;
        return false;
    }
    bool open_object() {
        if (unique_) {
            if (objects_ == names_.size()) names_.emplace_back();
            names_[objects_].clear();
        }
        ++objects_;
        return true;
    }
    // A key belongs to the innermost open object: arrays opened since have closed.
    bool unique_name(const char* s, rapidjson::SizeType n) {
        if (!unique_ || names_[objects_ - 1].emplace(s, n).second) return true;
        duplicate_.assign(s, n);
        repeated_ = true;
        return false;
    }

    Document& doc_;
    const bool unique_;
    int depth_ = 0;
    bool exceeded_ = false;
    bool surrogate_ = false;
    bool range_ = false;
    size_t objects_ = 0;                                  // objects open around the event
    std::vector<std::unordered_set<std::string>> names_;  // their member names so far
    std::string duplicate_;
    bool repeated_ = false;
};

}  // namespace

bool parse(Document& doc, std::string_view text, std::string* error, Keys keys) {
    // Strict: trailing content and invalid UTF-8 are errors, since what we accept is
    // re-emitted to other clients. Iterative: the reader keeps its own stack. Numbers
    // come as their text, for Builder::RawNumber to convert.
    constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag |
                                rapidjson::kParseNumbersAsStringsFlag;
    // The bytes as they are: rapidjson's EncodedInputStream would skip a byte order mark,
    // and any text starting with 0xEF, so "\xEF{}" was {} here while the raw scan
    // (object_members) and other readers saw no object (found by fuzz_json).
    rapidjson::MemoryStream input(text.data(), text.size());
    rapidjson::Reader reader;
    Builder handler(doc, keys);
    rapidjson::ParseResult result;
    auto generate = [&](Document&) {
        result = reader.Parse<kFlags>(input, handler);
        return !result.IsError();
    };
    doc.SetNull();
    doc.Populate(generate);
    if (!result.IsError()) return true;
    doc.SetNull();
    if (error) {
        if (handler.exceeded()) {
            *error = "nesting deeper than " + std::to_string(kMaxDepth) + " levels";
        } else if (handler.out_of_range()) {
            *error = "a number too large for a double";
        } else if (handler.surrogate()) {
            *error = "a \\u escape of a lone surrogate";
        } else if (const std::string* name = handler.duplicate()) {
            *error = "duplicate member name ";
            append_string(*error, *name);
        } else {
            *error = rapidjson::GetParseError_En(result.Code());
        }
        *error += " at offset " + std::to_string(result.Offset());
    }
    return false;
}

const Value* member(const Value& obj, const char* name) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_or(const Value* v, std::string_view fallback) {
    if (v && v->IsString()) return {v->GetString(), v->GetStringLength()};
    return fallback;
}

bool bool_or(const Value* v, bool fallback) {
    if (!v) return fallback;
    if (v->IsBool()) return v->GetBool();
    if (v->IsString()) {
        std::string s(v->GetString(), v->GetStringLength());
        for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
        if (s == "true") return true;
        if (s == "false") return false;
    }
    return fallback;
}

namespace {

size_t skip_ws(std::string_view t, size_t i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
    return i;
}

// Index just past the string starting at t[i] == '"', or npos.
size_t skip_string(std::string_view t, size_t i) {
    for (++i; i < t.size(); ++i) {
        if (t[i] == '\\') {
            ++i;
        } else if (t[i] == '"') {
            return i + 1;
        }
    }
    return std::string_view::npos;
}

// Index just past the object or array starting at t[i], or npos. Each closing bracket
// must be its opener's: "{...]" is not one value, and its span would go out as a record
// that is not JSON (found by fuzz_plugin_doc). The open ones are a stack, not recursion:
// a record nests as deep as jsonb allows, so there is no nesting bound here either.
size_t skip_container(std::string_view t, size_t i) {
    std::string open;  // the closing bracket each open one expects
    for (; i < t.size(); ++i) {
        char d = t[i];
        if (d == '"') {
            i = skip_string(t, i);
            if (i == std::string_view::npos) return i;
            --i;
        } else if (d == '{' || d == '[') {
            open.push_back(d == '{' ? '}' : ']');
        } else if (d == '}' || d == ']') {
            if (open.back() != d) return std::string_view::npos;
            open.pop_back();
            if (open.empty()) return i + 1;
        }
    }
    return std::string_view::npos;
}

// Index just past the value starting at t[i], or npos. A scan, not a check: what is
// inside strings, containers and scalars is the writer's (Postgres's, for records).
size_t skip_value(std::string_view t, size_t i) {
    if (i >= t.size()) return std::string_view::npos;
    char c = t[i];
    if (c == '"') return skip_string(t, i);
    if (c == '{' || c == '[') return skip_container(t, i);
    size_t start = i;
    while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\n' &&
           t[i] != '\r' && t[i] != '\t')
        ++i;
    return i > start ? i : std::string_view::npos;
}

}  // namespace

bool object_members(std::string_view t, std::vector<RawMember>& out) {
    size_t i = skip_ws(t, 0);
    if (i >= t.size() || t[i] != '{') return false;
    i = skip_ws(t, i + 1);
    if (i < t.size() && t[i] == '}') return true;
    while (i < t.size()) {
        if (t[i] != '"') return false;
        size_t key_end = skip_string(t, i);
        if (key_end == std::string_view::npos) return false;
        std::string_view key = t.substr(i + 1, key_end - i - 2);
        i = skip_ws(t, key_end);
        if (i >= t.size() || t[i] != ':') return false;
        i = skip_ws(t, i + 1);
        size_t value_end = skip_value(t, i);
        if (value_end == std::string_view::npos) return false;
        out.push_back({key, t.substr(i, value_end - i)});
        i = skip_ws(t, value_end);
        if (i < t.size() && t[i] == '}') return true;
        if (i >= t.size() || t[i] != ',') return false;
        i = skip_ws(t, i + 1);
    }
    return false;
}

bool array_elements(std::string_view t, std::vector<std::string_view>& out) {
    size_t i = skip_ws(t, 0);
    if (i >= t.size() || t[i] != '[') return false;
    i = skip_ws(t, i + 1);
    if (i < t.size() && t[i] == ']') return true;
    while (i < t.size()) {
        size_t end = skip_value(t, i);
        if (end == std::string_view::npos) return false;
        out.push_back(t.substr(i, end - i));
        i = skip_ws(t, end);
        if (i < t.size() && t[i] == ']') return true;
        if (i >= t.size() || t[i] != ',') return false;
        i = skip_ws(t, i + 1);
    }
    return false;
}

namespace {

// A raw member name (between its quotes) is name, once its escapes are decoded.
bool same_name(std::string_view raw, std::string_view name) {
    if (raw.find('\\') == std::string_view::npos) return raw == name;
    Document d;
    std::string quoted = "\"" + std::string(raw) + "\"";
    return parse(d, quoted) && d.IsString() && std::string_view(d.GetString(), d.GetStringLength()) == name;
}

}  // namespace

std::optional<std::string_view> raw_member(std::string_view text, std::string_view name) {
    std::vector<RawMember> members;
    if (!object_members(text, members)) return std::nullopt;
    for (const RawMember& m : members)
        if (same_name(m.key, name)) return m.value;
    return std::nullopt;
}

std::string compact(std::string_view t) {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        if (c != '"') {
            out.push_back(c);
            continue;
        }
        size_t end = skip_string(t, i);
        if (end == std::string_view::npos) end = t.size();
        out.append(t.substr(i, end - i));
        i = end - 1;
    }
    return out;
}

bool is_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        if (c < 0xC2 || c > 0xF4 || static_cast<size_t>(end - p) <= n) return false;
        unsigned lo = 0x80, hi = 0xBF;  // the second byte's range (RFC 3629's table)
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        if (p[1] < lo || p[1] > hi) return false;
        for (size_t i = 2; i <= n; ++i)
            if ((p[i] & 0xC0) != 0x80) return false;
        p += n + 1;
    }
    return true;
}

bool same(std::string_view a, std::string_view b) { return same_except(a, b, {}); }

bool same_except(std::string_view a, std::string_view b, std::initializer_list<std::string_view> ignored) {
    if (a == b) return true;
    Document da, db;
    if (!parse(da, a) || !parse(db, b)) return false;
    for (Document* d : {&da, &db}) {
        if (!d->IsObject()) continue;
        for (std::string_view name : ignored)
            while (d->RemoveMember(rapidjson::StringRef(name.data(), name.size()))) {
            }
    }
    return static_cast<const Value&>(da) == static_cast<const Value&>(db);  // members by name, numbers by value
}

std::string stringify(const Value& v) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

void append_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 15]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
}

}  // namespace rt::json
