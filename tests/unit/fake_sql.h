// A SqlSession that records statements and fails the ones a test names: for work written
// against SqlSession (user transactions, the subscription statements) without Postgres.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "relay/core/sql_session.h"

namespace rt::testing {

class FakeSql : public SqlSession {
public:
    struct Statement {
        std::string sql;
        std::vector<std::string> params;
    };

    bool connected() override { return up; }
    bool exec(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows,
              DbError& error) override {
        statements.push_back({sql, params});
        if (!up) {
            error = DbError::of("", "the database cannot be reached", true);
            return false;
        }
        if (fail && fail(sql, error)) return false;
        if (rows && answer) *rows = answer(sql, params);
        return true;
    }
    int statement_timeout_ms() const override { return 5000; }

    // The SQL texts run so far, in order.
    std::vector<std::string> sql() const {
        std::vector<std::string> out;
        for (const Statement& s : statements) out.push_back(s.sql);
        return out;
    }

    bool up = true;
    // Returns true (and fills error) to make a statement fail.
    std::function<bool(const std::string& sql, DbError& error)> fail;
    std::function<SqlRows(const std::string& sql, const std::vector<std::string>& params)> answer;
    std::vector<Statement> statements;
};

inline SqlRow row(std::vector<std::string> values) {
    SqlRow r;
    r.nulls.assign(values.size(), false);
    r.values = std::move(values);
    return r;
}

}  // namespace rt::testing
