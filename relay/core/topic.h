// The one rule for channel topics: a channel's topic is "realtime:<name>" on the wire
// (what clients join and receive), and <name> (the sub-topic) where Supabase shows it to
// people: system messages, the REST API's paths, realtime.send's topic. A public and a
// private channel of one topic are two channels (Supabase's tenant_topic/3): their key.
#pragma once

#include <string>
#include <string_view>

namespace rt::topic {

inline constexpr std::string_view kPrefix = "realtime:";

// A topic clients may join: it has the prefix (the name may still be empty).
inline bool is_channel(std::string_view topic) { return topic.substr(0, kPrefix.size()) == kPrefix; }

// "realtime:" alone: a channel without a name.
inline bool is_unnamed(std::string_view topic) { return topic == kPrefix; }

// The name without the prefix (topic itself when it has none).
inline std::string_view sub_topic(std::string_view topic) {
    return is_channel(topic) ? topic.substr(kPrefix.size()) : topic;
}

// The channel topic of a name: "realtime:" + name, always.
inline std::string of(std::string_view name) {
    std::string t(kPrefix);
    t.append(name);
    return t;
}

// A topic given either way ("room" or "realtime:room") as the channel's topic.
inline std::string normalize(std::string_view topic) { return is_channel(topic) ? std::string(topic) : of(topic); }

// The name of a channel in this node's maps and on the mesh: the topic for a public
// channel, "private:" + topic for a private one. Every topic starts with "realtime:", so
// no public channel's key is a private one's.
inline std::string channel_key(std::string_view topic, bool is_private) {
    std::string key = is_private ? "private:" : "";
    key.append(topic);
    return key;
}

}  // namespace rt::topic
