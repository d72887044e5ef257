// Fuzz target: the body of POST /api/broadcast as the relay reads it once it parsed as
// JSON (protocol/http_batch: Ecto's casting rules; payloads kept as the client wrote them,
// through core/json's raw scan), and message ids as UUIDs (odd mode byte). What the relay
// sends on must be JSON: each message's payload an object and its meta, or the 422 body.
#include "fuzz_input.h"
#include "relay/core/json.h"
#include "relay/protocol/http_batch.h"

using namespace rt;

namespace {

bool is_json(std::string_view text, bool object) {
    json::Document d;
    return json::parse(d, text) && (!object || d.IsObject());
}

void check_uuid(std::string_view text) {
    std::optional<std::string> id = http_batch::uuid(text);
    if (!id) return;
    fuzz::require(id->size() == 36 && http_batch::uuid(*id) == id);
    for (char c : *id) fuzz::require(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in = fuzz::split(data, size);
    if (in.mode & 1) {
        check_uuid(in.text);
        return 0;
    }
    if (!is_json(in.text, false)) return 0;  // answered 422 "malformed JSON" before
    http_batch::Batch batch = http_batch::read(in.text, 1 << 16);
    if (!batch.errors_json.empty()) {
        fuzz::require(batch.messages.empty() && is_json(batch.errors_json, true));
        return 0;
    }
    for (const BroadcastMsg& m : batch.messages) {
        fuzz::require(is_json(m.payload, true) && m.payload.size() <= (1 << 16));
        fuzz::require(m.meta_json.empty() || is_json(m.meta_json, true));
        fuzz::require(!m.topic.empty() && !m.event.empty());
    }
    return 0;
}
