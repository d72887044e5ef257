// base64url without padding (RFC 4648 section 5), as JOSE writes every binary value:
// the three parts of a JWT and the members of a JWK. Pure logic.
#pragma once

#include <string>
#include <string_view>

namespace rt::base64url {

// Decodes in into out. False for a character outside the alphabet, padding ('='), or a
// length no encoding has (4k+1): JOSE never pads, so a padded part is not a JWS.
bool decode(std::string_view in, std::string& out);

std::string encode(std::string_view in);

}  // namespace rt::base64url
