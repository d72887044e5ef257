// Random identifiers: UUIDs (message ids, presence keys) and incarnations.
#pragma once

#include <cstdint>
#include <string>

namespace rt {

std::string random_uuid();
// A random non-zero 64-bit number (incarnations, hand-over stream ids).
uint64_t random_u64();

}  // namespace rt
