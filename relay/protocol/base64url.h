// base64url without padding (RFC 4648 section 5), as JOSE writes every binary value:
// the three parts of a JWT and the members of a JWK; and plain base64 (section 4, padded),
// as Postgres' encode(..., 'base64') writes the binary payloads of broadcasts from the
// database. Pure logic.
#pragma once

#include <string>
#include <string_view>

namespace rt::base64url {

// Decodes in into out. False for a character outside the alphabet, padding ('='), or a
// length no encoding has (4k+1): JOSE never pads, so a padded part is not a JWS.
bool decode(std::string_view in, std::string& out);

std::string encode(std::string_view in);

// Plain base64 (+ and /), padded with '=' to a multiple of 4; false for anything else.
bool decode_padded(std::string_view in, std::string& out);

}  // namespace rt::base64url
