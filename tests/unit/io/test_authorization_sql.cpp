// relay/io/authorization_sql: realtime.authorize's row read into policies or a failure,
// realtime.replay's rows (binary payloads as hex) after the WAL position it read from, and the retention statement.
#include <gtest/gtest.h>

#include "fake_sql.h"
#include "relay/io/authorization_sql.h"

using rt::AccessCheck;
using rt::AccessResult;
using rt::DbError;
using rt::SqlRow;
using rt::testing::FakeSql;
namespace authz = rt::authorization_sql;

namespace {

SqlRow with_nulls(std::vector<std::string> values, std::vector<bool> nulls) {
    SqlRow r;
    r.values = std::move(values);
    r.nulls = std::move(nulls);
    return r;
}

}  // namespace

TEST(AuthorizationSql, OneStatementWithTheChecksAsked) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        return rt::SqlRows{with_nulls({"t", "f", "", "", "", ""}, {false, false, true, true, true, true})};
    };
    AccessCheck c;
    c.topic = "room1";
    c.claims_json = R"({"role":"authenticated"})";
    c.presence = false;
    AccessResult r = authz::authorize(sql, c);
    ASSERT_EQ(sql.statements.size(), 1u) << "autocommit: no transaction around it";
    EXPECT_NE(sql.statements[0].sql.find("realtime.authorize("), std::string::npos);
    EXPECT_EQ(sql.statements[0].params,
              (std::vector<std::string>{"room1", R"({"role":"authenticated"})", "true", "false", "false", "{}"}));
    EXPECT_EQ(r.failure, AccessResult::Failure::None);
    EXPECT_EQ(r.policies.broadcast_read, std::optional<bool>(true));
    EXPECT_EQ(r.policies.presence_read, std::optional<bool>(false));
    EXPECT_FALSE(r.policies.broadcast_write.has_value());
}

TEST(AuthorizationSql, ACheckThatRaisedIsAPolicyFailure) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        return rt::SqlRows{with_nulls({"", "", "", "", "P0001", "test error"}, {true, true, true, true, false, false})};
    };
    AccessResult r = authz::authorize(sql, AccessCheck{});
    EXPECT_EQ(r.failure, AccessResult::Failure::Policy);
    EXPECT_EQ(r.error_code, "P0001");
    EXPECT_EQ(r.error_message, "test error");
}

TEST(AuthorizationSql, StatementFailuresByKind) {
    FakeSql sql;
    sql.fail = [](const std::string&, DbError& e) {
        e = DbError::of("57014", "canceling statement due to statement timeout", false);
        return true;
    };
    EXPECT_EQ(authz::authorize(sql, AccessCheck{}).failure, AccessResult::Failure::Timeout);
    sql.fail = [](const std::string&, DbError& e) {
        e = DbError::of("42883", "function realtime.authorize does not exist", false);
        return true;
    };
    EXPECT_EQ(authz::authorize(sql, AccessCheck{}).failure, AccessResult::Failure::Failed);
    sql.up = false;
    EXPECT_EQ(authz::authorize(sql, AccessCheck{}).failure, AccessResult::Failure::Unreachable);
}

TEST(AuthorizationSql, ReplayRowsJsonAndBinary) {
    FakeSql sql;
    sql.answer = [](const std::string& statement, const std::vector<std::string>&) {
        if (statement.find("pg_current_wal_insert_lsn") != std::string::npos)
            return rt::SqlRows{with_nulls({"4294967312"}, {false})};
        return rt::SqlRows{with_nulls({"id-1", "e", R"({"a": 1})", ""}, {false, false, false, true}),
                           with_nulls({"id-2", "bin", "", "0102ff"}, {false, false, true, false})};
    };
    rt::ReplayQuery q{"room1", 1700000000000, 3};
    rt::ReplayResult r = authz::replay(sql, q);
    ASSERT_EQ(sql.statements.size(), 2u) << "the WAL position is read first, in a statement of its own";
    EXPECT_EQ(r.read_lsn, 4294967312u);
    EXPECT_EQ(sql.statements[1].params, (std::vector<std::string>{"room1", "1700000000000", "3"}));
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_FALSE(r.rows[0].binary);
    EXPECT_EQ(r.rows[0].payload, R"({"a": 1})");
    EXPECT_TRUE(r.rows[1].binary);
    EXPECT_EQ(r.rows[1].payload, std::string("\x01\x02\xff", 3));
}

TEST(AuthorizationSql, ReplayRefusals) {
    FakeSql sql;
    sql.fail = [](const std::string&, DbError& e) {
        e = DbError::of("22023", "Replay params are not valid", false);
        return true;
    };
    EXPECT_EQ(authz::replay(sql, {}).failure, rt::ReplayResult::Failure::InvalidParams);
    sql.up = false;
    EXPECT_EQ(authz::replay(sql, {}).failure, rt::ReplayResult::Failure::Failed);
}

TEST(AuthorizationSql, FromHex) {
    std::string out;
    ASSERT_TRUE(authz::from_hex("00ffAb", out));
    EXPECT_EQ(out, std::string("\x00\xff\xab", 3));
    EXPECT_FALSE(authz::from_hex("0", out));
    EXPECT_FALSE(authz::from_hex("zz", out));
}

TEST(AuthorizationSql, MaintainMessages) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        return rt::SqlRows{rt::testing::row({"dropped", "messages_2026_01_01"}), rt::testing::row({"created", "messages_2026_12_04"})};
    };
    std::vector<std::pair<std::string, std::string>> done;
    DbError e;
    ASSERT_TRUE(authz::maintain_messages(sql, 72, done, e));
    EXPECT_EQ(sql.statements[0].params, (std::vector<std::string>{"72"}));
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], (std::pair<std::string, std::string>{"dropped", "messages_2026_01_01"}));
}
