// Random identifiers: UUIDs (message ids, presence keys) and incarnations.
#pragma once

#include <string>

namespace rt {

std::string random_uuid();

}  // namespace rt
