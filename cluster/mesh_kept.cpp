// The mesh's side of kept changes moving between nodes (issue 15, hub/kept_transfer): a
// node that adopted subscriptions parked on this one asks for what this node kept for
// them, and this node's answer goes back. Both travel on the receiving node's own
// stream ("N:<node>"), so a lost one shows as a gap; a lost ask or answer is the asker's
// timeout (its client is told it missed changes), never a wrong delivery.
#include "cluster/mesh.h"
#include "relay/core/log.h"

namespace rt::cluster {

void Mesh::on_kept(const Header& h, std::string_view body) {
    membership_.node_stream_gap(h);
    if (h.type == MsgType::KeptAsk) {
        KeptAsk ask;
        if (decode(body, ask))
            loop_.kept_asked(h.node, std::move(ask));
        else
            LOG_WARN("a request for kept changes from %s did not decode", h.node.c_str());
        return;
    }
    KeptHandOver handed;
    if (decode(body, handed))
        loop_.kept_handed(h.node, std::move(handed));
    else
        LOG_WARN("kept changes handed over by %s did not decode", h.node.c_str());
}

}  // namespace rt::cluster
