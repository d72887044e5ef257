// Fixed-width integers in bytes, both orders: little-endian for the cluster's own wire
// format (cluster/wire), big-endian (network order) for Postgres's replication protocol
// (relay/slot/stream). The one byte codec of the relay.
#pragma once

#include <cstdint>
#include <string>

namespace rt::bytes {

template <typename T>
void put_le(std::string& out, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}

template <typename T>
T get_le(const char* p) {
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
    return static_cast<T>(v);
}

inline void put_be64(char* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
}

inline uint64_t get_be64(const char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

}  // namespace rt::bytes
