// The mesh's keys, as text (pure: no sockets, no files): CURVE keys in Z85, a peer list
// entry with its public key (tcp://HOST:PORT@KEY), key files' contents, which cluster
// endpoints are loopback ones, and the ZAP handler's decision on a connecting peer.
// The I/O around them (reading the files, the ZAP socket) is in mesh_security.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace rt::cluster {

constexpr size_t kZ85KeyLength = 40;  // a 32-byte CURVE key in Z85

// 40 characters of Z85's alphabet.
bool valid_z85_key(std::string_view text);

// A --peers entry: "tcp://HOST:PORT" or "tcp://HOST:PORT@KEY" (the peer's public key).
struct PeerSpec {
    std::string endpoint;
    std::string key;  // empty: none given
};
bool parse_peer(std::string_view text, PeerSpec& out, std::string& error);

// The keys in a key file's text: one per line; blank lines and comment lines ("#" alone
// or "# ..."; Z85 has '#' but no space) aside. what names the file in errors.
bool parse_keys(std::string_view text, const std::string& what, std::vector<std::string>& keys,
                std::string& error);
// Exactly one key (a node's secret or public key file).
bool parse_one_key(std::string_view text, const std::string& what, std::string& key, std::string& error);

// The text of the files `realtime-relay keygen` writes.
std::string key_file_text(const std::string& what, const std::string& key);

// tcp://127.x.y.z:P, tcp://localhost:P, tcp://[::1]:P: a mesh only this machine reaches.
bool is_loopback_endpoint(std::string_view endpoint);

// A secret key file's permissions (st_mode): no access for group or others.
bool secret_mode_ok(unsigned mode);

// A ZAP request (RFC 27) as the handler read it; client_key in Z85 (CURVE only).
struct ZapRequest {
    std::string version;
    std::string request_id;
    std::string domain;
    std::string address;
    std::string mechanism;
    std::string client_key;
};
struct ZapReply {
    std::string status_code;  // "200" admitted, "400" refused, "500" unreadable request
    std::string status_text;
    std::string user_id;      // the admitted peer's public key
    bool admitted() const { return status_code == "200"; }
};
// Only CURVE peers whose public key is trusted get in.
ZapReply zap_decide(const ZapRequest& r, const std::unordered_set<std::string>& trusted);

}  // namespace rt::cluster
