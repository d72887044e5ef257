// Owns: one persistent (keep-alive) HTTP/1.1 client connection that pipelines requests:
// the caller queues whole request bytes, responses come back in order through
// HttpHandler. Used by publishers (nchan's /pub, the relay's /api/broadcast).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/loadgen/event_loop.h"

namespace lg {

class HttpClient;

class HttpHandler {
public:
    virtual ~HttpHandler() = default;
    virtual void on_http_connected(HttpClient& c) {}
    virtual void on_http_response(HttpClient& c, int status, const std::string& body) = 0;
    // The connection ended; `unanswered` requests got no response.
    virtual void on_http_end(HttpClient& c, const std::string& why, int unanswered) = 0;
};

class HttpClient final : public IoHandler {
public:
    HttpClient(EventLoop* loop, HttpHandler* handler) : loop_(loop), handler_(handler) {}
    ~HttpClient() override { abort(); }

    bool connect(const sockaddr_in& dst, const sockaddr_in* src, int* err);
    // Queues one complete request; it is sent as soon as the socket allows.
    void send_request(std::string_view raw);
    void abort();

    bool connected() const { return connected_; }
    bool alive() const { return fd_ >= 0; }
    int in_flight() const { return in_flight_; }
    size_t tx_pending() const { return tx_.size() - tx_off_; }

    void on_io(uint32_t events) override;

private:
    void on_readable();
    void parse_responses();
    void flush();
    void want_writable(bool on);
    void finish(const std::string& why);

    EventLoop* loop_;
    HttpHandler* handler_;
    int fd_ = -1;
    bool connected_ = false;
    bool writable_armed_ = false;
    int in_flight_ = 0;
    std::string tx_;
    size_t tx_off_ = 0;
    std::string rx_;
};

}  // namespace lg

namespace lg {
// Appends a keep-alive POST request with the given body to out.
void append_post(std::string* out, std::string_view host_header, std::string_view target,
                 std::string_view content_type, std::string_view extra_headers, std::string_view body);
}  // namespace lg
