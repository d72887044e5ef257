// cppzmq's socket and context, declared for the mesh's headers (zmq.hpp stays in the .cpp
// files that use the sockets).
#pragma once

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq
