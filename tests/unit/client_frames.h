// Client frames as a Phoenix client would send them, built by hand (not by the code
// under test) for the unit tests of the decoder and the hub.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rt::testing {

// A kind 3 binary frame: kind, join_ref_len, ref_len, topic_len, event_len,
// metadata_len, encoding, then the fields and the payload.
inline std::string kind3(std::string_view join_ref, std::string_view ref, std::string_view topic,
                         std::string_view event, std::string_view meta, uint8_t encoding,
                         std::string_view payload) {
    std::string f;
    f.push_back(3);
    for (size_t n : {join_ref.size(), ref.size(), topic.size(), event.size(), meta.size()})
        f.push_back(static_cast<char>(n));
    f.push_back(static_cast<char>(encoding));
    for (std::string_view part : {join_ref, ref, topic, event, meta, payload}) f.append(part);
    return f;
}

}  // namespace rt::testing
