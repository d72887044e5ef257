// Owns: URL parsing, resolution, source address choice and non-blocking connect.
#include "bench/loadgen/net_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace lg {

std::string Url::host_header() const {
    bool default_port = (scheme == "ws" || scheme == "http") && port == 80;
    return default_port ? host : host + ":" + std::to_string(port);
}

bool parse_url(const std::string& text, Url* out, std::string* err) {
    auto sep = text.find("://");
    if (sep == std::string::npos) {
        *err = "URL without scheme: " + text;
        return false;
    }
    out->scheme = text.substr(0, sep);
    if (out->scheme != "ws" && out->scheme != "http") {
        *err = "unsupported scheme (ws:// or http:// only): " + text;
        return false;
    }
    std::string rest = text.substr(sep + 3);
    auto slash = rest.find('/');
    std::string hostport = slash == std::string::npos ? rest : rest.substr(0, slash);
    out->target = slash == std::string::npos ? "/" : rest.substr(slash);
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) {
        out->host = hostport;
        out->port = 80;
    } else {
        out->host = hostport.substr(0, colon);
        long p = std::strtol(hostport.c_str() + colon + 1, nullptr, 10);
        if (p <= 0 || p > 65535) {
            *err = "bad port in URL: " + text;
            return false;
        }
        out->port = uint16_t(p);
    }
    if (out->host.empty()) {
        *err = "URL without host: " + text;
        return false;
    }
    return true;
}

bool resolve_ipv4(const std::string& host, uint16_t port, sockaddr_in* out, std::string* err) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || !res) {
        *err = "cannot resolve " + host + ": " + gai_strerror(rc);
        return false;
    }
    *out = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
    out->sin_port = htons(port);
    freeaddrinfo(res);
    return true;
}

static bool parse_ipv4(const std::string& s, sockaddr_in* out) {
    std::memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    return inet_pton(AF_INET, s.c_str(), &out->sin_addr) == 1;
}

bool SourceAddrs::parse(const std::string& spec, std::string* err) {
    addrs_.clear();
    auto_ = false;
    if (spec.empty() || spec == "none") return true;
    if (spec == "auto") {
        auto_ = true;
        return true;
    }
    auto dash = spec.find('-');
    if (dash != std::string::npos) {
        sockaddr_in a, b;
        if (!parse_ipv4(spec.substr(0, dash), &a) || !parse_ipv4(spec.substr(dash + 1), &b)) {
            *err = "bad source address range: " + spec;
            return false;
        }
        uint32_t lo = ntohl(a.sin_addr.s_addr), hi = ntohl(b.sin_addr.s_addr);
        if (hi < lo || hi - lo > 255) {
            *err = "source address range must be increasing and at most 256 long: " + spec;
            return false;
        }
        for (uint32_t v = lo; v <= hi; v++) {
            sockaddr_in s = a;
            s.sin_addr.s_addr = htonl(v);
            addrs_.push_back(s);
        }
        return true;
    }
    size_t pos = 0;
    while (pos <= spec.size()) {
        auto comma = spec.find(',', pos);
        std::string one = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        sockaddr_in s;
        if (!parse_ipv4(one, &s)) {
            *err = "bad source address: " + one;
            return false;
        }
        addrs_.push_back(s);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return true;
}

void SourceAddrs::resolve_auto(size_t connections, const sockaddr_in& target) {
    if (!auto_) return;
    auto_ = false;
    uint32_t t = ntohl(target.sin_addr.s_addr);
    bool loopback = (t >> 24) == 127;
    if (!loopback || connections <= kConnsPerSource) return;
    size_t n = (connections + kConnsPerSource - 1) / kConnsPerSource;
    for (size_t i = 0; i < n; i++) {
        sockaddr_in s{};
        s.sin_family = AF_INET;
        s.sin_addr.s_addr = htonl((127u << 24) | uint32_t(10 + i));  // 127.0.0.10, .11, ...
        addrs_.push_back(s);
    }
}

const sockaddr_in* SourceAddrs::pick(size_t index) const {
    if (addrs_.empty()) return nullptr;
    return &addrs_[index % addrs_.size()];
}

std::string SourceAddrs::describe() const {
    if (addrs_.empty()) return "kernel";
    std::string out;
    for (auto& a : addrs_) {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
        if (!out.empty()) out += ",";
        out += buf;
    }
    return out;
}

int tcp_connect_nonblocking(const sockaddr_in& dst, const sockaddr_in* src, int* errno_out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errno_out = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        // let connect() pick the port per destination, so each source address gets
        // the whole ephemeral range towards the server
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in s = *src;
        s.sin_port = 0;
        if (bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) {
            *errno_out = errno;
            close(fd);
            return -1;
        }
    }
    int rc = connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
    if (rc != 0 && errno != EINPROGRESS) {
        *errno_out = errno;
        close(fd);
        return -1;
    }
    return fd;
}

std::string errno_name(int err) {
    switch (err) {
        case ECONNREFUSED: return "ECONNREFUSED";
        case ECONNRESET: return "ECONNRESET";
        case ETIMEDOUT: return "ETIMEDOUT";
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
        case EADDRINUSE: return "EADDRINUSE";
        case EMFILE: return "EMFILE";
        case ENFILE: return "ENFILE";
        case EPIPE: return "EPIPE";
        case ENETUNREACH: return "ENETUNREACH";
        case EHOSTUNREACH: return "EHOSTUNREACH";
        default: return std::string("errno ") + std::to_string(err) + " (" + std::strerror(err) + ")";
    }
}

}  // namespace lg
