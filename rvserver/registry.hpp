// Parked hidden-server connections by UUID, and clients waiting for one.
//
// The rule of the hand-off: while parked, a connection is shared by the
// registry and the session that registered it, which only watches it for a
// close. The registry alone gives it out: to a client (take), or to be closed
// (park's eviction of the oldest, evict). Giving out marks it taken and wakes
// the watch; from then on only the receiver touches the stream, and the
// watching session, seeing taken(), returns without touching it.
#pragma once
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rv/asio.hpp"
#include "rv/tls_stream.hpp"

namespace rvserver {

using rv::awaitable;

struct parked_conn {
  std::unique_ptr<rv::tls_stream> stream;
  bool notify = false;  // the hidden server asked for arrival notices
  std::string peer;     // its address, for logs
  std::uint64_t id = 0;

  // Whether the registry gave it out; the watcher must then let go.
  bool taken() const { return taken_; }

 private:
  friend class registry;
  bool taken_ = false;
};
using parked_ptr = std::shared_ptr<parked_conn>;

class registry {
 public:
  explicit registry(std::size_t max_per_uuid) : max_per_uuid_(max_per_uuid) {}

  // Parks p and wakes a client waiting for this UUID. When the UUID is over
  // its limit, the oldest parked connection is given out for the caller to
  // close (the seed server likewise keeps the newest).
  parked_ptr park(const std::string& uuid, parked_ptr p);

  // Removes p if it is still parked (its hidden server went away).
  void unpark(const std::string& uuid, const parked_ptr& p);

  // The newest parked connection for the UUID, waiting up to `grace` for one
  // to arrive. nullptr when none came.
  awaitable<parked_ptr> take(const std::string& uuid, std::chrono::milliseconds grace);

  std::size_t parked(const std::string& uuid) const;

  // Calls f(uuid, parked count) for every UUID with parked connections.
  template <class F>
  void for_each_uuid(F f) const {
    for (const auto& [uuid, s] : slots_)
      if (!s.parked.empty()) f(uuid, s.parked.size());
  }

  // Takes every parked connection of the UUID out (its secret was removed or
  // rotated) and returns them for the caller to close. Tunnels are not parked,
  // so live ones are untouched.
  std::vector<parked_ptr> evict(const std::string& uuid);

  // Forgets everything (at shutdown, before the io_context goes).
  void clear() { slots_.clear(); }

 private:
  struct slot {
    std::list<parked_ptr> parked;            // oldest first
    std::list<rv::asio::steady_timer*> waiters;  // cancelled to wake a waiting client
  };
  parked_ptr pop_newest(slot& s);
  // Every way out of the registry goes through here (the hand-off rule above).
  static parked_ptr hand_out(parked_ptr p);
  void forget_if_empty(const std::string& uuid);

  std::size_t max_per_uuid_;
  std::map<std::string, slot, std::less<>> slots_;
};

}  // namespace rvserver
