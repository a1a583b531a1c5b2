// Throttles that span connections: growing delays after failed tokens
// (RFC 4226 §7.3) and a token bucket on how fast one address may take parked
// connections. No I/O: the caller passes the time, so tests can drive it.
//
// Both are keyed by a source (source_key: an IPv4 address, or the /64 of an
// IPv6 one, since a single host usually holds a whole /64) or by a UUID, and
// both hold at most `max_keys` entries: past that, entries that no longer
// restrict anything go first, then the least recently touched of those that
// do not restrict now. An entry that restricts (a delay, an empty bucket) is
// never evicted: someone with many addresses must not be able to flush a
// target's failures. When every entry restricts, keys without an entry share
// one overflow entry, which restricts them together (fails closed).
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
// The second, coarser tier of the per-source limits: the IPv6 /48
// ("2001:db8:1::/48"), which a tunnel broker hands anyone for free and which
// holds 65,536 /64 source keys. Empty for IPv4, where one address is already
// what one customer has.
std::string block_key(const rv::asio::ip::address& address);
// How many times a source's share a block gets: connections, free failures.
constexpr unsigned block_share = 16;

struct throttle_policy {
  unsigned free_failures = 5;       // failures before the key must wait (after the 5th, the 6th waits)
  milliseconds first_delay{1000};   // the wait after the last free failure; doubles with each failure after it
  milliseconds max_delay{900000};   // cap on the delay (15 minutes)
  milliseconds forget_after{3600000};  // failures older than this no longer count
  std::size_t max_keys = 65536;
};

class failure_throttle {
 public:
  explicit failure_throttle(throttle_policy p) : policy_(p) {}

  // How long `key` must still wait before its next token is checked: zero when it may try now.
  milliseconds retry_after(const std::string& key, clock_time now) const;
  // Counts a failed token; once the free ones are spent, each failure doubles the delay.
  // A success forgives nothing: the failures were someone's guesses all the same.
  void failed(const std::string& key, clock_time now);
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    unsigned failures = 0;
    clock_time last{};
    clock_time blocked_until{};
  };
  entry* find_or_make(const std::string& key, clock_time now);

  throttle_policy policy_;
  std::unordered_map<std::string, entry> entries_;
  entry overflow_;                  // keys that found the table full of delays
  clock_time full_until_{};         // no room before this: every entry restricts until then
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
  bucket* find_or_make(const std::string& key, clock_time now);

  rate_policy policy_;
  std::unordered_map<std::string, bucket> buckets_;
  bucket overflow_;
  bool overflow_used_ = false;
  clock_time full_until_{};
};

}  // namespace rvserver
