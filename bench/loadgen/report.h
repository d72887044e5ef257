// Owns: the result of a run in its two forms: one JSON object on stdout (and
// --json-out) for scripts, and a two-column table on stderr for people. Scenario code
// adds fields and rows; the common blocks (config, connections, latency, errors) are
// written here so every scenario reports them the same way.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/loadgen/histogram.h"
#include "bench/loadgen/json_scan.h"
#include "bench/loadgen/run_context.h"
#include "bench/loadgen/stats.h"

namespace lg {

struct NofileLimits {
    long long soft = 0;
    long long hard = 0;
};

class Report {
public:
    Report(const Options& opt, const RunContext& ctx, const NofileLimits& limits);

    json::Writer& json() { return w_; }
    void section(const std::string& title);
    void row(const std::string& label, const std::string& value);
    void warn(const std::string& text) { warnings_.push_back(text); }

    void connections(const Totals& t, int target);
    // {"count","min","mean","p50","p90","p99","p999","max"} in microseconds
    void latency(const char* key, const char* label, const Histogram& ns);
    void errors(const std::map<std::string, uint64_t>& errors);

    // Closes the JSON object and prints both forms.
    void emit(bool interrupted, bool ok);

    static std::string num(double v, int decimals = 0);

private:
    const Options& opt_;
    json::Writer w_;
    std::vector<std::pair<std::string, std::string>> rows_;
    std::vector<std::string> warnings_;
};

void write_latency_object(json::Writer& w, const Histogram& ns);

}  // namespace lg
