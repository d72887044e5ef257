// Owns: the OpenSSL calls: base64 (standard and URL-safe), SHA-1 for the WebSocket
// accept key and HMAC-SHA256 for signing JWTs.
#pragma once
#include <string>
#include <string_view>

namespace lg::crypto {

std::string base64(std::string_view data);
std::string base64url(std::string_view data);  // no padding
std::string sha1(std::string_view data);       // 20 raw bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes

}  // namespace lg::crypto
