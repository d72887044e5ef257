// Owns: how the load generator talks to nginx+nchan: subscriber WebSocket URLs and
// publisher URLs from patterns holding "{channel}", and the publish request (HTTP POST
// of the raw message body). Subscribers need no join: a completed WebSocket handshake
// is a subscription, and every text frame is one published message.
#pragma once
#include <string>
#include <string_view>

namespace lg::nchan {

// Replaces every "{channel}" in pattern.
std::string expand(const std::string& pattern, const std::string& channel);

// Appends a POST of body to target (already expanded) to out.
void publish_request(std::string* out, const std::string& host_header, const std::string& target,
                     std::string_view body);

}  // namespace lg::nchan
