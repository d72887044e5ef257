// Random identifiers from a per-thread generator seeded by the OS.
#include "relay/core/ids.h"

#include <cstdint>
#include <cstdio>
#include <random>

namespace rt {

namespace {
std::mt19937_64& rng() {
    static thread_local std::mt19937_64 generator{(static_cast<uint64_t>(std::random_device{}()) << 32) |
                                                  std::random_device{}()};
    return generator;
}
}  // namespace

uint64_t random_u64() {
    uint64_t v = 0;
    while (v == 0) v = rng()();
    return v;
}

std::string random_uuid() {
    uint64_t hi = rng()(), lo = rng()();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
    char buf[37];
    snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
             static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
             static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

}  // namespace rt
