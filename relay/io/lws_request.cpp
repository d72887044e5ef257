// Reading what lws parsed of a request.
#include "relay/io/lws_request.h"

#include <cstring>

namespace rt {

std::string lws_header(lws* wsi, lws_token_indexes token) {
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0) return {};
    std::string out(static_cast<size_t>(len) + 1, '\0');
    int n = lws_hdr_copy(wsi, out.data(), len + 1, token);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
}

std::string lws_custom_header(lws* wsi, const char* name) {
    int len = lws_hdr_custom_length(wsi, name, static_cast<int>(strlen(name)));
    if (len <= 0) return {};
    std::string out(static_cast<size_t>(len) + 1, '\0');
    int n = lws_hdr_custom_copy(wsi, out.data(), len + 1, name, static_cast<int>(strlen(name)));
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
}

std::string lws_url_arg(lws* wsi, const char* name) {
    char buf[4096];
    const char* v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    return v ? std::string(v) : std::string();
}

}  // namespace rt
