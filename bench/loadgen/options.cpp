// Owns: command-line parsing and the usage text (see options.h).
#include "bench/loadgen/options.h"

#include "bench/loadgen/json_scan.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

namespace lg {

const char* scenario_name(Scenario s) {
    switch (s) {
        case Scenario::kFanout: return "fanout";
        case Scenario::kIdle: return "idle";
        case Scenario::kStorm: return "storm";
        case Scenario::kLatencyWatch: return "latency-watch";
    }
    return "?";
}

const char* protocol_name(Protocol p) { return p == Protocol::kNchan ? "nchan" : "phoenix"; }

void print_usage(FILE* f) {
    std::fputs(
R"(rt-loadgen SCENARIO [flags]     WebSocket load generator for pg_realtime benchmarks

Scenarios:
  fanout         CLIENTS subscribers over CHANNELS channels; publishers send at --rate;
                 reports deliveries/s, loss, publish-to-receive latency, server CPU
  idle           open CLIENTS joined connections with heartbeats, hold --duration s;
                 reports server RSS before/after and bytes per connection
  storm          connect+join CLIENTS as fast as possible; reports joins/s and errors
  latency-watch  CLIENTS join one channel with --pg-changes bindings; for every
                 postgres_changes message, latency from the record's --ts-field
                 (epoch microseconds, CLOCK_REALTIME) to receipt

Target:
  --protocol phoenix|nchan     server protocol (default phoenix)
  --target HOST:PORT           where default URLs point (phoenix 127.0.0.1:4000,
                               nchan 127.0.0.1:8080)
  --url URL                    subscriber URL; phoenix default
                               ws://TARGET/socket/websocket, nchan default
                               ws://TARGET/sub/{channel}; several URLs separated
                               by commas spread the clients round robin over them
  --pub-url URL                publisher URL; phoenix default http://TARGET/api/broadcast,
                               nchan default http://TARGET/pub/{channel}; phoenix ws
                               publishers: ws://HOST:PORT/socket/websocket (default:
                               the first --url)
  --vsn 1.0.0|2.0.0            phoenix protocol version (default 1.0.0)
  --token JWT                  apikey for phoenix (query apikey=, HTTP Bearer)
  --jwt-secret SECRET          mint an HS256 token instead (claims role, exp)
  --role ROLE                  role claim of the minted token (default anon)
  --private                    phoenix: subscribers join private channels (config.private;
                               the server authorizes each join by its policies)
  --token-ttl SECONDS          exp of the minted token from now (default 86400)

Load:
  --clients N                  subscriber connections (aliases --subscribers,
                               --connections; default 100)
  --channels M                 channels the clients are spread over (default 10)
  --channel-prefix STR         channel names are STR0..STR(M-1) (default lg)
  --channel NAME               use the one channel NAME (implies --channels 1);
                               latency-watch defaults to 1 channel, lg0
  --threads T                  event-loop threads (default 1)
  --publishers P               publisher connections (default 1)
  --publish-via ws|http        phoenix: broadcast over WebSocket or POST /api/broadcast
                               (default ws); nchan always publishes over HTTP
  --binary                     phoenix vsn 2.0.0: publish as binary kind 3 frames
  --publish-ack                phoenix ws: join publishers with broadcast.ack=true and
                               keep at most --pipeline unacknowledged pushes
  --rate R                     messages/s published in total; 0 = maximum (default 1000)
  --deliveries-rate D          instead of --rate: D deliveries/s, i.e. rate = D /
                               (clients / channels)
  --max-outstanding N          with --rate 0: deliveries in flight before publishers
                               wait (default 2 x clients)
  --pipeline N                 HTTP requests in flight per publisher (default 64)
  --http-batch K               phoenix http: messages per POST (default 1)
  --payload-size BYTES         message body size (default 64)
  --event NAME                 phoenix broadcast event name (default lg)

Timing:
  --duration S                 measurement window / hold time / watch time (default 10)
  --warmup S                   publishing before the window (default 2; latency-watch 0)
  --drain S                    wait for in-flight deliveries after the window (default 3)
  --heartbeat S                phoenix heartbeat / nchan ping interval; 0 = off (default 25)
  --connect-timeout S          handshake+join deadline per connection (default 30)
  --max-pending N              handshakes in progress per thread (default 512)
  --connect-rate N             new connections per second; 0 = unlimited (default 0)
  --source-addrs SPEC          auto | none | A,B,... | A-B (127.0.0.x source addresses;
                               auto uses several beyond 25000 connections; default auto)

Measurement:
  --server-pid PID[,PID..]     sample the server's CPU (utime+stime) over the window
                               and its VmRSS (idle); repeatable
  --pg-changes JSON            latency-watch bindings, e.g.
                               '[{"event":"INSERT","schema":"public","table":"t"}]';
                               "{channel}" in it becomes the client's channel index
  --ts-field NAME              latency-watch: record column with epoch microseconds
                               (or a timestamptz text) (default ts)
  --id-field NAME              latency-watch: record column printed by --print-ids
                               (default id)
  --print-ids                  latency-watch: add every received record's id, per
                               client, to the JSON ("ids")
  --expect N                   latency-watch: stop once every client got N records
  --no-wait-subscribed         latency-watch: do not wait for "Subscribed to PostgreSQL"

Output:
  --ready-file PATH            created once all clients are joined (idle, latency-watch,
                               fanout before publishing)
  --progress                   a status line on stderr every second
  --json-out PATH              also write the JSON result to PATH
  --quiet                      no table on stderr
  --max-message BYTES          largest accepted WebSocket message (default 16 MiB)
  --help

A human table goes to stderr and one JSON object to stdout. SIGINT/SIGTERM end the run
early; the result is still printed, with "interrupted": true.
)", f);
}

namespace {

bool to_double(const std::string& s, double* out) {
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end && *end == '\0' && !s.empty();
}

bool to_int64(const std::string& s, int64_t* out) {
    char* end = nullptr;
    *out = std::strtoll(s.c_str(), &end, 10);
    return end && *end == '\0' && !s.empty();
}

bool parse_pids(const std::string& s, std::vector<int>* out) {
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        std::string one = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        int64_t v;
        if (!to_int64(one, &v) || v <= 0) return false;
        out->push_back(int(v));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return true;
}

using Setter = std::function<bool(const std::string&)>;

struct Flag {
    bool takes_value;
    Setter set;
};

std::map<std::string, Flag> flag_table(Options* o) {
    auto dbl = [](double* d, double lo) {
        return Flag{true, [d, lo](const std::string& v) { return to_double(v, d) && *d >= lo; }};
    };
    auto integer = [](auto* dst, int64_t lo) {
        return Flag{true, [dst, lo](const std::string& v) {
                        int64_t x;
                        if (!to_int64(v, &x) || x < lo) return false;
                        *dst = static_cast<std::remove_pointer_t<decltype(dst)>>(x);
                        return true;
                    }};
    };
    auto str = [](std::string* s) { return Flag{true, [s](const std::string& v) { *s = v; return true; }}; };
    auto boolean = [](bool* b, bool val) { return Flag{false, [b, val](const std::string&) { *b = val; return true; }}; };

    std::map<std::string, Flag> t;
    t["--protocol"] = {true, [o](const std::string& v) {
                           if (v == "phoenix") o->protocol = Protocol::kPhoenix;
                           else if (v == "nchan") o->protocol = Protocol::kNchan;
                           else return false;
                           return true;
                       }};
    t["--target"] = str(&o->target);
    t["--url"] = str(&o->url);
    t["--pub-url"] = str(&o->pub_url);
    t["--vsn"] = {true, [o](const std::string& v) {
                      if (v == "1.0.0" || v == "1") o->vsn = phx::Vsn::k1;
                      else if (v == "2.0.0" || v == "2") o->vsn = phx::Vsn::k2;
                      else return false;
                      return true;
                  }};
    t["--token"] = str(&o->token);
    t["--jwt-secret"] = str(&o->jwt_secret);
    t["--role"] = str(&o->role);
    t["--token-ttl"] = integer(&o->token_ttl, 1);
    t["--clients"] = integer(&o->clients, 0);
    t["--subscribers"] = t["--clients"];
    t["--connections"] = t["--clients"];
    t["--channels"] = {true, [o](const std::string& v) {
                           int64_t x;
                           o->channels_given = true;
                           if (!to_int64(v, &x) || x < 1) return false;
                           o->channels = int(x);
                           return true;
                       }};
    t["--channel"] = str(&o->channel);
    t["--channel-prefix"] = str(&o->channel_prefix);
    t["--threads"] = integer(&o->threads, 1);
    t["--publishers"] = integer(&o->publishers, 1);
    t["--publish-via"] = {true, [o](const std::string& v) {
                              if (v == "ws") o->publish_via = PublishVia::kWs;
                              else if (v == "http") o->publish_via = PublishVia::kHttp;
                              else return false;
                              return true;
                          }};
    t["--binary"] = boolean(&o->binary, true);
    t["--publish-ack"] = boolean(&o->publish_ack, true);
    t["--private"] = boolean(&o->private_channels, true);
    t["--rate"] = dbl(&o->rate, 0);
    t["--deliveries-rate"] = dbl(&o->deliveries_rate, 0);
    t["--max-outstanding"] = integer(&o->max_outstanding, 1);
    t["--pipeline"] = integer(&o->pipeline, 1);
    t["--http-batch"] = integer(&o->http_batch, 1);
    t["--payload-size"] = integer(&o->payload_size, 1);
    t["--event"] = str(&o->event_name);
    t["--duration"] = dbl(&o->duration, 0);
    t["--warmup"] = {true, [o](const std::string& v) {
                         o->warmup_given = true;
                         return to_double(v, &o->warmup) && o->warmup >= 0;
                     }};
    t["--drain"] = dbl(&o->drain, 0);
    t["--heartbeat"] = dbl(&o->heartbeat, 0);
    t["--connect-timeout"] = dbl(&o->connect_timeout, 0.1);
    t["--max-pending"] = integer(&o->max_pending, 1);
    t["--connect-rate"] = dbl(&o->connect_rate, 0);
    t["--source-addrs"] = str(&o->source_addrs);
    t["--server-pid"] = {true, [o](const std::string& v) { return parse_pids(v, &o->server_pids); }};
    t["--pg-changes"] = str(&o->pg_changes);
    t["--ts-field"] = str(&o->ts_field);
    t["--id-field"] = str(&o->id_field);
    t["--print-ids"] = boolean(&o->print_ids, true);
    t["--expect"] = integer(&o->expect, 0);
    t["--no-wait-subscribed"] = boolean(&o->wait_subscribed, false);
    t["--ready-file"] = str(&o->ready_file);
    t["--progress"] = boolean(&o->progress, true);
    t["--json-out"] = str(&o->json_out);
    t["--quiet"] = boolean(&o->quiet, true);
    t["--max-message"] = integer(&o->max_message, 1024);
    return t;
}

bool parse_scenario(const std::string& s, Scenario* out) {
    if (s == "fanout") *out = Scenario::kFanout;
    else if (s == "idle") *out = Scenario::kIdle;
    else if (s == "storm") *out = Scenario::kStorm;
    else if (s == "latency-watch" || s == "latency_watch") *out = Scenario::kLatencyWatch;
    else return false;
    return true;
}

void apply_defaults(Options* o, bool target_given) {
    bool nchan = o->protocol == Protocol::kNchan;
    if (!target_given && nchan) o->target = "127.0.0.1:8080";
    if (o->url.empty())
        o->url = nchan ? "ws://" + o->target + "/sub/{channel}" : "ws://" + o->target + "/socket/websocket";
    if (o->pub_url.empty())
        o->pub_url = nchan ? "http://" + o->target + "/pub/{channel}" : "http://" + o->target + "/api/broadcast";
    if (o->scenario == Scenario::kLatencyWatch && !o->warmup_given) o->warmup = 0;
    if (o->scenario == Scenario::kLatencyWatch && !o->channels_given) o->channels = 1;
    if (!o->channel.empty()) o->channels = 1;
}

}  // namespace

int parse_options(int argc, char** argv, Options* o, std::string* err) {
    auto table = flag_table(o);
    bool scenario_seen = false, target_given = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            print_usage(stdout);
            return 1;
        }
        if (a.rfind("--", 0) != 0) {
            if (scenario_seen || !parse_scenario(a, &o->scenario)) {
                *err = "unexpected argument: " + a;
                return -1;
            }
            scenario_seen = true;
            continue;
        }
        std::string value;
        bool inline_value = false;
        auto eq = a.find('=');
        if (eq != std::string::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            inline_value = true;
        }
        if (a == "--scenario") {
            if (!inline_value) {
                if (i + 1 >= argc) { *err = "--scenario needs a value"; return -1; }
                value = argv[++i];
            }
            if (!parse_scenario(value, &o->scenario)) { *err = "unknown scenario: " + value; return -1; }
            scenario_seen = true;
            continue;
        }
        auto it = table.find(a);
        if (it == table.end()) {
            *err = "unknown flag: " + a + " (see --help)";
            return -1;
        }
        if (it->second.takes_value && !inline_value) {
            if (i + 1 >= argc) {
                *err = a + " needs a value";
                return -1;
            }
            value = argv[++i];
        }
        if (a == "--target") target_given = true;
        if (!it->second.set(value)) {
            *err = "bad value for " + a + ": " + value;
            return -1;
        }
    }
    if (!scenario_seen) {
        *err = "no scenario given (fanout, idle, storm, latency-watch); see --help";
        return -1;
    }
    if (o->binary && o->vsn != phx::Vsn::k2) {
        *err = "--binary needs --vsn 2.0.0";
        return -1;
    }
    std::string_view bindings = json::value_at(o->pg_changes);
    if (bindings.empty() || bindings.front() != '[') {
        *err = "--pg-changes must be a JSON array of bindings";
        return -1;
    }
    if (o->protocol == Protocol::kNchan && o->scenario == Scenario::kLatencyWatch) {
        *err = "latency-watch needs --protocol phoenix";
        return -1;
    }
    apply_defaults(o, target_given);
    return 0;
}

}  // namespace lg
