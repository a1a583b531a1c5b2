// What rvserver's sessions share: the server's state, a connection's facts,
// and the slot that counts a connection against the caps while it lives.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rv/asio.hpp"
#include "rv/head.hpp"
#include "rv/redis.hpp"
#include "rv/secrets.hpp"
#include "rv/tls.hpp"
#include "rvserver/metrics.hpp"
#include "rvserver/options.hpp"
#include "rvserver/registration_gate.hpp"
#include "rvserver/shared_gate.hpp"
#include "rvserver/registry.hpp"
#include "rvserver/throttle.hpp"

namespace rvserver {

// What rvserver reads from disk, at start and on SIGHUP (server.cpp).
struct server_files {
  rv::secrets_table secrets;
  rv::client_keys keys;
  rv::ssl_ctx_ptr tls;
  std::vector<credential_key> credential_keys;  // empty without --pool-credential-key-file
};

// Everything sessions share. It outlives every session: run() owns it and
// the io_context that runs them, and the server is single-threaded.
// SIGHUP replaces `tls`, `secrets` and `keys`; a session reads them only
// between awaits, and a tls_stream keeps its own reference to the context it
// began with.
struct server_state {
  // Every member from its option, by name (server.cpp).
  server_state(const options& o, server_files files, std::size_t connection_cap);

  const options& opts;
  rv::ssl_ctx_ptr tls;
  rv::secrets_table secrets;
  rv::client_keys keys;  // --client-keys: UUIDs whose clients must present a key
  registry parking;
  registration_gate gate;
  // --redis: the connection, and the gate's memory kept there (else null).
  // server_process ends both before the io_context they run on.
  std::unique_ptr<rv::redis_client> redis;
  std::unique_ptr<shared_gate> shared;
  rate_limiter takes;  // how fast one address may take parked connections
  std::size_t max_connections;
  std::unordered_map<std::string, std::size_t> open_by_source;  // and by IPv6 /48 (block_key)
  rv::head_limits limits;
  metrics stats;
  std::uint64_t next_id = 1;
  rv::steady_clock::time_point last_drop_log{};
  rv::steady_clock::time_point last_source_drop_log{};
};

// What one client session knows about itself, for log lines and metrics.
struct conn_info {
  std::uint64_t id;
  std::string peer;
  std::string source;                  // source_key(): what the per-address limits count
  std::string block;                   // block_key(): their second tier (IPv6 /48), or empty
  rv::steady_clock::time_point head_at{};  // when its request head was read
};

// Counts a connection against the connection caps while its session runs.
// Made at accept, before any byte is read, and moved into the session.
class connection_slot {
 public:
  connection_slot(server_state& st, std::string source, std::string block)
      : st_(&st), source_(std::move(source)), block_(std::move(block)) {
    ++st_->stats.connections_open;
    ++st_->open_by_source[source_];
    if (!block_.empty()) ++st_->open_by_source[block_];
  }
  ~connection_slot() {
    if (!st_) return;
    --st_->stats.connections_open;
    release(source_);
    if (!block_.empty()) release(block_);
  }
  connection_slot(connection_slot&& other) noexcept
      : st_(std::exchange(other.st_, nullptr)), source_(std::move(other.source_)), block_(std::move(other.block_)) {}
  connection_slot& operator=(connection_slot&&) = delete;
  const std::string& source() const { return source_; }
  const std::string& block() const { return block_; }

 private:
  void release(const std::string& key) {
    if (--st_->open_by_source[key] == 0) st_->open_by_source.erase(key);
  }

  server_state* st_;
  std::string source_, block_;
};

}  // namespace rvserver
