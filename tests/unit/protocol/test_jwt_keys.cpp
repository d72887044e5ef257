// relay/protocol/jwt with asymmetric keys: RS*, ES*, EdDSA tokens verified with JWKS keys
// (chosen by kid, or the only key of the type), oct keys, the secret beside a JWKS, key
// rotation, and the refusals: algorithm confusion, wrong key types, a key's alg or kid
// that does not fit, ECDSA signatures in DER. Keys are generated here with OpenSSL.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "jose_fixtures.h"
#include "relay/protocol/jwt.h"

using jose_test::b64url;
using jose_test::KeyPair;
using rt::Jwks;
using rt::JwtError;
using rt::JwtResult;
using rt::JwtVerifier;

namespace {

constexpr const char* kSecret = "super-secret-jwt-token-with-at-least-32-characters";
constexpr int64_t kNow = 1700000000;
const std::string kClaims = R"({"sub":"u1","role":"authenticated","exp":1700000600})";

// One generated key pair per kind for the whole run (RSA generation is slow).
const KeyPair& pair(const std::string& kind) {
    static std::map<std::string, std::unique_ptr<KeyPair>> pairs;
    auto& p = pairs[kind];
    if (!p) p = std::make_unique<KeyPair>(kind);
    return *p;
}

std::shared_ptr<const Jwks> jwks_of(const std::vector<std::string>& jwks) {
    std::string text = "{\"keys\":[";
    for (size_t i = 0; i < jwks.size(); ++i) text += (i ? "," : "") + jwks[i];
    text += "]}";
    auto set = std::make_shared<Jwks>();
    std::vector<std::string> notes;
    std::string error;
    EXPECT_TRUE(rt::parse_jwks(text, *set, notes, error)) << error;
    EXPECT_TRUE(notes.empty()) << notes[0];
    return set;
}

std::string header(std::string_view alg, std::string_view kid = "") {
    std::string h = "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"";
    if (!kid.empty()) h += ",\"kid\":\"" + std::string(kid) + "\"";
    return h + "}";
}

std::string error_for_kid(std::string_view kid) {
    return "Failed to generate JWT signer for key ID (kid) \"" + std::string(kid) +
           "\", check your JWT secret or JWKS configuration";
}

struct AlgCase {
    const char* alg;
    const char* kind;
};

class AsymmetricJwt : public ::testing::TestWithParam<AlgCase> {
protected:
    const KeyPair& key() const { return pair(GetParam().kind); }
    std::string alg() const { return GetParam().alg; }
    // A JWKS of this case's key (kid "k1") beside a key of another type (kid "other").
    JwtVerifier verifier() const {
        std::string other = std::string(GetParam().kind) == "Ed25519" ? "P-256" : "Ed25519";
        return JwtVerifier("", jwks_of({key().jwk("k1"), pair(other).jwk("other")}));
    }
};

}  // namespace

TEST_P(AsymmetricJwt, ValidTokenNamedByKid) {
    JwtResult r = verifier().verify(jose_test::token(key(), alg(), header(alg(), "k1"), kClaims), kNow);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.role, "authenticated");
    EXPECT_EQ(r.claims.sub, "u1");
    EXPECT_EQ(r.claims.exp, 1700000600);
    EXPECT_EQ(r.claims.json, kClaims);
}

TEST_P(AsymmetricJwt, WithoutKidTheOnlyKeyOfItsTypeIsUsed) {
    JwtResult r = verifier().verify(jose_test::token(key(), alg(), header(alg()), kClaims), kNow);
    EXPECT_TRUE(r.ok) << r.error;
}

TEST_P(AsymmetricJwt, TamperedClaimsOrAnotherKeyFailTheSignature) {
    std::string token = jose_test::token(key(), alg(), header(alg(), "k1"), kClaims);
    size_t dot1 = token.find('.'), dot2 = token.rfind('.');
    std::string tampered = token.substr(0, dot1 + 1) +
                           b64url(R"({"sub":"u1","role":"service_role","exp":1700000600})") + token.substr(dot2);
    EXPECT_EQ(verifier().verify(tampered, kNow).code, JwtError::BadSignature);
    EXPECT_EQ(verifier().verify(tampered, kNow).error, rt::errors::kJwtBadSignature);

    KeyPair impostor(GetParam().kind);  // same type, not the key of the JWKS
    EXPECT_EQ(verifier().verify(jose_test::token(impostor, alg(), header(alg(), "k1"), kClaims), kNow).code,
              JwtError::BadSignature);
    std::string flipped = token;
    flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verifier().verify(flipped, kNow).code, JwtError::BadSignature);
    EXPECT_EQ(verifier().verify(token.substr(0, dot2 + 1), kNow).code, JwtError::BadSignature);  // no signature
}

TEST_P(AsymmetricJwt, UnknownKidIsANoSignerErrorNamingIt) {
    JwtResult r = verifier().verify(jose_test::token(key(), alg(), header(alg(), "k9"), kClaims), kNow);
    EXPECT_EQ(r.code, JwtError::NoSigner);
    EXPECT_EQ(r.error, error_for_kid("k9"));
}

TEST_P(AsymmetricJwt, KidOfAKeyOfAnotherTypeIsRefused) {
    // "other" is a key of another type: the alg decides which keys may verify.
    JwtResult r = verifier().verify(jose_test::token(key(), alg(), header(alg(), "other"), kClaims), kNow);
    EXPECT_EQ(r.code, JwtError::NoSigner);
    EXPECT_EQ(r.error, error_for_kid("other"));
}

TEST_P(AsymmetricJwt, ExpiredAndNotYetValidKeepTheirMessages) {
    JwtVerifier v = verifier();
    JwtResult expired =
        v.verify(jose_test::token(key(), alg(), header(alg(), "k1"), R"({"role":"anon","exp":1699999990})"), kNow);
    EXPECT_EQ(expired.code, JwtError::Expired);
    EXPECT_EQ(expired.claims.exp, 1699999990);
    JwtResult early = v.verify(
        jose_test::token(key(), alg(), header(alg(), "k1"), R"({"role":"anon","exp":1700000600,"nbf":1700000010})"),
        kNow);
    EXPECT_EQ(early.code, JwtError::NotYetValid);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AsymmetricJwt,
                         ::testing::Values(AlgCase{"RS256", "RSA"}, AlgCase{"RS384", "RSA"}, AlgCase{"RS512", "RSA"},
                                           AlgCase{"ES256", "P-256"}, AlgCase{"ES384", "P-384"},
                                           AlgCase{"ES512", "P-521"}, AlgCase{"EdDSA", "Ed25519"},
                                           AlgCase{"Ed25519", "Ed25519"}),
                         [](const auto& info) { return std::string(info.param.alg); });

TEST(JwtKeys, AKeyAnswersOnlyTheAlgsOfItsTypeAndItsAlg) {
    // An ES256 signature checked as ES384 (a P-256 key cannot do ES384).
    JwtVerifier v("", jwks_of({pair("P-256").jwk("k1")}));
    std::string input = b64url(header("ES384", "k1")) + "." + b64url(kClaims);
    std::string token = input + "." + b64url(pair("P-256").sign("ES256", input));
    EXPECT_EQ(v.verify(token, kNow).code, JwtError::NoSigner);
    // An RSA key without "alg" answers RS256 and RS512 alike; a key with "alg" only its own.
    JwtVerifier pinned("", jwks_of({pair("RSA").jwk("k1", R"("alg":"RS256")")}));
    EXPECT_TRUE(pinned.verify(jose_test::token(pair("RSA"), "RS256", header("RS256", "k1"), kClaims), kNow).ok);
    JwtResult other = pinned.verify(jose_test::token(pair("RSA"), "RS512", header("RS512", "k1"), kClaims), kNow);
    EXPECT_EQ(other.code, JwtError::NoSigner);
    EXPECT_EQ(other.error, error_for_kid("k1"));
}

TEST(JwtKeys, Es256SignaturesAreRawRAndSNotDer) {
    const KeyPair& k = pair("P-256");
    JwtVerifier v("", jwks_of({k.jwk("k1")}));
    std::string input = b64url(header("ES256", "k1")) + "." + b64url(kClaims);
    EXPECT_TRUE(v.verify(input + "." + b64url(k.sign("ES256", input)), kNow).ok);
    std::string der = k.openssl_sign("ES256", input);
    EXPECT_EQ(v.verify(input + "." + b64url(der), kNow).code, JwtError::BadSignature);
    std::string raw = k.sign("ES256", input);
    EXPECT_EQ(v.verify(input + "." + b64url(raw.substr(0, 63)), kNow).code, JwtError::BadSignature);
    EXPECT_EQ(v.verify(input + "." + b64url(raw + "x"), kNow).code, JwtError::BadSignature);
}

TEST(JwtKeys, WithoutKidSeveralKeysOfTheTypeAreAmbiguous) {
    KeyPair second("Ed25519");
    JwtVerifier v("", jwks_of({pair("Ed25519").jwk("a"), second.jwk("b")}));
    JwtResult r = v.verify(jose_test::token(second, "EdDSA", header("EdDSA"), kClaims), kNow);
    EXPECT_EQ(r.code, JwtError::NoSigner);
    EXPECT_EQ(r.error, rt::errors::kJwtNoSigner);
    EXPECT_TRUE(v.verify(jose_test::token(second, "EdDSA", header("EdDSA", "b"), kClaims), kNow).ok);
}

TEST(JwtKeys, HmacWithThePublicKeyIsRefused) {
    // The classic confusion: an HS256 token MACed with the RSA public key (as JWK text, as
    // the raw modulus), naming the RSA key's kid. A public key is never an HMAC key.
    const KeyPair& k = pair("RSA");
    std::string jwk = k.jwk("rsa1");
    std::string n = jwk.substr(jwk.find("\"n\":\"") + 5);
    n = n.substr(0, n.find('"'));
    for (const std::string& mac_key : {jwk, n, k.members()}) {
        std::string token = jose_test::hmac_token(header("HS256", "rsa1"), kClaims, EVP_sha256(), mac_key);
        JwtResult with_secret = JwtVerifier(kSecret, jwks_of({jwk})).verify(token, kNow);
        EXPECT_EQ(with_secret.code, JwtError::BadSignature) << "the HS token falls back to the secret";
        JwtResult keys_only = JwtVerifier("", jwks_of({jwk})).verify(token, kNow);
        EXPECT_EQ(keys_only.code, JwtError::NoSigner);
        EXPECT_EQ(keys_only.error, error_for_kid("rsa1"));
        std::string no_kid = jose_test::hmac_token(header("HS256"), kClaims, EVP_sha256(), mac_key);
        EXPECT_EQ(JwtVerifier("", jwks_of({jwk})).verify(no_kid, kNow).code, JwtError::NoSigner);
    }
}

TEST(JwtKeys, Rs256SignedWithTheSecretIsRefusedBesideAJwks) {
    // An RS256 header whose "signature" is an HMAC by the secret: verified as RSA, it fails.
    JwtVerifier v(kSecret, jwks_of({pair("RSA").jwk("k1")}));
    for (const char* kid : {"k1", ""}) {
        std::string token = jose_test::hmac_token(header("RS256", kid), kClaims, EVP_sha256(), kSecret);
        EXPECT_EQ(v.verify(token, kNow).code, JwtError::BadSignature) << kid;
    }
    // EdDSA and ES256 headers on an HMAC too.
    JwtVerifier e(kSecret, jwks_of({pair("Ed25519").jwk("k1"), pair("P-256").jwk("k2")}));
    EXPECT_EQ(e.verify(jose_test::hmac_token(header("EdDSA", "k1"), kClaims, EVP_sha256(), kSecret), kNow).code,
              JwtError::BadSignature);
    EXPECT_EQ(e.verify(jose_test::hmac_token(header("ES256", "k2"), kClaims, EVP_sha256(), kSecret), kNow).code,
              JwtError::BadSignature);
}

TEST(JwtKeys, SecretAndJwksTogether) {
    JwtVerifier v(kSecret, jwks_of({pair("Ed25519").jwk("ed")}));
    EXPECT_TRUE(v.verify(rt::sign_hs256(kClaims, kSecret), kNow).ok);
    EXPECT_TRUE(v.verify(jose_test::token(pair("Ed25519"), "EdDSA", header("EdDSA", "ed"), kClaims), kNow).ok);
    // A JWKS alone refuses HS tokens: it has no oct key.
    JwtVerifier keys_only("", jwks_of({pair("Ed25519").jwk("ed")}));
    EXPECT_EQ(keys_only.verify(rt::sign_hs256(kClaims, kSecret), kNow).code, JwtError::NoSigner);
}

TEST(JwtKeys, OctKeysOfTheJwksVerifyHsTokensByKid) {
    std::string k = "another-secret-of-at-least-32-bytes-long";
    JwtVerifier v(kSecret, jwks_of({"{\"kty\":\"oct\",\"kid\":\"h1\",\"k\":\"" + b64url(k) + "\"}"}));
    EXPECT_TRUE(v.verify(jose_test::hmac_token(header("HS256", "h1"), kClaims, EVP_sha256(), k), kNow).ok);
    EXPECT_TRUE(v.verify(jose_test::hmac_token(header("HS512", "h1"), kClaims, EVP_sha512(), k), kNow).ok);
    // The kid chooses the key: the secret does not verify a token naming h1.
    EXPECT_EQ(v.verify(jose_test::hmac_token(header("HS256", "h1"), kClaims, EVP_sha256(), kSecret), kNow).code,
              JwtError::BadSignature);
    // Without a kid, or with one naming no key, the secret does.
    EXPECT_TRUE(v.verify(jose_test::hmac_token(header("HS256", "h2"), kClaims, EVP_sha256(), kSecret), kNow).ok);
    EXPECT_TRUE(v.verify(jose_test::hmac_token(header("HS256"), kClaims, EVP_sha256(), kSecret), kNow).ok);
    // Without a secret, the only oct key verifies a token without kid.
    JwtVerifier oct_only("", jwks_of({"{\"kty\":\"oct\",\"k\":\"" + b64url(k) + "\"}"}));
    EXPECT_TRUE(oct_only.verify(jose_test::hmac_token(header("HS256"), kClaims, EVP_sha256(), k), kNow).ok);
}

TEST(JwtKeys, SetJwksRotatesTheKeys) {
    KeyPair old_key("Ed25519"), new_key("Ed25519");
    JwtVerifier v("", jwks_of({old_key.jwk("2024")}));
    std::string old_token = jose_test::token(old_key, "EdDSA", header("EdDSA", "2024"), kClaims);
    std::string new_token = jose_test::token(new_key, "EdDSA", header("EdDSA", "2025"), kClaims);
    EXPECT_TRUE(v.verify(old_token, kNow).ok);
    EXPECT_EQ(v.verify(new_token, kNow).code, JwtError::NoSigner);
    v.set_jwks(jwks_of({new_key.jwk("2025")}));
    EXPECT_TRUE(v.verify(new_token, kNow).ok);
    EXPECT_EQ(v.verify(old_token, kNow).code, JwtError::NoSigner);
}

TEST(JwtKeys, NoKeysAtAllRefuseEveryToken) {
    JwtVerifier v("");
    EXPECT_EQ(v.verify(rt::sign_hs256(kClaims, kSecret), kNow).code, JwtError::NoSigner);
    EXPECT_EQ(v.verify(jose_test::token(pair("RSA"), "RS256", header("RS256", "k1"), kClaims), kNow).code,
              JwtError::NoSigner);
}

TEST(JwtKeys, StillSignedWhileTheSameKeyIsInTheSet) {
    KeyPair a("Ed25519"), b("Ed25519");
    JwtVerifier v(kSecret, jwks_of({a.jwk("a"), b.jwk("b")}));
    JwtResult by_a = v.verify(jose_test::token(a, "EdDSA", header("EdDSA", "a"), kClaims), kNow);
    JwtResult by_secret = v.verify(rt::sign_hs256(kClaims, kSecret), kNow);
    ASSERT_TRUE(by_a.ok && by_secret.ok);
    EXPECT_EQ(by_a.claims.kid, std::optional<std::string>("a"));
    EXPECT_FALSE(by_a.claims.key_id.empty());
    EXPECT_TRUE(by_secret.claims.key_id.empty());
    EXPECT_EQ(by_secret.claims.kid, std::nullopt);

    v.set_jwks(jwks_of({b.jwk("b"), a.jwk("a")}));  // the file re-read: the same keys
    EXPECT_TRUE(v.still_signed(by_a.claims));
    v.set_jwks(jwks_of({a.jwk("renamed"), b.jwk("b")}));  // a's tokens name "a": gone
    EXPECT_FALSE(v.still_signed(by_a.claims));
    v.set_jwks(jwks_of({a.jwk("a", R"("alg":"EdDSA")")}));  // pinned to its alg: another key entry
    EXPECT_FALSE(v.still_signed(by_a.claims));
    v.set_jwks(jwks_of({b.jwk("b")}));
    EXPECT_FALSE(v.still_signed(by_a.claims));
    EXPECT_TRUE(v.still_signed(by_secret.claims)) << "the secret changes only with a restart";
    EXPECT_EQ(JwtVerifier::no_signer(by_a.claims.kid), error_for_kid("a"));
    EXPECT_EQ(JwtVerifier::no_signer(std::nullopt), rt::errors::kJwtNoSigner);
}
