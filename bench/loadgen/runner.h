// Owns: the controller side of a run: turning options into a RunContext (URLs
// resolved, token minted, channel names, source addresses), spreading clients and
// publishers over worker threads, waiting for phases with deadlines while printing
// progress, and stopping the workers and merging their results.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/options.h"
#include "bench/loadgen/run_context.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/worker.h"

namespace lg {

class Runner {
public:
    explicit Runner(const Options& o) : ctx(o), opt(o) {}
    ~Runner();

    bool prepare(std::string* err);
    // Creates the workers with `clients` subscribers and `publishers` publishers.
    void plan(int clients, int publishers);
    void start();
    Totals totals() const;
    // Polls until done(totals) holds (true), the deadline passes or a signal came (false).
    bool wait_for(const std::function<bool(const Totals&)>& done, double timeout_s, const char* phase);
    // Sleeps until the CLOCK_MONOTONIC time t_ns; false if interrupted.
    bool sleep_until(int64_t t_ns, const char* phase);
    bool interrupted() const;
    // Joined or failed: every client's connection attempt has settled.
    bool clients_settled(const Totals& t) const { return t.joined + t.failed >= uint64_t(clients_); }
    double connect_deadline_s() const;
    void write_ready_file() const;
    void stop();

    RunContext ctx;
    const Options& opt;
    ThreadResults merged;
    int clients() const { return clients_; }

private:
    void maybe_progress(const char* phase);

    std::vector<std::unique_ptr<Worker>> workers_;
    int clients_ = 0;
    bool stopped_ = false;
    int64_t last_progress_ns_ = 0;
    Totals last_progress_{};
};

}  // namespace lg
