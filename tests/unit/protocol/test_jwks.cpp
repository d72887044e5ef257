// relay/protocol/jwks and jws_key: JWKS documents (keys kept, keys left out with a note,
// documents refused), key choice by kid and type, and the base64url JOSE uses. Keys are
// generated here with OpenSSL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jose_fixtures.h"
#include "relay/protocol/base64url.h"
#include "relay/protocol/jwks.h"

using jose_test::KeyPair;
using rt::Jwks;

namespace {

const KeyPair& rsa() {
    static KeyPair k("RSA");
    return k;
}
const KeyPair& p256() {
    static KeyPair k("P-256");
    return k;
}
const KeyPair& ed() {
    static KeyPair k("Ed25519");
    return k;
}

struct Parsed {
    bool ok = false;
    Jwks jwks;
    std::vector<std::string> notes;
    std::string error;
};

Parsed parse(const std::string& text) {
    Parsed p;
    p.ok = rt::parse_jwks(text, p.jwks, p.notes, p.error);
    return p;
}

std::string set_of(const std::vector<std::string>& jwks) {
    std::string s = "{\"keys\":[";
    for (size_t i = 0; i < jwks.size(); ++i) s += (i ? "," : "") + jwks[i];
    return s + "]}";
}

// The one note of a document holding a usable key and jwk, which must be left out.
std::string left_out(const std::string& jwk) {
    Parsed p = parse(set_of({ed().jwk("good"), jwk}));
    EXPECT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.jwks.keys.size(), 1u) << jwk;
    EXPECT_EQ(p.notes.size(), 1u) << jwk;
    return p.notes.empty() ? "" : p.notes[0];
}

}  // namespace

TEST(Base64url, DecodesUnpaddedAndRefusesPaddingAndOtherAlphabets) {
    std::string out;
    ASSERT_TRUE(rt::base64url::decode("aGk", out));
    EXPECT_EQ(out, "hi");
    ASSERT_TRUE(rt::base64url::decode("-_8", out));
    EXPECT_EQ(out, "\xfb\xff");
    ASSERT_TRUE(rt::base64url::decode("", out));
    EXPECT_EQ(out, "");
    EXPECT_FALSE(rt::base64url::decode("aGk=", out));
    EXPECT_FALSE(rt::base64url::decode("+/8", out));
    EXPECT_FALSE(rt::base64url::decode("aGkab", out));  // 4k+1 characters
    EXPECT_EQ(rt::base64url::encode("\xfb\xff"), "-_8");
    for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\x01\xff", 3)}) {
        ASSERT_TRUE(rt::base64url::decode(rt::base64url::encode(s), out));
        EXPECT_EQ(out, s);
    }
}

// Postgres' encode(..., 'base64') of binary broadcast payloads: plain alphabet, padded.
TEST(Base64, PaddedPlainAlphabet) {
    std::string out;
    ASSERT_TRUE(rt::base64url::decode_padded("3q2+7wD/AQI=", out));
    EXPECT_EQ(out, std::string("\xde\xad\xbe\xef\x00\xff\x01\x02", 8));
    ASSERT_TRUE(rt::base64url::decode_padded("aGk=", out));
    EXPECT_EQ(out, "hi");
    ASSERT_TRUE(rt::base64url::decode_padded("aA==", out));
    EXPECT_EQ(out, "h");
    ASSERT_TRUE(rt::base64url::decode_padded("", out));
    EXPECT_EQ(out, "");
    EXPECT_FALSE(rt::base64url::decode_padded("aGk", out)) << "unpadded";
    EXPECT_FALSE(rt::base64url::decode_padded("-_8=", out)) << "url alphabet";
    EXPECT_FALSE(rt::base64url::decode_padded("a===", out));
}

TEST(Jwks, KeepsEveryKindOfKeyWithItsKidAndAlg) {
    KeyPair p384("P-384"), p521("P-521");
    Parsed p = parse(set_of({rsa().jwk("r", R"("alg":"RS256","use":"sig")"), p256().jwk("e"), p384.jwk("e384"),
                             p521.jwk("e521"), ed().jwk("o", R"("alg":"EdDSA","key_ops":["verify"])"),
                             R"({"kty":"oct","k":"c2VjcmV0","kid":"h"})"}));
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_TRUE(p.notes.empty()) << p.notes[0];
    ASSERT_EQ(p.jwks.keys.size(), 6u);
    EXPECT_EQ(p.jwks.keys[0]->type(), rt::KeyType::Rsa);
    EXPECT_EQ(p.jwks.keys[0]->kid(), "r");
    EXPECT_EQ(p.jwks.keys[0]->alg(), "RS256");
    EXPECT_EQ(p.jwks.keys[1]->type(), rt::KeyType::EcP256);
    EXPECT_EQ(p.jwks.keys[2]->type(), rt::KeyType::EcP384);
    EXPECT_EQ(p.jwks.keys[3]->type(), rt::KeyType::EcP521);
    EXPECT_EQ(p.jwks.keys[4]->type(), rt::KeyType::Ed25519);
    EXPECT_EQ(p.jwks.keys[5]->type(), rt::KeyType::Oct);
    EXPECT_TRUE(p.jwks.keys[1]->alg().empty());
}

TEST(Jwks, LeavesOutKeysItCannotUseAndSaysWhy) {
    EXPECT_NE(left_out(rsa().jwk("enc", R"("use":"enc")")).find(R"(key 1 (kid "enc") is left out: its "use" is not "sig")"),
              std::string::npos);
    EXPECT_NE(left_out(rsa().jwk("ops", R"("key_ops":["encrypt"])")).find("\"key_ops\""), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"OKP","crv":"X25519","x":"AAAA","kid":"x"})").find("X25519"), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"OKP","crv":"Ed448","x":"AAAA"})").find("Ed448"), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"EC","crv":"P-192","x":"AAAA","y":"AAAA"})").find("P-192"), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"PQC","kid":"q"})").find("kty \"PQC\""), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"RSA","n":"!!","e":"AQAB"})").find("\"n\" is missing or not base64url"),
              std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"RSA","e":"AQAB"})").find("\"n\""), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"oct","k":""})").find("\"k\""), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"OKP","crv":"Ed25519","x":"AAAA"})").find("32 bytes"), std::string::npos);
    EXPECT_NE(left_out(rsa().jwk("a", R"("alg":"ES256")")).find("\"alg\" ES256"), std::string::npos);
    EXPECT_NE(left_out(rsa().jwk("a", R"("alg":"PS256")")).find("\"alg\" PS256"), std::string::npos);
    EXPECT_NE(left_out(rsa().jwk("a", R"("alg":"none")")).find("\"alg\" none"), std::string::npos);
    EXPECT_NE(left_out(R"({"kty":"RSA","kid":7})").find("must be strings"), std::string::npos);
    EXPECT_NE(left_out("[]").find("not a JSON object"), std::string::npos);
}

TEST(Jwks, RefusesSmallRsaKeysAndPointsOffTheCurve) {
    KeyPair small("RSA1024");
    EXPECT_NE(left_out(small.jwk("small")).find("1024 bits"), std::string::npos);

    // The same x with another y is (almost surely) not a point of P-256.
    std::string jwk = p256().jwk("off");
    size_t y = jwk.find("\"y\":\"") + 5;
    jwk[y + 3] = jwk[y + 3] == 'A' ? 'B' : 'A';
    EXPECT_NE(left_out(jwk).find("OpenSSL refused the EC key"), std::string::npos) << jwk;
    // An even RSA exponent is no RSA key.
    std::string even = rsa().jwk("even");
    even.replace(even.find("\"e\":\"AQAB\""), 10, "\"e\":\"Ag\"");
    EXPECT_NE(left_out(even).find("the RSA public key does not pass OpenSSL's checks"), std::string::npos) << even;
    std::string short_x = R"({"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"})";
    EXPECT_NE(left_out(short_x).find("32 bytes each"), std::string::npos);
}

TEST(Jwks, NotesPrivateMembersAndUsesThePublicPart) {
    std::string jwk = ed().jwk("priv", R"("d":"B760w5vOLrntFkIfGZRy7di_WPIYymxTjxufHiuHY0g")");
    Parsed p = parse(set_of({jwk}));
    ASSERT_TRUE(p.ok) << p.error;
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_NE(p.notes[0].find("private key members"), std::string::npos);
}

TEST(Jwks, RefusesDocumentsThatAreNotKeySets) {
    EXPECT_EQ(parse("not json").error.rfind("not JSON: ", 0), 0u);
    EXPECT_EQ(parse(R"({"keys":{}})").error, "not a JWKS: no \"keys\" array");
    EXPECT_EQ(parse(R"([])").error, "not a JWKS: no \"keys\" array");
    EXPECT_EQ(parse(R"({"keys":[]})").error, "no key the relay can verify tokens with");
    EXPECT_EQ(parse(set_of({R"({"kty":"oct","k":""})"})).error, "no key the relay can verify tokens with");
    // A key set that says two things.
    Parsed dup = parse("{\"keys\":[" + ed().jwk("a") + "],\"keys\":[]}");
    EXPECT_FALSE(dup.ok);
    EXPECT_NE(dup.error.find("duplicate member name \"keys\""), std::string::npos) << dup.error;
    std::string two_x = ed().jwk("a");
    two_x.insert(1, R"("x":"AAAA",)");
    EXPECT_FALSE(parse(set_of({two_x})).ok);
}

TEST(Jwks, TwoKeysOfOneTypeMayNotShareAKid) {
    KeyPair other("Ed25519");
    Parsed p = parse(set_of({ed().jwk("same"), other.jwk("same")}));
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "two keys of one type share the kid same");
    // Of different types they may: the token's alg tells them apart.
    EXPECT_TRUE(parse(set_of({ed().jwk("same"), rsa().jwk("same")})).ok);
}

TEST(Jwks, ChoosesByKidAndTypeOrTheOnlyKeyOfTheType) {
    KeyPair other_rsa("RSA");
    Parsed p = parse(set_of({rsa().jwk("r1"), other_rsa.jwk("r2", R"("alg":"RS512")"), p256().jwk("e1"), ed().jwk("")}));
    ASSERT_TRUE(p.ok) << p.error;
    const Jwks& j = p.jwks;
    const rt::JwsAlg& rs256 = *rt::find_alg("RS256");
    const rt::JwsAlg& rs512 = *rt::find_alg("RS512");
    const rt::JwsAlg& es256 = *rt::find_alg("ES256");
    const rt::JwsAlg& eddsa = *rt::find_alg("EdDSA");
    EXPECT_EQ(j.by_kid("r1", rs256), j.keys[0].get());
    EXPECT_EQ(j.by_kid("r2", rs512), j.keys[1].get());
    EXPECT_EQ(j.by_kid("r2", rs256), nullptr) << "its alg says RS512";
    EXPECT_EQ(j.by_kid("e1", rs256), nullptr) << "an EC key for an RSA alg";
    EXPECT_EQ(j.by_kid("nope", es256), nullptr);
    EXPECT_EQ(j.only(es256), j.keys[2].get());
    EXPECT_EQ(j.only(eddsa), j.keys[3].get());
    EXPECT_EQ(j.only(*rt::find_alg("Ed25519")), j.keys[3].get());
    EXPECT_EQ(j.only(rs512), nullptr) << "two RSA keys may verify RS512";
    EXPECT_EQ(j.only(rs256), j.keys[0].get()) << "the other RSA key is for RS512 only";
    EXPECT_EQ(j.only(*rt::find_alg("ES384")), nullptr);
    EXPECT_EQ(j.only(*rt::find_alg("HS256")), nullptr);
}

TEST(JwsAlg, KnowsTheAlgorithmsAndNothingElse) {
    for (const char* a : {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA",
                          "Ed25519"})
        EXPECT_NE(rt::find_alg(a), nullptr) << a;
    for (const char* a : {"none", "None", "NONE", "", "PS256", "hs256", "ES256K", "Ed448", "RSA-OAEP"})
        EXPECT_EQ(rt::find_alg(a), nullptr) << a;
    EXPECT_EQ(rt::JwsKey::hmac(""), nullptr) << "an empty secret is no key";
}
