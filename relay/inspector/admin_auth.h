// Who may use the inspector: the bearer of --admin-token, or of a valid JWT whose role
// is --admin-role. Never a client's credential as such: the anon key's role cannot be
// the admin role (config refuses it), and the token is its own secret. Pure logic over
// the relay's one JWT verifier; the clock is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "relay/core/config.h"
#include "relay/hub/auth.h"

namespace rt::inspector {

class AdminAuth {
public:
    AdminAuth(const Config& cfg, const Auth& auth) : token_(cfg.admin_token), role_(cfg.admin_role), auth_(auth) {}

    // Neither flag given: nobody is admitted.
    bool enabled() const { return !token_.empty() || !role_.empty(); }
    // authorization: the request's Authorization header, "Bearer <credential>".
    bool admits(std::string_view authorization, int64_t now_s) const;

private:
    std::string token_;
    std::string role_;
    const Auth& auth_;
};

}  // namespace rt::inspector
