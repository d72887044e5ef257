// The keygen subcommand (see mesh_keygen.h): zmq_curve_keypair, written without ever
// leaving the secret readable by others (the file is created 0600, never replaced).
#include "cluster/mesh_keygen.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cluster/mesh_keys.h"

namespace rt::cluster {
namespace {

int usage(const char* why) {
    fprintf(stderr,
            "realtime-relay keygen: %s\n"
            "usage: realtime-relay keygen --out DIR [--name NAME]\n"
            "  writes DIR/NAME.key (this node's CURVE secret key, mode 0600: give it as --cluster-key)\n"
            "  and DIR/NAME.pub (its public key: the other nodes' --peers tcp://HOST:PORT@KEY or\n"
            "  --cluster-peer-keys); NAME defaults to node. Existing files are never replaced.\n",
            why);
    return 1;
}

bool write_new(const std::string& path, const std::string& text, mode_t mode) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "realtime-relay keygen: cannot create %s: %s\n", path.c_str(), strerror(errno));
        return false;
    }
    bool ok = fchmod(fd, mode) == 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = close(fd) == 0 && ok;
    if (!ok) fprintf(stderr, "realtime-relay keygen: cannot write %s: %s\n", path.c_str(), strerror(errno));
    return ok;
}

}  // namespace

int keygen_main(int argc, char** argv) {
    std::string out, name = "node";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage("a key pair for the cluster mesh");
            return 0;
        }
        if ((arg == "--out" || arg == "--name") && i + 1 < argc)
            (arg == "--out" ? out : name) = argv[++i];
        else
            return usage(("unknown argument " + arg).c_str());
    }
    if (out.empty()) return usage("--out DIR is required");
    if (name.empty() || name.find('/') != std::string::npos) return usage("--name must be a file name");
    if (!zmq_has("curve")) return usage("this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
    char pub[kZ85KeyLength + 1] = {}, secret[kZ85KeyLength + 1] = {};
    if (zmq_curve_keypair(pub, secret) != 0) return usage(zmq_strerror(zmq_errno()));
    if (mkdir(out.c_str(), 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "realtime-relay keygen: cannot create %s: %s\n", out.c_str(), strerror(errno));
        return 1;
    }
    std::string base = out + "/" + name;
    if (!write_new(base + ".key", key_file_text("CURVE secret key of mesh node " + name, secret), 0600)) return 1;
    if (!write_new(base + ".pub", key_file_text("CURVE public key of mesh node " + name, pub), 0644)) return 1;
    printf("%s\n", pub);
    return 0;
}

}  // namespace rt::cluster
