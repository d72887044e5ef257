// Authorization and replay jobs on the pool.
#include "relay/io/authorization_db.h"

#include "relay/io/authorization_sql.h"

namespace rt {

void AuthorizationDb::authorize(uint64_t client, uint64_t ticket, AccessCheck check) {
    pool_.run(client, [this, ticket, check = std::move(check)](SqlSession& s) {
        AccessResult r = authorization_sql::authorize(s, check);
        r.ticket = ticket;
        loop_.access_result(std::move(r));
    });
}

void AuthorizationDb::replay(uint64_t client, uint64_t ticket, ReplayQuery query) {
    pool_.run(client, [this, ticket, query = std::move(query)](SqlSession& s) {
        ReplayResult r = authorization_sql::replay(s, query);
        r.ticket = ticket;
        loop_.replay_result(std::move(r));
    });
}

}  // namespace rt
