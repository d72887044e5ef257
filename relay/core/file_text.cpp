// A small file read whole (see file_text.h).
#include "relay/core/file_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rt {

bool read_file_text(const std::string& path, long max_bytes, std::string& text, std::string& error) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot open it: ") + strerror(errno);
        return false;
    }
    text.clear();
    error.clear();
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && static_cast<long>(text.size()) <= max_bytes)
        text.append(buf, static_cast<size_t>(n));
    int read_errno = errno;
    close(fd);
    if (n < 0) error = std::string("cannot read it: ") + strerror(read_errno);
    if (static_cast<long>(text.size()) > max_bytes) error = "it is larger than " + std::to_string(max_bytes) + " bytes";
    return error.empty();
}

}  // namespace rt
