// What lws keeps per connection for the server (server.cpp and server_http.cpp).
#pragma once

#include <string>

#include "relay/hub/model.h"
#include "relay/io/http_api.h"

namespace rt {

// lws allocates this per connection, zeroed; it holds pointers only.
struct Session {
    Connection* conn;      // WebSocket connections
    std::string* rx;       // a message being reassembled from fragments
    HttpRequest* http;     // HTTP requests with a body
    HttpResponse* response;  // an HTTP answer waiting for the writeable callback
    uint64_t deferred;       // an HTTP answer waiting for the database (HttpResponse::deferred)
};

}  // namespace rt
