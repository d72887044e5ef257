// Owns: the command line: every flag, its default, validation and the --help text.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/loadgen/phoenix_proto.h"

namespace lg {

enum class Scenario { kFanout, kIdle, kStorm, kLatencyWatch };
enum class Protocol { kPhoenix, kNchan };
enum class PublishVia { kWs, kHttp };

const char* scenario_name(Scenario s);
const char* protocol_name(Protocol p);

struct Options {
    Scenario scenario = Scenario::kFanout;
    Protocol protocol = Protocol::kPhoenix;
    std::string target = "127.0.0.1:4000";  // host:port the default URLs point at
    std::string url;                         // subscriber WebSocket URL ({channel} for nchan)
    std::string pub_url;                     // publisher URL ({channel} for nchan)
    phx::Vsn vsn = phx::Vsn::k1;
    std::string token;
    std::string jwt_secret;
    std::string role = "anon";
    bool private_channels = false;  // subscribers join with config.private (Realtime Authorization)
    int64_t token_ttl = 86400;

    int clients = 100;
    int channels = 10;
    bool channels_given = false;
    std::string channel;            // one explicit channel name (overrides the prefix)
    std::string channel_prefix = "lg";
    int threads = 1;

    int publishers = 1;
    PublishVia publish_via = PublishVia::kWs;
    bool binary = false;
    bool publish_ack = false;
    double rate = 1000;             // messages/s, all publishers together; 0 = max
    double deliveries_rate = 0;     // if > 0: rate = this / subscribers per channel
    int64_t max_outstanding = 0;    // max mode: deliveries in flight (0 = 2 x clients)
    int pipeline = 64;              // requests (or acked pushes) in flight per publisher
    int http_batch = 1;             // phoenix HTTP: messages per POST
    size_t payload_size = 64;
    std::string event_name = "lg";

    double duration = 10;
    double warmup = 2;
    bool warmup_given = false;
    double drain = 3;
    double heartbeat = 25;
    double connect_timeout = 30;
    int max_pending = 512;          // handshakes in progress per thread
    double connect_rate = 0;        // new connections/s, all threads; 0 = unlimited
    std::string source_addrs = "auto";

    std::vector<int> server_pids;

    std::string pg_changes = "[]";
    std::string ts_field = "ts";
    std::string id_field = "id";
    bool print_ids = false;
    int64_t expect = 0;
    bool wait_subscribed = true;

    std::string ready_file;
    bool progress = false;
    std::string json_out;
    bool quiet = false;
    size_t max_message = 16 * 1024 * 1024;
};

// Parses argv. Returns 0 to run, 1 after printing --help, -1 on error (*err set).
int parse_options(int argc, char** argv, Options* o, std::string* err);
void print_usage(FILE* f);

}  // namespace lg
