// Subscription jobs on the pool.
#include "relay/io/subscription_db.h"

#include <memory>

#include "relay/core/log.h"
#include "relay/io/pg_session.h"
#include "relay/io/subscription_sql.h"

namespace rt {
namespace {

constexpr size_t kMarksPerStatement = 10000;

}  // namespace

SubscriptionDb::SubscriptionDb(DbPool& pool, std::string node_id, LoopInbound& loop)
    : pool_(pool), node_id_(std::move(node_id)), loop_(loop) {}

bool SubscriptionDb::check(const std::string& conninfo, const std::string& node_id, int statement_timeout_ms,
                           std::vector<OrphanRow>& orphans, std::string& error) {
    PgSession s(conninfo, "realtime-relay " + node_id, statement_timeout_ms);
    if (!s.open()) {
        error = "cannot connect to the database: " + s.connect_error();
        return false;
    }
    if (!subscription_sql::check_extension(s, error)) return false;
    DbError e;
    if (!subscription_sql::orphans(s, node_id, orphans, e)) {
        error = "reading this node's previous subscriptions failed: " + e.message;
        return false;
    }
    return true;
}

void SubscriptionDb::subscribe(uint64_t client, uint64_t member_id, std::vector<BindingSpec> bindings,
                               std::string claims_json, AdoptAs adopt) {
    pool_.run(client, [this, member_id, bindings = std::move(bindings), claims = std::move(claims_json),
                       adopt = std::move(adopt)](SqlSession& s) {
        SubscribeResult r;
        if (adopt.enabled) r = subscription_sql::adopt(s, node_id_, bindings, adopt);
        if (!r.adopted && !(r.elsewhere && adopt.wait)) {
            const int64_t since = r.claims_changed_since_s;
            r = subscription_sql::subscribe(s, node_id_, bindings, claims);
            r.claims_changed_since_s = since;
        }
        if (!r.adopted) r.lost_since_s = 0;
        r.member_id = member_id;
        loop_.subscribe_result(std::move(r));
    });
}

void SubscriptionDb::unsubscribe(std::vector<int64_t> ids) {
    pool_.run(DbPool::kNoClient, [this, ids = std::move(ids)](SqlSession& s) {
        DbError e;
        if (subscription_sql::unsubscribe(s, ids, e)) return;
        if (e.kind == DbError::Kind::Unreachable)
            LOG_WARN("could not remove %zu subscriptions: database unreachable; they go when this node restarts",
                     ids.size());
        else
            LOG_WARN("removing subscriptions failed: %s", e.message.c_str());
    });
}

void SubscriptionDb::update_claims(uint64_t client, std::vector<int64_t> ids, std::string claims_json) {
    pool_.run(client, [this, ids = std::move(ids), claims = std::move(claims_json)](SqlSession& s) {
        std::vector<BindingNotice> ended = subscription_sql::update_claims(s, ids, claims);
        if (!ended.empty()) loop_.bindings_ended(std::move(ended));
    });
}

// On the loop: adds to what is pending; the first of a burst starts the write job, the
// rest wait for the batch after it.
void SubscriptionDb::mark_parked(std::vector<int64_t> ids, int64_t at_ms) {
    bool start;
    {
        std::lock_guard<std::mutex> lock(marks_lock_);
        for (int64_t id : ids) marks_.mark(id, at_ms);
        start = marks_.start();
    }
    if (start) write_marks();
}

// One batch per job; the next job takes what accumulated meanwhile. A failed write is
// not retried: those rows look connected, as before the park was known (a dead node's
// adopted row is then handed over without the report).
void SubscriptionDb::write_marks() {
    pool_.run(DbPool::kNoClient, [this](SqlSession& s) {
        ParkMarks::Batch batch;
        {
            std::lock_guard<std::mutex> lock(marks_lock_);
            batch = marks_.take(kMarksPerStatement);
        }
        DbError e;
        if (!batch.empty() && !subscription_sql::mark_parked(s, node_id_, batch, e))
            LOG_WARN("recording %zu parked subscriptions failed: %s", batch.parked.size() + batch.cleared.size(),
                     e.message.c_str());
        bool again;
        {
            std::lock_guard<std::mutex> lock(marks_lock_);
            again = marks_.finish();
        }
        if (again) write_marks();
    });
}

}  // namespace rt
