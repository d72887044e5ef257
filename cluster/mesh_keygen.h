// `realtime-relay keygen --out DIR [--name NAME]`: a node's CURVE key pair for the mesh,
// DIR/NAME.key (the secret key, mode 0600, for --cluster-key) and DIR/NAME.pub (the
// public key, for the other nodes' --peers ...@KEY or --cluster-peer-keys).
#pragma once

namespace rt::cluster {

// argv[0] is "keygen". Prints the public key; 0 on success, 1 (with a message) if not.
int keygen_main(int argc, char** argv);

}  // namespace rt::cluster
