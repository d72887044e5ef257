// The --jwt-jwks file (I/O): read and parsed once at startup, then watched from a thread
// of its own (the file's stat polled once a second) and reloaded when it changes, so keys
// rotate without a restart. Each reload is parsed off the loop thread into a new key set
// and handed over whole; a file that no longer parses (or is gone) keeps the keys in use
// and logs why. Replace the file atomically (write a new one, rename it over the old).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "relay/hub/inbound.h"
#include "relay/protocol/jwks.h"

namespace rt {

class JwksFile {
public:
    explicit JwksFile(std::string path, int poll_ms = 1000);
    ~JwksFile();

    // Reads and parses the file now; nullptr with a one-line error when it cannot be used.
    std::shared_ptr<const Jwks> load(std::string& error);
    // From now on each new version of the file that parses goes to the loop.
    void start(LoopInbound& loop);
    void stop();

private:
    // What tells one version of the file from another.
    struct Version {
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = -1;
        timespec mtime{}, ctime{};
        bool operator==(const Version& o) const;
    };
    bool current(Version& v, std::string& error) const;
    std::shared_ptr<const Jwks> read(std::string& error) const;
    void watch();
    void poll();

    const std::string path_;
    const int poll_ms_;
    LoopInbound* loop_ = nullptr;
    Version seen_;
    size_t key_count_ = 0;
    std::string last_error_;  // logged once, not at every poll
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
};

}  // namespace rt
