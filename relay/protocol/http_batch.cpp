// Reading a batch of HTTP broadcasts, with Ecto's casting rules and error texts.
#include "relay/protocol/http_batch.h"

#include <cctype>
#include <utility>

#include "relay/core/json.h"
#include "relay/core/topic.h"
#include "relay/protocol/errors.h"

namespace rt::http_batch {
namespace {

constexpr const char* kBlank = "can't be blank";
constexpr const char* kInvalid = "is invalid";

// One message's errors, by field in the order they were found: {"field":["text",...]}.
class Errors {
public:
    void add(const char* field, const char* text) { list_.emplace_back(field, text); }
    bool empty() const { return list_.empty(); }
    void append_json(std::string& out) const {
        out.push_back('{');
        std::vector<std::string_view> fields;
        for (const auto& [field, text] : list_) {
            bool seen = false;
            for (std::string_view f : fields) seen = seen || f == field;
            if (seen) continue;
            if (!fields.empty()) out.push_back(',');
            fields.push_back(field);
            json::append_string(out, field);
            out += ":[";
            bool first = true;
            for (const auto& [f, t] : list_) {
                if (std::string_view(f) != field) continue;
                if (!first) out.push_back(',');
                first = false;
                json::append_string(out, t);
            }
            out.push_back(']');
        }
        out.push_back('}');
    }

private:
    std::vector<std::pair<const char*, const char*>> list_;
};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

bool absent(const json::Value* v) { return !v || v->IsNull() || (v->IsString() && v->GetStringLength() == 0); }

// A required string field (Ecto :string, then validate_required).
void required_string(const json::Value& msg, const char* name, std::string& out, Errors& errors) {
    const json::Value* v = json::member(msg, name);
    if (absent(v)) {
        errors.add(name, kBlank);
        return;
    }
    if (!v->IsString()) {
        errors.add(name, kInvalid);
        return;
    }
    out.assign(v->GetString(), v->GetStringLength());
    if (blank(out)) errors.add(name, kBlank);
}

// Ecto's :boolean: true, false, "true", "false", "1", "0"; absent is false.
void private_flag(const json::Value& msg, bool& out, Errors& errors) {
    const json::Value* v = json::member(msg, "private");
    if (absent(v)) return;
    if (v->IsBool()) {
        out = v->GetBool();
        return;
    }
    std::string_view s = v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : "";
    if (s == "true" || s == "1" || s == "false" || s == "0")
        out = s == "true" || s == "1";
    else
        errors.add("private", kInvalid);
}

void message_id(const json::Value& msg, std::string& meta_json, Errors& errors) {
    const json::Value* v = json::member(msg, "id");
    if (absent(v)) return;
    std::optional<std::string> id =
        v->IsString() ? uuid(std::string_view(v->GetString(), v->GetStringLength())) : std::nullopt;
    if (!id) {
        errors.add("id", kInvalid);
        return;
    }
    meta_json = "{\"id\":";
    json::append_string(meta_json, *id);
    meta_json.push_back('}');
}

// The payload: a JSON object, kept as written (raw: its text in the body).
void payload(const json::Value& msg, std::string_view raw, int64_t max_bytes, std::string& out, Errors& errors) {
    const json::Value* v = json::member(msg, "payload");
    if (!v || v->IsNull()) {
        errors.add("payload", kBlank);
        return;
    }
    if (!v->IsObject()) {
        errors.add("payload", kInvalid);
        return;
    }
    std::optional<std::string_view> text = json::raw_member(raw, "payload");
    out = text ? json::compact(*text) : "{}";
    if (static_cast<int64_t>(out.size()) > max_bytes) errors.add("payload", errors::kHttpPayloadTooLarge);
}

Batch refused(const char* text) {
    Batch b;
    b.errors_json = "{\"errors\":{\"messages\":[";
    json::append_string(b.errors_json, text);
    b.errors_json += "]}}";
    return b;
}

}  // namespace

std::optional<std::string> uuid(std::string_view text) {
    std::string hex;
    for (size_t i = 0; i < text.size(); ++i) {
        bool dash_here = text.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash_here != (text[i] == '-')) return std::nullopt;
        if (dash_here) continue;
        if (!isxdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        hex.push_back(static_cast<char>(tolower(static_cast<unsigned char>(text[i]))));
    }
    if (hex.size() != 32 || (text.size() != 36 && text.size() != 32)) return std::nullopt;
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

Batch read(std::string_view body, int64_t max_payload_bytes) {
    json::Document doc;
    json::parse(doc, body);
    const json::Value* list = json::member(doc, "messages");
    if (!list || list->IsNull() || (list->IsArray() && list->Empty())) return refused(kBlank);
    std::vector<std::string_view> raw;
    std::optional<std::string_view> raw_list = json::raw_member(body, "messages");
    if (!list->IsArray() || !raw_list || !json::array_elements(*raw_list, raw) || raw.size() != list->Size())
        return refused(kInvalid);
    for (const json::Value& m : list->GetArray())
        if (!m.IsObject()) return refused(kInvalid);

    Batch batch;
    std::string errors = "{\"errors\":{\"messages\":[";
    bool bad = false;
    for (size_t i = 0; i < raw.size(); ++i) {
        const json::Value& m = (*list)[static_cast<rapidjson::SizeType>(i)];
        BroadcastMsg b;
        Errors e;
        message_id(m, b.meta_json, e);
        required_string(m, "topic", b.topic, e);
        payload(m, raw[i], max_payload_bytes, b.payload, e);
        required_string(m, "event", b.event, e);
        private_flag(m, b.is_private, e);
        if (i) errors.push_back(',');
        e.append_json(errors);
        bad = bad || !e.empty();
        b.topic = topic::normalize(b.topic);
        batch.messages.push_back(std::move(b));
    }
    if (!bad) return batch;
    batch.messages.clear();
    batch.errors_json = errors + "]}}";
    return batch;
}

}  // namespace rt::http_batch
