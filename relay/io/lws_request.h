// What the relay reads of an lws request (I/O): a header, a custom header, a URL
// argument, each as a string ("" when absent).
#pragma once

#include <libwebsockets.h>

#include <string>
#include <utility>
#include <vector>

namespace rt {

std::string lws_header(lws* wsi, lws_token_indexes token);
// name includes its ':' ("apikey:"), as lws stores custom headers.
std::string lws_custom_header(lws* wsi, const char* name);
// The named headers the request has, as a JSON object {"name": "value"} (names lowercase,
// without ':'): what policies read as request.headers. lws knows some headers as tokens
// (x-forwarded-for), the rest as custom headers; both are found.
std::string lws_headers_json(lws* wsi, const std::vector<std::string>& names);
// name includes its '=' ("vsn="), as lws matches the raw "name=value" argument.
std::string lws_url_arg(lws* wsi, const char* name);
// Every "name=value" argument of the query, as lws decoded them (an argument without
// '=' has an empty value).
std::vector<std::pair<std::string, std::string>> lws_url_args(lws* wsi);

}  // namespace rt
