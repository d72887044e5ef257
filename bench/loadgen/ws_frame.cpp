// Owns: WebSocket frame encoding and header parsing (see ws_frame.h).
#include "bench/loadgen/ws_frame.h"

#include <cstring>

namespace lg::ws {

ParseResult parse_header(const uint8_t* d, size_t n, FrameHeader* h) {
    if (n < 2) return ParseResult::kNeedMore;
    h->fin = (d[0] & 0x80) != 0;
    if (d[0] & 0x70) return ParseResult::kInvalid;  // no extensions negotiated
    h->opcode = d[0] & 0x0F;
    h->masked = (d[1] & 0x80) != 0;
    uint64_t len = d[1] & 0x7F;
    size_t pos = 2;
    if (len == 126) {
        if (n < 4) return ParseResult::kNeedMore;
        len = (uint64_t(d[2]) << 8) | d[3];
        pos = 4;
    } else if (len == 127) {
        if (n < 10) return ParseResult::kNeedMore;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | d[2 + i];
        if (len >> 63) return ParseResult::kInvalid;
        pos = 10;
    }
    if (h->masked) {
        if (n < pos + 4) return ParseResult::kNeedMore;
        std::memcpy(&h->mask, d + pos, 4);
        pos += 4;
    }
    bool control = h->opcode >= 0x8;
    if (control && (!h->fin || len > 125)) return ParseResult::kInvalid;
    if (h->opcode != kContinuation && h->opcode != kText && h->opcode != kBinary && !control)
        return ParseResult::kInvalid;
    if (control && h->opcode != kClose && h->opcode != kPing && h->opcode != kPong)
        return ParseResult::kInvalid;
    h->length = len;
    h->header_len = pos;
    return ParseResult::kOk;
}

void apply_mask(char* data, size_t len, uint32_t mask, size_t offset) {
    uint8_t key[4];
    std::memcpy(key, &mask, 4);
    size_t i = 0;
    // align to the key, then 8 bytes at a time
    while (i < len && ((offset + i) & 3) != 0) {
        data[i] ^= char(key[(offset + i) & 3]);
        i++;
    }
    uint64_t k8 = uint64_t(mask) | (uint64_t(mask) << 32);
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        std::memcpy(&v, data + i, 8);
        v ^= k8;
        std::memcpy(data + i, &v, 8);
    }
    for (; i < len; i++) data[i] ^= char(key[(offset + i) & 3]);
}

void append_frame(std::string* out, uint8_t opcode, const char* payload, size_t len,
                  uint32_t mask, bool fin) {
    uint8_t hdr[14];
    size_t pos = 0;
    hdr[pos++] = uint8_t((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        hdr[pos++] = uint8_t(0x80 | len);
    } else if (len <= 0xFFFF) {
        hdr[pos++] = 0x80 | 126;
        hdr[pos++] = uint8_t(len >> 8);
        hdr[pos++] = uint8_t(len);
    } else {
        hdr[pos++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) hdr[pos++] = uint8_t(uint64_t(len) >> (8 * i));
    }
    std::memcpy(hdr + pos, &mask, 4);
    pos += 4;
    size_t start = out->size();
    out->append(reinterpret_cast<char*>(hdr), pos);
    out->append(payload, len);
    apply_mask(&(*out)[start + pos], len, mask, 0);
}

}  // namespace lg::ws
