// The JWKS file: its versions by stat, its text read whole (bounded), parsed by
// relay/protocol/jwks, the watching thread.
#include "relay/io/jwks_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "relay/core/file_text.h"
#include "relay/core/log.h"

namespace rt {
namespace {

constexpr long kMaxFileBytes = 1 << 20;  // a JWKS holds a few keys of under 1 KB each


std::string kids(const Jwks& jwks) {
    std::string out;
    for (const auto& k : jwks.keys) out += (out.empty() ? "" : ", ") + (k->kid().empty() ? "(no kid)" : k->kid());
    return out;
}

}  // namespace

bool JwksFile::Version::operator==(const Version& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
}

JwksFile::JwksFile(std::string path, int poll_ms) : path_(std::move(path)), poll_ms_(poll_ms) {}

JwksFile::~JwksFile() { stop(); }

bool JwksFile::current(Version& v, std::string& error) const {
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) {
        error = std::string("cannot open it: ") + strerror(errno);
        return false;
    }
    v.dev = st.st_dev;
    v.ino = st.st_ino;
    v.size = st.st_size;
    v.mtime = st.st_mtim;
    v.ctime = st.st_ctim;
    return true;
}

std::shared_ptr<const Jwks> JwksFile::read(std::string& error) const {
    std::string text;
    if (!read_file_text(path_, kMaxFileBytes, text, error)) return nullptr;
    auto jwks = std::make_shared<Jwks>();
    std::vector<std::string> notes;
    bool ok = parse_jwks(text, *jwks, notes, error);
    for (const std::string& note : notes) LOG_WARN("--jwt-jwks %s: %s", path_.c_str(), note.c_str());
    return ok ? jwks : nullptr;
}

std::shared_ptr<const Jwks> JwksFile::load(std::string& error) {
    std::string why;
    std::shared_ptr<const Jwks> jwks = current(seen_, why) ? read(why) : nullptr;
    if (!jwks) {
        error = "--jwt-jwks " + path_ + ": " + why;
        return nullptr;
    }
    key_count_ = jwks->keys.size();
    LOG_INFO("--jwt-jwks %s: %zu keys (%s)", path_.c_str(), key_count_, kids(*jwks).c_str());
    return jwks;
}

void JwksFile::start(LoopInbound& loop) {
    loop_ = &loop;
    thread_ = std::thread([this] { watch(); });
}

void JwksFile::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void JwksFile::watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(poll_ms_), [this] { return stopping_; })) {
        lock.unlock();
        poll();
        lock.lock();
    }
}

// One look at the file: a new version is read and, if it parses, applied. A version that
// changes while it is read (a writer still at work) is read again at the next poll.
void JwksFile::poll() {
    Version before, after;
    std::string error;
    std::shared_ptr<const Jwks> jwks;
    if (current(before, error)) {
        if (before == seen_) return;
        jwks = read(error);
        if (!current(after, error) || !(after == before)) return;
        seen_ = before;
    }
    if (!jwks) {
        if (error != last_error_)
            LOG_ERROR("--jwt-jwks %s: %s; keeping the %zu keys loaded before", path_.c_str(), error.c_str(), key_count_);
        last_error_ = error;
        return;
    }
    last_error_.clear();
    key_count_ = jwks->keys.size();
    LOG_INFO("--jwt-jwks %s: reloaded, %zu keys (%s)", path_.c_str(), key_count_, kids(*jwks).c_str());
    loop_->jwks_loaded(std::move(jwks));
}

}  // namespace rt
