// The inspector: an admin's live view of the cluster in the browser (GET /inspector),
// served by every relay, and its JSON endpoints (/api/inspector/*, docs/inspector.md).
// It checks the admin credential (AdminAuth), samples every node's rates once a second
// (Sampler) for the feed's long polls, and asks the other nodes about channels over the
// mesh (Questions; their hub/inspect answers, merge puts the answers together).
//
// It runs on the loop thread and reads the hub directly. Its work is bounded and done
// on request or once a second: a sample reads a few counters per node (peers' come in
// their heartbeats), a listing keeps each node's N busiest channels; nothing is pushed
// to a page that did not ask.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/core/node_stats.h"
#include "relay/hub/hub.h"
#include "relay/inspector/admin_auth.h"
#include "relay/inspector/questions.h"
#include "relay/inspector/sampler.h"
#include "relay/io/http_api.h"

namespace rt::inspector {

class Inspector : public InspectorPort {
public:
    // This node first, then its peers (the mesh's view); empty without a cluster.
    using ClusterView = std::function<std::vector<NodeView>()>;

    Inspector(const Config& cfg, Metrics& metrics, Hub& hub, ClusterView cluster);

    // Serves "/inspector" (the page) and "/api/inspector/" on http.
    void mount(HttpApi& http);
    // Once a second on the loop: a sample, the feed's waiting polls, overdue questions.
    void tick();
    // InspectorPort: a peer's answer to one of this node's questions.
    void answered(const std::string& node, InspectAnswer a) override;

    static constexpr size_t kMaxFeedWaiting = 32;

private:
    using Merge = std::function<std::string(const std::vector<std::string>&, const std::vector<std::string>&)>;

    HttpResponse page(const HttpRequest& req) const;
    HttpResponse api(const HttpRequest& req);
    HttpResponse snapshot();
    HttpResponse feed(const HttpRequest& req);
    HttpResponse channels(const HttpRequest& req);
    HttpResponse channel(const HttpRequest& req);
    // Asks q here and of every peer that is up; answers now when there is nobody to
    // wait for, else later (a deferred answer).
    HttpResponse ask(InspectQuery q, Merge merge);
    std::vector<NodeView> nodes();

    const Config& cfg_;
    Metrics& metrics_;
    Hub& hub_;
    ClusterView cluster_;
    HttpApi* http_ = nullptr;  // where it is mounted (deferred answers)
    AdminAuth auth_;
    Sampler sampler_;
    Questions questions_;
    std::vector<std::pair<uint64_t, HttpReply>> feed_waiting_;  // (after, reply)
};

}  // namespace rt::inspector
