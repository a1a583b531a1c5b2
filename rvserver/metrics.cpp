// Counting, and rendering for Prometheus.
#include "rvserver/metrics.hpp"

#include <malloc.h>

#include <memory>
#include <sstream>

#include "rv/io.hpp"
#include "rv/log.hpp"
#include "rv/answers.hpp"
#include "rv/protocol.hpp"

namespace rvserver {

using namespace rv;

void metrics::observe_pairing_latency(double seconds) {
  ++latency_count;
  latency_sum += seconds;
  for (std::size_t i = 0; i < latency_bounds.size(); ++i) {
    if (seconds <= latency_bounds[i]) {
      ++latency_buckets[i];
      return;
    }
  }
}

namespace {
void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

// A family of one unlabelled sample.
void single(std::ostringstream& out, const char* name, const char* type, const char* help, std::uint64_t value) {
  family(out, name, type, help);
  out << name << ' ' << value << '\n';
}
}  // namespace

std::string metrics::render(const registry& parking) const {
  std::ostringstream out;
  single(out, "rv_connections_total", "counter", "TCP connections accepted.", connections);
  single(out, "rv_connections_open", "gauge", "TCP connections open now.", connections_open);
  single(out, "rv_connections_dropped_total", "counter", "Connections closed unread: over --max-connections.",
          connections_dropped);
  single(out, "rv_connections_dropped_per_source_total", "counter",
         "Connections closed unread: their address (an IPv6 /64) was over --max-connections-per-source.",
         connections_dropped_per_source);
  single(out, "rv_tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
          handshake_failures);
  single(out, "rv_registrations_total", "counter", "Hidden-server connections accepted and parked.", registrations);
  family(out, "rv_parked_connections", "gauge", "Parked hidden-server connections per UUID.");
  std::size_t parked_total = 0;
  parking.for_each_uuid([&](const std::string& uuid, std::size_t n) {
    out << "rv_parked_connections{uuid=\"" << uuid << "\"} " << n << '\n';  // UUIDs need no escaping
    parked_total += n;
  });
  single(out, "rv_parked_connections_total", "gauge", "Parked hidden-server connections, all UUIDs.", parked_total);
  single(out, "rv_pairings_total", "counter", "Tunnels opened (a client paired with a parked connection).", pairings);
  single(out, "rv_tunnels_open", "gauge", "Tunnels open now.", tunnels_open);
  // What the process holds, unlike VmRSS, which also counts what glibc keeps
  // after a free: the measure of a leak (the soak compares it across rounds).
  const struct mallinfo2 heap = ::mallinfo2();
  single(out, "rv_heap_in_use_bytes", "gauge", "Heap memory allocated and not freed (glibc mallinfo2).",
         heap.uordblks + heap.hblkhd);
  family(out, "rv_tunnel_bytes_total", "counter", "Bytes relayed through tunnels.");
  out << "rv_tunnel_bytes_total{direction=\"up\"} " << bytes_up << '\n';
  out << "rv_tunnel_bytes_total{direction=\"down\"} " << bytes_down << '\n';
  family(out, "rv_error_answers_total", "counter", "Error answers sent, by HTTP status.");
  for (int status : {400, 401, 403, 404, 407, 408, 409, 421, 429, 502, 503, 504}) {
    auto it = answers.find(status);
    out << "rv_error_answers_total{status=\"" << status << "\"} " << (it == answers.end() ? 0 : it->second)
        << '\n';
  }
  family(out, "rv_pairing_latency_seconds", "histogram", "From a client's request head to its tunnel opening.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_bounds.size(); ++i) {
    cumulative += latency_buckets[i];
    out << "rv_pairing_latency_seconds_bucket{le=\"" << latency_bounds[i] << "\"} " << cumulative << '\n';
  }
  out << "rv_pairing_latency_seconds_bucket{le=\"+Inf\"} " << latency_count << '\n';
  out << "rv_pairing_latency_seconds_sum " << latency_sum << '\n';
  out << "rv_pairing_latency_seconds_count " << latency_count << '\n';
  family(out, "rv_node_info", "gauge", "This node's --node-id (always 1).");
  out << "rv_node_info{node=\"" << node << "\"} 1\n";  // --node-id allows no character that needs escaping
  if (redis_used) {
    single(out, "rv_redis_up", "gauge", "1 while the connection to Redis (--redis) is up.", redis_up ? 1 : 0);
    single(out, "rv_redis_unavailable_total", "counter",
           "Registrations that needed Redis while it was down (refused with 503, or judged locally).",
           redis_unavailable);
  }
  return out.str();
}

namespace {
std::string metrics_answer(const request_head& head, const metrics& stats, const registry& parking) {
  if (head.method != "GET" || (head.target != "/metrics" && !head.target.starts_with("/metrics?")))
    return error_response(404, "try GET /metrics");
  auto body = stats.render(parking);
  return ok_response("text/plain; version=0.0.4", body);
}

// Scrapes served at once; past it, new connections are closed unread. A
// Prometheus server needs one at a time: the cap keeps idle connections to
// the listener from holding memory and descriptors without bound.
constexpr std::size_t max_scrapes = 16;

// Counts a scrape while it runs; the count is shared, so a scrape that
// outlives the accept loop (at shutdown) still has it.
class scrape_slot {
 public:
  explicit scrape_slot(std::shared_ptr<std::size_t> open) : open_(std::move(open)) { ++*open_; }
  scrape_slot(scrape_slot&& other) noexcept = default;
  ~scrape_slot() {
    if (open_) --*open_;
  }

 private:
  std::shared_ptr<std::size_t> open_;
};

awaitable<void> answer_scrape(tcp::socket socket, const metrics& stats, const registry& parking, scrape_slot) {
  tcp_stream s(std::move(socket));
  std::string buf;
  request_head head;
  error_code ec;
  auto parsed = co_await within(std::chrono::seconds(5), read_head(s, buf, head, {}, ec));
  if (!parsed || ec || parsed->status != parse_status::good) co_return;
  auto answer = metrics_answer(head, stats, parking);
  co_await within(std::chrono::seconds(5), s.write_all(asio::buffer(answer), ec));
  co_await s.shutdown_send(ec);
}
}  // namespace

awaitable<void> serve_metrics(tcp::acceptor& acceptor, const metrics& stats, const registry& parking) {
  auto open = std::make_shared<std::size_t>(0);
  steady_clock::time_point logged{};
  co_await accept_each(acceptor, [&](tcp::socket socket) {
    if (*open >= max_scrapes) {
      if (steady_clock::now() - logged > std::chrono::seconds(10)) {
        logged = steady_clock::now();
        log::warn(*open, " connections open to the metrics listener: closing new ones unread");
      }
      return;
    }
    asio::co_spawn(acceptor.get_executor(), answer_scrape(std::move(socket), stats, parking, scrape_slot(open)),
                   asio::detached);
  });
}

}  // namespace rvserver
