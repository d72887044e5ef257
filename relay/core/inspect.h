// What one node's inspector asks the other nodes over the mesh, and what they answer:
// plain data the loop thread and the mesh thread exchange (as events.h is for the rest).
// The answering node's loop fills the answer from its own state (hub/inspect); the
// asking node's inspector merges the answers (relay/inspector).
#pragma once

#include <cstdint>
#include <string>

namespace rt {

struct InspectQuery {
    enum class Kind : uint8_t { Channels = 1, Channel = 2 };
    uint64_t id = 0;  // the asker's, echoed by the answers
    Kind kind = Kind::Channels;
    std::string arg;  // Channels: the text topics must contain; Channel: its topic::channel_key
    uint32_t limit = 0;  // Channels: the most to list
};

struct InspectAnswer {
    uint64_t id = 0;
    std::string json;  // the answering node's part, a JSON object
};

}  // namespace rt
