// The admin credential check.
#include "relay/inspector/admin_auth.h"

#include <openssl/crypto.h>

namespace rt::inspector {

bool AdminAuth::admits(std::string_view authorization, int64_t now_s) const {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() <= kBearer.size()) return false;
    std::string_view scheme = authorization.substr(0, kBearer.size());
    if (scheme != kBearer && scheme != "bearer ") return false;
    std::string_view credential = authorization.substr(kBearer.size());
    // Compared in constant time, so the answer's timing tells nothing of the token.
    if (!token_.empty() && credential.size() == token_.size() &&
        CRYPTO_memcmp(credential.data(), token_.data(), token_.size()) == 0)
        return true;
    if (role_.empty()) return false;
    JwtResult r = auth_.verify(credential, now_s);
    return r.ok && r.claims.role == role_;
}

}  // namespace rt::inspector
