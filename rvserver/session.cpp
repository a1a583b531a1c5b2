// One connection to rvserver: TLS, one request head, then a registration,
// a client, or a refusal (session.hpp).
#include "rvserver/session.hpp"

#include <ctime>
#include <memory>
#include <utility>

#include "rv/answers.hpp"
#include "rv/io.hpp"
#include "rv/log.hpp"
#include "rv/protocol.hpp"
#include "rv/tls_stream.hpp"
#include "rvserver/pairing.hpp"
#include "rvserver/refusal.hpp"

namespace rvserver {

using namespace rv;
using namespace std::chrono_literals;

namespace {

// The registration's 401s: one answer for an unknown UUID and a wrong code,
// so that UUIDs cannot be probed; the other two say what to do.
std::string_view refusal_diagnostic(verdict v) {
  switch (v) {
    case verdict::replayed:
      return "this TOTP code was used already (the server refuses reused codes); wait for the next one";
    case verdict::credential_refused:
      return "pool credential expired or not valid (the server may have restarted); register with a TOTP code";
    default:
      return "unknown UUID or wrong token";
  }
}

// How long a hidden server refused for want of Redis should wait: about the
// longest the Redis client's reconnection backoff takes to notice it is back.
constexpr std::chrono::seconds redis_retry_after{5};

// The gate's verdict, from Redis when the nodes share the gate's memory;
// nullopt when Redis is needed and down and --redis-unavailable says refuse.
awaitable<std::optional<gate_result>> judge(server_state& st, const registration_attempt& a) {
  const auto unix_now = static_cast<std::int64_t>(std::time(nullptr));
  if (!st.shared) co_return st.gate.check(a, steady_clock::now(), unix_now);
  if (auto verdict = co_await st.shared->check(a, unix_now)) co_return verdict;
  ++st.stats.redis_unavailable;
  if (st.opts.redis_fallback_local) co_return st.gate.check(a, steady_clock::now(), unix_now);
  co_return std::nullopt;
}

awaitable<void> register_hidden(std::unique_ptr<tls_stream> stream, std::string& leftover,
                                const classified_request& req, server_state& st, const conn_info& c) {
  auto it = st.secrets.find(req.uuid);
  const totp_params* secret = nullptr;
  if (it != st.secrets.end()) secret = &it->second.params;
  // Named, not a braced temporary in the co_await: GCC 12 destroys such a
  // coroutine argument twice.
  const registration_attempt attempt{req.uuid, secret, req.token, req.credential, c.source, c.block};
  auto judged = co_await judge(st, attempt);
  if (!judged) {
    const long secs = redis_retry_after.count();
    log::warn("conn=", c.id, " peer=", c.peer, " uuid=", req.uuid,
              " status=503 registration refused: Redis is down and codes are only judged with it (--redis-unavailable)");
    co_await answer_error(st, *stream, 503,
                          unavailable_response(secs, "this server cannot check TOTP codes now; register at another "
                                                     "node, or with a pool credential"));
    co_return;
  }
  const auto verdict = *judged;
  const auto unix_now = static_cast<std::int64_t>(std::time(nullptr));
  if (verdict.what == verdict::throttled) {
    co_await too_many(st, *stream, c, verdict.retry_after,
                      "too many failed tokens from this address or for this UUID");
    co_return;
  }
  if (verdict.what != verdict::accepted) {
    const std::string why(refusal_diagnostic(verdict.what));
    log::warn("conn=", c.id, " peer=", c.peer, " uuid=", req.uuid, " registration refused (401): ", why);
    co_await answer_error(st, *stream, 401, error_response(401, why));
    co_return;
  }
  if (!leftover.empty()) {
    co_await refuse(st, *stream, c, 409, "the hidden server sent bytes after its CONNECT head before the answer");
    co_return;
  }
  registration_answer parked;
  parked.notify = req.wants_notify;
  if (req.wants_node) parked.node = st.opts.node_id;
  const auto max_age = st.gate.credential_max_age(unix_now, verdict.chain_began);
  if (req.wants_credential && max_age.count() > 0) {
    parked.credential = st.gate.issue_credential(req.uuid, *secret, unix_now, verdict.chain_began);
    parked.credential_max_age = max_age;
  }
  const auto answer = format_registration_answer(parked);
  error_code ec;
  if (!co_await within(10s, stream->write_all(asio::buffer(answer), ec)) || ec) co_return;
  set_keepalive(stream->socket(), st.opts.keepalive);
  stream->release_buffers();  // parked connections are most of a server's connections

  auto p = std::make_shared<parked_conn>();
  p->stream = std::move(stream);
  p->notify = req.wants_notify;
  p->peer = c.peer;
  p->id = c.id;
  ++st.stats.registrations;
  if (auto evicted = st.parking.park(req.uuid, p)) {
    log::info("conn=", evicted->id, " uuid=", req.uuid, " closing the oldest parked connection (over --max-parked)");
    evicted->stream->abort();
  }
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", req.uuid, " parked (", st.parking.parked(req.uuid),
            " waiting)");

  // A parked connection carries nothing until a client arrives, so readable
  // means the hidden server closed it (or broke the protocol): drop it. When
  // the registry gives it out, it cancels this wait and the stream is no
  // longer ours to touch (registry.hpp, the hand-off rule).
  if (!p->stream->has_buffered_input())
    co_await p->stream->socket().async_wait(tcp::socket::wait_read, nothrow);
  if (p->taken()) co_return;
  st.parking.unpark(req.uuid, p);
  log::info("conn=", c.id, " uuid=", req.uuid, " parked connection closed by the hidden server");
  p->stream->abort();
}

awaitable<void> session(tcp::socket socket, server_state& st, connection_slot slot) {
  conn_info c{st.next_id++, peer_string(socket), slot.source(), slot.block()};
  auto stream = std::make_unique<tls_stream>(std::move(socket), st.tls, tls_stream::role::server);
  error_code ec;
  if (!co_await within(st.opts.handshake_timeout, stream->handshake(ec))) {
    log::info("conn=", c.id, " peer=", c.peer, " TLS handshake timed out");
    ++st.stats.handshake_failures;
    co_return;
  }
  if (ec) {
    log::info("conn=", c.id, " peer=", c.peer, " TLS handshake failed: ", stream->failure_reason());
    ++st.stats.handshake_failures;
    co_return;
  }
  log::debug("conn=", c.id, " peer=", c.peer, " TLS established (", stream->protocol_version(), " ",
             stream->cipher_suite(), ")", stream->resumed() ? ", resumed" : "");
  std::string buf;
  request_head head;
  auto parsed = co_await within(st.opts.head_timeout, read_head(*stream, buf, head, st.limits, ec));
  if (!parsed) {
    log::info("conn=", c.id, " peer=", c.peer, " no request head in time");
    co_await refuse(st, *stream, c, 408, "no request head in time");
    co_return;
  }
  if (ec) {
    log::debug("conn=", c.id, " peer=", c.peer, " closed before a request head: ", ec.message());
    co_return;
  }
  if (parsed->status == parse_status::bad) {
    co_await refuse(st, *stream, c, 400, "malformed request head: " + parsed->error);
    co_return;
  }
  if (parsed->status == parse_status::too_large) {
    // docs/PROTOCOL.md §2.2: a head over the limits is a 400 (not 431).
    co_await refuse(st, *stream, c, 400, "request head too large: " + parsed->error);
    co_return;
  }
  c.head_at = steady_clock::now();
  auto req = classify(head);
  if (req.kind == request_kind::connect_client || req.kind == request_kind::http_client) {
    if (!client_key_ok(st, req)) {
      co_await refuse(st, *stream, c, 403, std::string(client_key_refusal));
      co_return;
    }
    // One address must not drain a UUID's pool by taking parked connections
    // faster than its hidden server can park new ones.
    if (auto wait = st.takes.take(c.source, steady_clock::now()); wait.count() > 0) {
      co_await too_many(st, *stream, c, wait, "too many tunnels opened from this address");
      co_return;
    }
  }
  switch (req.kind) {
    case request_kind::register_hidden:
      co_await register_hidden(std::move(stream), buf, req, st, c);
      break;
    case request_kind::connect_client:
      co_await serve_stream_client(*stream, buf, req.uuid, st, c);
      break;
    case request_kind::http_client:
      co_await serve_http_client(*stream, buf, head, req.uuid, st, c);
      break;
    case request_kind::challenge:
      log::info("conn=", c.id, " peer=", c.peer, " status=401 HTTP request without a UUID: digest challenge");
      co_await answer_error(st, *stream, 401, digest_challenge_response());
      break;
    case request_kind::refused:
      co_await refuse(st, *stream, c, req.status, req.diagnostic);
      break;
  }
}

}  // namespace

awaitable<void> guarded_session(tcp::socket socket, server_state& st, connection_slot slot) {
  try {
    co_await session(std::move(socket), st, std::move(slot));
  } catch (const std::exception& e) {
    log::error("session failed: ", e.what());
  }
}

}  // namespace rvserver
