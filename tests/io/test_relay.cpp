// relay() between a TCP leg and a TLS leg, as rvhidden runs it:
//   client --tcp--> [relay a | relay b] --tls--> server
// An end of stream passes through as a half-close; an abort as an abort.
#include <boost/test/unit_test.hpp>

#include <string>

#include "rv/io.hpp"
#include "rv/relay.hpp"
#include "io_fixture.hpp"

using namespace rv_test;

namespace {

// Both legs of the relay, connected (the TLS one handshaken with CA trust).
struct relay_rig {
  stream_pair tcp;  // client = the client; server = the relay's side a
  stream_pair tls;  // client = the relay's side b; server = the server
  rv::byte_stream& client() { return *tcp.client; }
  rv::byte_stream& a() { return *tcp.server; }
  rv::byte_stream& b() { return *tls.client; }
  rv::byte_stream& server() { return *tls.server; }
};

awaitable<relay_rig> make_rig() {
  relay_rig rig;
  rig.tcp = co_await connected_pair(transport::tcp);
  rig.tls = co_await connected_pair(transport::tls);
  co_return rig;
}

// The relay, given 5 s to finish, so that a relay that never ends fails the
// test with the checks below rather than at the fixture's deadline.
struct relay_outcome {
  bool finished = false;
  rv::relay_result result;
};

awaitable<void> run_relay(relay_rig& rig, relay_outcome& out, rv::relay_deadlines deadlines = {}) {
  const steady_clock::duration limit = 5s;
  auto op = rv::relay(rig.a(), rig.b(), nullptr, nullptr, deadlines);
  auto result = co_await rv::within(limit, std::move(op));
  out.finished = result.has_value();
  if (result) out.result = *result;
}

enum class who { client, server };
inline std::ostream& operator<<(std::ostream& os, who w) { return os << (w == who::client ? "client" : "server"); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(relay, io_fixture)

// Whichever side finishes first, its EOF reaches the other side as a clean
// half-close, and the answer still travels back.
BOOST_AUTO_TEST_CASE(an_eof_becomes_a_half_close_and_the_reply_comes_back) {
  for (auto first : {who::client, who::server}) {
    BOOST_TEST_CONTEXT("the " << first << " speaks and closes first") {
      run([&]() -> awaitable<void> {
        auto rig = co_await make_rig();
        exchange client("the client's whole request");
        exchange server("the server's answer, sent after the EOF");
        relay_outcome relayed;
        if (first == who::client)
          co_await (run_relay(rig, relayed) && speak_then_listen(rig.client(), client) &&
                    listen_then_speak(rig.server(), server));
        else
          co_await (run_relay(rig, relayed) && speak_then_listen(rig.server(), server) &&
                    listen_then_speak(rig.client(), client));
        BOOST_TEST(!client.send_ec);
        BOOST_TEST(!server.send_ec);
        BOOST_TEST(server.received == client.sent);
        BOOST_TEST(server.read_ec == eof);
        BOOST_TEST(client.received == server.sent);
        BOOST_TEST(client.read_ec == eof);
        if (!relayed.finished) {
          BOOST_ERROR("the relay did not finish");
          co_return;
        }
        const auto& result = relayed.result;
        BOOST_TEST(!result.error, result.error.message());
        BOOST_TEST(result.a_to_b == client.sent.size());
        BOOST_TEST(result.b_to_a == server.sent.size());
      });
    }
  }
}

namespace {
enum class ending { reset, tls_truncation };

struct abort_case {
  const char* name;
  who ends;      // the side that breaks its connection
  ending how;
  error_code relay_error;  // what relay_result.error must be
};

void break_connection(relay_rig& rig, const abort_case& c) {
  if (c.how == ending::tls_truncation) {
    // The server's TCP connection ends without close_notify.
    static_cast<rv::tls_stream&>(rig.server()).socket().shutdown(tcp::socket::shutdown_send);
    return;
  }
  if (c.ends == who::client)
    rig.client().abort();
  else
    rig.server().abort();
}

rv::byte_stream& far_end(relay_rig& rig, const abort_case& c) {
  if (c.ends == who::client) return rig.server();
  return rig.client();
}
}  // namespace

// A reset (or a truncated TLS stream) on one side aborts the other: its peer
// sees an error, never a clean EOF that would pass for the end of the data.
BOOST_AUTO_TEST_CASE(an_abort_on_one_side_aborts_the_other) {
  const abort_case cases[] = {
      {"the client resets", who::client, ending::reset, reset},
      {"the server resets", who::server, ending::reset, reset},
      {"the server's TLS stream is truncated", who::server, ending::tls_truncation, truncated},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      run([&]() -> awaitable<void> {
        auto rig = co_await make_rig();
        relay_outcome relayed;
        const std::string hello = "hello";
        std::string got_hello, rest;
        error_code wec, hello_ec, far_ec;
        auto drive = [&]() -> awaitable<void> {
          // Some bytes cross first, so the relay is mid-stream when the break comes.
          co_await rig.client().write_all(asio::buffer(hello), wec);
          co_await read_exactly(rig.server(), hello.size(), got_hello, hello_ec);
          break_connection(rig, c);
          co_await read_to_end(far_end(rig, c), rest, far_ec);
        };
        co_await (run_relay(rig, relayed) && drive());
        BOOST_TEST(!wec);
        BOOST_TEST(!hello_ec);
        BOOST_TEST(got_hello == hello);
        BOOST_TEST(rest.empty());
        BOOST_TEST(far_ec != eof);
        BOOST_TEST(far_ec == reset);
        if (!relayed.finished) {
          BOOST_ERROR("the relay did not finish");
          co_return;
        }
        const auto& result = relayed.result;
        BOOST_TEST(result.error == c.relay_error);
        BOOST_TEST(result.a_to_b == hello.size());
        BOOST_TEST(result.b_to_a == 0u);
      });
    }
  }
}

// --idle-timeout and --half-closed-timeout: a tunnel that stops moving, or
// stays half-closed, is aborted on both legs (not closed cleanly), while one
// that keeps moving outlives the idle limit.
BOOST_AUTO_TEST_CASE(deadlines_abort_a_stalled_or_half_closed_tunnel) {
  struct deadline_case {
    const char* name;
    rv::relay_deadlines deadlines;
    bool client_closes;  // the client half-closes after its bytes
  };
  const deadline_case cases[] = {
      {"idle", {.idle = 300ms}, false},
      {"half-closed", {.half_closed = 300ms}, true},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      run([&]() -> awaitable<void> {
        auto rig = co_await make_rig();
        relay_outcome relayed;
        const std::string hello = "hello";
        std::string got, rest;
        error_code wec, got_ec, far_ec, client_ec;
        const auto began = steady_clock::now();
        auto drive = [&]() -> awaitable<void> {
          co_await rig.client().write_all(asio::buffer(hello), wec);
          if (c.client_closes) co_await rig.client().shutdown_send(wec);
          co_await read_exactly(rig.server(), hello.size(), got, got_ec);
          // The server neither answers nor closes: only a deadline ends this.
          co_await read_to_end(rig.client(), rest, client_ec);
        };
        co_await (run_relay(rig, relayed, c.deadlines) && drive());
        BOOST_TEST(got == hello);
        BOOST_TEST(relayed.finished);
        BOOST_TEST(relayed.result.error == asio::error::timed_out);
        BOOST_TEST(client_ec != eof);  // aborted, not a faked clean end
        const auto took = steady_clock::now() - began;
        BOOST_TEST(took >= 300ms);
        BOOST_TEST(took < 3s);
        // The server's direction ended cleanly only where the client half-closed.
        co_await read_to_end(rig.server(), rest, far_ec);
        BOOST_TEST((far_ec == eof) == c.client_closes);
      });
    }
  run([&]() -> awaitable<void> {
    auto rig = co_await make_rig();
    relay_outcome relayed;
    error_code ec;
    std::string got;
    auto drive = [&]() -> awaitable<void> {
      // 8 small writes 100 ms apart: 800 ms of traffic past a 300 ms idle limit.
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < 8 && !ec; ++i) {
        co_await rig.client().write_all(asio::buffer("x", 1), ec);
        std::string one;
        co_await read_exactly(rig.server(), 1, one, ec);
        got += one;
        timer.expires_after(100ms);
        co_await timer.async_wait(rv::nothrow);
      }
      co_await rig.client().shutdown_send(ec);
      co_await rig.server().shutdown_send(ec);
    };
    co_await (run_relay(rig, relayed, {.idle = 300ms}) && drive());
    BOOST_TEST(got == "xxxxxxxx");
    BOOST_TEST(relayed.finished);
    BOOST_TEST(!relayed.result.error, relayed.result.error.message());
  });
}

// 4 MiB each way at once through both legs; the counts add up.
BOOST_AUTO_TEST_CASE(large_transfer_both_ways_through_the_relay) {
  constexpr std::size_t size = 4 << 20;
  run([&]() -> awaitable<void> {
    auto rig = co_await make_rig();
    relay_outcome relayed;
    two_way_transfer x{pattern(size, 3), pattern(size, 4)};
    co_await (run_relay(rig, relayed) && send_both_ways(rig.client(), rig.server(), x));
    check_both_ways(x);
    if (!relayed.finished) {
      BOOST_ERROR("the relay did not finish");
      co_return;
    }
    const auto& result = relayed.result;
    BOOST_TEST(!result.error, result.error.message());
    BOOST_TEST(result.a_to_b == size);
    BOOST_TEST(result.b_to_a == size);
  });
}

BOOST_AUTO_TEST_SUITE_END()
