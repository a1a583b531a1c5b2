// A Redis client for state shared between rvserver nodes: one connection (TCP, TLS or a Unix
// socket) kept up by a coroutine of its own, commands pipelined on it, replies handed back in
// order. RESP is lib/rv/resp.hpp; addresses are lib/rv/redis_url.hpp.
//
// Ownership and threads: the owner holds the redis_client; its state and its coroutines run on
// the one executor given, and run() must be awaited from coroutines on that executor too
// (there are no locks). The keeper coroutine and every run() in flight hold the state by
// shared_ptr, not the redis_client, so the client may be destroyed while they are suspended:
// call stop() (the destructor does), then let the io_context run out or destroy it.
//
// Failure policy: Redis is an aid, not a dependency. While it is down, run() answers nullopt at
// once and callers fall back to what they know locally; the keeper reconnects in the
// background. Nothing here throws once constructed.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rv/asio.hpp"
#include "rv/redis_url.hpp"
#include "rv/resp.hpp"
#include "rv/trust.hpp"

namespace rv {

struct redis_settings {
  redis_address address;
  std::chrono::milliseconds timeout{1000};  // --redis-timeout: connect+AUTH, and each reply
  rv::client_trust trust;                   // for rediss:// (make_client_context); the
                                            // certificate is checked against address.host
  std::size_t max_pending = 10000;          // commands in flight; past it run() fails fast
  resp::limits limits;                      // bounds of one reply; past them the connection drops
};

class redis_client {
 public:
  // Throws rv::config_error when address is rediss:// and the trust settings cannot make a TLS
  // context (an unreadable CA file). Connects nothing until start().
  redis_client(asio::any_io_executor ex, redis_settings s);
  ~redis_client();  // stop()
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // Starts the keeper: connects, AUTHs, SELECTs and PINGs (all within settings.timeout: a
  // server that accepts connections but does not answer is not up), then serves commands; on
  // any failure (connect error, a reply timeout, a protocol error, EOF) it drops the
  // connection, fails every pending command, and reconnects with backoff (100 ms, doubling,
  // capped at 2 s; back to 100 ms once a connection came up). Why it is down is logged as a
  // warning once per failure streak (and again only if the reason changes), never per retry.
  // A second start() does nothing.
  void start();
  // Closes the connection and ends the keeper; pending commands fail (nullopt). Safe to call
  // twice, and before start(). Does not call on_state_change: the owner knows.
  void stop();
  bool up() const;  // connected and usable now
  // Called with true/false on each change of up() made by the keeper (never from stop(), never
  // re-entrantly from run()). Set it before start().
  std::function<void(bool up)> on_state_change;
  // Sends one command (pipelined with others in flight on the one connection, replies matched
  // in order). nullopt when Redis is down (fails at once, does not queue), when
  // settings.max_pending commands are already in flight, when the reply did not come within
  // settings.timeout (this also drops the connection: a silent Redis is a down one), or when
  // stopped. A Redis error reply is a value of kind error, not nullopt.
  // Cancelling the awaiting coroutine (e.g. racing it with `||`) gives nullopt too; the command
  // may still run on Redis, and its reply is discarded when it comes.
  // args[0] is the command name; only it may reach a log line (at debug level): the arguments
  // hold UUIDs, addresses and passwords. An empty args gives nullopt.
  // With g++ 12 write `co_await c.run(resp::args("GET", key))`: a braced list inside a co_await
  // expression does not compile there (resp.hpp).
  awaitable<std::optional<resp::value>> run(std::vector<std::string> args);

  struct state;  // shared by the keeper and the commands in flight (redis.cpp)

 private:
  std::shared_ptr<state> state_;
};

}  // namespace rv
