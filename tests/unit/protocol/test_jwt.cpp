// relay/protocol/jwt: HS256/384/512 verification, Supabase's refusal messages, claims.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "relay/protocol/jwt.h"

using rt::JwtResult;
using rt::JwtVerifier;

namespace {

constexpr const char* kSecret = "super-secret-jwt-token-with-at-least-32-characters";
constexpr int64_t kNow = 1700000000;

std::string b64url(std::string_view in) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(alphabet[(v >> s) & 63]);
    }
    if (in.size() - i == 1) {
        uint32_t v = uint8_t(in[i]) << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
    } else if (in.size() - i == 2) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
    }
    return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

// A token with the given header and claims, signed by md (nullptr: no signature).
std::string make_token(std::string_view header, std::string_view claims, const EVP_MD* md,
                       std::string_view secret = kSecret) {
    std::string input = b64url(header) + "." + b64url(claims);
    return input + "." + (md ? b64url(hmac(md, secret, input)) : "");
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
    JwtResult r = verify(make_token(R"({"alg":"none","typ":"JWT"})", claims(kNow + 60), nullptr));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, rt::errors::kJwtBadSignature);
    EXPECT_TRUE(r.claims.role.empty()) << "claims of an unverified token must not be reported";
}

TEST(Jwt, AlgRs256IsRefused) {
    // An RS256 header with an HMAC made with the secret (the classic algorithm confusion).
    std::string header = R"({"alg":"RS256","typ":"JWT"})";
    std::string input = b64url(header) + "." + b64url(claims(kNow + 60));
    std::string token = input + "." + b64url(hmac(EVP_sha256(), kSecret, input));
    EXPECT_EQ(verify(token).error, rt::errors::kJwtBadSignature);
    EXPECT_EQ(verify(make_token(R"({"typ":"JWT"})", claims(kNow + 60), EVP_sha256())).error, rt::errors::kJwtBadSignature);
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
