// Postgres Changes subscriptions on the database pool (I/O): the hub's DbPort. A join's
// rows are made on a pool session keyed by the client's connection, so one client's
// slow join never holds up another's; the result goes back through the loop's inbound
// port. The statements are in io/subscription_sql.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/park_marks.h"
#include "relay/hub/inbound.h"
#include "relay/hub/ports.h"
#include "relay/io/db_pool.h"

namespace rt {

class SubscriptionDb : public DbPort {
public:
    SubscriptionDb(DbPool& pool, std::string node_id, LoopInbound& loop);

    // Startup, on a session of its own: the database answers, the extension is
    // installed, and this node's rows left by a previous run (a crash). False with a
    // one-line reason.
    static bool check(const std::string& conninfo, const std::string& node_id, int statement_timeout_ms,
                      std::vector<OrphanRow>& orphans, std::string& error);

    // DbPort (loop thread)
    bool available() const override { return true; }
    void subscribe(uint64_t client, uint64_t member_id, std::vector<BindingSpec> bindings,
                   std::string claims_json, AdoptAs adopt) override;
    void unsubscribe(std::vector<int64_t> ids) override;
    void update_claims(uint64_t client, std::vector<int64_t> ids, std::string claims_json) override;
    void mark_parked(std::vector<int64_t> ids, int64_t at_ms) override;

private:
    void write_marks();  // a pool job: the pending parked states, batch after batch

    DbPool& pool_;
    const std::string node_id_;
    LoopInbound& loop_;
    std::mutex marks_lock_;  // held only to add to or take from marks_
    ParkMarks marks_;
};

}  // namespace rt
