// The HTTP side of the server: requests (and POST bodies) to the HTTP API, answers
// written from the writeable callback, and the refusal of a WebSocket upgrade.
#include <libwebsockets.h>

#include <cstring>
#include <memory>

#include "relay/io/lws_request.h"
#include "relay/io/server.h"
#include "relay/io/session.h"

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
    if (post && !shutting_down_) {
        // The body arrives in HTTP_BODY callbacks.
        session->http = new HttpRequest(std::move(req));
        return 0;
    }
    return answer_http(wsi, session, shutting_down_ ? HttpApi::unavailable() : http_->handle(req));
}

void Server::on_http_body(Session* session, const char* in, size_t len) {
    if (!session || !session->http) return;
    session->http->body.append(in, len);
    if (static_cast<int64_t>(session->http->body.size()) > cfg_.limits.max_payload_bytes) {
        session->http->too_large = true;
        session->http->body.clear();
    }
}

int Server::on_http_body_done(lws* wsi, Session* session) {
    if (!session || !session->http) return -1;
    HttpResponse r = http_->handle(*session->http);
    delete session->http;
    session->http = nullptr;
    return answer_http(wsi, session, std::move(r));
}

int Server::on_http_writeable(lws* wsi, Session* session) {
    if (!session || !session->response) return 0;
    std::unique_ptr<HttpResponse> r(session->response);
    session->response = nullptr;
    return write_http_response(wsi, *r);
}

void Server::forget_http(Session* session) {
    if (!session) return;
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
    delete session->response;
    session->response = new HttpResponse(std::move(response));
    lws_callback_on_writable(wsi);
    return 0;
}

int Server::refuse_upgrade(lws* wsi, int status, const std::string& message) {
    metrics_.connections_refused++;
    std::string body = "{\"error\":";
    json::append_string(body, message);
    body.push_back('}');
    // Written raw: during the upgrade lws would label its own status line HTTP/1.0,
    // which WebSocket clients reject before reading the status.
    const char* text = status == 401 ? "Unauthorized" : status == 404 ? "Not Found" : status == 429 ? "Too Many Requests"
                     : status == 503 ? "Service Unavailable" : "Bad Request";
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + text +
                           "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
                           "\r\nconnection: close\r\n\r\n" + body;
    std::string buf(LWS_PRE, '\0');
    buf += response;
    lws_write(wsi, reinterpret_cast<unsigned char*>(&buf[LWS_PRE]), response.size(), LWS_WRITE_HTTP_FINAL);
    return 1;
}

}  // namespace rt
