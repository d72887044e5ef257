// Leveled logging: formatting and the single write per line.
#include "relay/core/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace rt::log {
namespace {
std::atomic<Level> g_level{Level::Info};
const char* const kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
    for (int i = 0; i < 4; ++i) {
        std::string_view name = kNames[i];
        if (text.size() != name.size()) continue;
        bool same = true;
        for (size_t j = 0; j < name.size() && same; ++j)
            same = (text[j] & ~0x20) == name[j];
        if (same) {
            out = static_cast<Level>(i);
            return true;
        }
    }
    if (text == "warning" || text == "WARNING") {
        out = Level::Warn;
        return true;
    }
    return false;
}

void write(Level l, const char* fmt, ...) {
    char line[2048];
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc;
    gmtime_r(&ts.tv_sec, &utc);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                     utc.tm_sec, ts.tv_nsec / 1000000, kNames[static_cast<int>(l)]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    size_t len = n + (m < 0 ? 0 : (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

}  // namespace rt::log
