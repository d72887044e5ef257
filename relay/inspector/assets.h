// The inspector's page: the files of relay/inspector/www/, built into the binary (the
// build turns them into a generated source with embed_assets.cmake), so the relay
// serves them with nothing installed beside it and nothing fetched at run time.
#pragma once

#include <string_view>

namespace rt::inspector {

struct Asset {
    std::string_view name;          // its file name in www/ ("index.html")
    std::string_view content_type;  // from its extension
    std::string_view body;
};

// The asset called name, or nullptr.
const Asset* find_asset(std::string_view name);

}  // namespace rt::inspector
