// Failed-token delays and the pairing rate limit (see throttle.hpp).
#include "throttle.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rvserver {
namespace {

milliseconds ceil_ms(clock_time::duration d) { return std::chrono::ceil<milliseconds>(d); }

// Keeps a table of attackers' addresses bounded: drop what `harmless` says no
// longer restricts anything, and if that frees less than a quarter, also the
// quarter touched least recently. Each pass frees a quarter, so the cost per
// insertion stays constant however the table is filled.
template <class Map, class Harmless, class LastTouched>
void make_room_in(Map& map, std::size_t max_keys, Harmless harmless, LastTouched last_touched) {
  if (map.size() < max_keys) return;
  std::erase_if(map, [&](const auto& kv) { return harmless(kv.second); });
  const std::size_t target = max_keys - max_keys / 4;
  if (map.size() <= target) return;
  std::vector<clock_time> times;
  times.reserve(map.size());
  for (const auto& kv : map) times.push_back(last_touched(kv.second));
  auto cut = times.begin() + static_cast<std::ptrdiff_t>(map.size() - target);
  std::nth_element(times.begin(), cut, times.end());
  const clock_time threshold = *cut;
  std::erase_if(map, [&](const auto& kv) { return last_touched(kv.second) < threshold; });
}

}  // namespace

std::string source_key(const rv::asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return rv::asio::ip::make_address_v4(rv::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return rv::asio::ip::address_v6(bytes).to_string() + "/64";
}

milliseconds failure_throttle::retry_after(const std::string& key, clock_time now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.blocked_until <= now) return milliseconds(0);
  return ceil_ms(it->second.blocked_until - now);
}

void failure_throttle::failed(const std::string& key, clock_time now) {
  if (!entries_.count(key)) make_room(now);
  auto& e = entries_[key];
  if (e.failures > 0 && now - e.last > policy_.forget_after) e.failures = 0;
  ++e.failures;
  e.last = now;
  if (e.failures <= policy_.free_failures) return;
  // first_delay * 2^(failures past the free ones - 1), capped without overflow.
  auto delay = policy_.first_delay;
  for (unsigned i = policy_.free_failures + 1; i < e.failures && delay < policy_.max_delay; ++i) delay *= 2;
  e.blocked_until = now + std::min(delay, policy_.max_delay);
}

void failure_throttle::make_room(clock_time now) {
  make_room_in(
      entries_, policy_.max_keys,
      [&](const entry& e) { return e.blocked_until <= now && now - e.last > policy_.forget_after; },
      [](const entry& e) { return e.last; });
}

milliseconds rate_limiter::take(const std::string& key, clock_time now) {
  if (policy_.per_second <= 0) return milliseconds(0);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    make_room(now);
    it = buckets_.emplace(key, bucket{policy_.burst, now}).first;
  }
  auto& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(policy_.burst, b.tokens + elapsed * policy_.per_second);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return milliseconds(0);
  }
  return milliseconds(static_cast<long>(std::ceil((1 - b.tokens) / policy_.per_second * 1000)));
}

void rate_limiter::make_room(clock_time now) {
  // A bucket that would be full again is the same as no bucket.
  const double rate = policy_.per_second, burst = policy_.burst;
  make_room_in(
      buckets_, policy_.max_keys,
      [&](const bucket& b) { return b.tokens + std::chrono::duration<double>(now - b.at).count() * rate >= burst; },
      [](const bucket& b) { return b.at; });
}

}  // namespace rvserver
