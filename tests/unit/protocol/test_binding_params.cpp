// relay/protocol/binding_params: a postgres_changes binding read as Supabase reads it, and
// its texts for bindings that cannot be subscribed.
#include <gtest/gtest.h>

#include "relay/protocol/binding_params.h"

using namespace rt;

namespace {

std::string error_of(const char* binding, BindingSpec* out = nullptr) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, binding)) << binding;
    BindingSpec spec;
    std::string e = binding_params::read(d, spec);
    if (out) *out = spec;
    return e;
}

}  // namespace

TEST(BindingParams, FilterSyntaxErrorsAreSupabases) {
    using binding_params::filter_error;
    EXPECT_EQ(filter_error("wrong"), std::optional<std::string>(R"(["wrong"])"));
    EXPECT_EQ(filter_error("details=foo.hey"), std::optional<std::string>(R"(["foo", "hey"])"));
    EXPECT_EQ(filter_error("details=eq"), std::optional<std::string>(R"(["eq"])"));
    EXPECT_EQ(filter_error("details=in.a,b"),
              std::optional<std::string>("`in` filter value must be wrapped by parentheses"));
    EXPECT_EQ(filter_error("id=eq.1,,id=lt.3"),
              std::optional<std::string>("filter must not contain empty segments (check for extra commas)"));
    for (const char* good : {"", "  ", "id=eq.1", "id=not.in.(1,2)", "a=eq.\"x,y\",b=gt.2", "t=like.a%", "x=is.null"})
        EXPECT_EQ(filter_error(good), std::nullopt) << good;
}

TEST(BindingParams, ReadsEventSchemaTableAndFilter) {
    BindingSpec s;
    EXPECT_EQ(error_of(R"({"event":"update","table":"todos","filter":"id=eq.1"})", &s), "");
    EXPECT_EQ(s.event, "UPDATE");
    EXPECT_EQ(s.schema, "public");
    EXPECT_EQ(s.table, "todos");
    EXPECT_EQ(s.filter, "id=eq.1");
    EXPECT_EQ(error_of(R"({"event":"TRUNCATE","schema":"app","table":"t"})", &s), "");
    EXPECT_EQ(s.event, "*");
}

TEST(BindingParams, BindingsThatCannotBeSubscribed) {
    EXPECT_EQ(error_of(R"({"table":"t","filter":"x"})"), R"(Error parsing `filter` params: ["x"])");
    EXPECT_EQ(error_of(R"({"table":"t","select":"a"})"),
              R"(Error parsing `select` params: expected a list of column name strings, e.g. select: ["col1", "col2"])");
    EXPECT_EQ(error_of(R"({"event":"*"})").rfind("No subscription params provided", 0), 0u);
}

TEST(BindingParams, ARefusalNamesTheParametersAsSupabaseLogsThem) {
    BindingSpec s;
    s.table = "test";
    s.filter = R"(notacolumn=eq.123,a=not.in.(1,"x"))";
    EXPECT_EQ(binding_params::refused(s, false, "column \"notacolumn\" does not exist"),
              "Unable to subscribe to changes with given parameters. An exception happened so please check your "
              "connect parameters: [event: *, schema: public, table: test, filters: [{\"notacolumn\", \"eq\", "
              "\"123\", false}, {\"a\", \"in\", \"{1,\\\"x\\\"}\", true}], select: nil]. Exception: column "
              "\"notacolumn\" does not exist");
    s.filter.clear();
    s.table = "doesnotexist";
    EXPECT_EQ(binding_params::refused(s, true, "ignored"),
              "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given "
              "connect parameters: [event: *, schema: public, table: doesnotexist, filters: [], select: nil]");
}

// Issue 11: a schema without a table (or table "*") is every table of it; select's
// strings are the columns to send; Supabase's refusals around them, and ours.
TEST(BindingParams, WholeSchemaBindingsAndSelect) {
    BindingSpec s;
    EXPECT_EQ(error_of(R"({"event":"*","schema":"public"})", &s), "");
    EXPECT_TRUE(s.whole_schema());
    EXPECT_EQ(error_of(R"({"event":"INSERT","schema":"app","table":"*"})", &s), "");
    EXPECT_TRUE(s.whole_schema());
    EXPECT_EQ(s.schema, "app");
    EXPECT_EQ(error_of(R"({"table":"todos","select":["title",1,"done"]})", &s), "");
    EXPECT_FALSE(s.whole_schema());
    EXPECT_EQ(s.select, (std::vector<std::string>{"title", "done"}));
    EXPECT_EQ(error_of(R"({"table":"todos","select":[]})", &s), "");
    EXPECT_TRUE(s.select.empty());
    EXPECT_EQ(error_of(R"({"schema":"public","select":["a"]})"),
              "Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table "
              "name.");
    EXPECT_EQ(error_of(R"({"schema":"public","filter":"id=eq.1"})").rfind("No subscription params provided", 0), 0u);
    EXPECT_NE(error_of(R"({"schema":"public","table":"*","filter":"id=eq.1"})").find("a filter needs a table"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"schema":"*","table":"t"})").find("every schema is not supported"), std::string::npos);
}

TEST(BindingParams, ARefusalNamesTheSelect) {
    BindingSpec s;
    s.table = "t";
    s.select = {"a", "b"};
    EXPECT_EQ(binding_params::refused(s, false, "boom"),
              "Unable to subscribe to changes with given parameters. An exception happened so please check your "
              "connect parameters: [event: *, schema: public, table: t, filters: [], select: [\"a\", \"b\"]]. "
              "Exception: boom");
}
