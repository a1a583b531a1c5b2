// Throttles that span connections: growing delays after failed tokens
// (RFC 4226 §7.3) and a token bucket on how fast one address may take parked
// connections. No I/O: the caller passes the time, so tests can drive it.
//
// Both are keyed by a source (source_key: an IPv4 address, or the /64 of an
// IPv6 one, since a single host usually holds a whole /64) or by a UUID, and
// both hold at most `max_keys` entries: past that, entries that no longer
// restrict anything go first, then the least recently touched.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "rv/asio.hpp"

namespace rvserver {

using clock_time = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

// "192.0.2.7", or "2001:db8:1:2::/64" for an IPv6 address (IPv4-mapped ones as IPv4).
std::string source_key(const rv::asio::ip::address& address);

struct throttle_policy {
  unsigned free_failures = 5;       // failures allowed before any delay
  milliseconds first_delay{1000};   // the delay after the first failure past them; doubles after each
  milliseconds max_delay{900000};   // cap on the delay (15 minutes)
  milliseconds forget_after{3600000};  // failures older than this no longer count
  std::size_t max_keys = 65536;
};

class failure_throttle {
 public:
  explicit failure_throttle(throttle_policy p) : policy_(p) {}

  // How long `key` must still wait before its next token is checked: zero when it may try now.
  milliseconds retry_after(const std::string& key, clock_time now) const;
  // Counts a failed token; past the free ones, each failure doubles the delay.
  void failed(const std::string& key, clock_time now);
  // A correct token: the key's failures are forgiven.
  void succeeded(const std::string& key) { entries_.erase(key); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    unsigned failures = 0;
    clock_time last{};
    clock_time blocked_until{};
  };
  void make_room(clock_time now);

  throttle_policy policy_;
  std::unordered_map<std::string, entry> entries_;
};

struct rate_policy {
  double per_second = 20;  // sustained rate; 0 turns the limit off
  double burst = 40;       // how many may come at once
  std::size_t max_keys = 65536;
};

class rate_limiter {
 public:
  explicit rate_limiter(rate_policy p) : policy_(p) {}

  // Takes one token for `key`: zero when allowed, else how long until one is there.
  milliseconds take(const std::string& key, clock_time now);
  std::size_t size() const { return buckets_.size(); }

 private:
  struct bucket {
    double tokens = 0;
    clock_time at{};
  };
  void make_room(clock_time now);

  rate_policy policy_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace rvserver
