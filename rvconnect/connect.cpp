// rvconnect: open a tunnel (CONNECT uuid:ID), then relay it.
#include "rvconnect/connect.hpp"

#include <csignal>

#include "rv/answers.hpp"
#include "rv/connect_tls.hpp"
#include "rv/error.hpp"
#include "rv/io.hpp"
#include "rv/listen.hpp"
#include "rv/log.hpp"
#include "rv/printable.hpp"
#include "rv/protocol.hpp"
#include "rv/relay.hpp"
#include "rv/tls_stream.hpp"

namespace rvconnect {
namespace {

using namespace rv;

struct tunnel {
  std::unique_ptr<tls_stream> stream;
  std::string early;  // tunnel bytes that arrived with the server's answer
};

// Throws exit_error with the code a script can act on.
awaitable<tunnel> open_tunnel(const options& o, const ssl_ctx_ptr& tls) {
  const auto server = to_string(o.server);
  auto connection = co_await connect_tls(o, tls);
  if (!connection.stream) throw exit_error(exit_code::failure, connection.failure(server));
  auto stream = std::move(connection.stream);
  log::debug("TLS established with ", server, " (", stream->protocol_version(), " ", stream->cipher_suite(), ")",
             stream->resumed() ? ", resumed" : "");

  const auto request = client_connect_request(o.uuid, to_string(o.server), o.client_key);
  error_code ec;
  if (!co_await within(o.connect_timeout, stream->write_all(asio::buffer(request), ec)) || ec)
    throw exit_error(exit_code::failure, "lost the connection to " + server + " while asking for " + o.uuid);
  std::string buf;
  response_head answer;
  auto parsed = co_await within(o.answer_timeout, read_head(*stream, buf, answer, {}, ec));
  if (!parsed) throw exit_error(exit_code::failure, "no answer from " + server + " in time");
  if (ec) throw exit_error(exit_code::failure, "the server " + server + " closed the connection: " + ec.message());
  if (parsed->status != parse_status::good)
    throw exit_error(exit_code::failure, "malformed answer from " + server + ": " + parsed->error);
  log::debug("the server answered ", answer.status, " ", printable(answer.reason));
  if (answer.status == 200) co_return tunnel{std::move(stream), std::move(buf)};

  std::string body;
  if (auto got = co_await within(std::chrono::seconds(2), read_small_body(*stream, buf, answer))) body = *got;
  throw refusal_error(o, answer.status, body);
}

awaitable<void> stdio_session(const options& o, ssl_ctx_ptr tls) {
  auto t = co_await open_tunnel(o, tls);
  stdio_stream stdio(co_await asio::this_coro::executor);
  error_code ec;
  if (!t.early.empty()) co_await stdio.write_all(asio::buffer(t.early), ec);
  if (ec) throw exit_error(exit_code::failure, "cannot write to stdout: " + ec.message());
  log::info("tunnel to ", o.uuid, " open");
  auto r = co_await relay(stdio, *t.stream);
  if (r.error) throw exit_error(exit_code::failure, "the tunnel was aborted: " + r.error.message());
  log::info("tunnel closed: sent ", r.a_to_b, " bytes, received ", r.b_to_a + t.early.size());
}

awaitable<void> local_session(tcp::socket socket, const options& o, ssl_ctx_ptr tls) {
  const auto peer = peer_string(socket);
  tcp_stream local(std::move(socket));
  tunnel t;
  try {
    t = co_await open_tunnel(o, tls);
  } catch (const std::exception& e) {
    log::error("connection from ", peer, ": ", e.what());
    local.abort();
    co_return;
  }
  error_code ec;
  if (!t.early.empty()) co_await local.write_all(asio::buffer(t.early), ec);
  if (ec) co_return;
  log::info("connection from ", peer, ": tunnel to ", o.uuid, " open");
  auto r = co_await relay(local, *t.stream);
  log::info("connection from ", peer, ": tunnel closed, sent ", r.a_to_b, " received ", r.b_to_a,
            error_note(r.error));
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, const options& o, ssl_ctx_ptr tls) {
  co_await accept_each(acceptor, [&](tcp::socket socket) {
    asio::co_spawn(acceptor.get_executor(), local_session(std::move(socket), o, tls), asio::detached);
  });
}

int run_listener(const options& o, const ssl_ctx_ptr& tls) {
  asio::io_context io(1);
  if (!ip_literal(o.listen->host)) throw config_error("--listen needs an IP address, got '" + o.listen->host + "'");
  auto acceptor = listen_on(io, *o.listen);
  announce(*acceptor, "listening");
  asio::co_spawn(io, accept_loop(*acceptor, o, tls), asio::detached);
  asio::signal_set signals(io);
  stop_on_signals(io, signals);
  io.run();
  return exit_code::ok;
}

}  // namespace

rv::exit_error refusal_error(const options& o, int status, std::string_view body) {
  const auto diagnostic = error_diagnostic(body);
  std::string detail = " (" + std::to_string(status);
  if (!diagnostic.empty()) detail += ": " + diagnostic;
  detail += ")";
  switch (status) {
    case 404:
      return exit_error(exit_code::not_registered, "no hidden server is registered for " + o.uuid + " at " +
                                                       to_string(o.server) + detail + "; is rvhidden running there?" +
                                                       o.names_note);
    case 502:
      // The hidden side's own words follow: rvhidden's say whether its local
      // service was down or it was at --max-tunnels.
      return exit_error(exit_code::service_down, "the hidden side could not serve the tunnel" + detail);
    case 504:
      return exit_error(exit_code::service_down, "the hidden server did not answer in time" + detail);
    default:
      return exit_error(exit_code::refused, "the rendezvous server refused the tunnel" + detail);
  }
}

int run(const options& opts) {
  std::signal(SIGPIPE, SIG_IGN);
  auto tls = make_client_context(opts.trust);
  if (opts.listen) return run_listener(opts, tls);

  asio::io_context io(1);
  std::exception_ptr failure;
  asio::co_spawn(io, stdio_session(opts, tls), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return exit_code::ok;
}

}  // namespace rvconnect
