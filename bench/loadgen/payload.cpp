// Owns: building and reading the timestamped benchmark payload (see payload.h).
#include "bench/loadgen/payload.h"

#include <cstring>

namespace lg {

namespace {
constexpr char kKey[] = "\"lg_ts\"";
constexpr size_t kKeyLen = sizeof kKey - 1;
}  // namespace

void make_payload(std::string* out, int64_t ts_ns, size_t size) {
    out->assign("{\"lg_ts\":");
    out->append(std::to_string(ts_ns));
    const size_t tail_min = 9;  // ,"pad":"" plus the closing brace
    if (out->size() + tail_min + 1 > size) {
        out->push_back('}');
        return;
    }
    out->append(",\"pad\":\"");
    size_t fill = size - out->size() - 2;
    out->append(fill, 'x');
    out->append("\"}");
}

int64_t find_payload_ts(const char* data, size_t len) {
    const char* p = static_cast<const char*>(memmem(data, len, kKey, kKeyLen));
    if (!p) return -1;
    const char* e = data + len;
    p += kKeyLen;
    while (p < e && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= e || *p < '0' || *p > '9') return -1;
    int64_t v = 0;
    while (p < e && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v;
}

}  // namespace lg
