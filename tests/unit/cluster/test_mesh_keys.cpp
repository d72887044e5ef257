// cluster/mesh_keys: CURVE keys in Z85, --peers entries with a public key, key files'
// text, loopback endpoints, secret files' modes, and the ZAP handler's decision (only
// CURVE peers with a trusted key get in).
#include <gtest/gtest.h>

#include "cluster/mesh_keys.h"

using namespace rt::cluster;

namespace {

// Keys as zmq_curve_keypair writes them (Z85 holds '@', '#', '.', ...).
const std::string kA = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kB = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

TEST(MeshKeys, Z85KeysAreFortyCharactersOfTheAlphabet) {
    EXPECT_TRUE(valid_z85_key(kA));
    EXPECT_TRUE(valid_z85_key(kB));
    EXPECT_FALSE(valid_z85_key(kA.substr(1)));
    EXPECT_FALSE(valid_z85_key(kA + "x"));
    EXPECT_FALSE(valid_z85_key(std::string(39, 'a') + " "));
    EXPECT_FALSE(valid_z85_key(std::string(39, 'a') + "\""));
    EXPECT_FALSE(valid_z85_key(""));
}

TEST(MeshKeys, PeerEntriesSplitAtTheFirstAt) {
    PeerSpec p;
    std::string error;
    ASSERT_TRUE(parse_peer("tcp://10.0.0.2:7000@" + kA, p, error)) << error;
    EXPECT_EQ(p.endpoint, "tcp://10.0.0.2:7000");
    EXPECT_EQ(p.key, kA);  // its own '@' stays in the key
    ASSERT_TRUE(parse_peer(" tcp://b:7000 ", p, error));
    EXPECT_EQ(p.endpoint, "tcp://b:7000");
    EXPECT_EQ(p.key, "");
}

TEST(MeshKeys, BadPeerEntriesSayWhy) {
    PeerSpec p;
    std::string error;
    EXPECT_FALSE(parse_peer("b:7000@" + kA, p, error));
    EXPECT_NE(error.find("tcp://HOST:PORT@PUBLIC_KEY"), std::string::npos) << error;
    EXPECT_FALSE(parse_peer("tcp://b:7000@short", p, error));
    EXPECT_NE(error.find("tcp://b:7000"), std::string::npos) << error;
    EXPECT_NE(error.find("40 Z85"), std::string::npos) << error;
    EXPECT_FALSE(parse_peer("tcp://b:7000@", p, error));
}

TEST(MeshKeys, KeyFilesSkipBlankAndCommentLines) {
    std::vector<std::string> keys;
    std::string error;
    std::string text = "# the nodes of region eu\n\n" + kA + "\r\n#\n   " + kB + "  \n# " + kA.substr(3);
    ASSERT_TRUE(parse_keys(text, "peers.txt", keys, error)) << error;
    EXPECT_EQ(keys, (std::vector<std::string>{kA, kB}));
    keys.clear();
    EXPECT_TRUE(parse_keys("", "empty", keys, error));
    EXPECT_TRUE(keys.empty());
}

TEST(MeshKeys, AKeyMayStartWithHash) {
    std::vector<std::string> keys;
    std::string error;
    std::string hashed = "#" + kA.substr(1);
    ASSERT_TRUE(parse_keys(hashed + "\n", "f", keys, error)) << error;
    EXPECT_EQ(keys, std::vector<std::string>{hashed});
}

TEST(MeshKeys, ABadLineIsNamed) {
    std::vector<std::string> keys;
    std::string error;
    EXPECT_FALSE(parse_keys(kA + "\nnot a key\n", "b.pub", keys, error));
    EXPECT_EQ(error, "b.pub, line 2: not a CURVE key (40 Z85 characters)");
}

TEST(MeshKeys, OneKeyFilesHoldExactlyOne) {
    std::string key, error;
    ASSERT_TRUE(parse_one_key(key_file_text("CURVE public key of mesh node a", kA), "a.pub", key, error)) << error;
    EXPECT_EQ(key, kA);
    EXPECT_FALSE(parse_one_key(kA + "\n" + kB, "two", key, error));
    EXPECT_EQ(error, "two: expected one CURVE key, found 2");
    EXPECT_FALSE(parse_one_key("# nothing\n", "none", key, error));
}

TEST(MeshKeys, KeygenFilesReadBack) {
    std::string text = key_file_text("CURVE secret key of mesh node a", kB);
    EXPECT_EQ(text.rfind("# ", 0), 0u);
    std::string key, error;
    ASSERT_TRUE(parse_one_key(text, "a.key", key, error));
    EXPECT_EQ(key, kB);
}

TEST(MeshKeys, LoopbackEndpoints) {
    EXPECT_TRUE(is_loopback_endpoint("tcp://127.0.0.1:7000"));
    EXPECT_TRUE(is_loopback_endpoint("tcp://127.1.2.3:7000"));
    EXPECT_TRUE(is_loopback_endpoint("tcp://localhost:7000"));
    EXPECT_TRUE(is_loopback_endpoint("tcp://[::1]:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://0.0.0.0:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://*:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://10.0.0.1:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://127example.com:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://[::]:7000"));
    EXPECT_FALSE(is_loopback_endpoint("tcp://eth0:7000"));
    EXPECT_FALSE(is_loopback_endpoint("ipc:///tmp/x"));
}

TEST(MeshKeys, SecretFilesAreTheOwnersOnly) {
    EXPECT_TRUE(secret_mode_ok(0100600));
    EXPECT_TRUE(secret_mode_ok(0100400));
    EXPECT_FALSE(secret_mode_ok(0100640));
    EXPECT_FALSE(secret_mode_ok(0100604));
    EXPECT_FALSE(secret_mode_ok(0100644));
}

ZapRequest curve(const std::string& key) { return {"1.0", "7", "realtime-mesh", "10.0.0.9", "CURVE", key}; }

TEST(MeshKeys, ZapAdmitsTrustedCurveKeys) {
    std::unordered_set<std::string> trusted{kA};
    ZapReply r = zap_decide(curve(kA), trusted);
    EXPECT_TRUE(r.admitted());
    EXPECT_EQ(r.status_code, "200");
    EXPECT_EQ(r.user_id, kA);
}

TEST(MeshKeys, ZapRefusesUnknownKeys) {
    std::unordered_set<std::string> trusted{kA};
    ZapReply r = zap_decide(curve(kB), trusted);
    EXPECT_FALSE(r.admitted());
    EXPECT_EQ(r.status_code, "400");
    EXPECT_EQ(r.status_text, "unknown public key");
    EXPECT_EQ(r.user_id, "");
    EXPECT_FALSE(zap_decide(curve(kA), {}).admitted()) << "nothing trusted: nobody gets in";
}

TEST(MeshKeys, ZapRefusesOtherMechanisms) {
    std::unordered_set<std::string> trusted{kA};
    for (const char* mechanism : {"NULL", "PLAIN", "GSSAPI", ""}) {
        ZapRequest req = curve(kA);
        req.mechanism = mechanism;
        ZapReply r = zap_decide(req, trusted);
        EXPECT_EQ(r.status_code, "400") << mechanism;
        EXPECT_EQ(r.status_text, "the mesh admits CURVE peers only");
    }
    EXPECT_EQ(zap_decide(curve(""), trusted).status_code, "400");
}

TEST(MeshKeys, ZapAnswersUnknownVersionsWithAnError) {
    ZapRequest req = curve(kA);
    req.version = "2.0";
    EXPECT_EQ(zap_decide(req, {kA}).status_code, "500");
    EXPECT_EQ(zap_decide(ZapRequest{}, {kA}).status_code, "500") << "an unreadable request";
}

}  // namespace
