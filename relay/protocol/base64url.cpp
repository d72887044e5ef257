// base64url and padded base64: a table-free decoder, and the base64url encoder.
#include "relay/protocol/base64url.h"

#include <cstdint>

namespace rt::base64url {
namespace {

// The value of c in the url alphabet (- and _) or the plain one (+ and /).
int value_of(char c, bool url) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url ? '-' : '+')) return 62;
    if (c == (url ? '_' : '/')) return 63;
    return -1;
}

bool decode_alphabet(std::string_view in, bool url, std::string& out) {
    out.clear();
    if (in.size() % 4 == 1) return false;  // a lone trailing character carries no whole byte
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = value_of(c, url);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return true;
}

}  // namespace

bool decode(std::string_view in, std::string& out) { return decode_alphabet(in, true, out); }

bool decode_padded(std::string_view in, std::string& out) {
    if (in.size() % 4) return false;
    size_t pad = 0;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
    return decode_alphabet(in.substr(0, in.size() - pad), false, out);
}

std::string encode(std::string_view in) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
    return out;
}

}  // namespace rt::base64url
