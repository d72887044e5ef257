// relay/slot/check_sql: one realtime.check_rows call in a rolled-back transaction with its
// own statement timeout; rows, per-user errors and failed calls as the router reads them.
#include <gtest/gtest.h>

#include "fake_sql.h"
#include "relay/protocol/errors.h"
#include "relay/slot/check_sql.h"

using namespace rt;
using rt::testing::FakeSql;

namespace {

CheckCall call() {
    CheckCall c;
    c.id = 7;
    c.key = CheckKey{"public", "todos", "authenticated", {"x = 'a\"b'", "y \\ z"}, true};
    c.rows = {"(1,\"a,b\")", "(2,)"};
    c.candidates = {10, 11};
    c.pair_rows = {1, 2, 2};
    c.pair_ids = {10, 10, 11};
    return c;
}

SqlRow result(const char* row, const char* id, const char* error) {
    SqlRow r;
    r.values = {row ? row : "", id, error ? error : ""};
    r.nulls = {row == nullptr, false, error == nullptr};
    return r;
}

}  // namespace

TEST(CheckSql, OneCallInATransactionThatIsRolledBack) {
    FakeSql sql;
    sql.answer = [](const std::string& s, const std::vector<std::string>&) {
        SqlRows rows;
        if (s.find("check_rows") != std::string::npos) {
            rows.push_back(result("1", "10", nullptr));
            rows.push_back(result(nullptr, "11", "division by zero"));
        }
        return rows;
    };
    CheckOutcome o = check_sql::check_rows(sql, call(), 1500);
    ASSERT_TRUE(o.ok);
    ASSERT_EQ(o.rows.size(), 2u);
    EXPECT_EQ(o.rows[0].row_number, 1);
    EXPECT_EQ(o.rows[0].id, 10);
    EXPECT_FALSE(o.rows[0].failed);
    EXPECT_EQ(o.rows[1].row_number, 0);
    EXPECT_TRUE(o.rows[1].failed);
    EXPECT_EQ(o.rows[1].error, errors::check_failed("division by zero"));

    ASSERT_EQ(sql.statements.size(), 4u);
    EXPECT_EQ(sql.statements[0].sql, "BEGIN");
    EXPECT_EQ(sql.statements[1].params, (std::vector<std::string>{"1500"})) << "its own statement timeout";
    EXPECT_EQ(sql.statements[2].params,
              (std::vector<std::string>{"public", "todos", "authenticated", R"({"x = 'a\"b'","y \\ z"})", "true",
                                        R"J({"(1,\"a,b\")","(2,)"})J", "{10,10,11}", "{1,2,2}"}))
        << "each document's own candidates against its row";
    EXPECT_EQ(sql.statements[3].sql, "ROLLBACK");
}

TEST(CheckSql, ATimeoutOrAnErrorFailsTheCall) {
    for (auto [state, lost, want] : {std::tuple{"57014", false, errors::check_timeout(1500)},
                                     std::tuple{"", true, std::string(errors::kCheckUnreachable)},
                                     std::tuple{"42501", false, errors::check_failed("permission denied")}}) {
        FakeSql sql;
        std::string st = state;
        bool gone = lost;
        sql.fail = [st, gone](const std::string& s, DbError& e) {
            if (s.find("check_rows") == std::string::npos) return false;
            e = DbError::of(st, "permission denied", gone);
            return true;
        };
        CheckOutcome o = check_sql::check_rows(sql, call(), 1500);
        EXPECT_FALSE(o.ok);
        EXPECT_EQ(o.error, want);
        EXPECT_TRUE(o.rows.empty());
    }
}
