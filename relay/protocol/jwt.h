// JWT (HS256/384/512) verification as Supabase Realtime does it: structure, signature,
// then the `role` and `exp` claims. Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "relay/protocol/errors.h"

namespace rt {

struct Claims {
    std::string json;   // the claims object, compact JSON
    std::string role;
    std::string sub;    // empty when absent
    int64_t exp = 0;    // seconds since the epoch
};

struct JwtResult {
    bool ok = false;
    std::string error;  // Supabase's message when !ok (errors::kJwt*)
    Claims claims;      // also filled for an expired but otherwise valid token
};

class JwtVerifier {
public:
    explicit JwtVerifier(std::string secret) : secret_(std::move(secret)) {}
    JwtResult verify(std::string_view token, int64_t now_s) const;

private:
    std::string secret_;
};

// Signs claims_json with HS256 (tokens for the quick start, tests and benchmarks).
std::string sign_hs256(std::string_view claims_json, std::string_view secret);

}  // namespace rt
