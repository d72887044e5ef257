// The loop's presence snapshot for a peer.
#include "relay/io/mesh_port.h"

namespace rt {

void MeshPort::send_presence_snapshot(const std::string& to, std::vector<PresenceDelta> entries) {
    cluster::PresenceSnapshot snapshot;
    snapshot.presence_seq = presence_seq_;
    snapshot.entries = std::move(entries);
    sender_->snapshot(to, snapshot);
}

}  // namespace rt
