// Owns: HS256 JWT signing (see jwt.h).
#include "bench/loadgen/jwt.h"

#include <ctime>

#include "bench/loadgen/crypto_util.h"
#include "bench/loadgen/json_scan.h"

namespace lg {

std::string make_jwt_hs256(const std::string& secret, const std::string& role, int64_t ttl_seconds) {
    int64_t now = int64_t(std::time(nullptr));
    json::Writer claims;
    claims.begin_object();
    claims.key("role").value(role);
    claims.key("iat").value(now);
    claims.key("exp").value(now + ttl_seconds);
    claims.end_object();
    std::string signing = crypto::base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                          crypto::base64url(claims.str());
    return signing + "." + crypto::base64url(crypto::hmac_sha256(secret, signing));
}

}  // namespace lg
