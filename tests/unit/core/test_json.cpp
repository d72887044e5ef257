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

// Found by fuzz_plugin_doc: a record "{...]" was one value to the scan, and its span
// would have gone to clients as the record, which is not JSON.
TEST(JsonObjectMembers, ClosingBracketMustMatchItsOpener) {
    for (const char* bad : {"{\"a\":{\"b\":1]}", "{\"a\":[1}}", "{\"a\":{\"b\":[1}]}", "{\"a\":[{]}]}",
                            "{\"a\":[[{}]}"}) {
        EXPECT_TRUE(members_fail(bad)) << "accepted: " << bad;
    }
    auto m = members_ok(R"({"a":[{"b":[]},{"c":{"d":[[]]}}],"s":"]}"})");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].value, R"([{"b":[]},{"c":{"d":[[]]}}])");
    EXPECT_EQ(m[1].value, R"("]}")");
}

TEST(JsonObjectMembers, DeepValuesAreOneSpanWithoutRecursion) {
    std::string deep = std::string(200000, '[') + std::string(200000, ']');
    auto m = members_ok("{\"d\":" + deep + "}");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].value.size(), deep.size());
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

// Found by fuzz_json: rapidjson's input stream skipped a leading 0xEF (a byte order mark's
// first byte, or all of one), so "\xEF{}" was an object to the parser and none to the raw
// scan of the same text (object_members), which readers of raw spans rely on.
TEST(JsonParse, RefusesALeadingByteOrderMarkOrItsFirstByte) {
    json::Document d;
    std::string error;
    for (const char* text : {"\xEF{}", "\xEF{\n\n\n}", "\xEF\xBB{}", "\xEF\xBB\xBF{\"a\":1}", "\xEF\xBB\xBF[1]"}) {
        EXPECT_FALSE(json::parse(d, text, &error)) << "accepted: " << text;
        EXPECT_FALSE(error.empty());
        std::vector<RawMember> members;
        EXPECT_FALSE(json::object_members(text, members));
    }
    EXPECT_TRUE(json::parse(d, "{\"\xEF\xBB\xBF\":\"\xEF\xBB\xBF\"}"));  // U+FEFF inside strings is text
}

// Found by fuzz_json: rapidjson decoded a lone low-surrogate escape into bytes that are
// not UTF-8, and the relay would have sent them on in text frames.
TEST(JsonParse, RefusesALoneSurrogateEscape) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, R"("\ud66d\ude00")", &error));
    EXPECT_NE(error.find("lone surrogate"), std::string::npos) << error;
    EXPECT_FALSE(json::parse(d, R"({"\udc00":1})", &error));
    EXPECT_FALSE(json::parse(d, R"({"a":["x\udfff"]})", &error));
    EXPECT_FALSE(json::parse(d, R"("\ud800")", &error));  // a lone high one (rapidjson's own check)
    // A pair is one code point: accepted, and written out as its UTF-8.
    ASSERT_TRUE(json::parse(d, R"(["\ud83d\ude00","\u00e9\ud7ff\ue000"])", &error)) << error;
    EXPECT_EQ(json::stringify(d), "[\"\xF0\x9F\x98\x80\",\"\xC3\xA9\xED\x9F\xBF\xEE\x80\x80\"]");
}

// Found by fuzz_json: numbers were read with rapidjson's fast, not correctly rounded,
// path, so what the relay wrote out read back as another number.
TEST(JsonParse, NumbersAreReadCorrectlyRoundedSoTheyRoundTrip) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, "[1084467440084467440737073709551615,123456789012345678901234567890e-10,0.1]"));
    std::string once = json::stringify(d);
    EXPECT_EQ(once, "[1.0844674400844675e33,12345678901234568000.0,0.1]");
    ASSERT_TRUE(json::parse(d, once));
    EXPECT_EQ(json::stringify(d), once);
    // rapidjson's full-precision reading made 2.29e105 of this.
    ASSERT_TRUE(json::parse(d, "[0e105,-0e105,0.000e30,1e-400,4.9e-324,2.2250738585072011e-308]"));
    EXPECT_EQ(json::stringify(d), "[0.0,-0.0,0.0,0.0,5e-324,2.225073858507201e-308]");
}

TEST(JsonParse, IntegersKeepTheirTypes) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, "[0,-0,-1,2147483647,2147483648,4294967296,-2147483649,"
                               "18446744073709551615,-9223372036854775808,18446744073709551616]"));
    auto a = [&d](rapidjson::SizeType i) -> const json::Value& { return d[i]; };
    EXPECT_TRUE(a(0).IsInt() && a(0).IsUint() && a(0).GetInt() == 0);
    EXPECT_TRUE(a(1).IsInt() && a(1).GetInt() == 0);
    EXPECT_TRUE(a(2).IsInt() && !a(2).IsUint() && a(2).GetInt() == -1);
    EXPECT_TRUE(a(3).IsInt() && a(3).GetInt() == 2147483647);
    EXPECT_TRUE(!a(4).IsInt() && a(4).IsUint() && a(4).GetUint() == 2147483648u);
    EXPECT_TRUE(!a(5).IsUint() && a(5).IsInt64() && a(5).GetInt64() == 4294967296);
    EXPECT_TRUE(!a(6).IsInt() && a(6).IsInt64() && a(6).GetInt64() == -2147483649);
    EXPECT_TRUE(!a(7).IsInt64() && a(7).IsUint64() && a(7).GetUint64() == UINT64_MAX);
    EXPECT_TRUE(a(8).IsInt64() && a(8).GetInt64() == INT64_MIN);
    EXPECT_TRUE(a(9).IsDouble() && a(9).GetDouble() == 18446744073709551616.0);
    EXPECT_EQ(json::stringify(d), "[0,0,-1,2147483647,2147483648,4294967296,-2147483649,"
                                  "18446744073709551615,-9223372036854775808,18446744073709553000.0]");
}

TEST(JsonParse, NumbersTooLargeForADoubleAreRefused) {
    json::Document d;
    std::string error;
    EXPECT_FALSE(json::parse(d, "[9e308]", &error));
    EXPECT_NE(error.find("too large"), std::string::npos) << error;
    EXPECT_FALSE(json::parse(d, "[1e400]", &error));
    EXPECT_FALSE(json::parse(d, "[" + std::string(400, '9') + "]", &error));
    EXPECT_TRUE(json::parse(d, "[1.7976931348623157e308]", &error)) << error;
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

TEST(JsonRaw, ArrayElementsAreRawSpans) {
    std::vector<std::string_view> e;
    ASSERT_TRUE(json::array_elements(R"([ 1.50 , "a,b" , {"x":[1,2]}, [], null ])", e));
    EXPECT_EQ(e, (std::vector<std::string_view>{"1.50", R"("a,b")", R"({"x":[1,2]})", "[]", "null"}));
    e.clear();
    EXPECT_TRUE(json::array_elements(" [ ] ", e));
    EXPECT_TRUE(e.empty());
    EXPECT_FALSE(json::array_elements("{}", e));
}

TEST(JsonRaw, RawMemberIsTheFirstOfItsNameUnescaped) {
    EXPECT_EQ(json::raw_member(R"({"a":1,"payload":{"t":1814.7000000029802},"payload":2})", "payload"),
              std::optional<std::string_view>(R"({"t":1814.7000000029802})"));
    EXPECT_EQ(json::raw_member(R"({"pay\u006coad":[1]})", "payload"), std::optional<std::string_view>("[1]"));
    EXPECT_FALSE(json::raw_member(R"({"a":1})", "payload"));
    EXPECT_FALSE(json::raw_member("[1]", "payload"));
}

TEST(JsonRaw, CompactDropsOnlyTheWhitespaceBetweenTokens) {
    EXPECT_EQ(json::compact(" { \"a b\" : [ 1.50 , 123456789012345678901234567890 ,\n\"x \\\" y\" ] } "),
              R"({"a b":[1.50,123456789012345678901234567890,"x \" y"]})");
}

TEST(JsonBool, StringsInAnyCase) {
    json::Document d;
    ASSERT_TRUE(json::parse(d, R"(["True","FALSE","yes",true])"));
    EXPECT_TRUE(json::bool_or(&d[0], false));
    EXPECT_FALSE(json::bool_or(&d[1], true));
    EXPECT_TRUE(json::bool_or(&d[2], true));  // not a boolean: the fallback
    EXPECT_TRUE(json::bool_or(&d[3], false));
}

// Claims as a token carries them and as jsonb writes them back are the same value.
TEST(JsonSame, MembersInAnyOrderNumbersByValueAnythingElseDiffers) {
    EXPECT_TRUE(json::same(R"({"sub":"u","role":"r","exp":1})", R"({"exp": 1.0, "role": "r", "sub": "u"})"));
    EXPECT_TRUE(json::same(R"({"a":{"x":[1,2]}})", R"({"a": {"x": [1, 2]}})"));
    EXPECT_FALSE(json::same(R"({"a":{"x":[1,2]}})", R"({"a":{"x":[2,1]}})")) << "arrays in order";
    EXPECT_FALSE(json::same(R"({"org_id":"acme","sub":"u"})", R"({"org_id":"globex","sub":"u"})"));
    EXPECT_FALSE(json::same(R"({"sub":"u"})", R"({"sub":"u","org_id":null})")) << "a member more";
    EXPECT_FALSE(json::same(R"({"n":"1"})", R"({"n":1})"));
    EXPECT_FALSE(json::same("", R"({})"));
    EXPECT_TRUE(json::same("not json", "not json"));
}

TEST(JsonSame, ExceptTheNamedTopLevelMembers) {
    EXPECT_TRUE(json::same_except(R"({"sub":"u","exp":1})", R"({"exp":2,"sub":"u"})", {"exp"}));
    EXPECT_TRUE(json::same_except(R"({"sub":"u","exp":1})", R"({"sub":"u"})", {"exp"})) << "in one only";
    EXPECT_FALSE(json::same_except(R"({"sub":"u","exp":1})", R"({"sub":"v","exp":1})", {"exp"}));
    EXPECT_FALSE(json::same_except(R"({"a":{"exp":1}})", R"({"a":{"exp":2}})", {"exp"})) << "top level only";
    EXPECT_FALSE(json::same_except(R"({"sub":"u"})", R"(["sub"])", {"sub"}));
}
