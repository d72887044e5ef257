// The HTTP side of the server: requests (and POST bodies) to the HTTP API, answers
// written from the writeable callback, bodies refused from their headers, and the
// refusal of a WebSocket upgrade.
#include <libwebsockets.h>

#include <cstring>
#include <memory>

#include "relay/core/clock.h"
#include "relay/io/lws_request.h"
#include "relay/io/server.h"
#include "relay/io/session.h"
#include "relay/protocol/request_body.h"

namespace rt {
namespace {

// Writes a complete HTTP response; returns what the callback must return.
int write_http_response(lws* wsi, const HttpResponse& r) {
    std::string buf(LWS_PRE + 1024 + r.body.size(), '\0');
    auto* start = reinterpret_cast<unsigned char*>(&buf[LWS_PRE]);
    unsigned char* p = start;
    unsigned char* end = start + 1024;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(r.status), r.content_type.c_str(), r.body.size(), &p,
                                    end))
        return -1;
    for (const auto& [name, value] : r.headers) {
        if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                        reinterpret_cast<const unsigned char*>(value.data()),
                                        static_cast<int>(value.size()), &p, end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (!r.body.empty()) {
        memcpy(start, r.body.data(), r.body.size());
        if (lws_write(wsi, start, r.body.size(), LWS_WRITE_HTTP_FINAL) != static_cast<int>(r.body.size()))
            return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

const char* status_text(int status) {
    switch (status) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 411: return "Length Required";
        case 413: return "Payload Too Large";
        case 429: return "Too Many Requests";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

// A whole HTTP/1.1 response written by hand, that says the connection closes: for
// answers lws is not in a state to frame (during the upgrade, before a body).
void write_raw_response(lws* wsi, int status, const std::string& json_body) {
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                           "\r\ncontent-type: application/json\r\ncontent-length: " +
                           std::to_string(json_body.size()) + "\r\nconnection: close\r\n\r\n" + json_body;
    std::string buf(LWS_PRE, '\0');
    buf += response;
    lws_write(wsi, reinterpret_cast<unsigned char*>(&buf[LWS_PRE]), response.size(), LWS_WRITE_HTTP_FINAL);
}

std::string json_field(const char* name, const std::string& message) {
    std::string body = "{\"";
    body += name;
    body += "\":";
    json::append_string(body, message);
    body.push_back('}');
    return body;
}

}  // namespace

int Server::on_http(lws* wsi, Session* session, const char* in, size_t len) {
    if (!http_) return -1;
    std::string path(in, len);
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    bool options = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;
    HttpRequest req;
    req.method = post ? "POST" : options ? "OPTIONS" : "GET";
    req.path = path;
    req.authorization = lws_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    req.apikey = lws_custom_header(wsi, "apikey:");
    req.content_type = lws_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    req.private_query = lws_url_arg(wsi, "private=") == "true";
    req.headers_json = lws_headers_json(wsi, cfg_.policy_headers);
    req.args = lws_url_args(wsi);
    if (post && !shutting_down_) {
        BodyVerdict body = check_request_body(lws_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH),
                                              lws_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING),
                                              cfg_.limits.max_frame_bytes);
        if (!body.accepted()) return refuse_request(wsi, body.status, body.message);
        // The body arrives in HTTP_BODY callbacks, before the request's deadline.
        session->http = new HttpRequest(std::move(req));
        session->http->body.reserve(static_cast<size_t>(body.length));
        return 0;
    }
    requests_.finish(wsi);
    return answer_http(wsi, session, shutting_down_ ? HttpApi::unavailable() : http_->handle(req));
}

// lws hands over at most the Content-Length that check_request_body accepted.
void Server::on_http_body(Session* session, const char* in, size_t len) {
    if (session && session->http) session->http->body.append(in, len);
}

int Server::on_http_body_done(lws* wsi, Session* session) {
    if (!session || !session->http) return -1;  // a refused request's body: now close
    requests_.finish(wsi);
    HttpResponse r = http_->handle(*session->http);
    delete session->http;
    session->http = nullptr;
    return answer_http(wsi, session, std::move(r));
}

int Server::on_http_writeable(lws* wsi, Session* session) {
    if (!session || !session->response) return 0;
    std::unique_ptr<HttpResponse> r(session->response);
    session->response = nullptr;
    int rc = write_http_response(wsi, *r);
    if (rc == 0) requests_.start(wsi, mono_ms());  // kept alive: the next request has the same time
    return rc;
}

void Server::set_http(HttpApi* http) {
    http_ = http;
    if (http_) http_->set_answer_later([this](uint64_t id, HttpResponse r) { answer_deferred(id, std::move(r)); });
}

// A deferred answer (on the loop thread): to its request, unless the client is gone.
void Server::answer_deferred(uint64_t id, HttpResponse response) {
    auto it = deferred_http_.find(id);
    if (it == deferred_http_.end()) return;
    lws* wsi = it->second;
    deferred_http_.erase(it);
    auto* session = static_cast<Session*>(lws_wsi_user(wsi));
    if (session) session->deferred = 0;
    answer_http(wsi, session, std::move(response));
}

void Server::forget_http(Session* session) {
    if (!session) return;
    if (session->deferred) deferred_http_.erase(session->deferred);
    session->deferred = 0;
    delete session->http;
    session->http = nullptr;
    delete session->response;
    session->response = nullptr;
}

// Answers from the writeable callback, not from inside lws's parsing of the request:
// completing the transaction there loses pipelined requests that follow in the same
// read (and left lws spinning on them).
int Server::answer_http(lws* wsi, Session* session, HttpResponse response) {
    if (!session) return -1;
    if (response.deferred) {
        session->deferred = response.deferred;
        deferred_http_[response.deferred] = wsi;
        return 0;
    }
    delete session->response;
    session->response = new HttpResponse(std::move(response));
    lws_callback_on_writable(wsi);
    return 0;
}

int Server::refuse_upgrade(lws* wsi, int status, const std::string& message) {
    metrics_.connections_refused++;
    // Written raw: during the upgrade lws would label its own status line HTTP/1.0,
    // which WebSocket clients reject before reading the status.
    write_raw_response(wsi, status, json_field("error", message));
    return 1;
}

// Answered at once, from the headers; what body the client still sends is read and
// dropped (closing on unread input would reset the connection, and the client could
// lose the answer), until it ends or the request's deadline closes the connection.
int Server::refuse_request(lws* wsi, int status, const std::string& message) {
    metrics_.protocol_errors++;
    write_raw_response(wsi, status, json_field("message", message));
    return 0;
}

}  // namespace rt
