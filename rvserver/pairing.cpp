// Pairing clients with parked connections, and relaying between them (pairing.hpp).
#include "rvserver/pairing.hpp"

#include <optional>
#include <utility>

#include "rv/answers.hpp"
#include "rv/io.hpp"
#include "rv/log.hpp"
#include "rv/relay.hpp"
#include "rv/secrets.hpp"
#include "rvserver/http_tunnel.hpp"
#include "rvserver/refusal.hpp"

namespace rvserver {

using namespace rv;
using namespace std::chrono_literals;

namespace {

// One client and the hidden server's connection it was paired with.
struct pairing {
  byte_stream& client;
  parked_ptr hidden;
  arrival_mode mode;
  std::string client_early;   // client bytes read past its head: they go first
  std::string hidden_early;   // the hidden server's bytes read past its answer
  std::size_t forwarded = 0;  // client bytes already passed on (an HTTP request head)
};

// What became of a parked connection offered a client.
enum class offer { accepted, dead, answered };

// Stream mode with notices: send the notice, await the hidden server's own
// 200 or refusal. `dead` means try another parked connection; `answered`
// means the client got its (error) answer.
awaitable<offer> notify_stream(byte_stream& client, tls_stream& hidden, std::string& hidden_buf, server_state& st,
                               const conn_info& c, const std::string& uuid) {
  error_code ec;
  const auto notice = format_arrival_notice({arrival_mode::stream, c.peer});
  if (!co_await within(10s, hidden.write_all(asio::buffer(notice), ec)) || ec) co_return offer::dead;
  response_head head;
  auto r = co_await within(st.opts.notify_timeout, read_head(hidden, hidden_buf, head, st.limits, ec));
  if (!r) {
    co_await refuse(st, client, c, 504, "the hidden server for " + uuid + " did not answer the arrival notice in time");
    co_return offer::answered;
  }
  if (ec) co_return offer::dead;
  if (r->status != parse_status::good) {
    co_await refuse(st, client, c, 502, "the hidden server for " + uuid + " sent a malformed answer");
    co_return offer::answered;
  }
  if (head.status == 200) co_return offer::accepted;
  // Pass the hidden server's refusal on as a 502 with its own diagnostic.
  std::string body;
  if (auto got = co_await within(2s, read_small_body(hidden, hidden_buf, head))) body = *got;
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " status=502 hidden server answered ", head.status);
  if (body.empty())
    co_await answer_error(st, client, 502,
                          error_response(502, "the hidden server for " + uuid + " could not reach its local service"));
  else
    co_await answer_error(st, client, 502, passed_on_refusal(body));
  co_return offer::answered;
}

// HTTP mode: the notice (when asked for) and the request head in one write;
// the hidden server answers the request itself.
awaitable<offer> send_request(tls_stream& hidden, bool notify, const std::string& request, const conn_info& c) {
  std::string first;
  if (notify) first = format_arrival_notice({arrival_mode::http, c.peer});
  first += request;
  error_code ec;
  if (!co_await within(10s, hidden.write_all(asio::buffer(first), ec)) || ec) co_return offer::dead;
  co_return offer::accepted;
}

// A parked connection may have died since it parked (a NAT dropped it); a
// failed notice or write moves on to the next one, a bounded number of times.
constexpr int max_pairing_attempts = 8;

// Takes the UUID's parked connections, newest first, until one accepts the
// client; nullptr when the client has had its answer instead (404 when none
// is parked, 502 when every one tried was dead, or the hidden server's own).
// `request` is the HTTP client's head as forwarded, empty for a stream client.
awaitable<parked_ptr> take_live(server_state& st, byte_stream& client, const conn_info& c, const std::string& uuid,
                                const std::string& request, std::string& hidden_buf) {
  for (int attempt = 0; attempt < max_pairing_attempts; ++attempt) {
    auto p = co_await st.parking.take(uuid, st.opts.grace);
    if (!p) {
      co_await refuse(st, client, c, 404, "UUID not registered");
      co_return nullptr;
    }
    auto result = offer::accepted;
    if (!request.empty())
      result = co_await send_request(*p->stream, p->notify, request, c);
    else if (p->notify)
      result = co_await notify_stream(client, *p->stream, hidden_buf, st, c, uuid);
    if (result == offer::accepted) co_return p;
    if (result == offer::answered) co_return nullptr;
    log::debug("conn=", p->id, " uuid=", uuid, " parked connection was dead; trying another");
  }
  co_await refuse(st, client, c, 502, "no live hidden server connection for " + uuid);
  co_return nullptr;
}

awaitable<void> tunnel(server_state& st, const conn_info& c, const std::string& uuid, pairing& t) {
  auto& client = t.client;
  auto& hidden = *t.hidden->stream;
  error_code ec;
  // Bytes read past a head belong to the tunnel and go first.
  if (!t.client_early.empty()) co_await hidden.write_all(asio::buffer(t.client_early), ec);
  if (!ec && !t.hidden_early.empty()) co_await client.write_all(asio::buffer(t.hidden_early), ec);
  if (ec) {
    client.abort();
    hidden.abort();
    co_return;
  }
  log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " hidden=", t.hidden->peer, " mode=", to_string(t.mode),
            " tunnel open");
  auto& stats = st.stats;
  ++stats.pairings;
  stats.observe_pairing_latency(std::chrono::duration<double>(steady_clock::now() - c.head_at).count());
  const std::size_t up_before = t.forwarded + t.client_early.size();
  stats.bytes_up += up_before;
  stats.bytes_down += t.hidden_early.size();
  ++stats.tunnels_open;
  const relay_deadlines deadlines{st.opts.idle_timeout, st.opts.half_closed_timeout};
  auto r = co_await relay(client, hidden, &stats.bytes_up, &stats.bytes_down, deadlines);
  --stats.tunnels_open;
  log::info("conn=", c.id, " uuid=", uuid, " tunnel closed up=", up_before + r.a_to_b,
            " down=", r.b_to_a + t.hidden_early.size(), error_note(r.error));
}

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

}  // namespace

bool client_key_ok(const server_state& st, const classified_request& req) {
  auto key = st.keys.find(req.uuid);
  return key == st.keys.end() || constant_time_equal(key->second, req.client_key);
}

awaitable<void> serve_stream_client(tls_stream& client, std::string& client_buf, const std::string& uuid,
                                    server_state& st, const conn_info& c) {
  std::string hidden_buf;
  auto p = co_await take_live(st, client, c, uuid, {}, hidden_buf);
  if (!p) co_return;
  error_code ec;
  const auto ok = tunnel_open_response();
  co_await client.write_all(asio::buffer(ok), ec);
  if (ec) co_return;
  pairing t{client, std::move(p), arrival_mode::stream, std::move(client_buf), std::move(hidden_buf)};
  co_await tunnel(st, c, uuid, t);
}

awaitable<void> serve_http_client(tls_stream& client, std::string& client_buf, const request_head& head,
                                  const std::string& uuid, server_state& st, const conn_info& c) {
  const std::string request = forwarded_request(head);
  std::string hidden_buf;
  auto p = co_await take_live(st, client, c, uuid, request, hidden_buf);
  if (!p) co_return;
  // What the client sent after its head (a body, more requests) goes
  // through the checks of later requests, not straight on.
  checked_requests requests(
      client, head, std::move(client_buf),
      [&st, &uuid](const request_head& later) { return check_later_request(st, uuid, later); }, st.limits);
  pairing t{requests, std::move(p), arrival_mode::http, {}, {}, request.size()};
  co_await tunnel(st, c, uuid, t);
  if (const auto& r = requests.refused()) {
    ++st.stats.answers[r->status];
    // The first request and those passed on after it came before this one.
    log::info("conn=", c.id, " peer=", c.peer, " uuid=", uuid, " status=", r->status, " for request ",
              requests.later_requests() + 2, " on the connection: ", r->diagnostic);
  }
}

}  // namespace rvserver
