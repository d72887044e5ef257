// JWT verification: base64url, HMAC through OpenSSL, claims through rapidjson.
#include "relay/protocol/jwt.h"

#include <openssl/crypto.h>
#include <cstdint>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "relay/core/json.h"

namespace rt {
namespace {

int base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

bool base64url_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        int v = base64url_value(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return bits < 6;  // a lone trailing character carries no whole byte
}

std::string base64url_encode(std::string_view in) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
    return out;
}

const EVP_MD* digest_for(std::string_view alg) {
    if (alg == "HS256") return EVP_sha256();
    if (alg == "HS384") return EVP_sha384();
    if (alg == "HS512") return EVP_sha512();
    return nullptr;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

JwtResult refuse(const char* message) {
    JwtResult r;
    r.error = message;
    return r;
}

}  // namespace

JwtResult JwtVerifier::verify(std::string_view token, int64_t now_s) const {
    if (token.empty()) return refuse(errors::kJwtMissing);
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return refuse(errors::kJwtMalformed);

    std::string header_text, claims_text, signature;
    if (!base64url_decode(token.substr(0, dot1), header_text) ||
        !base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), claims_text) ||
        !base64url_decode(token.substr(dot2 + 1), signature))
        return refuse(errors::kJwtMalformed);

    json::Document header, claims;
    if (!json::parse(header, header_text) || !header.IsObject() || !json::parse(claims, claims_text) ||
        !claims.IsObject())
        return refuse(errors::kJwtMalformed);
    const EVP_MD* md = digest_for(json::string_or(json::member(header, "alg"), ""));
    if (!md) return refuse(errors::kJwtBadSignature);

    std::string expected = hmac(md, secret_, token.substr(0, dot2));
    if (expected.size() != signature.size() ||
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0)
        return refuse(errors::kJwtBadSignature);

    const json::Value* role = json::member(claims, "role");
    const json::Value* exp = json::member(claims, "exp");
    if (!role || !role->IsString() || role->GetStringLength() == 0 || !exp || !exp->IsNumber())
        return refuse(errors::kJwtMissingClaims);

    JwtResult r;
    if (exp->IsInt64()) {
        r.claims.exp = exp->GetInt64();
    } else {
        // Far-future values (1e20, or a uint64) are clamped: converting them is undefined.
        double d = exp->GetDouble();
        r.claims.exp = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : static_cast<int64_t>(d);
    }
    r.claims.role = role->GetString();
    r.claims.sub = std::string(json::string_or(json::member(claims, "sub"), ""));
    r.claims.json = json::stringify(claims);
    if (r.claims.exp <= now_s) {
        r.error = errors::kJwtExpired;  // claims stay filled: callers say how long ago
        return r;
    }
    r.ok = true;
    return r;
}

std::string sign_hs256(std::string_view claims_json, std::string_view secret) {
    std::string signing_input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                                base64url_encode(claims_json);
    return signing_input + "." + base64url_encode(hmac(EVP_sha256(), secret, signing_input));
}

}  // namespace rt
