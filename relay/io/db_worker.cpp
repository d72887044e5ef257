// The database thread: subscription rows through realtime.subscribe/unsubscribe, the
// rows a crashed run left behind, and the node's cleanup at shutdown.
#include "relay/io/db_worker.h"
#include "relay/core/clock.h"

#include <libpq-fe.h>

#include <chrono>
#include <future>

#include "relay/core/log.h"
#include "relay/protocol/errors.h"

namespace rt {
namespace {

std::string bigint_array(const std::vector<int64_t>& ids) {
    std::string a = "{";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) a.push_back(',');
        a += std::to_string(ids[i]);
    }
    a.push_back('}');
    return a;
}

}  // namespace

DbWorker::DbWorker(std::string conninfo, std::string node_id, LoopInbound& loop)
    : conninfo_(std::move(conninfo)), node_id_(std::move(node_id)), loop_(loop) {}

DbWorker::~DbWorker() {
    stop();
    if (conn_) PQfinish(conn_);
}

bool DbWorker::check(std::string& error) {
    PGconn* c = pg_connect(conninfo_, "realtime-relay " + node_id_, false);
    if (PQstatus(c) != CONNECTION_OK) {
        error = "cannot connect to the database: " + pg_error_message(c);
        PQfinish(c);
        return false;
    }
    PgResult r = pg_exec(c, "SELECT extversion FROM pg_extension WHERE extname = 'pg_realtime'");
    if (!r.ok() || PQntuples(r.res) == 0) {
        error = std::string("the pg_realtime extension is not installed in database \"") + PQdb(c) +
                "\": run CREATE EXTENSION pg_realtime";
        PQfinish(c);
        return false;
    }
    conn_ = c;
    return true;
}

void DbWorker::start() { thread_ = std::thread([this] { loop(); }); }

void DbWorker::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void DbWorker::run(std::function<void(pg_conn*)> fn) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        jobs_.push_back(std::move(fn));
    }
    cv_.notify_one();
}

void DbWorker::loop() {
    for (;;) {
        std::function<void(pg_conn*)> job;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and everything queued is done
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job(connection());
    }
}

PGconn* DbWorker::connection() {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return conn_;
    int64_t now = mono_ms();
    if (now < next_attempt_ms_) return nullptr;
    if (conn_) PQfinish(conn_);
    conn_ = pg_connect(conninfo_, "realtime-relay " + node_id_, false);
    if (PQstatus(conn_) == CONNECTION_OK) {
        if (backoff_ms_) LOG_INFO("database connection re-established");
        backoff_ms_ = 0;
        return conn_;
    }
    backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, 5000) : 250;
    next_attempt_ms_ = now + backoff_ms_;
    LOG_WARN("database unreachable (retrying in %d ms): %s", backoff_ms_, pg_error_message(conn_).c_str());
    return nullptr;
}

void DbWorker::reset_connection() {
    if (conn_ && PQstatus(conn_) != CONNECTION_OK) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
}

void DbWorker::subscribe(uint64_t member_id, std::vector<BindingSpec> bindings, std::string claims_json) {
    run([this, member_id, bindings = std::move(bindings), claims = std::move(claims_json)](PGconn* c) {
        SubscribeResult r;
        r.member_id = member_id;
        if (!c) {
            r.error = errors::kDatabaseUnreachable;
        } else {
            // One transaction: a join gets all of its bindings or none.
            PgResult begin = pg_exec(c, "BEGIN");
            r.ok = begin.ok();
            for (const BindingSpec& b : bindings) {
                if (!r.ok) break;
                PgResult res = pg_exec_params(c,
                                         "SELECT realtime.subscribe($1, format('%I.%I', $2::text, $3::text)::regclass, "
                                         "$4, NULLIF($5, ''), $6::jsonb)",
                                         {node_id_, b.schema, b.table, b.event, b.filter, claims});
                if (!res.ok()) {
                    r.ok = false;
                    r.error = pg_error_message(c, res.res);
                    break;
                }
                r.ids.push_back(std::stoll(PQgetvalue(res.res, 0, 0)));
            }
            if (r.ok) {
                PgResult commit = pg_exec(c, "COMMIT");
                r.ok = commit.ok();
                if (!r.ok) r.error = pg_error_message(c, commit.res);
            } else {
                pg_exec(c, "ROLLBACK");
                if (r.error.empty()) r.error = pg_error_message(c);
            }
            if (!r.ok) r.ids.clear();
            reset_connection();
        }
        loop_.subscribe_result(std::move(r));
    });
}

void DbWorker::unsubscribe(std::vector<int64_t> ids) {
    run([this, ids = std::move(ids)](PGconn* c) {
        if (node_released_) return;  // the node's rows were all deleted
        if (!c) {
            LOG_WARN("could not remove %zu subscriptions: database unreachable; they go when this node restarts",
                     ids.size());
            return;
        }
        PgResult r = pg_exec_params(c, "SELECT count(*) FROM unnest($1::bigint[]) AS id WHERE realtime.unsubscribe(id)",
                               {bigint_array(ids)});
        if (!r.ok()) LOG_WARN("removing subscriptions failed: %s", pg_error_message(c, r.res).c_str());
        reset_connection();
    });
}

bool DbWorker::fetch_orphans(std::vector<OrphanRow>& rows, std::string& error) {
    PgResult r = pg_exec_params(conn_,
                           "SELECT s.id, n.nspname, c.relname, s.action_filter, coalesce(s.filter, ''), "
                           "coalesce(s.claims->>'role', ''), coalesce(s.claims->>'sub', '') "
                           "FROM realtime.subscription s JOIN pg_class c ON c.oid = s.entity "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE s.node_id = $1",
                           {node_id_});
    if (!r.ok()) {
        error = "reading this node's previous subscriptions failed: " + pg_error_message(conn_, r.res);
        return false;
    }
    for (int i = 0; i < PQntuples(r.res); ++i) {
        OrphanRow o;
        o.id = std::stoll(PQgetvalue(r.res, i, 0));
        o.spec.schema = PQgetvalue(r.res, i, 1);
        o.spec.table = PQgetvalue(r.res, i, 2);
        o.spec.event = PQgetvalue(r.res, i, 3);
        o.spec.filter = PQgetvalue(r.res, i, 4);
        o.role = PQgetvalue(r.res, i, 5);
        o.sub = PQgetvalue(r.res, i, 6);
        rows.push_back(std::move(o));
    }
    return true;
}

bool DbWorker::unsubscribe_node_and_wait(int timeout_ms) {
    auto done = std::make_shared<std::promise<bool>>();
    std::future<bool> result = done->get_future();
    run([this, done](PGconn* c) {
        bool ok = false;
        if (c) {
            pg_exec_params(c, "DELETE FROM realtime.nodes WHERE node_id = $1", {node_id_});
            PgResult r = pg_exec_params(c, "SELECT realtime.unsubscribe_node($1)", {node_id_});
            ok = r.ok();
            if (ok)
                LOG_INFO("removed %s subscriptions of node %s", PQgetvalue(r.res, 0, 0), node_id_.c_str());
            else
                LOG_WARN("removing this node's subscriptions failed: %s", pg_error_message(c, r.res).c_str());
        }
        node_released_ = ok;
        done->set_value(ok);
    });
    if (result.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return false;
    return result.get();
}

}  // namespace rt
