// One session per connection to rvserver: the TLS handshake and one request
// head, each within a deadline, then one of: a parked hidden-server connection
// (watched for a close until a client takes it), a client tunnel (which owns
// both streams and relays until both ends are done), or an error answer.
#pragma once
#include "rv/asio.hpp"
#include "rvserver/server_state.hpp"

namespace rvserver {

// Runs one connection's session to its end; nothing it meets escapes it (an
// exception is logged).
rv::awaitable<void> guarded_session(rv::tcp::socket socket, server_state& st, connection_slot slot);

}  // namespace rvserver
