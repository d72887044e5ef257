// The admin credential check.
#include "relay/inspector/admin_auth.h"

#include <openssl/crypto.h>

#include "relay/io/http_api.h"

namespace rt::inspector {

bool AdminAuth::admits(std::string_view authorization, int64_t now_s) const {
    std::string_view credential = bearer_credential(authorization);  // never the apikey header
    if (credential.empty()) return false;
    // Compared in constant time, so the answer's timing tells nothing of the token.
    if (!token_.empty() && credential.size() == token_.size() &&
        CRYPTO_memcmp(credential.data(), token_.data(), token_.size()) == 0)
        return true;
    if (role_.empty()) return false;
    JwtResult r = auth_.verify(credential, now_s);
    return r.ok && r.claims.role == role_;
}

}  // namespace rt::inspector
