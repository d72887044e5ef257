// relay/core/json: raw member spans, string escaping, lenient booleans, strict parsing, repeated names.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/core/json.h"

using rt::json::RawMember;
namespace json = rt::json;

namespace {

std::vector<RawMember> members_ok(std::string_view text) {
    std::vector<RawMember> m;
    EXPECT_TRUE(json::object_members(text, m)) << text;
    return m;
}

bool members_fail(std::string_view text) {
    std::vector<RawMember> m;
    return !json::object_members(text, m);
}

}  // namespace

TEST(JsonObjectMembers, EmptyObjectHasNoMembers) {
    EXPECT_TRUE(members_ok("{}").empty());
    EXPECT_TRUE(members_ok("  { \n }  ").empty());
}

TEST(JsonObjectMembers, ScalarValuesAreRawSpans) {
    auto m = members_ok(R"({"s":"text","t":true,"f":false,"n":null,"i":-42})");
    ASSERT_EQ(m.size(), 5u);
    EXPECT_EQ(m[0].key, "s");
    EXPECT_EQ(m[0].value, "\"text\"");
    EXPECT_EQ(m[1].key, "t");
    EXPECT_EQ(m[1].value, "true");
    EXPECT_EQ(m[2].value, "false");
    EXPECT_EQ(m[3].value, "null");
    EXPECT_EQ(m[4].key, "i");
    EXPECT_EQ(m[4].value, "-42");
}

TEST(JsonObjectMembers, NumbersKeptExactlyAsWritten) {
    auto m = members_ok(R"({"a":1.00,"b":12345678901234567890.123,"c":-0.5e10,"d":1E+2})");
    ASSERT_EQ(m.size(), 4u);
    EXPECT_EQ(m[0].value, "1.00");
    EXPECT_EQ(m[1].value, "12345678901234567890.123");
    EXPECT_EQ(m[2].value, "-0.5e10");
    EXPECT_EQ(m[3].value, "1E+2");
}

TEST(JsonObjectMembers, NestedObjectsAndArraysAreOneSpan) {
    auto m = members_ok(R"({"o":{"x":[1,{"y":[]}],"z":{}},"a":[[1,2],[3]],"last":0})");
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].key, "o");
    EXPECT_EQ(m[0].value, R"({"x":[1,{"y":[]}],"z":{}})");
    EXPECT_EQ(m[1].key, "a");
    EXPECT_EQ(m[1].value, "[[1,2],[3]]");
    EXPECT_EQ(m[2].key, "last");
    EXPECT_EQ(m[2].value, "0");
}

TEST(JsonObjectMembers, StringsWithEscapedQuotesAndBracesDoNotEndValues) {
    auto m = members_ok(R"({"s":"a\"}{b\\","o":{"t":"}]\"{["},"after":1})");
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].value, R"("a\"}{b\\")");
    EXPECT_EQ(m[1].value, R"({"t":"}]\"{["})");
    EXPECT_EQ(m[2].key, "after");
    EXPECT_EQ(m[2].value, "1");
}

TEST(JsonObjectMembers, KeysAreReturnedRawWithEscapes) {
    auto m = members_ok(R"({"k\"ey":1,"b\\":2})");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].key, R"(k\"ey)");
    EXPECT_EQ(m[1].key, R"(b\\)");
    EXPECT_EQ(m[1].value, "2");
}

TEST(JsonObjectMembers, WhitespaceAroundTokensIsSkipped) {
    auto m = members_ok("\n{ \"a\" :\t1 ,\r\n \"b\" : [ 1 , 2 ] , \"c\" : { \"d\" : 3 } }\n");
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].key, "a");
    EXPECT_EQ(m[0].value, "1");
    EXPECT_EQ(m[1].key, "b");
    EXPECT_EQ(m[1].value, "[ 1 , 2 ]");
    EXPECT_EQ(m[2].value, "{ \"d\" : 3 }");
}

TEST(JsonObjectMembers, MalformedInputsAreRefused) {
    for (const char* bad : {"", "   ", "[]", "\"s\"", "1", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}",
                            "{a:1}", "{\"a\":\"x}", "{\"a\":{\"b\":1}", "{\"a\":1", "{\"a\" 1}", "{\"a\":[1,2}",
                            "{,}", "{\"a\":1,,\"b\":2}"}) {
        EXPECT_TRUE(members_fail(bad)) << "accepted: " << bad;
    }
}

TEST(JsonAppendString, EscapesQuotesBackslashesAndControls) {
    std::string out = "prefix:";
    json::append_string(out, std::string("a\"b\\c\n\r\t\b\f") + '\x01' + '\x1f' + "/é");
    EXPECT_EQ(out, "prefix:\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/é\"");
}

TEST(JsonAppendString, EmbeddedNulIsEscaped) {
    std::string out;
    json::append_string(out, std::string_view("a\0b", 3));
    EXPECT_EQ(out, "\"a\\u0000b\"");
}

TEST(JsonAppendString, EveryByteRoundTripsThroughTheParser) {
    std::string all;
    for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
    all += "ünïcødé ✓";
    std::string text;
    json::append_string(text, all);
    json::Document d;
    ASSERT_TRUE(json::parse(d, text));
    ASSERT_TRUE(d.IsString());
    EXPECT_EQ(std::string(d.GetString(), d.GetStringLength()), all);
}

TEST(JsonBoolOr, AcceptsBooleansAndTheirStrings) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, R"({"t":true,"f":false,"st":"true","sf":"false","yes":"yes","one":1,"n":null})"));
    EXPECT_TRUE(json::bool_or(json::member(d, "t"), false));
    EXPECT_FALSE(json::bool_or(json::member(d, "f"), true));
    EXPECT_TRUE(json::bool_or(json::member(d, "st"), false));
    EXPECT_FALSE(json::bool_or(json::member(d, "sf"), true));
    // Anything else falls back.
    EXPECT_TRUE(json::bool_or(json::member(d, "yes"), true));
    EXPECT_FALSE(json::bool_or(json::member(d, "yes"), false));
    EXPECT_FALSE(json::bool_or(json::member(d, "one"), false));
    EXPECT_TRUE(json::bool_or(json::member(d, "n"), true));
    EXPECT_TRUE(json::bool_or(json::member(d, "missing"), true));
    EXPECT_FALSE(json::bool_or(nullptr, false));
}

TEST(JsonMember, MissingMemberOrNonObjectGivesNull) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, R"({"a":"x","arr":[1]})"));
    ASSERT_NE(json::member(d, "a"), nullptr);
    EXPECT_EQ(json::member(d, "b"), nullptr);
    EXPECT_EQ(json::member(*json::member(d, "arr"), "a"), nullptr);
    EXPECT_EQ(json::string_or(json::member(d, "a"), "fb"), "x");
    EXPECT_EQ(json::string_or(json::member(d, "arr"), "fb"), "fb");
    EXPECT_EQ(json::string_or(nullptr, "fb"), "fb");
}

TEST(JsonParse, RefusesTrailingContentAndInvalidUtf8) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, "{} x", &error));
    EXPECT_FALSE(error.empty());
    error.clear();
    EXPECT_FALSE(json::parse(d, "\"\xff\xfe\"", &error));
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(json::parse(d, "{\"a\":1", nullptr));
    EXPECT_TRUE(json::parse(d, " {\"a\":[1,2]} "));
}

TEST(JsonParse, UsesOnlyTheGivenLength) {
    std::string text = "{\"a\":1}garbage";
    json::Document d;
    EXPECT_TRUE(json::parse(d, std::string_view(text).substr(0, 7)));
    EXPECT_EQ(json::member(d, "a")->GetInt(), 1);
}

TEST(JsonStringify, IsCompact) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, "{ \"a\" : [ 1 , \"x\" ] , \"b\" : { } }"));
    EXPECT_EQ(json::stringify(d), R"({"a":[1,"x"],"b":{}})");
}

// -- nesting limit ---------------------------------------------------------------------

namespace {

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(depth, '}');
    return s;
}

}  // namespace

TEST(JsonNesting, AcceptsUpToTheLimit) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, nested_arrays(json::kMaxDepth)));
    EXPECT_TRUE(json::parse(d, nested_objects(json::kMaxDepth)));
    // What was accepted is written out again unchanged.
    EXPECT_EQ(json::stringify(d), nested_objects(json::kMaxDepth));
}

TEST(JsonNesting, RefusesOneLevelMoreWithAClearReason) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, nested_arrays(json::kMaxDepth + 1), &error));
    EXPECT_NE(error.find("nesting deeper than 128 levels"), std::string::npos) << error;
    EXPECT_TRUE(d.IsNull());
    EXPECT_FALSE(json::parse(d, nested_objects(json::kMaxDepth + 1), &error));
}

TEST(JsonNesting, AHugeDepthIsRefusedWithoutRecursion) {
    // 150 000 levels: a recursive parser overflows the stack (the issue's attack frame).
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, nested_arrays(150000), &error));
    EXPECT_NE(error.find("nesting"), std::string::npos);
    std::string unclosed(300000, '[');
    EXPECT_FALSE(json::parse(d, unclosed, &error));
}

TEST(JsonNesting, MixedNestingCountsBothKinds) {
    std::string s;
    for (int i = 0; i < 65; ++i) s += "[{\"k\":";
    s += "0";
    for (int i = 0; i < 65; ++i) s += "}]";
    json::Document d;
    EXPECT_FALSE(json::parse(d, s));  // 130 levels
}

TEST(JsonParse, StillStrict) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, "{} x", &error));
    EXPECT_FALSE(json::parse(d, "\"\xff\"", &error));
    EXPECT_FALSE(json::parse(d, "", &error));
    EXPECT_TRUE(json::parse(d, R"({"a":[1,2.5,"x",null,true,{"b":{}}]})"));
    EXPECT_EQ(json::stringify(d), R"({"a":[1,2.5,"x",null,true,{"b":{}}]})");
    // A document reused after a failure holds only the new value.
    EXPECT_TRUE(json::parse(d, "[1]"));
    EXPECT_FALSE(json::parse(d, "[1", &error));
    EXPECT_TRUE(d.IsNull());
}

TEST(JsonParse, UniqueKeysRefusesARepeatedMemberNameAtAnyDepth) {
    json::Document d;
    std::string error;
    EXPECT_TRUE(json::parse(d, R"({"a":1,"a":2})")) << "by default repeats are kept, as rapidjson does";
    EXPECT_FALSE(json::parse(d, R"({"a":1,"b":{"c":1},"a":2})", &error, json::Keys::Unique));
    EXPECT_EQ(error, "duplicate member name \"a\" at offset 22");
    EXPECT_FALSE(json::parse(d, R"({"x":[{"a":1,"a":1}]})", &error, json::Keys::Unique));
    EXPECT_EQ(error.rfind("duplicate member name \"a\"", 0), 0u) << error;
    EXPECT_FALSE(json::parse(d, R"({"r\u006fle":1,"role":2})", nullptr, json::Keys::Unique)) << "one name, two spellings";
    EXPECT_FALSE(json::parse(d, R"({"":1,"":2})", &error, json::Keys::Unique));
    EXPECT_EQ(error.rfind("duplicate member name \"\"", 0), 0u) << error;
}

TEST(JsonParse, UniqueKeysAndTheNestingLimitTogether) {
    json::Document d;
    std::string error;
    std::string deep(200, '[');
    EXPECT_FALSE(json::parse(d, "{\"a\":" + deep, &error, json::Keys::Unique));
    EXPECT_EQ(error.rfind("nesting deeper than 128 levels", 0), 0u) << error;
    EXPECT_FALSE(json::parse(d, R"({"a":[[{"b":1,"b":2}]]})", &error, json::Keys::Unique));
    EXPECT_EQ(error.rfind("duplicate member name \"b\"", 0), 0u) << error;
    EXPECT_TRUE(d.IsNull()) << "a refused document holds nothing";
}

TEST(JsonParse, UniqueKeysAllowsOneNameInSeveralObjects) {
    json::Document d;
    std::string text = R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":{"x":{"y":1},"y":2},"d":[[{"a":1}],{"a":2}]})";
    ASSERT_TRUE(json::parse(d, text, nullptr, json::Keys::Unique));
    EXPECT_EQ(json::stringify(d), text);
}

TEST(JsonParse, ErrorsSayWhereAndWhat) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, R"({"a":1} x)", &error));
    EXPECT_EQ(error, "The document root must not be followed by other values. at offset 8");
    EXPECT_FALSE(json::parse(d, "\"\xff\"", &error));
    EXPECT_NE(error.find("Invalid encoding"), std::string::npos) << error;
    EXPECT_FALSE(json::parse(d, "", &error));
    EXPECT_NE(error.find("empty"), std::string::npos) << error;
}
