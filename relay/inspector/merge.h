// The cluster's answer to an inspector's question, put together from each node's part
// (hub/inspect writes them: this node's, and its peers' from the mesh), as the JSON the
// page and scripts read (docs/inspector.md). Parts that cannot be read are skipped.
// Pure logic.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rt::inspector {

// {"query","limit","missing":[node],"nodes":{node:{"channels","matched"}},
//  "list":[{"key","topic","private","members":{node:n},"total","presence","bindings","broadcasts"}]}
// busiest first (members over every node, then broadcasts), at most limit; a public and
// a private channel of one topic are two rows (their topic::channel_key).
std::string merge_channels(const std::vector<std::string>& parts, const std::vector<std::string>& missing,
                           std::string_view query, size_t limit);

// {"topic","private","missing":[node],"members":{node:n},"total","broadcasts",
//  "member_list":[{"node",...}],
//  "subscriptions":[{"event","schema","table","filter","role","members":{node:n},"live"}],
//  "presence":{"entries","list":[{"node","key","phx_ref","meta"}]}}
std::string merge_channel(const std::vector<std::string>& parts, const std::vector<std::string>& missing,
                          std::string_view topic, bool is_private);

}  // namespace rt::inspector
