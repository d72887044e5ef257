// relay/core/user_transaction: the statements of a transaction as a user, and what
// happens when one fails.
#include <gtest/gtest.h>

#include "fake_sql.h"
#include "relay/core/user_transaction.h"

using rt::DbError;
using rt::SqlSession;
using rt::TxEnd;
using rt::UserContext;
using rt::testing::FakeSql;

namespace {

UserContext user() {
    UserContext ctx;
    ctx.claims_json = R"({"role":"authenticated","sub":"u1"})";
    ctx.topic = "room1";
    ctx.settings = {{"app.flag", "on"}};
    return ctx;
}

bool select_one(SqlSession& s, DbError& e) { return s.exec("SELECT 1", {}, nullptr, e); }

}  // namespace

TEST(UserTransaction, SetsTheUserThenRunsTheWorkThenCommits) {
    FakeSql sql;
    DbError e = rt::as_user(sql, user(), TxEnd::Commit, select_one);
    EXPECT_FALSE(e);
    ASSERT_EQ(sql.statements.size(), 5u);
    EXPECT_EQ(sql.statements[0].sql, "BEGIN");
    EXPECT_NE(sql.statements[1].sql.find("realtime.set_user_context"), std::string::npos);
    EXPECT_EQ(sql.statements[1].params,
              (std::vector<std::string>{R"({"role":"authenticated","sub":"u1"})", "room1", "{}"}));
    EXPECT_NE(sql.statements[2].sql.find("set_config"), std::string::npos);
    EXPECT_EQ(sql.statements[2].params, (std::vector<std::string>{"app.flag", "on"}));
    EXPECT_EQ(sql.statements[3].sql, "SELECT 1");
    EXPECT_EQ(sql.statements[4].sql, "COMMIT");
}

TEST(UserTransaction, RollbackWhenAsked) {
    FakeSql sql;
    EXPECT_FALSE(rt::as_user(sql, user(), TxEnd::Rollback, select_one));
    EXPECT_EQ(sql.sql().back(), "ROLLBACK");
}

TEST(UserTransaction, AnUnusableRoleStopsBeforeTheWork) {
    FakeSql sql;
    sql.fail = [](const std::string& s, DbError& e) {
        if (s.find("set_user_context") == std::string::npos) return false;
        e = DbError::of("22023", "role \"nobody\" does not exist", false);
        return true;
    };
    bool ran = false;
    DbError e = rt::as_user(sql, user(), TxEnd::Commit, [&](SqlSession&, DbError&) { return ran = true; });
    EXPECT_FALSE(ran);
    EXPECT_EQ(e.kind, DbError::Kind::Failed);
    EXPECT_EQ(e.sqlstate, "22023");
    EXPECT_EQ(sql.sql().back(), "ROLLBACK");
}

TEST(UserTransaction, FailedWorkRollsBackWithItsError) {
    FakeSql sql;
    sql.fail = [](const std::string& s, DbError& e) {
        if (s != "SELECT 1") return false;
        e = DbError::of("57014", "canceling statement due to statement timeout", false);
        return true;
    };
    DbError e = rt::as_user(sql, user(), TxEnd::Commit, select_one);
    EXPECT_TRUE(e.timed_out());
    EXPECT_EQ(sql.sql().back(), "ROLLBACK");
}

TEST(UserTransaction, WorkThatFailsWithoutSayingWhyStillRollsBack) {
    FakeSql sql;
    DbError e = rt::in_transaction(sql, TxEnd::Commit, [](SqlSession&, DbError&) { return false; });
    EXPECT_EQ(e.kind, DbError::Kind::Failed);
    EXPECT_FALSE(e.message.empty());
    EXPECT_EQ(sql.sql(), (std::vector<std::string>{"BEGIN", "ROLLBACK"}));
}

TEST(UserTransaction, UnreachableDatabaseFailsAtBegin) {
    FakeSql sql;
    sql.up = false;
    DbError e = rt::as_user(sql, user(), TxEnd::Commit, select_one);
    EXPECT_EQ(e.kind, DbError::Kind::Unreachable);
    EXPECT_EQ(sql.sql(), (std::vector<std::string>{"BEGIN"}));
}

TEST(DbErrorOf, ClassifiesTimeoutsAndLostConnections) {
    EXPECT_EQ(DbError::of("57014", "x", false).kind, DbError::Kind::Timeout);
    EXPECT_EQ(DbError::of("08006", "x", false).kind, DbError::Kind::Unreachable);
    EXPECT_EQ(DbError::of("", "x", true).kind, DbError::Kind::Unreachable);
    EXPECT_EQ(DbError::of("57P01", "terminating connection due to administrator command", false).kind,
              DbError::Kind::Unreachable);
    EXPECT_EQ(DbError::of("42501", "x", false).kind, DbError::Kind::Failed);
}
