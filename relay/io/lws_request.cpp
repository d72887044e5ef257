// Reading what lws parsed of a request.
#include "relay/io/lws_request.h"

#include <cstring>

#include "relay/core/json.h"

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

namespace {

// The token lws parses name_colon ("x-forwarded-for:") into, if it is one of its own.
int known_token(const std::string& name_colon) {
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const unsigned char* s = lws_token_to_string(static_cast<lws_token_indexes>(t));
        if (s && name_colon == reinterpret_cast<const char*>(s)) return t;
    }
    return -1;
}

}  // namespace

std::string lws_headers_json(lws* wsi, const std::vector<std::string>& names) {
    std::string out = "{";
    for (const std::string& name : names) {
        std::string key = name + ":";
        int token = known_token(key);
        std::string value = token >= 0 ? lws_header(wsi, static_cast<lws_token_indexes>(token))
                                       : lws_custom_header(wsi, key.c_str());
        if (value.empty()) continue;
        if (out.size() > 1) out.push_back(',');
        json::append_string(out, name);
        out.push_back(':');
        json::append_string(out, value);
    }
    out.push_back('}');
    return out;
}

std::vector<std::pair<std::string, std::string>> lws_url_args(lws* wsi) {
    std::vector<std::pair<std::string, std::string>> args;
    char buf[4096];
    for (int n = 0;; ++n) {
        int len = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (len < 0) break;
        std::string_view arg(buf, static_cast<size_t>(len));
        size_t eq = arg.find('=');
        if (eq == std::string_view::npos)
            args.emplace_back(std::string(arg), std::string());
        else
            args.emplace_back(std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1)));
    }
    return args;
}

std::string lws_url_arg(lws* wsi, const char* name) {
    char buf[4096];
    const char* v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    return v ? std::string(v) : std::string();
}

}  // namespace rt
