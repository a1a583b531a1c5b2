// Fixtures of the io tests (tests/io): an io_context per test with a deadline, loopback
// connections on 127.0.0.1:0, and certificates made at test time.
#pragma once
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include <boost/asio/ssl/error.hpp>
#include <boost/test/unit_test.hpp>

#include "rv/asio.hpp"
#include "rv/head.hpp"
#include "rv/stream.hpp"
#include "rv/tls.hpp"
#include "rv/tls_stream.hpp"

#include "print.hpp"
#include "temp_dir.hpp"

namespace rv_test {

using namespace std::chrono_literals;
namespace asio = rv::asio;
using rv::awaitable;
using rv::error_code;
using rv::nothrow;
using rv::steady_clock;
using rv::tcp;
using rv::use_awaitable;
// The awaitable operators (`a && b` joins, `a || b` races), as rv/asio.hpp names them.
using rv::operator&&;
using rv::operator||;

// The outcomes the tests tell apart, as error_codes so that BOOST_TEST prints them.
inline const error_code eof = asio::error::eof;
inline const error_code truncated = asio::ssl::error::stream_truncated;
inline const error_code reset = asio::error::connection_reset;
inline const error_code aborted = asio::error::operation_aborted;

// One io_context per test. run() drives `body` (a coroutine lambda, or any
// callable returning awaitable<void>) to completion and fails the test when the
// body throws, has not finished by `limit`, or leaves work behind it (a timer,
// a pending read, a detached coroutine) once it has finished.
struct io_fixture {
  template <class Body>
  void run(Body body, steady_clock::duration limit = 10s);
};

template <class Body>
void io_fixture::run(Body body, steady_clock::duration limit) {
  // Declared after `body`, so destroyed first: a frame still pending at the
  // deadline never outlives the lambda it points into.
  asio::io_context io;
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
  });
  const auto deadline = steady_clock::now() + limit;
  while (!finished && io.run_one_until(deadline) > 0) {
  }
  if (failure) std::rethrow_exception(failure);
  BOOST_TEST_REQUIRE(finished, "the test body did not finish within its deadline");
  // What the body closed or cancelled completes now; anything else is a leak.
  io.run_for(1s);
  BOOST_TEST(io.stopped(), "work was left behind on the io_context after the test body finished");
}

// Test-time certificates in a temporary directory, removed at exit:
//   ca        a CA; `leaf` (SAN IP:127.0.0.1, DNS:localhost) is signed by it
//   other_ca  a CA that signed nothing here
//   self      a self-signed certificate with its own key, for pin-only trust
struct pki {
  temp_dir dir;
  std::string ca_cert, other_ca_cert;
  std::string leaf_cert, leaf_key, self_cert, self_key;
  rv::spki_pin leaf_pin{}, self_pin{};

  static const pki& get();  // made on first use

 private:
  pki();
};

// Server contexts presenting the CA-signed leaf, or the self-signed certificate.
rv::ssl_ctx_ptr leaf_server_context();
rv::ssl_ctx_ptr self_signed_server_context();
// A client that trusts the test CA.
rv::ssl_ctx_ptr ca_client_context();

// Two connected TCP sockets on 127.0.0.1 (listener on port 0), TCP_NODELAY set.
std::pair<tcp::socket, tcp::socket> tcp_pair(const asio::any_io_executor& ex);

// Both ends of one loopback TLS connection, not yet handshaken.
struct tls_pair {
  tls_pair(const asio::any_io_executor& ex, rv::ssl_ctx_ptr client_ctx, rv::ssl_ctx_ptr server_ctx);
  // Runs both handshakes at once; each end's outcome lands in its own ec.
  awaitable<void> handshake(error_code& client_ec, error_code& server_ec);

  std::unique_ptr<rv::tls_stream> client, server;
};

enum class transport { tcp, tls };
inline std::ostream& operator<<(std::ostream& os, transport t) {
  return os << (t == transport::tcp ? "tcp" : "tls");
}
inline constexpr transport transports[] = {transport::tcp, transport::tls};

// A connected client/server byte_stream pair: plain TCP, or TLS handshaken with
// CA trust and server name 127.0.0.1 (the test fails if that handshake does).
struct stream_pair {
  std::unique_ptr<rv::byte_stream> client, server;
};
awaitable<stream_pair> connected_pair(transport t);

// Writes all of `data` in `chunk`-sized write_all calls, then half-closes.
awaitable<void> send_then_close(rv::byte_stream& s, const std::string& data, error_code& ec,
                                std::size_t chunk = 100 * 1000);
// Reads until the stream ends, appending to `out`; ec says how it ended
// (eof when cleanly).
awaitable<void> read_to_end(rv::byte_stream& s, std::string& out, error_code& ec);
// Reads until `out` holds `want` bytes (or an error).
awaitable<void> read_exactly(rv::byte_stream& s, std::size_t want, std::string& out, error_code& ec);

// One side of a request/reply exchange over a byte_stream.
struct exchange {
  explicit exchange(std::string to_send) : sent(std::move(to_send)) {}
  std::string sent;      // what this side writes before it half-closes
  std::string received;  // what it read before the stream ended
  error_code send_ec, read_ec;  // read_ec is eof when the stream ended cleanly
};
// Writes x.sent, half-closes, then reads the answer to its end (a client that
// sends a whole file, then waits for the reply).
awaitable<void> speak_then_listen(rv::byte_stream& s, exchange& x);
// Reads to the end, then writes x.sent and half-closes (a server that answers
// after its client's EOF).
awaitable<void> listen_then_speak(rv::byte_stream& s, exchange& x);

// Both ends at once: the client sends `up` and half-closes while the server
// sends `down` and half-closes, and each reads the other's to the end.
struct two_way_transfer {
  two_way_transfer(std::string u, std::string d) : up(std::move(u)), down(std::move(d)) {}
  std::string up, down;
  std::string got_up, got_down;
  error_code up_send, up_read, down_send, down_read;
};
awaitable<void> send_both_ways(rv::byte_stream& client, rv::byte_stream& server, two_way_transfer& x);
// Checks that both directions arrived whole and ended cleanly.
void check_both_ways(const two_way_transfer& x);

// `size` pseudo-random bytes, the same for the same seed.
std::string pattern(std::size_t size, unsigned seed);
// "identical", or where and how two byte strings first differ (without
// printing megabytes into the log).
std::string compare_bytes(const std::string& got, const std::string& want);

// Time since `start` in milliseconds, for messages.
inline long long ms_since(steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - start).count();
}

}  // namespace rv_test
