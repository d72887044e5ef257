// relay/protocol/phoenix: client frame decoding (v1 objects, v2 arrays, binary kind 3) and server
// frame encoding (v1, v2, binary kind 4).
#include <gtest/gtest.h>

#include <string>

#include "client_frames.h"
#include "relay/core/json.h"
#include "relay/protocol/phoenix.h"

namespace phoenix = rt::phoenix;
namespace json = rt::json;
using phoenix::Inbound;
using phoenix::Vsn;
using rt::testing::kind3;

namespace {

bool decode(std::string_view frame, Vsn vsn, Inbound& in, std::string* error_out = nullptr) {
    std::string error;
    bool ok = phoenix::decode_text(frame, vsn, in, error);
    if (!ok) {
        EXPECT_FALSE(error.empty()) << "a refusal must say why";
    }
    if (error_out) *error_out = error;
    return ok;
}

bool refused(std::string_view frame, Vsn vsn) {
    Inbound in;
    return !decode(frame, vsn, in);
}

bool binary_refused(std::string_view frame, std::string* error_out = nullptr) {
    Inbound in;
    std::string error;
    bool ok = phoenix::decode_binary(frame, in, error);
    if (!ok) {
        EXPECT_FALSE(error.empty());
    }
    if (error_out) *error_out = error;
    return !ok;
}

}  // namespace

// -- decode_text, vsn 1.0.0 -------------------------------------------------------------

TEST(PhoenixDecodeV1, ValidObjectFillsEveryField) {
    Inbound in;
    ASSERT_TRUE(decode(R"({"topic":"realtime:room1","event":"phx_join","payload":{"a":1},"ref":"1","join_ref":"2"})",
                       Vsn::V1, in));
    EXPECT_EQ(in.topic, "realtime:room1");
    EXPECT_EQ(in.event, "phx_join");
    EXPECT_EQ(in.ref, std::optional<std::string>("1"));
    EXPECT_EQ(in.join_ref, std::optional<std::string>("2"));
    ASSERT_NE(in.payload, nullptr);
    EXPECT_EQ(json::stringify(*in.payload), R"({"a":1})");
    EXPECT_FALSE(in.binary);
}

TEST(PhoenixDecodeV1, NumericRefsBecomeText) {
    Inbound in;
    ASSERT_TRUE(decode(R"({"topic":"phoenix","event":"heartbeat","payload":{},"ref":26,"join_ref":7})", Vsn::V1, in));
    EXPECT_EQ(in.ref, std::optional<std::string>("26"));
    EXPECT_EQ(in.join_ref, std::optional<std::string>("7"));
}

TEST(PhoenixDecodeV1, NullOrAbsentRefsAreEmpty) {
    Inbound in;
    ASSERT_TRUE(decode(R"({"topic":"t","event":"e","payload":{},"ref":null,"join_ref":null})", Vsn::V1, in));
    EXPECT_FALSE(in.ref.has_value());
    EXPECT_FALSE(in.join_ref.has_value());
    Inbound in2;
    ASSERT_TRUE(decode(R"({"topic":"t","event":"e","payload":{},"ref":"3"})", Vsn::V1, in2));
    EXPECT_FALSE(in2.join_ref.has_value());
    EXPECT_EQ(in2.ref, std::optional<std::string>("3"));
}

TEST(PhoenixDecodeV1, PayloadMayBeAnyJsonValue) {
    Inbound in;
    ASSERT_TRUE(decode(R"({"topic":"t","event":"e","payload":[1,"x"],"ref":"1"})", Vsn::V1, in));
    ASSERT_NE(in.payload, nullptr);
    EXPECT_TRUE(in.payload->IsArray());
}

TEST(PhoenixDecodeV1, WrongShapesAreRefused) {
    EXPECT_TRUE(refused(R"(["1","1","t","e",{}])", Vsn::V1));                               // array in v1
    EXPECT_TRUE(refused(R"("just a string")", Vsn::V1));
    EXPECT_TRUE(refused(R"({"event":"e","payload":{},"ref":"1"})", Vsn::V1));              // no topic
    EXPECT_TRUE(refused(R"({"topic":"t","payload":{},"ref":"1"})", Vsn::V1));              // no event
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","ref":"1"})", Vsn::V1));               // no payload
    EXPECT_TRUE(refused(R"({"topic":1,"event":"e","payload":{},"ref":"1"})", Vsn::V1));    // topic not a string
    EXPECT_TRUE(refused(R"({"topic":"t","event":null,"payload":{},"ref":"1"})", Vsn::V1)); // event not a string
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":true})", Vsn::V1)); // bad ref
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":{"x":1}})", Vsn::V1));
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":"1","join_ref":[1]})", Vsn::V1));
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":1.5})", Vsn::V1));
}

TEST(PhoenixDecodeV1, MalformedJsonIsRefusedWithReason) {
    Inbound in;
    std::string error;
    EXPECT_FALSE(decode(R"({"topic":"t","event":"e","payload":{)", Vsn::V1, in, &error));
    EXPECT_NE(error.find("malformed JSON"), std::string::npos) << error;
    EXPECT_TRUE(refused("", Vsn::V1));
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":"1"} trailing)", Vsn::V1));
}

TEST(PhoenixDecodeV1, InvalidUtf8IsRefused) {
    EXPECT_TRUE(refused("{\"topic\":\"t\",\"event\":\"e\",\"payload\":{\"x\":\"\xc3\x28\"},\"ref\":\"1\"}", Vsn::V1));
    EXPECT_TRUE(refused("{\"topic\":\"\xff\",\"event\":\"e\",\"payload\":{},\"ref\":\"1\"}", Vsn::V1));
}

// -- decode_text, vsn 2.0.0 -------------------------------------------------------------

TEST(PhoenixDecodeV2, HeartbeatArray) {
    Inbound in;
    ASSERT_TRUE(decode(R"([null,"26","phoenix","heartbeat",{}])", Vsn::V2, in));
    EXPECT_FALSE(in.join_ref.has_value());
    EXPECT_EQ(in.ref, std::optional<std::string>("26"));
    EXPECT_EQ(in.topic, "phoenix");
    EXPECT_EQ(in.event, "heartbeat");
    ASSERT_NE(in.payload, nullptr);
    EXPECT_TRUE(in.payload->IsObject());
}

TEST(PhoenixDecodeV2, JoinArrayWithStringAndNumericRefs) {
    Inbound in;
    ASSERT_TRUE(decode(R"(["1","2","realtime:room1","phx_join",{"config":{"private":false}}])", Vsn::V2, in));
    EXPECT_EQ(in.join_ref, std::optional<std::string>("1"));
    EXPECT_EQ(in.ref, std::optional<std::string>("2"));
    EXPECT_EQ(in.topic, "realtime:room1");
    EXPECT_EQ(in.event, "phx_join");
    EXPECT_EQ(json::stringify(*in.payload), R"({"config":{"private":false}})");

    Inbound num;
    ASSERT_TRUE(decode(R"([3,4,"t","e",{}])", Vsn::V2, num));
    EXPECT_EQ(num.join_ref, std::optional<std::string>("3"));
    EXPECT_EQ(num.ref, std::optional<std::string>("4"));
}

TEST(PhoenixDecodeV2, WrongShapesAreRefused) {
    EXPECT_TRUE(refused(R"({"topic":"t","event":"e","payload":{},"ref":"1"})", Vsn::V2));  // object in v2
    EXPECT_TRUE(refused(R"([null,"1","t","e"])", Vsn::V2));                                 // 4 elements
    EXPECT_TRUE(refused(R"([null,"1","t","e",{},1])", Vsn::V2));                            // 6 elements
    EXPECT_TRUE(refused(R"([])", Vsn::V2));
    EXPECT_TRUE(refused(R"([null,"1",5,"e",{}])", Vsn::V2));       // topic not a string
    EXPECT_TRUE(refused(R"([null,"1","t",null,{}])", Vsn::V2));    // event not a string
    EXPECT_TRUE(refused(R"([true,"1","t","e",{}])", Vsn::V2));     // bad join_ref
    EXPECT_TRUE(refused(R"([null,["1"],"t","e",{}])", Vsn::V2));   // bad ref
}

TEST(PhoenixDecodeV2, MalformedJsonAndInvalidUtf8AreRefused) {
    EXPECT_TRUE(refused(R"([null,"1","t","e",{])", Vsn::V2));
    EXPECT_TRUE(refused("[null,\"1\",\"t\",\"e\",{\"k\":\"\xe2\x82\"}]", Vsn::V2));
    EXPECT_TRUE(refused("not json", Vsn::V2));
}

// -- decode_binary (kind 3) ------------------------------------------------------------

TEST(PhoenixDecodeBinary, JsonEncodedUserBroadcast) {
    Inbound in;
    std::string error;
    std::string f = kind3("1", "22", "realtime:room1", "cursor", R"({"id":"x"})", 1, R"({"x":1,"y":[2]})");
    ASSERT_TRUE(phoenix::decode_binary(f, in, error)) << error;
    EXPECT_TRUE(in.binary);
    EXPECT_EQ(in.event, "broadcast");
    EXPECT_EQ(in.join_ref, std::optional<std::string>("1"));
    EXPECT_EQ(in.ref, std::optional<std::string>("22"));
    EXPECT_EQ(in.topic, "realtime:room1");
    EXPECT_EQ(in.user_event, "cursor");
    EXPECT_EQ(in.metadata, R"({"id":"x"})");
    EXPECT_TRUE(in.json_payload);
    EXPECT_EQ(in.user_payload, R"({"x":1,"y":[2]})");
}

TEST(PhoenixDecodeBinary, BinaryEncodedPayloadIsKeptAsBytes) {
    Inbound in;
    std::string error;
    std::string payload("\x00\xff{not json", 11);
    std::string f = kind3("", "", "realtime:r", "bin", "", 0, payload);
    ASSERT_TRUE(phoenix::decode_binary(f, in, error)) << error;
    EXPECT_FALSE(in.json_payload);
    EXPECT_EQ(in.user_payload, payload);
    EXPECT_FALSE(in.join_ref.has_value());  // empty refs are absent
    EXPECT_FALSE(in.ref.has_value());
    EXPECT_TRUE(in.metadata.empty());
}

TEST(PhoenixDecodeBinary, EmptyBinaryPayloadIsAllowed) {
    Inbound in;
    std::string error;
    ASSERT_TRUE(phoenix::decode_binary(kind3("1", "2", "realtime:r", "e", "", 0, ""), in, error)) << error;
    EXPECT_TRUE(in.user_payload.empty());
}

// Found by fuzz_hub: the fields were echoed in JSON text frames (the reply's topic, the
// event to vsn 1.0.0 members) whatever their bytes.
TEST(PhoenixDecodeBinary, FieldsThatAreNotUtf8AreRefused) {
    const std::string bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
    for (const std::string& b : bad) {
        EXPECT_TRUE(binary_refused(kind3(b, "2", "realtime:r", "e", "", 0, ""))) << b;
        EXPECT_TRUE(binary_refused(kind3("1", b, "realtime:r", "e", "", 0, ""))) << b;
        EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:" + b, "e", "", 0, ""))) << b;
        EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", b, "", 0, ""))) << b;
        EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", b, 0, ""))) << b;
    }
    Inbound in;
    std::string error;
    EXPECT_TRUE(phoenix::decode_binary(kind3("1", "2", "realtime:\xc3\xa9", "\xf0\x9f\x98\x80", "", 0, "\xff"), in, error))
        << error;
}

TEST(JsonIsUtf8, ShortestFormsOnly) {
    EXPECT_TRUE(json::is_utf8(""));
    EXPECT_TRUE(json::is_utf8("a\xc3\xa9\xe2\x82\xac\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"));
    for (const char* bad : {"\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
                            "\xf5\x80\x80\x80", "\xe2\x82", "\xe2\x28\xa1"})
        EXPECT_FALSE(json::is_utf8(bad)) << bad;
}

TEST(PhoenixDecodeBinary, EmptyFrameIsRefused) { EXPECT_TRUE(binary_refused("")); }

TEST(PhoenixDecodeBinary, OtherKindsAreRefused) {
    for (uint8_t kind : {0, 1, 2, 4, 5, 255}) {
        std::string f = kind3("1", "2", "realtime:r", "e", "", 1, "{}");
        f[0] = static_cast<char>(kind);
        EXPECT_TRUE(binary_refused(f)) << "kind " << int(kind);
    }
}

TEST(PhoenixDecodeBinary, TruncatedHeaderIsRefused) {
    std::string f = kind3("1", "2", "realtime:r", "e", "", 1, "{}");
    for (size_t n = 1; n < 7; ++n) EXPECT_TRUE(binary_refused(f.substr(0, n))) << n << " bytes";
}

TEST(PhoenixDecodeBinary, TruncatedFieldsAreRefused) {
    std::string f = kind3("12", "34", "realtime:room", "event", R"({"id":"m"})", 0, "");
    // Every cut inside the fields (the payload is empty, so the fields end the frame).
    for (size_t n = 7; n < f.size(); ++n) EXPECT_TRUE(binary_refused(f.substr(0, n))) << n << " bytes";
    // A length byte claiming more than the frame holds.
    std::string g = kind3("1", "2", "realtime:r", "e", "", 0, "");
    g[3] = static_cast<char>(200);
    EXPECT_TRUE(binary_refused(g));
}

TEST(PhoenixDecodeBinary, UnknownEncodingByteIsRefused) {
    std::string error;
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 2, "{}"), &error));
    EXPECT_NE(error.find("encoding"), std::string::npos) << error;
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 255, "{}")));
}

TEST(PhoenixDecodeBinary, MalformedJsonPayloadIsRefused) {
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 1, "{\"a\":")));
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 1, "")));
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 1, "{} {}")));
    EXPECT_TRUE(binary_refused(kind3("1", "2", "realtime:r", "e", "", 1, "\"\xff\"")));
}

// -- encode ----------------------------------------------------------------------------

TEST(PhoenixEncode, V1ObjectCarriesTopicEventPayloadRef) {
    std::string out;
    phoenix::encode(out, Vsn::V1, std::string_view("1"), std::string_view("2"), "realtime:room1", "phx_reply",
                    R"({"status":"ok","response":{}})");
    EXPECT_EQ(out, R"({"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"})");
}

TEST(PhoenixEncode, V1NullRef) {
    std::string out;
    phoenix::encode(out, Vsn::V1, std::nullopt, std::nullopt, "realtime:r", "broadcast", "{}");
    EXPECT_EQ(out, R"({"topic":"realtime:r","event":"broadcast","payload":{},"ref":null})");
}

TEST(PhoenixEncode, V2Array) {
    std::string out;
    phoenix::encode(out, Vsn::V2, std::string_view("1"), std::string_view("26"), "phoenix", "phx_reply",
                    R"({"status":"ok","response":{}})");
    EXPECT_EQ(out, R"(["1","26","phoenix","phx_reply",{"status":"ok","response":{}}])");
    out.clear();
    phoenix::encode(out, Vsn::V2, std::nullopt, std::nullopt, "realtime:r", "presence_diff", "{}");
    EXPECT_EQ(out, R"([null,null,"realtime:r","presence_diff",{}])");
}

TEST(PhoenixEncode, EscapesStringsAndAppends) {
    std::string out = "X";
    phoenix::encode(out, Vsn::V2, std::string_view("a\"b"), std::nullopt, "realtime:q\"t", "e\\v", "[]");
    EXPECT_EQ(out, R"(X["a\"b",null,"realtime:q\"t","e\\v",[]])");
}

TEST(PhoenixEncode, V2RoundTripsThroughDecode) {
    std::string out;
    phoenix::encode(out, Vsn::V2, std::string_view("5"), std::string_view("6"), "realtime:x", "broadcast",
                    R"({"type":"broadcast","event":"e","payload":{"n":1.50}})");
    Inbound in;
    ASSERT_TRUE(decode(out, Vsn::V2, in));
    EXPECT_EQ(in.join_ref, std::optional<std::string>("5"));
    EXPECT_EQ(in.ref, std::optional<std::string>("6"));
    EXPECT_EQ(in.topic, "realtime:x");
    EXPECT_EQ(in.event, "broadcast");
}

// -- encode_user_broadcast (kind 4) ----------------------------------------------------

TEST(PhoenixEncodeUserBroadcast, ExactBytesJsonPayload) {
    std::string out;
    ASSERT_TRUE(phoenix::encode_user_broadcast(out, "realtime:r", "e", R"({"id":"1"})", true, R"({"a":1})"));
    std::string expected;
    expected.push_back(4);   // kind
    expected.push_back(10);  // topic length
    expected.push_back(1);   // event length
    expected.push_back(10);  // metadata length
    expected.push_back(1);   // JSON encoding
    expected += "realtime:r";
    expected += "e";
    expected += R"({"id":"1"})";
    expected += R"({"a":1})";
    EXPECT_EQ(out, expected);
}

TEST(PhoenixEncodeUserBroadcast, ExactBytesBinaryPayloadWithoutMetadata) {
    std::string out = "HDR";
    std::string payload("\x00\x01\x02", 3);
    ASSERT_TRUE(phoenix::encode_user_broadcast(out, "realtime:ab", "ev", "", false, payload));
    std::string expected = "HDR";
    expected += std::string("\x04\x0b\x02\x00\x00", 5);
    expected += "realtime:abev";
    expected += payload;
    EXPECT_EQ(out, expected);
}

TEST(PhoenixEncodeUserBroadcast, FieldsOver255BytesAreRefused) {
    std::string ok255(255, 't');
    std::string long256(256, 't');
    std::string out;
    EXPECT_TRUE(phoenix::encode_user_broadcast(out, ok255, ok255, ok255, true, "{}"));
    EXPECT_EQ(static_cast<uint8_t>(out[1]), 255);
    out.clear();
    EXPECT_FALSE(phoenix::encode_user_broadcast(out, long256, "e", "", true, "{}"));
    EXPECT_FALSE(phoenix::encode_user_broadcast(out, "t", long256, "", true, "{}"));
    EXPECT_FALSE(phoenix::encode_user_broadcast(out, "t", "e", long256, true, "{}"));
    EXPECT_TRUE(out.empty()) << "a refused frame appends nothing";
    // The payload has no length byte: any size goes.
    EXPECT_TRUE(phoenix::encode_user_broadcast(out, "t", "e", "", false, std::string(100000, 'x')));
}
