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
