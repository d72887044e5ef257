// Fuzz target: the JWT verifier. Mode 0: the text is a token. Mode 1: the text is a
// claims object, signed with the verifier's secret, so the claim checks are reached.
// Mode 2: the text is a JWKS document. A token verified by the secret must name a role.
#include "fuzz_input.h"
#include "relay/protocol/jwks.h"
#include "relay/protocol/jwt.h"

using namespace rt;

namespace {
constexpr const char* kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";
constexpr int64_t kNow = 1'700'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in = fuzz::split(data, size);
    static const JwtVerifier verifier(kSecret);
    switch (in.mode % 3) {
        case 0: {
            JwtResult r = verifier.verify(in.text, kNow);
            fuzz::require(r.ok || !r.error.empty());
            break;
        }
        case 1: {
            JwtResult r = verifier.verify(sign_hs256(in.text, kSecret), kNow);
            fuzz::require(!r.ok || (!r.claims.role.empty() && r.claims.exp > kNow));
            fuzz::require(r.ok || !r.error.empty());
            break;
        }
        default: {
            Jwks jwks;
            std::vector<std::string> notes;
            std::string error;
            if (parse_jwks(in.text, jwks, notes, error)) {
                fuzz::require(!jwks.keys.empty());
            } else {
                fuzz::require(!error.empty());
            }
            break;
        }
    }
    return 0;
}
