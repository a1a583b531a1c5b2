// Dialing and the client's TLS handshake (see connect_tls.hpp).
#include "rv/connect_tls.hpp"

#include "rv/io.hpp"

namespace rv {

std::string tls_connection::failure(std::string_view server) const {
  const std::string name(server);
  switch (failed_at) {
    case stage::connected: return {};
    case stage::connect: return "cannot connect to " + name + ": " + error;
    case stage::handshake_timeout: return "TLS handshake with " + name + " timed out";
    case stage::handshake: return "TLS with " + name + " failed: " + error;
  }
  return {};
}

awaitable<tls_connection> connect_tls(const cli::server_access& access, const ssl_ctx_ptr& ctx,
                                      std::optional<std::chrono::seconds> keepalive) {
  tls_connection c;
  error_code ec;
  auto socket = co_await dial(access.server, access.connect_timeout, ec);
  if (ec) {
    c.failed_at = tls_connection::stage::connect;
    c.error = ec.message();
    co_return c;
  }
  log::debug("connected to ", to_string(access.server));
  if (keepalive) set_keepalive(socket, *keepalive);
  auto stream = std::make_unique<tls_stream>(std::move(socket), ctx, tls_stream::role::client);
  stream->set_server_name(access.server_name);
  stream->set_pins(access.trust.pins);
  if (!co_await within(access.connect_timeout, stream->handshake(ec))) {
    c.failed_at = tls_connection::stage::handshake_timeout;
    co_return c;
  }
  if (ec) {
    c.failed_at = tls_connection::stage::handshake;
    c.error = stream->failure_reason();
    co_return c;
  }
  c.stream = std::move(stream);
  co_return c;
}

}  // namespace rv
