// Realtime Authorization and replay on the database pool (I/O): the hub's AccessPort. Each
// check is one statement on a pool session keyed by the client's connection (so a join
// storm runs on every session at once, and one client's slow policy holds one session);
// the answer goes back through the loop's inbound port. The statements are in
// io/authorization_sql.
#pragma once

#include "relay/hub/inbound.h"
#include "relay/hub/ports.h"
#include "relay/io/db_pool.h"

namespace rt {

class AuthorizationDb : public AccessPort {
public:
    AuthorizationDb(DbPool& pool, LoopInbound& loop) : pool_(pool), loop_(loop) {}

    void authorize(uint64_t client, uint64_t ticket, AccessCheck check) override;
    void replay(uint64_t client, uint64_t ticket, ReplayQuery query) override;

private:
    DbPool& pool_;
    LoopInbound& loop_;
};

}  // namespace rt
