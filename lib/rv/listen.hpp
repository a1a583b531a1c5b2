// Listening sockets for rvserver and rvconnect --listen: bind, listen, and
// say where, the same way in both.
#pragma once
#include <memory>
#include <string>

#include "rv/asio.hpp"
#include "rv/endpoint.hpp"

namespace rv {

// Binds and listens on `spec`, resolving a host name to its first address.
// "[::]" means IPv6 only, as in nginx: listen on 0.0.0.0 too for IPv4.
// Throws config_error for a name that does not resolve, and exit_error
// (status 1) naming the address when it cannot bind (in use, no permission).
std::unique_ptr<tcp::acceptor> listen_on(asio::io_context& io, const endpoint_spec& spec);

// Prints "WHAT ADDRESS:PORT" on stdout (the real port when 0 was asked) for
// scripts and tests to read: the listener is ready once they see it. Returns
// the address.
std::string announce(const tcp::acceptor& acceptor, std::string_view what);

}  // namespace rv
