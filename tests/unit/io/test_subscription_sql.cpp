// relay/io/subscription_sql: a join's rows in one transaction, and what the client is
// told when the database refuses, times out or is gone.
#include <gtest/gtest.h>

#include "fake_sql.h"
#include "relay/io/subscription_sql.h"
#include "relay/protocol/errors.h"

using rt::BindingSpec;
using rt::DbError;
using rt::testing::FakeSql;
namespace sub = rt::subscription_sql;

namespace {

std::vector<BindingSpec> two_bindings() {
    BindingSpec a;
    a.table = "todos";
    BindingSpec b;
    b.table = "notes";
    b.filter = "id=eq.1";
    return {a, b};
}

void answer_ids(FakeSql& sql) {
    auto next = std::make_shared<int>(40);
    sql.answer = [next](const std::string& s, const std::vector<std::string>&) {
        rt::SqlRows rows;
        if (s.find("realtime.subscribe(") != std::string::npos) rows.push_back(rt::testing::row({std::to_string(++*next)}));
        return rows;
    };
}

}  // namespace

TEST(SubscriptionSql, EveryBindingInOneTransaction) {
    FakeSql sql;
    answer_ids(sql);
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", two_bindings(), R"({"role":"anon"})");
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.ids, (std::vector<int64_t>{41, 42}));
    EXPECT_EQ(r.errors, (std::vector<std::string>{"", ""}));
    EXPECT_EQ(sql.sql(), (std::vector<std::string>{"BEGIN", "SAVEPOINT binding", sql.statements[2].sql,
                                                   "SAVEPOINT binding", sql.statements[4].sql, "COMMIT"}));
    EXPECT_EQ(sql.statements[4].params,
              (std::vector<std::string>{"node-a", "public", "notes", "*", "id=eq.1", R"({"role":"anon"})", "{}"}));
}

TEST(SubscriptionSql, ARefusedBindingIsUndoneAloneWithSupabasesMessage) {
    FakeSql sql;
    answer_ids(sql);
    sql.fail = [](const std::string& s, DbError& e) {
        if (s.find("realtime.subscribe(") == std::string::npos) return false;
        static int calls = 0;
        if (++calls % 2 == 0) return false;  // the second binding is fine
        e = DbError::of("42703", "column \"nope\" does not exist", false);
        return true;
    };
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", two_bindings(), "{}");
    EXPECT_TRUE(r.ok);
    ASSERT_EQ(r.ids.size(), 2u);
    EXPECT_EQ(r.ids[0], 0);
    EXPECT_GT(r.ids[1], 0);
    EXPECT_EQ(r.errors[0],
              "Unable to subscribe to changes with given parameters. An exception happened so please check your "
              "connect parameters: [event: *, schema: public, table: todos, filters: [], select: nil]. Exception: "
              "column \"nope\" does not exist");
    EXPECT_EQ(r.errors[1], "");
    EXPECT_EQ(sql.sql()[3], "ROLLBACK TO SAVEPOINT binding");
    EXPECT_EQ(sql.sql().back(), "COMMIT");
}

TEST(SubscriptionSql, AnUnknownTableAsksWhetherRealtimeIsEnabled) {
    FakeSql sql;
    sql.fail = [](const std::string& s, DbError& e) {
        if (s.find("realtime.subscribe(") == std::string::npos) return false;
        e = DbError::of("42P01", "relation \"public.todos\" does not exist", false);
        return true;
    };
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", {two_bindings()[1]}, "{}");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.errors.at(0),
              "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given "
              "connect parameters: [event: *, schema: public, table: notes, filters: [{\"id\", \"eq\", \"1\", "
              "false}], select: nil]");
}

TEST(SubscriptionSql, ATimedOutJoinSaysTheDatabaseDidNotAnswerInTime) {
    FakeSql sql;
    sql.fail = [](const std::string& s, DbError& e) {
        if (s.find("realtime.subscribe(") == std::string::npos) return false;
        e = DbError::of("57014", "canceling statement due to statement timeout", false);
        return true;
    };
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", two_bindings(), "{}");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::database_timeout(5000));
    EXPECT_NE(r.error.find("did not answer in time"), std::string::npos);
}

TEST(SubscriptionSql, AnUnreachableDatabaseSaysSo) {
    FakeSql sql;
    sql.up = false;
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", two_bindings(), "{}");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::kDatabaseUnreachable);
}

TEST(SubscriptionSql, CheckExtensionNamesTheDatabase) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        rt::SqlRow r = rt::testing::row({"appdb", ""});
        r.nulls[1] = true;
        return rt::SqlRows{r};
    };
    std::string error;
    EXPECT_FALSE(sub::check_extension(sql, error));
    EXPECT_NE(error.find("\"appdb\""), std::string::npos);
    EXPECT_NE(error.find("CREATE EXTENSION pg_realtime"), std::string::npos);
}

TEST(SubscriptionSql, UpdateClaimsEndsWhatTheNewRoleMayNotHave) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        rt::SqlRows rows;
        rows.push_back(rt::testing::row({"7", "permission denied for table todos"}));
        return rows;
    };
    std::vector<rt::BindingNotice> ended = sub::update_claims(sql, {7, 8}, R"({"role":"anon"})");
    ASSERT_EQ(sql.statements.size(), 1u);
    EXPECT_NE(sql.statements[0].sql.find("realtime.update_claims"), std::string::npos);
    EXPECT_EQ(sql.statements[0].params, (std::vector<std::string>{"{7,8}", R"({"role":"anon"})"}));
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, 7);
    EXPECT_TRUE(ended[0].ended);
    EXPECT_EQ(ended[0].message, rt::errors::claims_refused("permission denied for table todos"));
}

TEST(SubscriptionSql, UpdateClaimsThatFailsEndsEveryBinding) {
    FakeSql sql;
    sql.up = false;
    std::vector<rt::BindingNotice> ended = sub::update_claims(sql, {7, 8}, "{}");
    ASSERT_EQ(ended.size(), 2u);
    EXPECT_EQ(ended[1].id, 8);
    EXPECT_EQ(ended[1].message, rt::errors::claims_not_updated(rt::errors::kDatabaseUnreachable));
}

// A whole-schema binding is a realtime.subscribe_schema row; a select list goes to
// realtime.subscribe as its text[].
TEST(SubscriptionSql, WholeSchemaBindingsAndSelectLists) {
    FakeSql sql;
    sql.answer = [](const std::string&, const std::vector<std::string>&) {
        rt::SqlRows rows;
        rows.push_back(rt::testing::row({"7"}));
        return rows;
    };
    BindingSpec schema;
    schema.schema = "app";
    schema.table = "*";
    schema.event = "INSERT";
    BindingSpec selected;
    selected.table = "todos";
    selected.select = {"title", "done \"x\""};
    rt::SubscribeResult r = sub::subscribe(sql, "node-a", {schema, selected}, R"({"role":"anon"})");
    ASSERT_TRUE(r.ok);
    std::vector<const FakeSql::Statement*> calls;
    for (const auto& st : sql.statements)
        if (st.sql.find("realtime.subscribe") != std::string::npos) calls.push_back(&st);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_NE(calls[0]->sql.find("realtime.subscribe_schema("), std::string::npos);
    EXPECT_EQ(calls[0]->params, (std::vector<std::string>{"node-a", "app", "INSERT", R"({"role":"anon"})"}));
    EXPECT_EQ(calls[1]->params.back(), R"({"title","done \"x\""})");
}
