// Owns: minting the HS256 JWT the relay expects (claims `role`, `exp`, `iat`), for
// --jwt-secret; --token passes a ready token instead.
#pragma once
#include <cstdint>
#include <string>

namespace lg {

std::string make_jwt_hs256(const std::string& secret, const std::string& role, int64_t ttl_seconds);

}  // namespace lg
