// Leveled logging to stderr, safe to call from any thread. One line per call, with a
// UTC timestamp and the level, so that logs of several relays can be merged by time.
#pragma once

#include <string_view>

namespace rt::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view text, Level& out);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace rt::log

#define RT_LOG(lvl, ...)                                                     \
    do {                                                                     \
        if (static_cast<int>(lvl) >= static_cast<int>(::rt::log::level()))   \
            ::rt::log::write(lvl, __VA_ARGS__);                              \
    } while (0)
#define LOG_DEBUG(...) RT_LOG(::rt::log::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) RT_LOG(::rt::log::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) RT_LOG(::rt::log::Level::Warn, __VA_ARGS__)
#define LOG_ERROR(...) RT_LOG(::rt::log::Level::Error, __VA_ARGS__)
