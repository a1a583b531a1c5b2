// rvconnect: open a tunnel (CONNECT uuid:ID), then relay it.
#include "rvconnect/connect.hpp"

#include <chrono>
#include <csignal>
#include <optional>
#include <vector>

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
#include "rvconnect/failover.hpp"

namespace rvconnect {
namespace {

using namespace rv;

struct tunnel {
  std::unique_ptr<tls_stream> stream;
  std::string early;  // tunnel bytes that arrived with the server's answer
};

// A server of --server and the addresses it resolved to, as "ADDRESS:PORT"
// (failure_memory's keys) and as endpoints.
struct resolved_server {
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::string> keys;
};

std::string address_key(const tcp::endpoint& ep) {
  return to_string(endpoint_spec{ep.address().to_string(), ep.port()});
}

// Every address `server` resolves to (A and AAAA, in the resolver's order:
// the operator orders DNS), within `limit`. An IP literal is its one address
// and needs no lookup. On failure `why` says so and the result is empty.
awaitable<resolved_server> resolve_all(const endpoint_spec& server, steady_clock::duration limit, std::string& why) {
  resolved_server r;
  if (const auto literal = ip_literal(server.host)) {
    r.endpoints.emplace_back(*literal, server.port);
  } else {
    tcp::resolver resolver(co_await asio::this_coro::executor);
    auto got = co_await within(limit, resolver.async_resolve(server.host, std::to_string(server.port), nothrow));
    if (!got) {
      why = "cannot resolve the name: timed out";
      co_return r;
    }
    auto& [ec, results] = *got;
    if (ec) {
      why = "cannot resolve the name: " + ec.message();
      co_return r;
    }
    for (const auto& entry : results) r.endpoints.push_back(entry.endpoint());
    if (r.endpoints.empty()) why = "the name resolves to no address";
  }
  for (const auto& ep : r.endpoints) r.keys.push_back(address_key(ep));
  co_return r;
}

// What one attempt at one address came to. On `stop`, `error` is what the
// run ends with; on `next`, `why` says briefly why the address was left.
struct attempt_result {
  failover::outcome what = failover::outcome::answered;
  int status = 0;
  std::string why;
  tunnel opened;
  int exit = exit_code::failure;  // with `error`, for a verdict of stop
  std::string error;
  steady_clock::duration connecting{};  // spent on connect and handshake: counts against --connect-timeout
};

std::string seconds_text(steady_clock::duration d) {
  return std::to_string(std::chrono::ceil<std::chrono::seconds>(d).count()) + " s";
}

// The server's refusal, with the server named as --server gave it (not the
// address it resolved to).
exit_error refusal_at(const options& o, const endpoint_spec& server, int status, std::string_view body) {
  options named = o;
  named.server = server;
  return refusal_error(named, status, body);
}

// Connects to `address` (one of `server`'s), handshakes checking the
// certificate against the server's name, asks for the tunnel and reads the
// answer. Connect and handshake get `allowance` together; the answer gets
// --answer-timeout.
awaitable<attempt_result> attempt_at(const options& o, const ssl_ctx_ptr& tls, const endpoint_spec& server,
                                     const tcp::endpoint& address, steady_clock::duration allowance) {
  using failover::outcome;
  attempt_result a;
  const auto name = to_string(server);
  const auto where = failover::describe(name, address_key(address));
  auto access = o.at(endpoint_spec{address.address().to_string(), address.port()}, server.host);
  // connect_tls gives the dial and the handshake this much each; the race
  // below holds them to it together.
  access.connect_timeout = std::chrono::ceil<std::chrono::seconds>(allowance);
  const auto started = steady_clock::now();
  auto connection = co_await within(allowance, connect_tls(access, tls));
  a.connecting = steady_clock::now() - started;
  if (!connection) {
    a.what = outcome::timed_out;
    a.why = "no TLS connection within " + seconds_text(allowance);
    co_return a;
  }
  if (!connection->stream) {
    switch (connection->failed_at) {
      case tls_connection::stage::connect:
        a.what = outcome::connect_failed;
        a.why = "cannot connect: " + connection->error;
        break;
      case tls_connection::stage::handshake_timeout:
        a.what = outcome::handshake_timed_out;
        a.why = "no TLS handshake within " + seconds_text(allowance);
        break;
      default:
        a.what = failover::handshake_outcome(connection->error);
        a.why = connection->error;
        a.error = connection->failure(where);
        break;
    }
    co_return a;
  }
  auto stream = std::move(connection->stream);
  // The server's name first, as in the words of the line before failover
  // (benchmarks and tests read "TLS established with NAME (VERSION SUITE)").
  std::string at_address;
  if (where != name) at_address = " at " + address_key(address);
  log::debug("TLS established with ", name, " (", stream->protocol_version(), " ", stream->cipher_suite(), ")",
             stream->resumed() ? ", resumed" : "", at_address);

  // Host names the server by the name its certificate was checked against
  // (and SNI carried), not by the address dialled.
  const auto request =
      client_connect_request(o.uuid, to_string(endpoint_spec{access.server_name, server.port}), o.client_key);
  error_code ec;
  if (!co_await within(o.connect_timeout, stream->write_all(asio::buffer(request), ec)) || ec) {
    a.what = outcome::closed_before_answer;
    a.why = "lost the connection while asking for " + o.uuid;
    co_return a;
  }
  std::string buf;
  response_head answer;
  auto parsed = co_await within(o.answer_timeout, read_head(*stream, buf, answer, {}, ec));
  if (!parsed) {
    a.what = outcome::no_answer;
    a.why = "no answer within " + seconds_text(o.answer_timeout);
    co_return a;
  }
  if (ec) {
    a.what = outcome::closed_before_answer;
    a.why = "the connection closed before an answer: " + ec.message();
    co_return a;
  }
  if (parsed->status != parse_status::good) {
    a.what = outcome::malformed_answer;
    a.error = "malformed answer from " + where + ": " + parsed->error;
    co_return a;
  }
  log::debug("the server ", where, " answered ", answer.status, " ", printable(answer.reason));
  a.status = answer.status;
  if (answer.status == 200) {
    a.opened = tunnel{std::move(stream), std::move(buf)};
    co_return a;
  }
  std::string body;
  if (auto got = co_await within(std::chrono::seconds(2), read_small_body(*stream, buf, answer))) body = *got;
  const auto refusal = refusal_at(o, server, answer.status, body);
  a.exit = refusal.code;
  a.error = refusal.what();
  a.why = std::to_string(answer.status);
  if (const auto diagnostic = error_diagnostic(body); !diagnostic.empty()) a.why += ": " + diagnostic;
  co_return a;
}

// One run over the servers and their addresses, for one tunnel.
struct failover_run {
  const options& o;
  const ssl_ctx_ptr& tls;
  failover::failure_memory& memory;
  failover::budget budget;
  std::vector<failover::failed_attempt> failed;
};

// Tries one address. The tunnel on success; nullopt to move on (recorded in
// run.failed); throws exit_error to stop.
awaitable<std::optional<tunnel>> try_address(failover_run& run, const endpoint_spec& server,
                                             const tcp::endpoint& address) {
  const auto key = address_key(address);
  const auto where = failover::describe(to_string(server), key);
  auto a = co_await attempt_at(run.o, run.tls, server, address, run.budget.next());
  run.budget.spend(a.connecting);
  switch (failover::judge(a.what, a.status)) {
    case failover::verdict::open:
      run.memory.succeeded(key);
      if (!run.failed.empty())
        log::info("tunnel opened at ", where, " after ", run.failed.size(), " failed attempt(s)");
      co_return std::move(a.opened);
    case failover::verdict::next:
      run.memory.failed(key, steady_clock::now());
      // info, not warn: as a ProxyCommand rvconnect shares ssh's terminal,
      // and a node that is down is the operator's news, not the user's.
      log::info("no tunnel at ", where, ": ", a.why, "; moving on");
      run.failed.push_back({where, a.why});
      co_return std::nullopt;
    case failover::verdict::stop:
      // A node that answered is up, whatever it said.
      if (a.what == failover::outcome::answered) run.memory.succeeded(key);
      break;
  }
  throw exit_error(a.exit, a.error);
}

// Tries each server in turn and each of its addresses (those that failed
// lately last, after every other), until a tunnel opens or an answer says
// stop. Throws exit_error with the code a script can act on.
awaitable<tunnel> open_tunnel(const options& o, const ssl_ctx_ptr& tls, failover::failure_memory& memory) {
  failover_run run{o, tls, memory, failover::budget(o.try_timeout, o.connect_timeout), {}};
  struct held { const endpoint_spec* server; tcp::endpoint address; };
  std::vector<held> later;
  std::vector<std::string> untried;
  for (const auto& server : o.servers) {
    if (run.budget.exhausted()) {
      untried.push_back(to_string(server));
      continue;
    }
    std::string why;
    const auto started = steady_clock::now();
    auto resolved = co_await resolve_all(server, run.budget.next(), why);
    run.budget.spend(steady_clock::now() - started);
    if (resolved.endpoints.empty()) {
      log::info("no tunnel at ", to_string(server), ": ", why, "; moving on");
      run.failed.push_back({to_string(server), why});
      continue;
    }
    const auto order = memory.split(resolved.keys, steady_clock::now());
    for (auto i : order.later) later.push_back({&server, resolved.endpoints[i]});
    for (auto i : order.now) {
      if (run.budget.exhausted()) {
        untried.push_back(failover::describe(to_string(server), resolved.keys[i]));
        continue;
      }
      if (auto t = co_await try_address(run, server, resolved.endpoints[i])) co_return std::move(*t);
    }
  }
  for (const auto& h : later) {
    if (run.budget.exhausted()) {
      untried.push_back(failover::describe(to_string(*h.server), address_key(h.address)));
      continue;
    }
    if (auto t = co_await try_address(run, *h.server, h.address)) co_return std::move(*t);
  }
  throw exit_error(exit_code::failure, failover::summary(run.failed, untried, o.connect_timeout));
}

awaitable<void> stdio_session(const options& o, ssl_ctx_ptr tls) {
  failover::failure_memory memory;
  auto t = co_await open_tunnel(o, tls, memory);
  stdio_stream stdio(co_await asio::this_coro::executor);
  error_code ec;
  if (!t.early.empty()) co_await stdio.write_all(asio::buffer(t.early), ec);
  if (ec) throw exit_error(exit_code::failure, "cannot write to stdout: " + ec.message());
  log::info("tunnel to ", o.uuid, " open");
  auto r = co_await relay(stdio, *t.stream);
  if (r.error) throw exit_error(exit_code::failure, "the tunnel was aborted: " + r.error.message());
  log::info("tunnel closed: sent ", r.a_to_b, " bytes, received ", r.b_to_a + t.early.size());
}

// Each local connection does its own failover; `memory` is the listener's,
// so that an address one connection found dead is tried last by the next.
awaitable<void> local_session(tcp::socket socket, const options& o, ssl_ctx_ptr tls,
                              failover::failure_memory& memory) {
  const auto peer = peer_string(socket);
  tcp_stream local(std::move(socket));
  tunnel t;
  try {
    t = co_await open_tunnel(o, tls, memory);
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

awaitable<void> accept_loop(tcp::acceptor& acceptor, const options& o, ssl_ctx_ptr tls,
                            failover::failure_memory& memory) {
  co_await accept_each(acceptor, [&](tcp::socket socket) {
    asio::co_spawn(acceptor.get_executor(), local_session(std::move(socket), o, tls, memory), asio::detached);
  });
}

int run_listener(const options& o, const ssl_ctx_ptr& tls) {
  // Declared before io: the sessions that io destroys refer to it.
  failover::failure_memory memory;
  asio::io_context io(1);
  if (!ip_literal(o.listen->host)) throw config_error("--listen needs an IP address, got '" + o.listen->host + "'");
  auto acceptor = listen_on(io, *o.listen);
  announce(*acceptor, "listening");
  asio::co_spawn(io, accept_loop(*acceptor, o, tls, memory), asio::detached);
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
