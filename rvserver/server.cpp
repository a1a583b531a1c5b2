// rvserver: accept, handshake, read one head, then park, pair or refuse.
#include "server.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <unordered_map>
#include <utility>

#include "http_tunnel.hpp"
#include "metrics.hpp"
#include "registration_gate.hpp"
#include "registry.hpp"
#include "rv/error.hpp"
#include "rv/io.hpp"
#include "rv/limits.hpp"
#include "rv/log.hpp"
#include "rv/memory.hpp"
#include "rv/answers.hpp"
#include "rv/protocol.hpp"
#include "rv/relay.hpp"
#include "rv/secrets.hpp"
#include "rv/tls_stream.hpp"

namespace rvserver {
namespace {

using namespace rv;
using namespace std::chrono_literals;

// Everything sessions share. It outlives every session: run() owns it and
// the io_context that runs them, and the server is single-threaded.
// SIGHUP replaces `tls` and `secrets`; a session reads them only between
// awaits, and a tls_stream keeps its own reference to the context it began with.
struct server_state {
  const options& opts;
  ssl_ctx_ptr tls;
  secrets_table secrets;
  client_keys keys;  // --client-keys: UUIDs whose clients must present a key
  registry parking;
  registration_gate gate;
  rate_limiter takes;  // how fast one address may take parked connections
  std::size_t max_connections;
  std::unordered_map<std::string, std::size_t> open_by_source;  // and by IPv6 /48 (block_key)
  head_limits limits;
  metrics stats;
  std::uint64_t next_id = 1;
  steady_clock::time_point last_drop_log{};
  steady_clock::time_point last_source_drop_log{};
};

// What one client session knows about itself, for log lines and metrics.
struct conn_info {
  std::uint64_t id;
  std::string peer;
  std::string source;                  // source_key(): what the per-address limits count
  std::string block;                   // block_key(): their second tier (IPv6 /48), or empty
  steady_clock::time_point head_at{};  // when its request head was read
};

// Counts a connection against the connection caps while its session runs.
// Made at accept, before any byte is read, and moved into the session.
class connection_slot {
 public:
  connection_slot(server_state& st, std::string source, std::string block)
      : st_(&st), source_(std::move(source)), block_(std::move(block)) {
    ++st_->stats.connections_open;
    ++st_->open_by_source[source_];
    if (!block_.empty()) ++st_->open_by_source[block_];
  }
  ~connection_slot() {
    if (!st_) return;
    --st_->stats.connections_open;
    release(source_);
    if (!block_.empty()) release(block_);
  }
  connection_slot(connection_slot&& other) noexcept
      : st_(std::exchange(other.st_, nullptr)), source_(std::move(other.source_)), block_(std::move(other.block_)) {}
  connection_slot& operator=(connection_slot&&) = delete;
  const std::string& source() const { return source_; }
  const std::string& block() const { return block_; }

 private:
  void release(const std::string& key) {
    if (--st_->open_by_source[key] == 0) st_->open_by_source.erase(key);
  }

  server_state* st_;
  std::string source_, block_;
};

// The per-source keys of a peer: its address (IPv6: its /64) and its IPv6 /48.
std::pair<std::string, std::string> source_of(const tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return {"?", {}};
  return {source_key(ep.address()), block_key(ep.address())};
}

// Writes an answer, half-closes, and waits briefly for the peer to close:
// closing with unread input would turn into a reset that can destroy the
// answer in flight (RFC 9112 §9.6, "lingering close").
awaitable<void> answer_then_close(byte_stream& s, std::string answer) {
  error_code ec;
  co_await s.write_all(asio::buffer(answer), ec);
  if (!ec) co_await s.shutdown_send(ec);
  char sink[1024];
  for (int i = 0; i < 64 && !ec; ++i) co_await s.read_some(asio::buffer(sink), ec);
}

// Every error answer: counted by status, written, then a bounded lingering close.
awaitable<void> answer_error(server_state& st, byte_stream& s, int status, std::string answer) {
  ++st.stats.answers[status];
  co_await within(5s, answer_then_close(s, std::move(answer)));
}

awaitable<void> refuse(server_state& st, byte_stream& s, const conn_info& c, int status, std::string diagnostic) {
  log::info("conn=", c.id, " peer=", c.peer, " status=", status, " ", diagnostic);
  co_await answer_error(st, s, status, error_response(status, diagnostic));
}

awaitable<void> too_many(server_state& st, byte_stream& s, const conn_info& c, milliseconds wait,
                         std::string diagnostic) {
  const long secs = retry_after_seconds(wait);
  log::warn("conn=", c.id, " peer=", c.peer, " status=429 ", diagnostic, "; retry after ", secs, " s");
  co_await answer_error(st, s, 429, throttled_response(secs, diagnostic));
}

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

awaitable<void> register_hidden(std::unique_ptr<tls_stream> stream, std::string& leftover,
                                const classified_request& req, server_state& st, const conn_info& c) {
  auto it = st.secrets.find(req.uuid);
  const totp_params* secret = nullptr;
  if (it != st.secrets.end()) secret = &it->second.params;
  const auto unix_now = static_cast<std::int64_t>(std::time(nullptr));
  auto verdict = st.gate.check({req.uuid, secret, req.token, req.credential, c.source, c.block}, steady_clock::now(), unix_now);
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
    evicted->taken = true;
    evicted->stream->abort();
  }
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", req.uuid, " parked (", st.parking.parked(req.uuid),
            " waiting)");

  // A parked connection carries nothing until a client arrives, so readable
  // means the hidden server closed it (or broke the protocol): drop it. take()
  // cancels this wait when a client pairs with it.
  if (!p->stream->has_buffered_input())
    co_await p->stream->socket().async_wait(tcp::socket::wait_read, nothrow);
  if (p->taken) co_return;
  st.parking.unpark(req.uuid, p);
  log::info("conn=", c.id, " uuid=", req.uuid, " parked connection closed by the hidden server");
  p->stream->abort();
}

enum class notice_outcome { go, dead, answered };

// Stream mode with notices: send the notice, await the hidden server's own
// 200 or 502. `dead` means try another parked connection; `answered` means
// the client got its (error) answer.
awaitable<notice_outcome> notify_stream(byte_stream& client, tls_stream& hidden, std::string& hidden_buf,
                                        server_state& st, const conn_info& c, const std::string& uuid) {
  error_code ec;
  const auto notice = format_arrival_notice({arrival_mode::stream, c.peer});
  if (!co_await within(10s, hidden.write_all(asio::buffer(notice), ec)) || ec) co_return notice_outcome::dead;
  response_head head;
  auto r = co_await within(st.opts.notify_timeout, read_head(hidden, hidden_buf, head, st.limits, ec));
  if (!r) {
    co_await refuse(st, client, c, 504, "the hidden server for " + uuid + " did not answer the arrival notice in time");
    co_return notice_outcome::answered;
  }
  if (ec) co_return notice_outcome::dead;
  if (r->status != parse_status::good) {
    co_await refuse(st, client, c, 502, "the hidden server for " + uuid + " sent a malformed answer");
    co_return notice_outcome::answered;
  }
  if (head.status == 200) co_return notice_outcome::go;
  // Pass the hidden server's refusal on as a 502 with its own diagnostic.
  std::string body;
  if (auto got = co_await within(2s, read_small_body(hidden, hidden_buf, head))) body = *got;
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " status=502 hidden server answered ", head.status);
  if (body.empty())
    co_await answer_error(st, client, 502,
                          error_response(502, "the hidden server for " + uuid + " could not reach its local service"));
  else
    co_await answer_error(st, client, 502, passed_on_refusal(body));
  co_return notice_outcome::answered;
}

// `forwarded` counts the client's bytes already passed on (an HTTP request head).
awaitable<void> tunnel(server_state& st, byte_stream& client, std::string& client_buf, parked_ptr p,
                       std::string& hidden_buf, const conn_info& c, const std::string& uuid, std::string_view mode,
                       std::size_t forwarded = 0) {
  auto& hidden = *p->stream;
  error_code ec;
  // Bytes read past a head belong to the tunnel and go first.
  if (!client_buf.empty()) co_await hidden.write_all(asio::buffer(client_buf), ec);
  if (!ec && !hidden_buf.empty()) co_await client.write_all(asio::buffer(hidden_buf), ec);
  if (ec) {
    client.abort();
    hidden.abort();
    co_return;
  }
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " hidden=", p->peer, " mode=", mode, " tunnel open");
  auto& stats = st.stats;
  ++stats.pairings;
  stats.observe_pairing_latency(std::chrono::duration<double>(steady_clock::now() - c.head_at).count());
  stats.bytes_up += forwarded + client_buf.size();
  stats.bytes_down += hidden_buf.size();
  ++stats.tunnels_open;
  const relay_deadlines deadlines{st.opts.idle_timeout, st.opts.half_closed_timeout};
  auto r = co_await relay(client, hidden, &stats.bytes_up, &stats.bytes_down, deadlines);
  --stats.tunnels_open;
  log::info("conn=", c.id, " uuid=", uuid, " tunnel closed up=", forwarded + client_buf.size() + r.a_to_b,
            " down=", r.b_to_a + hidden_buf.size(), error_note(r.error));
}

// A parked connection may have died since it parked (a NAT dropped it); a
// failed notice or write moves on to the next one, a bounded number of times.
constexpr int max_pairing_attempts = 8;

awaitable<void> serve_stream_client(tls_stream& client, std::string& client_buf, const std::string& uuid,
                                    server_state& st, const conn_info& c) {
  for (int attempt = 0; attempt < max_pairing_attempts; ++attempt) {
    auto p = co_await st.parking.take(uuid, st.opts.grace);
    if (!p) {
      co_await refuse(st, client, c, 404, "UUID not registered");
      co_return;
    }
    std::string hidden_buf;
    if (p->notify) {
      auto outcome = co_await notify_stream(client, *p->stream, hidden_buf, st, c, uuid);
      if (outcome == notice_outcome::answered) co_return;
      if (outcome == notice_outcome::dead) {
        log::debug("conn=", p->id, " uuid=", uuid, " parked connection was dead; trying another");
        continue;
      }
    }
    error_code ec;
    const auto ok = tunnel_open_response();
    co_await client.write_all(asio::buffer(ok), ec);
    if (ec) co_return;
    co_await tunnel(st, client, client_buf, std::move(p), hidden_buf, c, uuid, "stream");
    co_return;
  }
  co_await refuse(st, client, c, 502, "no live hidden server connection for " + uuid);
}

// Whether a client of this request may have a tunnel: a UUID listed in
// --client-keys takes only clients with its key (at least 128 bits: checked
// in constant time, not throttled).
bool client_key_ok(const server_state& st, const classified_request& req) {
  auto key = st.keys.find(req.uuid);
  return key == st.keys.end() || constant_time_equal(key->second, req.client_key);
}

constexpr std::string_view client_key_refusal =
    "this UUID takes only clients with its client key (Rendezvous-Client-Key, or the Basic password); none or a "
    "wrong one was given";

// A later request on an HTTP-mode tunnel, checked as the first was: it must
// name this tunnel's UUID (421 otherwise: clients send it again on a new
// connection, where it is routed to its own UUID) and carry its client key.
std::optional<checked_requests::refusal> check_later_request(const server_state& st, const std::string& uuid,
                                                             const request_head& head) {
  auto refusal = [](int status, std::string diagnostic) {
    return checked_requests::refusal{status, error_response(status, diagnostic), diagnostic};
  };
  const auto req = classify(head);
  switch (req.kind) {
    case request_kind::http_client:
      if (req.uuid != uuid)
        return refusal(421, "this connection is a tunnel to another UUID; send the request on a new connection");
      if (!client_key_ok(st, req)) return refusal(403, std::string(client_key_refusal));
      return std::nullopt;
    case request_kind::challenge:
      return checked_requests::refusal{401, digest_challenge_response(), "HTTP request without a UUID"};
    case request_kind::refused:
      return refusal(req.status, req.diagnostic);
    default:
      return refusal(400, "a CONNECT request inside an HTTP-mode tunnel");
  }
}

awaitable<void> serve_http_client(tls_stream& client, std::string& client_buf, const request_head& head,
                                  const std::string& uuid, server_state& st, const conn_info& c) {
  const std::string request = forwarded_request(head);
  for (int attempt = 0; attempt < max_pairing_attempts; ++attempt) {
    auto p = co_await st.parking.take(uuid, st.opts.grace);
    if (!p) {
      co_await refuse(st, client, c, 404, "UUID not registered");
      co_return;
    }
    error_code ec;
    std::string first;
    if (p->notify) first = format_arrival_notice({arrival_mode::http, c.peer});
    first += request;
    if (!co_await within(10s, p->stream->write_all(asio::buffer(first), ec)) || ec) {
      log::debug("conn=", p->id, " uuid=", uuid, " parked connection was dead; trying another");
      continue;
    }
    // What the client sent after its head (a body, more requests) goes
    // through the checks of later requests, not straight on.
    checked_requests requests(
        client, head, std::move(client_buf),
        [&st, &uuid](const request_head& later) { return check_later_request(st, uuid, later); }, st.limits);
    std::string no_bytes_yet, hidden_buf;
    co_await tunnel(st, requests, no_bytes_yet, std::move(p), hidden_buf, c, uuid, "http", request.size());
    if (const auto& r = requests.refused()) {
      ++st.stats.answers[r->status];
      // The first request and those passed on after it came before this one.
      log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " status=", r->status, " for request ",
                requests.later_requests() + 2, " on the connection: ", r->diagnostic);
    }
    co_return;
  }
  co_await refuse(st, client, c, 502, "no live hidden server connection for " + uuid);
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
    // PROTOCOL.md, Transport: a head over the limits is a 400 (not 431).
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

awaitable<void> guarded_session(tcp::socket socket, server_state& st, connection_slot slot) {
  try {
    co_await session(std::move(socket), st, std::move(slot));
  } catch (const std::exception& e) {
    log::error("session failed: ", e.what());
  }
}

// Whether to refuse a new connection before anything is read from it: a TLS
// handshake to say 503 would spend what is short, and counting an address
// only after its handshakes would let its idle TCP connections hold every
// slot. Logs at most once every 10 s per kind.
bool over_caps(server_state& st, const std::string& source, const std::string& block) {
  const auto now = steady_clock::now();
  if (st.stats.connections_open >= st.max_connections) {
    ++st.stats.connections_dropped;
    if (now - st.last_drop_log > 10s) {
      st.last_drop_log = now;
      log::warn(st.stats.connections_open, " connections open (--max-connections): closing new ones unread");
    }
    return true;
  }
  auto open_from = [&](const std::string& key) {
    auto it = st.open_by_source.find(key);
    return it == st.open_by_source.end() ? std::size_t{0} : it->second;
  };
  const std::size_t cap = st.opts.max_connections_per_source;
  const std::string* over = nullptr;
  std::size_t open = open_from(source);
  if (open >= cap) over = &source;
  if (!over && !block.empty() && (open = open_from(block)) >= cap * block_share) over = &block;
  if (!over) return false;
  ++st.stats.connections_dropped_per_source;
  if (now - st.last_source_drop_log > 10s) {
    st.last_source_drop_log = now;
    log::warn(open, " connections open from ", *over, " (--max-connections-per-source",
              over == &block ? ", times 16 for an IPv6 /48" : "", "): closing new ones unread");
  }
  return true;
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, server_state& st) {
  co_await accept_each(acceptor, [&](tcp::socket socket) {
    ++st.stats.connections;
    auto [source, block] = source_of(socket);
    if (over_caps(st, source, block)) return;  // the socket closes unread
    connection_slot slot(st, std::move(source), std::move(block));
    asio::co_spawn(acceptor.get_executor(), guarded_session(std::move(socket), st, std::move(slot)),
                   asio::detached);
  });
}

tcp::endpoint resolve_listen(asio::io_context& io, const endpoint_spec& spec) {
  error_code ec;
  auto addr = asio::ip::make_address(spec.host, ec);
  if (!ec) return {addr, spec.port};
  tcp::resolver resolver(io);
  auto results = resolver.resolve(spec.host, std::to_string(spec.port), ec);
  if (ec || results.empty())
    throw config_error("cannot resolve listen host '" + spec.host + "': " + ec.message());
  return results.begin()->endpoint();
}

std::string endpoint_string(const tcp::endpoint& ep) {
  return to_string(endpoint_spec{ep.address().to_string(), ep.port()});
}

// Binds and listens.
std::unique_ptr<tcp::acceptor> open_acceptor(asio::io_context& io, const endpoint_spec& spec) {
  auto ep = resolve_listen(io, spec);
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  acceptor->open(ep.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  // "[::]" means IPv6 only, as in nginx: listen on 0.0.0.0 too for IPv4.
  if (ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
  error_code ec;
  acceptor->bind(ep, ec);
  if (ec) throw exit_error(exit_code::failure, "cannot listen on " + to_string(spec) + ": " + ec.message());
  acceptor->listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

// Prints "WHAT ADDRESS:PORT" on stdout (the real port when 0 was asked) for
// scripts and tests to read: the server is ready once they see it.
void announce(const tcp::acceptor& acceptor, const char* what) {
  auto bound = endpoint_string(acceptor.local_endpoint());
  std::cout << what << ' ' << bound << std::endl;
  log::info(what, " on ", bound);
}

bool same_secret(const totp_params& a, const totp_params& b) {
  return a.key == b.key && a.step == b.step && a.digits == b.digits;
}

// What rvserver reads from disk, at start and on SIGHUP. Throws
// rv::config_error for a file it cannot use.
struct server_files {
  secrets_table secrets;
  client_keys keys;
  ssl_ctx_ptr tls;
};

server_files load_server_files(const options& opts) {
  server_files f;
  f.secrets = load_secrets_file(opts.secrets_file);
  if (!opts.client_keys_file.empty()) f.keys = load_client_keys_file(opts.client_keys_file);
  f.tls = make_server_context(opts.cert_file, opts.key_file);
  return f;
}

// SIGHUP: new secrets and certificate for new connections. Parked connections
// of removed or rotated UUIDs are closed (their hidden servers register again
// with the new secret, or stop); open tunnels are never touched. A file that
// fails to load leaves the running configuration as it was.
void reload(server_state& st) {
  server_files files;
  try {
    files = load_server_files(st.opts);
  } catch (const std::exception& e) {
    log::error("reload failed, still running with the previous configuration: ", e.what());
    return;
  }
  std::size_t closed = 0;
  const auto& fresh = files.secrets;
  for (const auto& [uuid, old] : st.secrets) {
    auto it = fresh.find(uuid);
    const bool removed = it == fresh.end();
    if (!removed && same_secret(it->second.params, old.params)) continue;
    auto evicted = st.parking.evict(uuid);
    for (auto& p : evicted) p->stream->abort();
    st.gate.forget(uuid);
    closed += evicted.size();
    log::info("uuid=", uuid, removed ? " removed" : " rotated", ": closed ", evicted.size(), " parked connections");
  }
  st.secrets = std::move(files.secrets);
  st.keys = std::move(files.keys);
  st.tls = std::move(files.tls);
  log::info("reloaded ", st.opts.secrets_file, " (", st.secrets.size(), " UUIDs) and ", st.opts.cert_file,
            "; closed ", closed, " parked connections");
}

awaitable<void> reload_on_hangup(asio::signal_set& hangup, server_state& st) {
  for (;;) {
    auto [ec, sig] = co_await hangup.async_wait(nothrow);
    if (ec) co_return;
    log::info("signal ", sig, ": reloading");
    reload(st);
  }
}

// After binding (ports below 1024 need root), run as `user`: a compromise of
// the server process then holds no root. Files reloaded on SIGHUP must be
// readable by that user.
void drop_privileges(const std::string& user) {
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw config_error("--user " + user + ": no such user");
  if (::geteuid() != 0) {
    if (::geteuid() == pw->pw_uid) return;
    throw config_error("--user " + user + " needs rvserver to start as root");
  }
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    throw exit_error(exit_code::failure, "cannot switch to user " + user + ": " + std::strerror(errno));
  if (::setuid(0) == 0) throw exit_error(exit_code::failure, "could regain root after switching to " + user);
  log::info("running as user ", user);
}

// Parked connections are descriptors: raise the soft limit to the hard one
// (as nginx's worker_rlimit_nofile), and keep a reserve below it for the
// secrets file, the certificate and the metrics listener.
std::size_t connection_cap(const options& opts) {
  const std::size_t limit = raise_descriptor_limit();
  if (opts.max_connections) return opts.max_connections;
  constexpr std::size_t reserve = 64;
  if (limit == unlimited_descriptors) return 1u << 20;
  return limit > 2 * reserve ? limit - reserve : 16;
}

gate_settings gate_settings_of(const options& opts) {
  gate_settings g;
  g.per_source.free_failures = opts.max_failures;
  g.per_source.max_delay = opts.max_failure_delay;
  g.per_block.free_failures = opts.max_failures * block_share;
  g.per_block.max_delay = opts.max_failure_delay;
  g.per_uuid.max_delay = std::min<milliseconds>(g.per_uuid.max_delay, opts.max_failure_delay);
  g.reuse = opts.token_reuse;
  g.credential_lifetime = opts.credential_lifetime;
  g.credential_chain = opts.credential_chain;
  return g;
}

}  // namespace

int run(const options& opts) {
  // Writes to a closed pipe or socket must be errors, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);

  // The state outlives the io_context, whose destructor destroys the session
  // frames still pending (their connection_slot and parked streams use it).
  // It is made once the listeners are bound and root is dropped.
  std::optional<server_state> state;
  asio::io_context io(1);
  // But the parked streams it holds are sockets of the io_context: let go of
  // them first (their sessions own them too).
  struct release_parked {
    std::optional<server_state>& state;
    ~release_parked() {
      if (state) state->parking.clear();
    }
  } release{state};

  // Bind first (a port below 1024 needs root), then drop root, then read the
  // files as the user who will read them again on SIGHUP: the same owner
  // and permission checks hold at start and at every reload.
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (const auto& spec : opts.listen) acceptors.push_back(open_acceptor(io, spec));
  std::unique_ptr<tcp::acceptor> metrics_acceptor;
  if (opts.metrics) metrics_acceptor = open_acceptor(io, *opts.metrics);
  if (!opts.user.empty()) drop_privileges(opts.user);
  auto files = load_server_files(opts);
  auto& st = state.emplace(opts, std::move(files.tls), std::move(files.secrets), std::move(files.keys),
                           registry(opts.max_parked_per_uuid), registration_gate(gate_settings_of(opts)),
                           rate_limiter({opts.client_rate, opts.client_burst}), connection_cap(opts));
  log::info(st.secrets.size(), " UUIDs in ", opts.secrets_file);
  if (!opts.client_keys_file.empty())
    log::info(st.keys.size(), " UUIDs take only clients with a key (", opts.client_keys_file, ")");
  log::debug("at most ", st.max_connections, " connections, ", opts.max_connections_per_source, " per address");
  for (const auto& a : acceptors) announce(*a, "listening");
  if (metrics_acceptor) {
    announce(*metrics_acceptor, "metrics");
    if (!metrics_acceptor->local_endpoint().address().is_loopback())
      log::warn("the metrics listener is not on loopback: whoever reaches it sees every UUID and its parked "
                "connections, without authentication; bind it to 127.0.0.1 or put an authenticating proxy in front");
  }

  for (auto& a : acceptors) asio::co_spawn(io, accept_loop(*a, st), asio::detached);
  if (metrics_acceptor)
    asio::co_spawn(io, serve_metrics(*metrics_acceptor, st.stats, st.parking), asio::detached);

  asio::signal_set signals(io);
  stop_on_signals(io, signals);
  asio::co_spawn(io, trim_memory_every(10s, [&st] { return st.stats.connections + st.stats.pairings; }),
                 asio::detached);
  asio::signal_set hangup(io, SIGHUP);
  asio::co_spawn(io, reload_on_hangup(hangup, st), asio::detached);
  io.run();
  return exit_code::ok;
}

}  // namespace rvserver
