// Fuzz target: the relay's JSON reader (both key rules, by the mode byte's low bit).
// Accepted text is written out again, and that parses to the same text (the writer
// stays within the nesting bound); an accepted object's raw members are its members.
#include "fuzz_input.h"
#include "relay/core/json.h"

#include <vector>

using namespace rt;

namespace {

// The deepest nesting of a value, walked without recursion.
int depth_of(const json::Value& root) {
    std::vector<std::pair<const json::Value*, int>> stack{{&root, 0}};
    int deepest = 0;
    while (!stack.empty()) {
        auto [v, d] = stack.back();
        stack.pop_back();
        if (v->IsArray()) {
            deepest = std::max(deepest, d + 1);
            for (const json::Value& e : v->GetArray()) stack.push_back({&e, d + 1});
        } else if (v->IsObject()) {
            deepest = std::max(deepest, d + 1);
            for (const auto& m : v->GetObject()) stack.push_back({&m.value, d + 1});
        }
    }
    return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in = fuzz::split(data, size);
    json::Keys keys = in.mode & 1 ? json::Keys::Unique : json::Keys::Any;
    json::Document doc;
    std::string error;
    if (!json::parse(doc, in.text, &error, keys)) {
        fuzz::require(!error.empty() && doc.IsNull());
        return 0;
    }
    fuzz::require(depth_of(doc) <= json::kMaxDepth);
    std::string once = json::stringify(doc);
    json::Document again;
    fuzz::require(json::parse(again, once, &error, keys));
    fuzz::require(json::stringify(again) == once);
    if (doc.IsObject()) {
        std::vector<json::RawMember> members;
        fuzz::require(json::object_members(in.text, members));
        fuzz::require(members.size() == doc.MemberCount());
    }
    return 0;
}
