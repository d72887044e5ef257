// relay/protocol/jwt: HS256/384/512 verification, Supabase's refusal messages, claims
// (nbf, repeated member names). Asymmetric keys are in test_jwt_keys.cpp.
#include <gtest/gtest.h>

#include <string>

#include "jose_fixtures.h"
#include "relay/protocol/jwt.h"

using jose_test::b64url;
using jose_test::hmac;
using rt::JwtError;
using rt::JwtResult;
using rt::JwtVerifier;

namespace {

constexpr const char* kSecret = "super-secret-jwt-token-with-at-least-32-characters";
constexpr int64_t kNow = 1700000000;

// A token with the given header and claims, signed by md (nullptr: no signature).
std::string make_token(std::string_view header, std::string_view claims, const EVP_MD* md,
                       std::string_view secret = kSecret) {
    return jose_test::hmac_token(header, claims, md, secret);
}

std::string claims(int64_t exp, std::string_view role = "authenticated", std::string_view sub = "user-1") {
    return "{\"sub\":\"" + std::string(sub) + "\",\"role\":\"" + std::string(role) +
           "\",\"exp\":" + std::to_string(exp) + "}";
}

JwtResult verify(std::string_view token, int64_t now = kNow) { return JwtVerifier(kSecret).verify(token, now); }

}  // namespace

TEST(Jwt, ValidHs256TokenFromSignHs256) {
    std::string token = rt::sign_hs256(claims(kNow + 3600), kSecret);
    JwtResult r = verify(token);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.claims.role, "authenticated");
    EXPECT_EQ(r.claims.sub, "user-1");
    EXPECT_EQ(r.claims.exp, kNow + 3600);
    EXPECT_EQ(r.claims.json, claims(kNow + 3600));
}

TEST(Jwt, SignHs256MatchesAnIndependentHmac) {
    std::string c = claims(kNow + 60);
    std::string expected = make_token(R"({"alg":"HS256","typ":"JWT"})", c, EVP_sha256());
    EXPECT_EQ(rt::sign_hs256(c, kSecret), expected);
}

TEST(Jwt, ValidHs384Token) {
    JwtResult r = verify(make_token(R"({"alg":"HS384","typ":"JWT"})", claims(kNow + 10, "anon"), EVP_sha384()));
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.role, "anon");
}

TEST(Jwt, ValidHs512Token) {
    JwtResult r = verify(make_token(R"({"alg":"HS512","typ":"JWT"})", claims(kNow + 10, "service_role"), EVP_sha512()));
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.role, "service_role");
}

TEST(Jwt, ClaimsJsonIsCompactAndSubOptional) {
    JwtResult r = verify(make_token(R"({"alg":"HS256"})", "{ \"role\" : \"anon\" , \"exp\" : 1700000500 }",
                                    EVP_sha256()));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.json, R"({"role":"anon","exp":1700000500})");
    EXPECT_EQ(r.claims.sub, "");
}

TEST(Jwt, MissingToken) {
    JwtResult r = verify("");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::kJwtMissing);
}

TEST(Jwt, WrongNumberOfPartsIsMalformed) {
    std::string token = rt::sign_hs256(claims(kNow + 60), kSecret);
    std::string two_parts = token.substr(0, token.rfind('.'));
    EXPECT_EQ(verify(two_parts).error, rt::errors::kJwtMalformed);
    EXPECT_EQ(verify(token + ".extra").error, rt::errors::kJwtMalformed);
    EXPECT_EQ(verify("no-dots-at-all").error, rt::errors::kJwtMalformed);
    EXPECT_FALSE(verify(two_parts).ok);
}

TEST(Jwt, BadBase64IsMalformed) {
    std::string token = rt::sign_hs256(claims(kNow + 60), kSecret);
    std::string bad = token;
    bad[3] = '*';  // not base64url
    EXPECT_EQ(verify(bad).error, rt::errors::kJwtMalformed);
    std::string plus = token;
    plus[token.find('.') + 2] = '+';  // standard base64, not base64url
    EXPECT_EQ(verify(plus).error, rt::errors::kJwtMalformed);
}

TEST(Jwt, NonJsonHeaderOrClaimsIsMalformed) {
    EXPECT_EQ(verify(make_token("not json", claims(kNow + 60), EVP_sha256())).error, rt::errors::kJwtMalformed);
    EXPECT_EQ(verify(make_token(R"({"alg":"HS256"})", "not json", EVP_sha256())).error, rt::errors::kJwtMalformed);
    EXPECT_EQ(verify(make_token(R"({"alg":"HS256"})", "[1,2]", EVP_sha256())).error, rt::errors::kJwtMalformed);
    EXPECT_EQ(verify(make_token(R"("HS256")", claims(kNow + 60), EVP_sha256())).error, rt::errors::kJwtMalformed);
}

TEST(Jwt, ForgedSignatureIsRefused) {
    std::string forged = rt::sign_hs256(claims(kNow + 60), "another-secret");
    JwtResult r = verify(forged);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::kJwtBadSignature);
}

TEST(Jwt, TamperedClaimsAreRefused) {
    std::string token = rt::sign_hs256(claims(kNow + 60, "anon"), kSecret);
    size_t dot1 = token.find('.'), dot2 = token.rfind('.');
    std::string tampered =
        token.substr(0, dot1 + 1) + b64url(claims(kNow + 60, "service_role")) + token.substr(dot2);
    EXPECT_EQ(verify(tampered).error, rt::errors::kJwtBadSignature);
}

TEST(Jwt, TruncatedSignatureIsRefused) {
    std::string token = rt::sign_hs256(claims(kNow + 60), kSecret);
    EXPECT_FALSE(verify(token.substr(0, token.size() - 4)).ok);
    EXPECT_EQ(verify(token.substr(0, token.rfind('.') + 1)).error, rt::errors::kJwtBadSignature);  // empty signature
}

TEST(Jwt, AlgNoneIsRefused) {
    for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
        std::string header = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
        JwtResult r = verify(make_token(header, claims(kNow + 60), nullptr));
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.code, JwtError::NoSigner) << alg;
        EXPECT_EQ(r.error, rt::errors::kJwtNoSigner);
        EXPECT_TRUE(r.claims.role.empty()) << "claims of an unverified token must not be reported";
        // Nor does a signature made with the secret make it acceptable.
        EXPECT_EQ(verify(make_token(header, claims(kNow + 60), EVP_sha256())).code, JwtError::NoSigner);
    }
}

TEST(Jwt, AlgRs256WithOnlyASecretIsRefused) {
    // An RS256 header with an HMAC made with the secret (the classic algorithm confusion):
    // without a JWKS there is no RSA key, and the secret never verifies an RS256 token.
    std::string header = R"({"alg":"RS256","typ":"JWT"})";
    std::string input = b64url(header) + "." + b64url(claims(kNow + 60));
    std::string token = input + "." + b64url(hmac(EVP_sha256(), kSecret, input));
    JwtResult r = verify(token);
    EXPECT_EQ(r.code, JwtError::NoSigner);
    EXPECT_EQ(r.error, rt::errors::kJwtNoSigner);
    std::string with_kid = make_token(R"({"alg":"RS256","kid":"k1"})", claims(kNow + 60), EVP_sha256());
    EXPECT_EQ(verify(with_kid).error,
              "Failed to generate JWT signer for key ID (kid) \"k1\", check your JWT secret or JWKS configuration");
    EXPECT_EQ(verify(make_token(R"({"typ":"JWT"})", claims(kNow + 60), EVP_sha256())).code, JwtError::NoSigner);
    EXPECT_EQ(verify(make_token(R"({"alg":7})", claims(kNow + 60), EVP_sha256())).code, JwtError::NoSigner);
}

TEST(Jwt, EmptySecretVerifiesNothing) {
    // A token MACed with the empty key would pass an HMAC with an empty secret.
    std::string token = make_token(R"({"alg":"HS256"})", claims(kNow + 60), EVP_sha256(), "");
    JwtResult r = JwtVerifier("").verify(token, kNow);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, JwtError::NoSigner);
    EXPECT_EQ(JwtVerifier("").verify(rt::sign_hs256(claims(kNow + 60), kSecret), kNow).code, JwtError::NoSigner);
}

TEST(Jwt, HeaderAlgMustMatchTheSignature) {
    // Claims HS512 but signed with HS256.
    EXPECT_EQ(verify(make_token(R"({"alg":"HS512"})", claims(kNow + 60), EVP_sha256())).error, rt::errors::kJwtBadSignature);
}

TEST(Jwt, MissingRoleOrExp) {
    EXPECT_EQ(verify(rt::sign_hs256(R"({"exp":1700000100})", kSecret)).error, rt::errors::kJwtMissingClaims);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon"})", kSecret)).error, rt::errors::kJwtMissingClaims);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"","exp":1700000100})", kSecret)).error, rt::errors::kJwtMissingClaims);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":7,"exp":1700000100})", kSecret)).error, rt::errors::kJwtMissingClaims);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":"1700000100"})", kSecret)).error,
              rt::errors::kJwtMissingClaims);
    EXPECT_FALSE(verify(rt::sign_hs256(R"({"role":"anon"})", kSecret)).ok);
}

TEST(Jwt, ExpiredTokenKeepsItsClaims) {
    JwtResult r = verify(rt::sign_hs256(claims(kNow - 30, "anon", "u9"), kSecret));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::kJwtExpired);
    EXPECT_EQ(r.claims.exp, kNow - 30);
    EXPECT_EQ(r.claims.role, "anon");
    EXPECT_EQ(r.claims.sub, "u9");
}

TEST(Jwt, ExpEqualToNowIsExpired) {
    EXPECT_EQ(verify(rt::sign_hs256(claims(kNow), kSecret)).error, rt::errors::kJwtExpired);
    EXPECT_TRUE(verify(rt::sign_hs256(claims(kNow + 1), kSecret)).ok);
}

TEST(Jwt, ExpAsFloat) {
    JwtResult r = verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100.75})", kSecret));
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.exp, 1700000100);
    JwtResult past = verify(rt::sign_hs256(R"({"role":"anon","exp":1699999999.5})", kSecret));
    EXPECT_EQ(past.error, rt::errors::kJwtExpired);
}

TEST(Jwt, SecretMatters) {
    std::string token = rt::sign_hs256(claims(kNow + 60), kSecret);
    EXPECT_TRUE(JwtVerifier(kSecret).verify(token, kNow).ok);
    EXPECT_EQ(JwtVerifier("other").verify(token, kNow).error, rt::errors::kJwtBadSignature);
}

TEST(Jwt, NbfInTheFutureIsRefusedWithHowLong) {
    JwtResult r = verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"nbf":1700000030})", kSecret));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, JwtError::NotYetValid);
    EXPECT_EQ(r.error, "Token is not valid yet: its nbf is 30 seconds in the future");
    EXPECT_EQ(r.claims.role, "anon") << "the signature held: the claims are reported";
    EXPECT_TRUE(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"nbf":1700000000})", kSecret)).ok)
        << "nbf == now is valid";
    EXPECT_TRUE(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"nbf":1600000000.5})", kSecret)).ok);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"nbf":1e300})", kSecret)).code,
              JwtError::NotYetValid);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"nbf":"1600000000"})", kSecret)).code,
              JwtError::Malformed);
}

TEST(Jwt, IatMustBeANumber) {
    EXPECT_TRUE(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"iat":1699999000.5})", kSecret)).ok);
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"iat":"1699999000"})", kSecret)).code,
              JwtError::Malformed);
}

TEST(Jwt, RepeatedClaimNamesAreMalformed) {
    // rapidjson would read the first role, Postgres' jsonb the last.
    std::string twice = R"({"role":"anon","exp":1700000100,"role":"service_role"})";
    JwtResult r = verify(rt::sign_hs256(twice, kSecret));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, JwtError::Malformed);
    EXPECT_EQ(r.error, rt::errors::kJwtMalformed);
    EXPECT_TRUE(r.claims.role.empty());
    // Spelled differently, the same name.
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"r\u006fle":"x"})", kSecret)).code,
              JwtError::Malformed);
    // At any depth: policies read nested claims too (auth.jwt() -> 'app_metadata').
    EXPECT_EQ(verify(rt::sign_hs256(R"({"role":"anon","exp":1700000100,"app_metadata":{"org":1,"org":2}})", kSecret))
                  .code,
              JwtError::Malformed);
    // The same name in different objects is fine.
    JwtResult ok = verify(rt::sign_hs256(
        R"({"role":"anon","exp":1700000100,"a":{"role":1},"b":[{"x":1},{"x":2}],"c":{"d":{"x":1},"x":2}})", kSecret));
    EXPECT_TRUE(ok.ok) << ok.error;
}

TEST(Jwt, RepeatedHeaderNamesAreMalformed) {
    std::string token = make_token(R"({"alg":"HS256","alg":"none"})", claims(kNow + 60), EVP_sha256());
    EXPECT_EQ(verify(token).code, JwtError::Malformed);
    token = make_token(R"({"alg":"HS256","kid":"a","kid":"b"})", claims(kNow + 60), EVP_sha256());
    EXPECT_EQ(verify(token).code, JwtError::Malformed);
}

TEST(Jwt, KidMustBeAString) {
    EXPECT_EQ(verify(make_token(R"({"alg":"HS256","kid":1})", claims(kNow + 60), EVP_sha256())).code,
              JwtError::Malformed);
    // A string kid naming no key: an HS token falls back to the secret, as Supabase's does.
    EXPECT_TRUE(verify(make_token(R"({"alg":"HS256","kid":"legacy"})", claims(kNow + 60), EVP_sha256())).ok);
}

TEST(Jwt, PaddedPartsAreMalformed) {
    std::string token = rt::sign_hs256(claims(kNow + 60), kSecret);
    std::string padded = token.substr(0, token.find('.')) + "=" + token.substr(token.find('.'));
    EXPECT_EQ(verify(padded).code, JwtError::Malformed);
}

// A refreshed token differs from the one it replaces in exp, iat, nbf and jti only: the
// same grant. Any other claim, a nested exp, or a member more or less is not.
TEST(Jwt, SameGrantIgnoresOnlyTheTimeClaims) {
    const std::string old = R"({"role":"authenticated","sub":"u","org_id":"acme","exp":100,"iat":40,"jti":"a"})";
    EXPECT_TRUE(rt::same_grant(old, R"({"iat":90,"exp":200.0,"nbf":90,"jti":"b","sub":"u","role":"authenticated","org_id":"acme"})"));
    EXPECT_TRUE(rt::same_grant(old, R"({"role":"authenticated","sub":"u","org_id":"acme","exp":200})"));
    EXPECT_FALSE(rt::same_grant(old, R"({"role":"authenticated","sub":"u","org_id":"globex","exp":200})"));
    EXPECT_FALSE(rt::same_grant(old, R"({"role":"authenticated","sub":"u","exp":200})")) << "org_id gone";
    EXPECT_FALSE(rt::same_grant(old, R"({"role":"authenticated","sub":"u","org_id":"acme","aal":"aal2","exp":200})"));
    EXPECT_FALSE(rt::same_grant(R"({"role":"r","app_metadata":{"exp":1}})", R"({"role":"r","app_metadata":{"exp":2}})"));
}
