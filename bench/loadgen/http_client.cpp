// Owns: the pipelined keep-alive HTTP client (see http_client.h).
#include "bench/loadgen/http_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "bench/loadgen/http_parse.h"
#include "bench/loadgen/net_util.h"

namespace lg {

bool HttpClient::connect(const sockaddr_in& dst, const sockaddr_in* src, int* err) {
    fd_ = tcp_connect_nonblocking(dst, src, err);
    if (fd_ < 0) return false;
    connected_ = false;
    writable_armed_ = true;
    if (!loop_->add(fd_, EPOLLIN | EPOLLOUT, this)) {
        *err = errno;
        close(fd_);
        fd_ = -1;
        return false;
    }
    return true;
}

void HttpClient::send_request(std::string_view raw) {
    if (fd_ < 0) return;
    in_flight_++;
    tx_.append(raw);
    if (connected_ && !writable_armed_) flush();
}

void HttpClient::on_io(uint32_t events) {
    if (fd_ < 0) return;
    if (!connected_) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
            finish("connect: " + errno_name(soerr));
            return;
        }
        connected_ = true;
        handler_->on_http_connected(*this);
        if (fd_ < 0) return;
        flush();
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable();
        if (fd_ < 0) return;
    }
    if (events & EPOLLOUT) flush();
}

void HttpClient::on_readable() {
    char* buf = loop_->scratch();
    ssize_t n = recv(fd_, buf, loop_->scratch_size(), 0);
    if (n == 0) {
        finish("closed by server");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) finish(errno_name(errno));
        return;
    }
    rx_.append(buf, size_t(n));
    parse_responses();
}

void HttpClient::parse_responses() {
    size_t pos = 0;
    std::string body;
    while (fd_ >= 0 && pos < rx_.size()) {
        std::string_view rest(rx_.data() + pos, rx_.size() - pos);
        http::ResponseHead head;
        auto r = http::parse_head(rest, &head);
        if (r == http::Parse::kNeedMore) break;
        size_t total = 0;
        if (r == http::Parse::kOk) r = http::body_end(rest, head, &total, &body);
        if (r == http::Parse::kNeedMore) break;
        if (r == http::Parse::kInvalid) {
            finish("malformed HTTP response");
            return;
        }
        pos += total;
        if (head.status >= 200) in_flight_--;
        bool close_after = http::header_has_token(head.headers, "Connection", "close");
        handler_->on_http_response(*this, head.status, body);
        if (close_after && fd_ >= 0) {
            finish("server closed the keep-alive connection");
            return;
        }
    }
    if (fd_ >= 0) rx_.erase(0, pos);
}

void HttpClient::flush() {
    while (tx_.size() > tx_off_) {
        ssize_t n = send(fd_, tx_.data() + tx_off_, tx_.size() - tx_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                want_writable(true);
                return;
            }
            if (errno == EINTR) continue;
            // report from the loop: the read side sees the reset
            shutdown(fd_, SHUT_RDWR);
            want_writable(false);
            return;
        }
        tx_off_ += size_t(n);
    }
    tx_.clear();
    tx_off_ = 0;
    want_writable(false);
}

void HttpClient::want_writable(bool on) {
    if (fd_ < 0 || on == writable_armed_) return;
    writable_armed_ = on;
    loop_->mod(fd_, on ? (EPOLLIN | EPOLLOUT) : EPOLLIN, this);
}

void HttpClient::finish(const std::string& why) {
    if (fd_ < 0) return;
    int unanswered = in_flight_;
    abort();
    handler_->on_http_end(*this, why, unanswered);
}

void HttpClient::abort() {
    if (fd_ < 0) return;
    loop_->del(fd_);
    close(fd_);
    fd_ = -1;
    connected_ = false;
    in_flight_ = 0;
    tx_.clear();
    tx_off_ = 0;
    rx_.clear();
}

}  // namespace lg

namespace lg {
void append_post(std::string* out, std::string_view host_header, std::string_view target,
                 std::string_view content_type, std::string_view extra_headers, std::string_view body) {
    out->append("POST ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_header);
    out->append("\r\nContent-Type: ").append(content_type);
    out->append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n");
    out->append(extra_headers);  // each line ends with \r\n
    out->append("\r\n").append(body);
}
}  // namespace lg
