// The mesh's keys as text, and the ZAP decision (see mesh_keys.h).
#include "cluster/mesh_keys.h"

#include <algorithm>

namespace rt::cluster {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool comment(std::string_view line) { return line == "#" || line.rfind("# ", 0) == 0 || line.rfind("#\t", 0) == 0; }

}  // namespace

bool valid_z85_key(std::string_view text) {
    return text.size() == kZ85KeyLength &&
           std::all_of(text.begin(), text.end(), [](char c) { return kZ85Alphabet.find(c) != std::string_view::npos; });
}

// Hosts have no '@': the first one ends the endpoint (keys may hold '@').
bool parse_peer(std::string_view text, PeerSpec& out, std::string& error) {
    text = trim(text);
    size_t at = text.find('@');
    out.endpoint = std::string(text.substr(0, at));
    out.key = at == std::string_view::npos ? "" : std::string(text.substr(at + 1));
    if (out.endpoint.rfind("tcp://", 0) != 0 || out.endpoint.size() <= 6) {
        error = "--peers entries must look like tcp://HOST:PORT or tcp://HOST:PORT@PUBLIC_KEY, got '" +
                std::string(text) + "'";
        return false;
    }
    if (at != std::string_view::npos && !valid_z85_key(out.key)) {
        error = "the public key of peer " + out.endpoint + " is not a CURVE key (40 Z85 characters, as " +
                "realtime-relay keygen writes in NAME.pub)";
        return false;
    }
    return true;
}

bool parse_keys(std::string_view text, const std::string& what, std::vector<std::string>& keys, std::string& error) {
    int line_no = 0;
    while (!text.empty() || line_no == 0) {
        ++line_no;
        size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || comment(line)) continue;
        if (!valid_z85_key(line)) {
            error = what + ", line " + std::to_string(line_no) + ": not a CURVE key (40 Z85 characters)";
            return false;
        }
        keys.emplace_back(line);
    }
    return true;
}

bool parse_one_key(std::string_view text, const std::string& what, std::string& key, std::string& error) {
    std::vector<std::string> keys;
    if (!parse_keys(text, what, keys, error)) return false;
    if (keys.size() != 1) {
        error = what + ": expected one CURVE key, found " + std::to_string(keys.size());
        return false;
    }
    key = keys[0];
    return true;
}

std::string key_file_text(const std::string& what, const std::string& key) {
    return "# " + what + " (realtime-relay keygen)\n" + key + "\n";
}

bool is_loopback_endpoint(std::string_view endpoint) {
    if (endpoint.rfind("tcp://", 0) != 0) return false;
    std::string_view rest = endpoint.substr(6);
    size_t colon = rest.rfind(':');
    std::string_view host = rest.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return host == "localhost" || host == "::1" || (host.rfind("127.", 0) == 0 && host.size() > 4);
}

bool secret_mode_ok(unsigned mode) { return (mode & 077) == 0; }

ZapReply zap_decide(const ZapRequest& r, const std::unordered_set<std::string>& trusted) {
    if (r.version != "1.0") return {"500", "unsupported ZAP version", ""};
    if (r.mechanism != "CURVE") return {"400", "the mesh admits CURVE peers only", ""};
    if (!valid_z85_key(r.client_key)) return {"400", "no client key", ""};
    if (!trusted.count(r.client_key)) return {"400", "unknown public key", ""};
    return {"200", "OK", r.client_key};
}

}  // namespace rt::cluster
