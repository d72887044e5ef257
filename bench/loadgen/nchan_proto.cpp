// Owns: nchan URL patterns and publish requests (see nchan_proto.h).
#include "bench/loadgen/nchan_proto.h"

#include "bench/loadgen/http_client.h"

namespace lg::nchan {

std::string expand(const std::string& pattern, const std::string& channel) {
    static const std::string kTag = "{channel}";
    std::string out = pattern;
    size_t pos = 0;
    while ((pos = out.find(kTag, pos)) != std::string::npos) {
        out.replace(pos, kTag.size(), channel);
        pos += channel.size();
    }
    return out;
}

void publish_request(std::string* out, const std::string& host_header, const std::string& target,
                     std::string_view body) {
    append_post(out, host_header, target, "text/plain", "", body);
}

}  // namespace lg::nchan
