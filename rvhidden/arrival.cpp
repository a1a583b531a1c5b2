// The tunnels rvhidden opens for arriving clients: the caps on them, the
// refusals at a cap, and each tunnel's coroutine (see arrival.hpp).
#include "rvhidden/arrival.hpp"

#include <algorithm>

#include "rv/answers.hpp"
#include "rv/io.hpp"
#include "rv/limits.hpp"
#include "rv/log.hpp"
#include "rv/protocol.hpp"
#include "rv/relay.hpp"

namespace rvhidden {
namespace {

using namespace rv;
using namespace std::chrono_literals;

// Counts a tunnel against --max-tunnels and --max-tunnels-per-service while
// it lives.
class tunnel_slot {
 public:
  explicit tunnel_slot(service_tunnels& st) : st_(st) {
    ++st_.open;
    ++st_.all.open;
  }
  ~tunnel_slot() {
    --st_.open;
    --st_.all.open;
  }
  tunnel_slot(const tunnel_slot&) = delete;
  tunnel_slot& operator=(const tunnel_slot&) = delete;

 private:
  service_tunnels& st_;
};

// Why a client arriving now must be refused, or "" when it may have a tunnel.
// The client reads this: it names the cap, not how many tunnels are open.
std::string over_tunnel_cap(const service_tunnels& st) {
  if (st.all.open >= st.all.max) return "rvhidden is at --max-tunnels, all its tunnels are in use; try again later";
  const unsigned per_service = st.all.max_per_service;
  if (per_service > 0 && st.open >= per_service)
    return "rvhidden is at --max-tunnels-per-service for this UUID; try again later";
  return {};
}

// A refusal at a cap is logged as a warning once a minute at most (with the
// count since), else at info: a client that keeps knocking must not flood the log.
void log_refusal(service_tunnels& st, std::uint64_t id, const std::string& client, const std::string& why) {
  auto& all = st.all;
  const auto now = steady_clock::now();
  const auto open = " (" + std::to_string(all.open) + " tunnels open, " + std::to_string(st.open) +
                    " for this UUID)";
  if (now - all.refusal_logged < 60s) {
    ++all.refusals_unlogged;
    log::info("tunnel=", id, " uuid=", st.svc.uuid, " client=", client, " refused: ", why, open);
    return;
  }
  log::warn("tunnel=", id, " uuid=", st.svc.uuid, " client=", client, " refused: ", why, open,
            "; raise the cap if this load is legitimate (each tunnel costs two descriptors)",
            all.refusals_unlogged
                ? " (" + std::to_string(all.refusals_unlogged) + " more refused since the last warning)"
                : std::string());
  all.refusal_logged = now;
  all.refusals_unlogged = 0;
}

// Turns an arriving client away. In stream mode this answers the notice, and
// rvserver passes our answer on to the client as a 502 with our diagnostic;
// in http mode it is the HTTP client's answer; a seed server's client, whose
// first bytes are already here, learns nothing but a close.
awaitable<void> refuse_arrival(tls_stream& tunnel, const std::string& mode, int status, const std::string& why) {
  if (mode != "stream" && mode != "http") {
    tunnel.abort();
    co_return;
  }
  error_code ignored;
  const auto answer = error_response(status, why);
  co_await within(5s, tunnel.write_all(asio::buffer(answer), ignored));
  co_await within(5s, tunnel.shutdown_send(ignored));
}

// One client's tunnel: dial the local service, answer the notice, relay.
awaitable<void> serve_arrival(std::unique_ptr<tls_stream> tunnel, std::string first_bytes, std::string mode,
                              std::string client, service_tunnels& st) {
  const auto id = st.all.next_id++;
  // Past the cap a tunnel would spend the descriptors that re-parking needs
  // (EMFILE), and every client would lose; only this one is refused.
  const std::string over_cap = over_tunnel_cap(st);
  if (!over_cap.empty()) {
    log_refusal(st, id, client, over_cap);
    co_await refuse_arrival(*tunnel, mode, 503, over_cap);
    co_return;
  }
  tunnel_slot counted(st);
  error_code ec;
  auto local = co_await dial(st.svc.forward, st.connect_timeout, ec);
  if (ec) {
    auto why = "cannot reach the local service " + to_string(st.svc.forward) + ": " + ec.message();
    log::warn("tunnel=", id, " uuid=", st.svc.uuid, " client=", client, " ", why);
    // In http mode the client speaks HTTP: the same 502 is a fine answer.
    co_await refuse_arrival(*tunnel, mode, 502, why);
    co_return;
  }
  if (mode == "stream") {
    const auto ok = tunnel_open_response();
    if (!co_await within(st.connect_timeout, tunnel->write_all(asio::buffer(ok), ec)) || ec) co_return;
  }
  tcp_stream service(std::move(local));
  if (!first_bytes.empty()) {
    co_await service.write_all(asio::buffer(first_bytes), ec);
    if (ec) {
      tunnel->abort();
      co_return;
    }
  }
  log::info("tunnel=", id, " uuid=", st.svc.uuid, " client=", client, " mode=", mode, " open to ",
            to_string(st.svc.forward));
  auto r = co_await relay(*tunnel, service);
  log::info("tunnel=", id, " closed in=", r.a_to_b + first_bytes.size(), " out=", r.b_to_a,
            error_note(r.error));
}

// Each tunnel holds two descriptors (its leg to the server and its local
// connection), each parked slot one, and these are kept for the rest: stdio,
// epoll, timers, the signal pipe, the resolver's files and sockets, the CA
// files OpenSSL opens while verifying.
constexpr std::size_t reserved_descriptors = 32;
// Enough for a busy machine's ssh and web clients; each tunnel also holds its
// TLS state, tens of KiB.
constexpr std::size_t default_max_tunnels = 1024;

}  // namespace

awaitable<void> guarded_arrival(std::unique_ptr<tls_stream> tunnel, std::string first_bytes, std::string mode,
                                std::string client, service_tunnels& st) {
  try {
    co_await serve_arrival(std::move(tunnel), std::move(first_bytes), std::move(mode), std::move(client), st);
  } catch (const std::exception& e) {
    log::error("tunnel failed: ", e.what());
  }
}

// --max-tunnels, or the default: what the descriptor limit leaves beside the
// parked slots and the reserve, at most default_max_tunnels.
std::size_t tunnel_cap(const options& opts, std::size_t limit) {
  // At each node: the --servers given (names with several addresses may add more).
  const std::size_t parked = std::size_t{opts.pool} * opts.services.size() * std::max<std::size_t>(1, opts.servers.size());
  std::size_t fit = default_max_tunnels;
  if (limit != unlimited_descriptors)
    fit = limit > reserved_descriptors + parked ? (limit - reserved_descriptors - parked) / 2 : 0;
  if (opts.max_tunnels) {
    const std::size_t wanted = *opts.max_tunnels;
    if (wanted > fit)
      log::warn("--max-tunnels ", wanted, " needs about ", 2 * wanted + parked + reserved_descriptors,
                " descriptors, more than the limit of ", limit, ": past ", fit,
                " tunnels rvhidden may fail to park again (EMFILE); raise the limit (ulimit -n, "
                "LimitNOFILE=) or lower --max-tunnels");
    return wanted;
  }
  if (fit == 0) {
    log::warn("the descriptor limit of ", limit, " leaves no room for tunnels beside ", parked,
              " parked connections; allowing 1 tunnel at a time: raise the limit (ulimit -n, LimitNOFILE=) "
              "or lower --pool");
    return 1;
  }
  return std::min(default_max_tunnels, fit);
}

}  // namespace rvhidden
