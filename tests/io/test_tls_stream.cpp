// tls_stream over loopback TCP: trust decisions, half-close, truncation, abort,
// and a large transfer both ways at once (tcp_stream alongside, as the baseline).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <boost/asio/ssl.hpp>

#include "rv/tls.hpp"
#include "rv/tls_stream.hpp"
#include "io_fixture.hpp"

using namespace rv_test;

namespace {

enum class server_cert { ca_signed, self_signed };
enum class ca { none, test_ca, other_ca };
enum class pin { none, servers, other };

struct handshake_case {
  const char* name;
  server_cert cert;
  ca trust;
  pin pinned;
  const char* server_name;
  bool ok;
  const char* reason = "";  // a part of failure_reason() when not ok
};

const handshake_case handshake_cases[] = {
    {"CA trust, IP name", server_cert::ca_signed, ca::test_ca, pin::none, "127.0.0.1", true},
    {"CA trust, DNS name", server_cert::ca_signed, ca::test_ca, pin::none, "localhost", true},
    {"pin only, self-signed server", server_cert::self_signed, ca::none, pin::servers, "127.0.0.1", true},
    {"CA trust and pin", server_cert::ca_signed, ca::test_ca, pin::servers, "127.0.0.1", true},
    {"pin only, wrong pin", server_cert::self_signed, ca::none, pin::other, "127.0.0.1", false, "pin"},
    {"CA trust, wrong pin", server_cert::ca_signed, ca::test_ca, pin::other, "127.0.0.1", false, "pin"},
    {"wrong CA", server_cert::ca_signed, ca::other_ca, pin::none, "127.0.0.1", false,
     "certificate verify failed"},
    {"self-signed server, CA trust", server_cert::self_signed, ca::test_ca, pin::none, "127.0.0.1", false,
     "certificate verify failed"},
    {"wrong IP name", server_cert::ca_signed, ca::test_ca, pin::none, "127.0.0.2", false, "127.0.0.2"},
    {"wrong DNS name", server_cert::ca_signed, ca::test_ca, pin::none, "rendezvous.example", false,
     "rendezvous.example"},
};

rv::client_trust trust_for(const handshake_case& c) {
  const auto& p = pki::get();
  rv::client_trust trust;
  if (c.trust == ca::test_ca) trust.ca_file = p.ca_cert;
  if (c.trust == ca::other_ca) trust.ca_file = p.other_ca_cert;
  const auto& servers_pin = c.cert == server_cert::ca_signed ? p.leaf_pin : p.self_pin;
  const auto& other_pin = c.cert == server_cert::ca_signed ? p.self_pin : p.leaf_pin;
  if (c.pinned == pin::servers) trust.pins.push_back(servers_pin);
  if (c.pinned == pin::other) trust.pins.push_back(other_pin);
  return trust;
}

// GCC 12 miscompiles `c ? a : b` of class type inside a coroutine (rv/io.hpp),
// so the coroutines below ask these instead.
rv::ssl_ctx_ptr server_context_for(const handshake_case& c) {
  if (c.cert == server_cert::ca_signed) return leaf_server_context();
  return self_signed_server_context();
}

std::string servers_pin_text(const handshake_case& c) {
  if (c.cert == server_cert::ca_signed) return rv::to_string(pki::get().leaf_pin);
  return rv::to_string(pki::get().self_pin);
}

awaitable<void> read_once(rv::byte_stream& s, error_code& ec) {
  char c = 0;
  auto into = asio::buffer(&c, 1);
  co_await s.read_some(into, ec);
}

awaitable<void> abort_soon(rv::byte_stream& s) {
  // Let the reader start first, so that abort() meets a pending read.
  co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
  s.abort();
}

// A TLS peer that is not a tls_stream (asio's own), so that it can ask for a
// KeyUpdate (RFC 8446 §4.6.3) every MiB: each one makes the reading side of
// the tls_stream owe a KeyUpdate of its own. It writes everything before it
// reads anything.
awaitable<void> key_updating_peer(asio::ssl::stream<tcp::socket>& peer, const std::string& data, std::size_t want,
                                  std::string& got, error_code& ec, int& updates) {
  constexpr std::size_t chunk = 256 << 10;
  for (std::size_t at = 0; at < data.size() && !ec; at += chunk) {
    if (at > 0 && at % (1 << 20) == 0) {
      BOOST_TEST(SSL_key_update(peer.native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1);
      ++updates;
    }
    auto piece = asio::buffer(data.data() + at, std::min(chunk, data.size() - at));
    auto [e, n] = co_await asio::async_write(peer, piece, nothrow);
    ec = e;
  }
  if (ec) co_return;
  got.resize(want);
  auto into = asio::buffer(got);
  auto [e, n] = co_await asio::async_read(peer, into, nothrow);
  ec = e;
  got.resize(n);
}

awaitable<void> write_then_read(rv::byte_stream& s, const std::string& data, std::size_t want, std::string& got,
                                error_code& write_ec, error_code& read_ec) {
  co_await (s.write_all(asio::buffer(data), write_ec) && read_exactly(s, want, got, read_ec));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tls_stream, io_fixture)

BOOST_AUTO_TEST_CASE(handshake_trusts_what_the_client_was_told_to_trust) {
  for (const auto& c : handshake_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      run([&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto trust = trust_for(c);
        tls_pair p(ex, rv::make_client_context(trust), server_context_for(c));
        const std::string name = c.server_name;
        p.client->set_server_name(name);
        p.client->set_pins(trust.pins);
        error_code cec, sec;
        co_await p.handshake(cec, sec);
        if (c.ok) {
          BOOST_TEST(!cec, cec.message() << ": " << p.client->failure_reason());
          BOOST_TEST(!sec, sec.message() << ": " << p.server->failure_reason());
          BOOST_TEST(p.client->protocol_version() == "TLSv1.3");
          // The channel carries bytes.
          const std::string hello = "hello";
          error_code wec, rec;
          co_await p.client->write_all(asio::buffer(hello), wec);
          char got[5] = {};
          auto into = asio::buffer(got);
          std::size_t n = co_await p.server->read_some(into, rec);
          BOOST_TEST(!wec);
          BOOST_TEST(!rec);
          BOOST_TEST(std::string(got, n) == hello);
        } else {
          BOOST_TEST(cec, "the client handshake should fail");
          BOOST_TEST(p.client->failure_reason().find(c.reason) != std::string::npos,
                     "failure_reason() = '" << p.client->failure_reason() << "' should mention '" << c.reason << "'");
          if (c.pinned == pin::other) {
            // The reason names the key the server does have, for --pin.
            auto actual = servers_pin_text(c);
            BOOST_TEST(p.client->failure_reason().find(actual) != std::string::npos, p.client->failure_reason());
          } else {
            // A verify failure sends an alert: the server's handshake fails too.
            BOOST_TEST(sec, "the server handshake should fail after the client's alert");
          }
        }
      });
    }
  }
}

// A name the certificate cannot be checked against must fail the
// connection, never switch the check off: before the fix an empty name, or
// an IPv6 literal with a zone id (which OpenSSL's IP parser refuses), left
// no name to check and a certificate for another name passed.
BOOST_AUTO_TEST_CASE(a_name_that_cannot_be_checked_fails_closed) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    {
      tls_pair p(ex, ca_client_context(), leaf_server_context());
      BOOST_CHECK_THROW(p.client->set_server_name(""), std::exception);
    }
    // The test certificate names 127.0.0.1 and localhost, not ::1 or 127.0.0.1%lo.
    for (const std::string name : {"::1%lo", "fe80::1%1", "127.0.0.1%lo", "::1"}) {
      BOOST_TEST_CONTEXT(name) {
        tls_pair p(ex, ca_client_context(), leaf_server_context());
        bool refused_at_once = false;
        try {
          p.client->set_server_name(name);
        } catch (const std::exception&) {
          refused_at_once = true;
        }
        if (refused_at_once) continue;
        error_code cec, sec;
        co_await p.handshake(cec, sec);
        BOOST_TEST(cec.failed(), "a certificate for 127.0.0.1 passed for " << name);
        BOOST_TEST(p.client->failure_reason().find("not for") != std::string::npos, p.client->failure_reason());
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(a_peer_closing_during_the_handshake_is_reported) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tls_pair p(ex, ca_client_context(), leaf_server_context());
    p.client->socket().shutdown(tcp::socket::shutdown_send);  // a FIN before any ClientHello
    error_code ec;
    co_await p.server->handshake(ec);
    BOOST_TEST(ec);
    BOOST_TEST(p.server->failure_reason().find("closed") != std::string::npos, p.server->failure_reason());
  });
}

// The client sends its whole request and half-closes; the server reads it to a
// clean EOF and only then answers, and the client still gets the answer. This
// is what asio::ssl::stream cannot do and why tls_stream exists.
BOOST_AUTO_TEST_CASE(half_close_lets_the_reply_through) {
  for (auto t : transports) {
    BOOST_TEST_CONTEXT(t) {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(t);
        exchange client("GET /whole-file HTTP/1.0\r\n\r\n");
        exchange server("HTTP/1.0 200 OK\r\n\r\nthe reply after the client's EOF");
        co_await (speak_then_listen(*p.client, client) && listen_then_speak(*p.server, server));
        BOOST_TEST(!client.send_ec);
        BOOST_TEST(server.received == client.sent);
        BOOST_TEST(server.read_ec == eof);
        BOOST_TEST(!server.send_ec);
        BOOST_TEST(client.received == server.sent);
        BOOST_TEST(client.read_ec == eof);
      });
    }
  }
}

// A FIN without close_notify is a truncation (RFC 8446 §6.1), never a clean end.
BOOST_AUTO_TEST_CASE(a_fin_without_close_notify_is_a_truncation) {
  const std::string sent_before[] = {"", "some data, then the TCP connection ends"};
  for (const auto& data : sent_before) {
    BOOST_TEST_CONTEXT("data before the FIN: '" << data << "'") {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(transport::tls);
        auto& client = static_cast<rv::tls_stream&>(*p.client);
        error_code wec;
        if (!data.empty()) co_await client.write_all(asio::buffer(data), wec);
        BOOST_TEST(!wec);
        client.socket().shutdown(tcp::socket::shutdown_send);
        std::string got;
        error_code ec;
        co_await read_to_end(*p.server, got, ec);
        BOOST_TEST(got == data);
        BOOST_TEST(ec == truncated);
      });
    }
  }
}

BOOST_AUTO_TEST_CASE(abort_is_seen_as_a_reset_never_as_eof) {
  for (auto t : transports) {
    BOOST_TEST_CONTEXT(t) {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(t);
        // A read pending on the aborting side completes with an error.
        error_code own_ec;
        co_await (read_once(*p.client, own_ec) && abort_soon(*p.client));
        BOOST_TEST(own_ec == aborted);
        // The peer sees a reset.
        std::string got;
        error_code peer_ec;
        co_await read_to_end(*p.server, got, peer_ec);
        BOOST_TEST(got.empty());
        BOOST_TEST(peer_ec == reset);
        // abort() is idempotent, and nothing can be written after it.
        p.client->abort();
        const std::string more = "more";
        error_code wec;
        co_await p.client->write_all(asio::buffer(more), wec);
        BOOST_TEST(wec);
      });
    }
  }
}

// 8 MiB each way at once: both ends write while both read. A reader that waited
// on the writer's flush (or the reverse) would deadlock here.
BOOST_AUTO_TEST_CASE(large_transfer_both_ways_at_once) {
  constexpr std::size_t size = 8 << 20;
  for (auto t : transports) {
    BOOST_TEST_CONTEXT(t) {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(t);
        two_way_transfer x{pattern(size, 1), pattern(size, 2)};
        const auto start = steady_clock::now();
        co_await send_both_ways(*p.client, *p.server, x);
        BOOST_TEST_MESSAGE(t << ": 2 x 8 MiB in " << ms_since(start) << " ms");
        check_both_ways(x);
      });
    }
  }
}

// The parking flow of rvserver: a parked stream releases its buffers, a watch
// read waits on it, take() cancels the socket to end the watch, and the stream
// then carries a whole exchange both ways (under ASan, a read into a released
// buffer would show here).
BOOST_AUTO_TEST_CASE(a_released_stream_can_be_watched_cancelled_and_reused) {
  run([&]() -> awaitable<void> {
    auto p = co_await connected_pair(transport::tls);
    auto& parked = static_cast<rv::tls_stream&>(*p.server);
    auto& hidden = static_cast<rv::tls_stream&>(*p.client);
    // Some traffic first, so that both ends hold buffers to release.
    exchange warmup("warm-up");
    error_code ec;
    co_await hidden.write_all(asio::buffer(warmup.sent), ec);
    co_await read_exactly(parked, warmup.sent.size(), warmup.received, warmup.read_ec);
    BOOST_TEST(!ec);
    BOOST_TEST(warmup.received == warmup.sent);
    parked.release_buffers();
    hidden.release_buffers();

    error_code watch_ec;
    auto cancel_soon = [&]() -> awaitable<void> {
      co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
      error_code ignored;
      parked.socket().cancel(ignored);
    };
    co_await (read_once(parked, watch_ec) && cancel_soon());
    BOOST_TEST(watch_ec == aborted);

    exchange client("a client's request, after the stream was parked");
    exchange server("the hidden server's answer");
    co_await (speak_then_listen(parked, client) && listen_then_speak(hidden, server));
    BOOST_TEST(server.received == client.sent);
    BOOST_TEST(server.read_ec == eof);
    BOOST_TEST(client.received == server.sent);
    BOOST_TEST(client.read_ec == eof);
  });
}

// The tls_stream writes into a peer that reads nothing until it has written
// everything, so its writer sits in a flush; meanwhile its reader meets the
// peer's KeyUpdate requests and owes replies. A reader that waited for the
// writer's flush would never read on, the peer would never finish writing, and
// both would stall (the bug fixed in 90c93c4).
BOOST_AUTO_TEST_CASE(key_updates_while_the_writer_is_blocked_do_not_stall_the_reader) {
  constexpr std::size_t size = 8 << 20;
  const std::string to_peer = pattern(size, 5), from_peer = pattern(size, 6);
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto [c, s] = tcp_pair(ex);
    // Small buffers, so that the tls_stream's writer blocks early.
    c.set_option(asio::socket_base::send_buffer_size(64 << 10));
    s.set_option(asio::socket_base::receive_buffer_size(64 << 10));
    rv::tls_stream client(std::move(c), ca_client_context(), rv::tls_stream::role::client);
    const std::string name = "127.0.0.1";
    client.set_server_name(name);
    asio::ssl::context server_ctx(asio::ssl::context::tls_server);
    server_ctx.use_certificate_chain_file(pki::get().leaf_cert);
    server_ctx.use_private_key_file(pki::get().leaf_key, asio::ssl::context::pem);
    asio::ssl::stream<tcp::socket> peer(std::move(s), server_ctx);

    error_code cec;
    co_await (client.handshake(cec) && peer.async_handshake(asio::ssl::stream_base::server, use_awaitable));
    BOOST_TEST_REQUIRE(!cec, client.failure_reason());
    BOOST_TEST_REQUIRE(client.protocol_version() == "TLSv1.3");

    std::string client_got, peer_got;
    error_code client_wec, client_rec, peer_ec;
    int updates = 0;
    co_await (write_then_read(client, to_peer, size, client_got, client_wec, client_rec) &&
              key_updating_peer(peer, from_peer, size, peer_got, peer_ec, updates));
    BOOST_TEST(updates == 7);
    BOOST_TEST(!client_wec, client_wec.message());
    BOOST_TEST(!client_rec, client_rec.message());
    BOOST_TEST(!peer_ec, peer_ec.message());
    BOOST_TEST(compare_bytes(client_got, from_peer) == "identical");
    BOOST_TEST(compare_bytes(peer_got, to_peer) == "identical");
  });
}

namespace {
// Calls release_buffers() on `s` at every turn of the scheduler until `done`.
awaitable<void> keep_releasing(rv::tls_stream& s, const bool& done, int& calls) {
  auto ex = co_await asio::this_coro::executor;
  while (!done) {
    s.release_buffers();
    ++calls;
    co_await asio::post(ex, use_awaitable);
  }
}

awaitable<void> read_all_then_flag(rv::byte_stream& s, std::size_t want, std::string& out, error_code& ec,
                                   bool& done) {
  co_await read_exactly(s, want, out, ec);
  done = true;
}
}  // namespace

// release_buffers() may come at any time (a caller that stops reading, as a
// parked connection's owner does), also while a read is filling the stream's
// queue across a wait or a yield: then it must leave that buffer alone.
// Before the fix it freed the block the read was filling.
BOOST_AUTO_TEST_CASE(release_buffers_leaves_a_filling_read_its_buffer) {
  constexpr std::size_t size = 8 << 20;
  const std::string data = pattern(size, 11);
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tls_pair p(ex, ca_client_context(), leaf_server_context());
    const std::string name = "127.0.0.1";
    p.client->set_server_name(name);
    error_code cec, sec;
    co_await p.handshake(cec, sec);
    BOOST_TEST_REQUIRE(!cec, p.client->failure_reason());
    std::string got;
    error_code wec, rec;
    bool done = false;
    int calls = 0;
    co_await (p.server->write_all(asio::buffer(data), wec) &&
              read_all_then_flag(*p.client, size, got, rec, done) && keep_releasing(*p.client, done, calls));
    BOOST_TEST_MESSAGE("release_buffers calls during the transfer: " << calls);
    BOOST_TEST(!wec, wec.message());
    BOOST_TEST(!rec, rec.message());
    BOOST_TEST(compare_bytes(got, data) == "identical");
  }, 60s);
}

namespace {
// A peer that asks for a key update with every byte it sends and never reads
// (a TLS 1.3 KeyUpdate request obliges the other side to answer with one of
// its own). Stops at the first failed write, or after `max` of them, and
// then drops the connection.
awaitable<void> key_update_flood(asio::ssl::stream<tcp::socket>& peer, int max, int& sent) {
  const char byte = 'k';
  for (sent = 0; sent < max; ++sent) {
    if (SSL_key_update(peer.native_handle(), SSL_KEY_UPDATE_REQUESTED) != 1) break;
    auto [e, n] = co_await asio::async_write(peer, asio::buffer(&byte, 1), nothrow);
    if (e) break;
  }
  error_code ignored;
  peer.next_layer().close(ignored);
}

// Reads until the stream fails, then aborts it (which ends a blocked writer).
awaitable<void> read_until_error(rv::tls_stream& s, error_code& ec) {
  char buf[4096];
  while (!ec) co_await s.read_some(asio::buffer(buf), ec);
  s.abort();
}

awaitable<void> write_ignoring_errors(rv::tls_stream& s, const std::string& data) {
  error_code ec;
  co_await s.write_all(asio::buffer(data), ec);
}
}  // namespace

// rvserver's leg of a tunnel whose client sends KeyUpdate requests in a loop
// and reads nothing: the stream's writer is stuck in a flush (the client's
// window is full), so the replies the reader owes pile up in the write
// queue. They must not pile up without bound: past a cap the stream fails
// (and the relay aborts the tunnel); before the fix 20,000 requests were
// answered into the queue and the stream lived on.
BOOST_AUTO_TEST_CASE(a_peer_that_requests_key_updates_and_never_reads_is_cut_off) {
  constexpr int flood = 20000;
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto [c, s] = tcp_pair(ex);
    s.set_option(asio::socket_base::send_buffer_size(64 << 10));
    c.set_option(asio::socket_base::receive_buffer_size(64 << 10));
    rv::tls_stream server(std::move(s), leaf_server_context(), rv::tls_stream::role::server);
    asio::ssl::context client_ctx(asio::ssl::context::tls_client);
    client_ctx.load_verify_file(pki::get().ca_cert);
    asio::ssl::stream<tcp::socket> peer(std::move(c), client_ctx);

    error_code sec;
    co_await (server.handshake(sec) && peer.async_handshake(asio::ssl::stream_base::client, use_awaitable));
    BOOST_TEST_REQUIRE(!sec, server.failure_reason());
    BOOST_TEST_REQUIRE(server.protocol_version() == "TLSv1.3");

    const std::string never_read = pattern(8 << 20, 7);
    error_code read_ec;
    int sent = 0;
    co_await (write_ignoring_errors(server, never_read) && read_until_error(server, read_ec) &&
              key_update_flood(peer, flood, sent));
    BOOST_TEST_MESSAGE("key update requests sent before the cut: " << sent);
    BOOST_TEST(read_ec == asio::error::no_buffer_space, read_ec.message());
    BOOST_TEST(server.failure_reason().find("KeyUpdate") != std::string::npos, server.failure_reason());
    BOOST_TEST(sent < flood);
  }, 60s);
}

namespace {
// One connection between these two contexts: the handshake's outcome, and
// whether it resumed. The server writes a byte that the client reads, which
// is when a client takes in the ticket that follows a TLS 1.3 handshake.
struct resumption_try {
  error_code client_ec;
  std::string reason;
  bool resumed = false;
};

awaitable<resumption_try> connect_once(rv::ssl_ctx_ptr client_ctx, rv::ssl_ctx_ptr server_ctx, std::string name,
                                       std::vector<rv::spki_pin> pins) {
  auto ex = co_await asio::this_coro::executor;
  tls_pair p(ex, std::move(client_ctx), std::move(server_ctx));
  p.client->set_server_name(name);
  p.client->set_pins(std::move(pins));
  resumption_try out;
  error_code sec;
  co_await p.handshake(out.client_ec, sec);
  out.reason = p.client->failure_reason();
  out.resumed = p.client->resumed();
  if (out.client_ec) co_return out;
  const std::string x = "x";
  error_code wec, rec;
  co_await p.server->write_all(asio::buffer(x), wec);
  co_await read_once(*p.client, rec);
  BOOST_TEST(!wec);
  BOOST_TEST(!rec, rec.message());
  co_return out;
}
}  // namespace

// The client context keeps the server's ticket and the next connection to the
// same name resumes with it; the pins are still checked (against the
// certificate of the session), a ticket from another server key or for
// another name is never used to skip the certificate.
BOOST_AUTO_TEST_CASE(a_later_connection_resumes_and_still_checks_the_pin) {
  run([&]() -> awaitable<void> {
    rv::client_trust trust;
    trust.ca_file = pki::get().ca_cert;
    trust.pins = {pki::get().leaf_pin};
    auto client_ctx = rv::make_client_context(trust);
    auto server_ctx = leaf_server_context();
    const std::vector<rv::spki_pin> right = {pki::get().leaf_pin}, wrong = {pki::get().self_pin};

    auto first = co_await connect_once(client_ctx, server_ctx, "127.0.0.1", right);
    BOOST_TEST_REQUIRE(!first.client_ec, first.reason);
    BOOST_TEST(!first.resumed);  // nothing to resume yet
    BOOST_TEST_REQUIRE(rv::resumable_session(client_ctx.get()) != nullptr);  // the server's ticket, kept

    auto second = co_await connect_once(client_ctx, server_ctx, "127.0.0.1", right);
    BOOST_TEST(!second.client_ec, second.reason);
    BOOST_TEST(second.resumed);

    auto pinned_wrong = co_await connect_once(client_ctx, server_ctx, "127.0.0.1", wrong);
    BOOST_TEST(pinned_wrong.client_ec == asio::error::access_denied);
    BOOST_TEST(pinned_wrong.reason.find("pin") != std::string::npos, pinned_wrong.reason);

    auto other_key = co_await connect_once(client_ctx, leaf_server_context(), "127.0.0.1", right);
    BOOST_TEST(!other_key.client_ec, other_key.reason);
    BOOST_TEST(!other_key.resumed);  // a restarted server: a full handshake, the certificate checked

    auto other_name = co_await connect_once(client_ctx, server_ctx, "localhost", right);
    BOOST_TEST(!other_name.client_ec, other_name.reason);
    BOOST_TEST(!other_name.resumed);
  });
}

BOOST_AUTO_TEST_SUITE_END()
