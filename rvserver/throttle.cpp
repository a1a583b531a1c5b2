// Failed-token delays and the pairing rate limit (see throttle.hpp).
#include "rvserver/throttle.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rvserver {
namespace {

milliseconds ceil_ms(clock_time::duration d) { return std::chrono::ceil<milliseconds>(d); }

// Makes room for one more key in a table of attackers' addresses: drops what
// `harmless` says no longer restricts anything and, if that frees less than a
// quarter, the least recently touched of the entries that do not restrict now
// (restricts_until(e) <= now). Each pass frees up to a quarter, so the cost per
// insertion stays constant. An entry that restricts never goes: when no entry
// may go, it returns false and sets `full_until` to when the first of them
// stops restricting; calls before then return false without a scan, so a
// table full of delays costs nothing per newcomer.
template <class Map, class Harmless, class RestrictsUntil, class LastTouched>
bool make_room_in(Map& map, std::size_t max_keys, clock_time now, clock_time& full_until, Harmless harmless,
                  RestrictsUntil restricts_until, LastTouched last_touched) {
  if (map.size() < max_keys) return true;
  if (now < full_until) return false;
  std::erase_if(map, [&](const auto& kv) { return harmless(kv.second); });
  const std::size_t target = max_keys - max_keys / 4;
  if (map.size() <= target) return true;
  std::vector<std::pair<clock_time, typename Map::iterator>> evictable;
  evictable.reserve(map.size());
  clock_time first_free = clock_time::max();
  for (auto it = map.begin(); it != map.end(); ++it) {
    const clock_time until = restricts_until(it->second);
    if (until <= now)
      evictable.emplace_back(last_touched(it->second), it);
    else
      first_free = std::min(first_free, until);
  }
  // The `excess` least recently touched of them (ties broken arbitrarily).
  const std::size_t excess = std::min(map.size() - target, evictable.size());
  auto cut = evictable.begin() + static_cast<std::ptrdiff_t>(excess);
  std::nth_element(evictable.begin(), cut, evictable.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto it = evictable.begin(); it != cut; ++it) map.erase(it->second);
  if (map.size() < max_keys) return true;
  full_until = first_free;
  return false;
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

std::string block_key(const rv::asio::ip::address& address) {
  if (address.is_v4() || address.to_v6().is_v4_mapped()) return {};
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 6, bytes.end(), 0);
  return rv::asio::ip::address_v6(bytes).to_string() + "/48";
}

milliseconds failure_throttle::retry_after(const std::string& key, clock_time now) const {
  auto it = entries_.find(key);
  const entry& e = it == entries_.end() ? overflow_ : it->second;
  if (e.blocked_until <= now) return milliseconds(0);
  return ceil_ms(e.blocked_until - now);
}

failure_throttle::entry* failure_throttle::find_or_make(const std::string& key, clock_time now) {
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  const bool room = make_room_in(
      entries_, policy_.max_keys, now, full_until_,
      [&](const entry& e) { return e.blocked_until <= now && now - e.last > policy_.forget_after; },
      [](const entry& e) { return e.blocked_until; }, [](const entry& e) { return e.last; });
  return room ? &entries_[key] : &overflow_;
}

void failure_throttle::failed(const std::string& key, clock_time now) {
  entry& e = *find_or_make(key, now);
  if (e.failures > 0 && now - e.last > policy_.forget_after) e.failures = 0;
  ++e.failures;
  e.last = now;
  // "After N failures it must wait": the Nth failure starts the delay (0 or 1: the first does).
  const unsigned free = std::max(1u, policy_.free_failures);
  if (e.failures < free) return;
  // first_delay * 2^(failures past the last free one), capped without overflow.
  auto delay = policy_.first_delay;
  for (unsigned i = free; i < e.failures && delay < policy_.max_delay; ++i) delay *= 2;
  e.blocked_until = now + std::min(delay, policy_.max_delay);
}

rate_limiter::bucket* rate_limiter::find_or_make(const std::string& key, clock_time now) {
  if (auto it = buckets_.find(key); it != buckets_.end()) return &it->second;
  const double rate = policy_.per_second, burst = policy_.burst;
  const bool room = make_room_in(
      buckets_, policy_.max_keys, now, full_until_,
      // A bucket that would be full again is the same as no bucket.
      [&](const bucket& b) { return b.tokens + std::chrono::duration<double>(now - b.at).count() * rate >= burst; },
      // It refuses until it holds one token again.
      [&](const bucket& b) {
        if (b.tokens >= 1) return b.at;
        return b.at + std::chrono::ceil<clock_time::duration>(std::chrono::duration<double>((1 - b.tokens) / rate));
      },
      [](const bucket& b) { return b.at; });
  if (room) return &buckets_.emplace(key, bucket{burst, now}).first->second;
  if (!overflow_used_) overflow_ = bucket{burst, now};
  overflow_used_ = true;
  return &overflow_;
}

milliseconds rate_limiter::take(const std::string& key, clock_time now) {
  if (policy_.per_second <= 0) return milliseconds(0);
  auto& b = *find_or_make(key, now);
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(policy_.burst, b.tokens + elapsed * policy_.per_second);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return milliseconds(0);
  }
  return milliseconds(static_cast<long>(std::ceil((1 - b.tokens) / policy_.per_second * 1000)));
}

}  // namespace rvserver
