// The registration gate's memory kept in Redis, so that every node of a
// cluster judges a registration as one server would (docs/PROTOCOL.md §5,
// ARCHITECTURE.md "Cluster"): the failed-token throttles per source, per IPv6
// /48 and per UUID, the replay memory of TOTP codes, and the addresses
// trusted for a UUID. The rules are registration_gate's; only where the
// tables live differs. Redis holds no secret: keys name UUIDs and source
// addresses, values are counts, times (Redis's own clock, so the nodes'
// clocks need not agree) and the source that used a code first.
//
// A code registration costs two round trips to Redis: one that reads the
// throttles, then, after the code is checked here, one that records the
// failure or, for a right code, checks the throttles again, records the code
// and trusts the address, atomically (a Lua script), so that guesses spread
// over nodes and sent at once are counted as one server counts them. A pool
// credential costs none on the way in: it is a MAC checked here; its address
// is trusted afterwards without waiting (once an hour per pair: trust_written_).
#pragma once
#include <cstdint>
#include <optional>
#include <chrono>
#include <string>
#include <unordered_map>

#include "rv/asio.hpp"
#include "rv/redis.hpp"
#include "rvserver/registration_gate.hpp"

namespace rvserver {

class shared_gate {
 public:
  // `redis` and `local` outlive it. `local` checks codes and credentials (and
  // keeps the tables when Redis is not used); `prefix` begins every key.
  shared_gate(rv::asio::any_io_executor ex, rv::redis_client& redis, registration_gate& local, const gate_settings& s,
              std::string prefix);

  // The verdict on `a`, as registration_gate::check gives it, or nullopt when
  // Redis could not be asked (down, or no answer within --redis-timeout): the
  // caller then refuses with 503 or falls back to `local` (--redis-unavailable).
  // A credential is judged without Redis; only its refusal consults the throttles.
  // `a` (and what it views) outlives the call.
  rv::awaitable<std::optional<gate_result>> check(const registration_attempt& a, std::int64_t unix_now);

  // The UUID's secret was rotated or removed: forget its trusted addresses.
  // Used codes are left to expire (three TOTP steps): another node may still
  // hold the old secret, and codes of the new one it has accepted must stay used.
  void forget(const std::string& uuid);

 private:
  std::string key(std::string_view kind, std::string_view id) const;

  // When this node last told Redis that a source registered a UUID, by
  // "UUID SOURCE": a pool refills with a credential at every tunnel, and
  // trust lasts a day, so one write an hour per pair is plenty (bounded:
  // cleared when it grows past 100,000 pairs).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> trust_written_;
  rv::asio::any_io_executor ex_;
  rv::redis_client& redis_;
  registration_gate& local_;
  gate_settings settings_;
  std::string prefix_;
};

}  // namespace rvserver
