// Deadlines, head reads and dialing: the waits every connection makes.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "rv/asio.hpp"
#include "rv/endpoint.hpp"
#include "rv/head.hpp"
#include "rv/log.hpp"
#include "rv/stream.hpp"

namespace rv {

using seconds = std::chrono::seconds;
using milliseconds = std::chrono::milliseconds;

// Runs op, racing a timer. Returns false when the timer won; op was then
// cancelled and whatever it was doing is left half-done: drop the connection.
awaitable<bool> within(steady_clock::duration limit, awaitable<void> op);

// The same for an operation with a result: nullopt when the timer won.
template <class T>
awaitable<std::optional<T>> within(steady_clock::duration limit, awaitable<T> op) {
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto winner = co_await (std::move(op) || timer.async_wait(nothrow));
  if (winner.index() != 0) co_return std::nullopt;
  co_return std::get<0>(std::move(winner));
}

// Reads until `buf` holds a whole head, parsing it into `head`. On `good`, the
// head's bytes are erased from buf and what follows (body or tunnel bytes) is
// left in it. `bad`/`too_large` come from the parser; a read error or EOF sets
// ec. Never buffers more than limits.max_head plus one read.
awaitable<parse_result> read_head(byte_stream& s, std::string& buf, request_head& head,
                                  const head_limits& limits, error_code& ec);
awaitable<parse_result> read_head(byte_stream& s, std::string& buf, response_head& head,
                                  const head_limits& limits, error_code& ec);

// The body of a small answer (an error's JSON): Content-Length bytes from buf
// and then the stream. Empty when there is none, it exceeds `cap`, or the
// stream ends first. Bound it in time with within().
awaitable<std::string> read_small_body(byte_stream& s, std::string& buf, const response_head& head,
                                       std::size_t cap = 4096);

// The address `host` spells, when it is an IPv4 or IPv6 address rather than
// a name (a name needs a lookup; an address is matched against IP SANs).
std::optional<asio::ip::address> ip_literal(const std::string& host);

// Resolves and connects, trying each address in turn, within `limit` overall.
// Sets TCP_NODELAY on success.
awaitable<tcp::socket> dial(const endpoint_spec& where, steady_clock::duration limit, error_code& ec);

// Accepts until the acceptor closes, handing each connection (with
// TCP_NODELAY set) to `handle`, which must spawn its session and return.
// A failed accept (EMFILE, ENFILE, ENOBUFS...) pauses the loop briefly; it
// never ends it.
template <class Handler>
awaitable<void> accept_each(tcp::acceptor& acceptor, Handler handle);

// Stops `io` on SIGINT or SIGTERM with a log line. `signals` must outlive io.run().
void stop_on_signals(asio::io_context& io, asio::signal_set& signals);

// TCP_NODELAY: the protocol's heads are small and Nagle plus delayed ACKs
// would cost ~40 ms per tunnel (docs/PROTOCOL.md §2.1).
void set_nodelay(tcp::socket& s);
// SO_KEEPALIVE with the first probe after a random 2/3..1 of `idle` (so that a
// pool's probes do not all fire at once), then every idle/3, five probes:
// parked connections outlive NAT idle timeouts and dead ones surface.
void set_keepalive(tcp::socket& s, seconds idle);

// " error=MESSAGE" for a log line, or "" when ec is empty.
//
// GCC 12 miscompiles a conditional expression of class type inside a
// coroutine (a temporary of one branch is destroyed while still in use), so
// coroutines call small functions like this one instead of writing `c ? a : b`
// with strings or other class types.
std::string error_note(const error_code& ec);
// `text` or `fallback` when text is null.
std::string value_or(const std::string* text, std::string_view fallback);

// "1.2.3.4:56" / "[::1]:56" for logs.
std::string peer_string(const tcp::socket& s);

template <class Handler>
awaitable<void> accept_each(tcp::acceptor& acceptor, Handler handle) {
  asio::steady_timer pause(acceptor.get_executor());
  // Out of descriptors, accept fails every 100 ms until some close: one line
  // then, and a count every 10 s while it lasts, not ten lines a second.
  steady_clock::time_point logged{};
  unsigned unlogged = 0;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      if (steady_clock::now() - logged >= seconds(10)) {
        if (unlogged > 0) log::warn("accept failed ", unlogged, " more times in 10 s");
        log::warn("accept failed: ", ec.message(), "; pausing 100 ms");
        logged = steady_clock::now();
        unlogged = 0;
      } else {
        ++unlogged;
      }
      pause.expires_after(milliseconds(100));
      co_await pause.async_wait(nothrow);
      continue;
    }
    set_nodelay(socket);
    handle(std::move(socket));
  }
}

}  // namespace rv
