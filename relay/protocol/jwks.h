// A JWKS document (RFC 7517 section 5) as the relay uses it: the signature keys it holds,
// each parsed once into a JwsKey, and the choice of a key for a token. Pure logic; the
// file it comes from is read and watched by relay/io/jwks_file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "relay/protocol/jws_key.h"

namespace rt {

struct Jwks {
    std::vector<std::unique_ptr<JwsKey>> keys;

    // The key named kid that may verify alg (its type, and its "alg" when it has one),
    // or nullptr.
    const JwsKey* by_kid(std::string_view kid, const JwsAlg& alg) const;
    // For a token without kid: the one key that may verify alg, or nullptr when none or
    // several may (which one was meant is not known).
    const JwsKey* only(const JwsAlg& alg) const;
};

// Whether key may verify tokens of alg.
bool key_fits(const JwsKey& key, const JwsAlg& alg);

// Parses a JWKS document into out. Keys the relay cannot use are left out, each with a
// line in notes (another kty or curve, "use" other than "sig", "key_ops" without
// "verify", an "alg" that does not fit its type, bad key material); private members
// ("d", ...) are ignored, with a note. False with error when the text is not a JWKS,
// holds no usable key, or two usable keys of one type share a kid.
bool parse_jwks(std::string_view text, Jwks& out, std::vector<std::string>& notes, std::string& error);

}  // namespace rt
