// Owns: addresses and sockets: parsing ws:// and http:// URLs, resolving them once at
// start, choosing 127.0.0.x source addresses (past ~28 000 connections one source
// address runs out of ephemeral ports towards one server port), and opening a
// non-blocking TCP connection bound to a source address.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lg {

struct Url {
    std::string scheme;  // ws or http
    std::string host;
    uint16_t port = 0;
    std::string target;  // path and query, at least "/"
    std::string host_header() const;
};

bool parse_url(const std::string& text, Url* out, std::string* err);
bool resolve_ipv4(const std::string& host, uint16_t port, sockaddr_in* out, std::string* err);

// Source addresses for outgoing connections: none (kernel's choice) or a list used
// round-robin by connection index. Spec: "none", "auto", "A,B,C" or a range "127.0.0.2-127.0.0.9".
class SourceAddrs {
public:
    bool parse(const std::string& spec, std::string* err);
    // With "auto", picks enough 127.0.0.x addresses for `connections` when the target
    // is a loopback address; otherwise leaves the kernel's choice.
    void resolve_auto(size_t connections, const sockaddr_in& target);
    const sockaddr_in* pick(size_t index) const;
    size_t size() const { return addrs_.size(); }
    std::string describe() const;

    static constexpr size_t kConnsPerSource = 25000;

private:
    bool auto_ = false;
    std::vector<sockaddr_in> addrs_;
};

// Opens a non-blocking TCP socket (TCP_NODELAY), binds it to src when given, and starts
// connecting to dst. Returns the fd, or -1 with errno_out set.
int tcp_connect_nonblocking(const sockaddr_in& dst, const sockaddr_in* src, int* errno_out);

std::string errno_name(int err);

}  // namespace lg
