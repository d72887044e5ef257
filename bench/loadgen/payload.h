// Owns: the benchmark message body. Every published message is a JSON object
// {"lg_ts":<CLOCK_MONOTONIC ns at send>,"pad":"xxx..."} padded to the requested size,
// so receivers of any protocol (raw nchan body, Phoenix JSON broadcast, kind 4 binary
// broadcast) find the send time by looking for the "lg_ts" key.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lg {

// Writes the payload for send time ts_ns into out (replacing its contents), `size`
// bytes long unless size is below the minimum that holds the timestamp.
void make_payload(std::string* out, int64_t ts_ns, size_t size);

// Finds "lg_ts" in data and returns its value, or -1 when absent.
int64_t find_payload_ts(const char* data, size_t len);

}  // namespace lg
