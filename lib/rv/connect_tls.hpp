// Dialing the rendezvous server and opening TLS as its client: the first
// steps of every rvhidden registration and every rvconnect tunnel.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rv/server_access.hpp"
#include "rv/tls_stream.hpp"

namespace rv {

// A TLS connection to the server, or the step at which it failed.
struct tls_connection {
  enum class stage {
    connected,          // stream is set
    connect,            // resolving or connecting failed: error is the socket error's message
    handshake_timeout,  // the handshake took longer than --connect-timeout
    handshake,          // the handshake failed: error is tls_stream::failure_reason()
  };
  stage failed_at = stage::connected;
  std::string error;
  std::unique_ptr<tls_stream> stream;

  // The failure in the words both clients print, naming `server`:
  // "cannot connect to SERVER: ERROR", "TLS handshake with SERVER timed out",
  // "TLS with SERVER failed: REASON"; empty when connected.
  std::string failure(std::string_view server) const;
};

// Dials `access.server` (within access.connect_timeout; a debug line says
// when it is connected), sets TCP keepalive
// when `keepalive` is given (set_keepalive), and handshakes as a client of
// `ctx` within access.connect_timeout, sending access.server_name as SNI,
// verifying the certificate against it and checking access.trust.pins.
// Throws rv::config_error for a server name that cannot be checked
// (tls_stream::set_server_name); every network failure is in the result.
awaitable<tls_connection> connect_tls(const cli::server_access& access, const ssl_ctx_ptr& ctx,
                                      std::optional<std::chrono::seconds> keepalive = std::nullopt);

}  // namespace rv
