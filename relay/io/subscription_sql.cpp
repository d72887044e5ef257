// Subscription statements.
#include "relay/io/subscription_sql.h"

#include "relay/core/json.h"
#include "relay/core/pg_array.h"
#include "relay/core/user_transaction.h"
#include "relay/protocol/binding_params.h"
#include "relay/protocol/errors.h"

namespace rt::subscription_sql {
namespace {

// What the client is told when its join's statements failed.
std::string client_message(const SqlSession& s, const DbError& e) {
    switch (e.kind) {
        case DbError::Kind::Timeout: return errors::database_timeout(s.statement_timeout_ms());
        case DbError::Kind::Unreachable: return errors::kDatabaseUnreachable;
        default: return e.message;
    }
}

// A table or schema the database does not know: Supabase's "Please check Realtime is
// enabled ..." (its subscription finds no published table).
bool unknown_table(const DbError& e) { return e.sqlstate == "42P01" || e.sqlstate == "3F000"; }

// One binding's row, under a savepoint: Postgres refusing this binding is recorded (id 0
// and the client's message) and undone alone, so the join's other bindings stay; false
// (error set) when the database timed out or is gone, which fails the whole join.
bool subscribe_one(SqlSession& tx, const std::string& node_id, const BindingSpec& b, const std::string& claims_json,
                   SubscribeResult& r, DbError& error) {
    if (!tx.exec("SAVEPOINT binding", {}, nullptr, error)) return false;
    SqlRows rows;
    DbError refusal;
    const bool added = b.whole_schema()
                           ? tx.exec("SELECT realtime.subscribe_schema($1, $2::name, $3, $4::jsonb)",
                                     {node_id, b.schema, b.event, claims_json}, &rows, refusal)
                           : tx.exec("SELECT realtime.subscribe($1, format('%I.%I', $2::text, $3::text)::regclass, "
                                     "$4, NULLIF($5, ''), $6::jsonb, $7::text[])",
                                     {node_id, b.schema, b.table, b.event, b.filter, claims_json,
                                      pg_array::text(b.select)},
                                     &rows, refusal);
    if (added) {
        r.ids.push_back(std::stoll(rows.at(0)[0]));
        r.errors.emplace_back();
        return true;
    }
    if (refusal.kind != DbError::Kind::Failed) {
        error = refusal;
        return false;
    }
    if (!tx.exec("ROLLBACK TO SAVEPOINT binding", {}, nullptr, error)) return false;
    r.ids.push_back(0);
    r.errors.push_back(binding_params::refused(b, unknown_table(refusal), refusal.message));
    return true;
}

// A dead node's row for a binding was made with other claims than the join's: the
// earliest such row's since is what the client is told.
void changed_since(SubscribeResult& r, int64_t since_s) {
    if (!r.claims_changed_since_s || since_s < r.claims_changed_since_s) r.claims_changed_since_s = since_s;
}

// A JSON array of strings (array_to_json of a text[]), as a list.
std::vector<std::string> text_list(const std::string& json_text) {
    std::vector<std::string> out;
    json::Document doc;
    if (!json::parse(doc, json_text) || !doc.IsArray()) return out;
    for (const json::Value& v : doc.GetArray())
        if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
    return out;
}

}  // namespace

bool check_extension(SqlSession& s, std::string& error) {
    SqlRows rows;
    DbError e;
    if (!s.exec("SELECT current_database(), (SELECT extversion FROM pg_extension WHERE extname = 'pg_realtime')", {},
                &rows, e)) {
        error = e.message;
        return false;
    }
    if (rows.empty() || rows[0].is_null(1)) {
        error = "the pg_realtime extension is not installed in database \"" + (rows.empty() ? "" : rows[0][0]) +
                "\": run CREATE EXTENSION pg_realtime";
        return false;
    }
    return true;
}

SubscribeResult subscribe(SqlSession& s, const std::string& node_id, const std::vector<BindingSpec>& bindings,
                          const std::string& claims_json) {
    SubscribeResult r;
    DbError e = in_transaction(s, TxEnd::Commit, [&](SqlSession& tx, DbError& error) {
        for (const BindingSpec& b : bindings)
            if (!subscribe_one(tx, node_id, b, claims_json, r, error)) return false;
        return true;
    });
    r.ok = !e;
    if (!r.ok) {
        r.ids.clear();
        r.errors.clear();
        r.error = client_message(s, e);
    }
    return r;
}

std::vector<BindingNotice> update_claims(SqlSession& s, const std::vector<int64_t>& ids,
                                        const std::string& claims_json) {
    std::vector<BindingNotice> ended;
    SqlRows rows;
    DbError e;
    if (!s.exec("SELECT id, error FROM realtime.update_claims($1::bigint[], $2::jsonb)",
                {pg_array::bigint(ids), claims_json}, &rows, e)) {
        std::string why = errors::claims_not_updated(client_message(s, e));
        for (int64_t id : ids) ended.push_back({id, why, true});
        return ended;
    }
    for (const SqlRow& row : rows) ended.push_back({std::stoll(row[0]), errors::claims_refused(row[1]), true});
    return ended;
}

SubscribeResult adopt(SqlSession& s, const std::string& node_id, const std::vector<BindingSpec>& bindings,
                      const AdoptAs& as) {
    SubscribeResult r;
    r.ok = true;
    // A whole-schema binding's rows are one per table, made by realtime.subscribe_schema:
    // they are subscribed anew rather than adopted (docs/architecture.md).
    for (const BindingSpec& b : bindings)
        if (b.whole_schema()) return r;
    bool all = true;
    DbError e = in_transaction(s, TxEnd::Commit, [&](SqlSession& tx, DbError& error) {
        for (const BindingSpec& b : bindings) {
            SqlRows rows;
            if (!tx.exec("SELECT id, live_elsewhere, claims_changed_since, lost_since, parked_on FROM realtime.adopt($1, "
                         "format('%I.%I', $2::text, $3::text)::regclass, $4, NULLIF($5, ''), $6, $7, "
                         "make_interval(secs => $8::float8 / 1000), $9::text[], $10::jsonb)",
                         {node_id, b.schema, b.table, b.event, b.filter, as.role, as.sub,
                          std::to_string(as.silent_for_ms), pg_array::text(b.select), as.claims_json},
                         &rows, error))
                return false;
            if (rows.empty() || rows[0].is_null(0)) {
                all = false;
                if (!rows.empty() && rows[0][1] == "t") r.elsewhere = true;
                if (!rows.empty() && !rows[0].is_null(2)) changed_since(r, std::stoll(rows[0][2]));
                continue;
            }
            r.ids.push_back(std::stoll(rows[0][0]));
            if (!rows[0].is_null(3)) {
                const int64_t lost = std::stoll(rows[0][3]);
                if (!r.lost_since_s || lost < r.lost_since_s) r.lost_since_s = lost;
            }
            // One node parks a membership's rows together: the first names it.
            if (!rows[0].is_null(4) && r.parked_on.empty()) r.parked_on = rows[0][4];
        }
        return all;  // not every binding has a row to adopt: roll back, move nothing
    });
    r.ok = true;
    r.adopted = !e && all;
    if (!r.adopted) {
        r.ids.clear();
        r.lost_since_s = 0;
        r.parked_on.clear();
    }
    if (r.adopted || e) r.claims_changed_since_s = 0;
    if (e && all) r.elsewhere = false;  // a failed statement: subscribe as usual
    return r;
}

bool unsubscribe(SqlSession& s, const std::vector<int64_t>& ids, DbError& error) {
    return s.exec("SELECT count(*) FROM unnest($1::bigint[]) AS id WHERE realtime.unsubscribe(id)",
                  {pg_array::bigint(ids)}, nullptr, error);
}

bool mark_parked(SqlSession& s, const std::string& node_id, const ParkMarks::Batch& batch, DbError& error) {
    std::vector<std::string> at;
    at.reserve(batch.parked_at.size());
    for (double t : batch.parked_at) at.push_back(std::to_string(t));
    return s.exec("SELECT realtime.mark_parked($1, $2::bigint[], $3::float8[], $4::bigint[])",
                  {node_id, pg_array::bigint(batch.parked), pg_array::text(at), pg_array::bigint(batch.cleared)},
                  nullptr, error);
}

bool orphans(SqlSession& s, const std::string& node_id, std::vector<OrphanRow>& out, DbError& error) {
    SqlRows rows;
    // A whole-schema row has no entity: its table is "*".
    if (!s.exec("SELECT s.id, n.nspname, coalesce(c.relname, '*'), s.action_filter, coalesce(s.filter, ''), "
                "coalesce(s.claims->>'role', ''), coalesce(s.claims->>'sub', ''), "
                "coalesce(array_to_json(s.select_columns)::text, '[]'), s.claims::text, "
                "extract(epoch FROM s.created_at)::bigint, floor(extract(epoch FROM s.parked_at))::bigint "
                "FROM realtime.subscription s LEFT JOIN pg_class c ON c.oid = s.entity "
                "JOIN pg_namespace n ON n.oid = coalesce(c.relnamespace, s.entity_schema) WHERE s.node_id = $1",
                {node_id}, &rows, error))
        return false;
    for (const SqlRow& row : rows) {
        OrphanRow o;
        o.id = std::stoll(row[0]);
        o.spec.schema = row[1];
        o.spec.table = row[2];
        o.spec.event = row[3];
        o.spec.filter = row[4];
        o.role = row[5];
        o.sub = row[6];
        o.spec.select = text_list(row[7]);
        o.claims_json = row[8];
        o.created_s = std::stoll(row[9]);
        if (!row.is_null(10)) o.parked_s = std::stoll(row[10]);
        out.push_back(std::move(o));
    }
    return true;
}

}  // namespace rt::subscription_sql
