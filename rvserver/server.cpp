// rvserver's process: listeners and the accept loop with its caps, privileges,
// SIGHUP reload, and run(). The sessions are in session.cpp.
#include "rvserver/server.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <utility>

#include "rv/error.hpp"
#include "rv/io.hpp"
#include "rv/limits.hpp"
#include "rv/listen.hpp"
#include "rv/log.hpp"
#include "rv/memory.hpp"
#include "rvserver/server_state.hpp"
#include "rvserver/session.hpp"

namespace rvserver {
namespace {

using namespace rv;
using namespace std::chrono_literals;

// The per-source keys of a peer: its address (IPv6: its /64) and its IPv6 /48.
std::pair<std::string, std::string> source_of(const tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return {"?", {}};
  return {source_key(ep.address()), block_key(ep.address())};
}

// Whether to refuse a new connection before anything is read from it: a TLS
// handshake to say 503 would spend what is short, and counting an address
// only after its handshakes would let its idle TCP connections hold every
// slot. Logs at most once every 10 s per kind.
bool over_caps(server_state& st, const std::string& source, const std::string& block) {
  const auto now = steady_clock::now();
  if (st.stats.connections_open >= st.max_connections) {
    ++st.stats.connections_dropped;
    if (now - st.last_drop_log > 10s) {
      st.last_drop_log = now;
      log::warn(st.stats.connections_open, " connections open (--max-connections): closing new ones unread");
    }
    return true;
  }
  auto open_from = [&](const std::string& key) {
    auto it = st.open_by_source.find(key);
    return it == st.open_by_source.end() ? std::size_t{0} : it->second;
  };
  const std::size_t cap = st.opts.max_connections_per_source;
  const std::string* over = nullptr;
  std::size_t open = open_from(source);
  if (open >= cap) over = &source;
  if (!over && !block.empty() && (open = open_from(block)) >= cap * block_share) over = &block;
  if (!over) return false;
  ++st.stats.connections_dropped_per_source;
  if (now - st.last_source_drop_log > 10s) {
    st.last_source_drop_log = now;
    log::warn(open, " connections open from ", *over, " (--max-connections-per-source",
              over == &block ? ", times 16 for an IPv6 /48" : "", "): closing new ones unread");
  }
  return true;
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, server_state& st) {
  co_await accept_each(acceptor, [&](tcp::socket socket) {
    ++st.stats.connections;
    auto [source, block] = source_of(socket);
    if (over_caps(st, source, block)) return;  // the socket closes unread
    connection_slot slot(st, std::move(source), std::move(block));
    asio::co_spawn(acceptor.get_executor(), guarded_session(std::move(socket), st, std::move(slot)),
                   asio::detached);
  });
}

bool same_secret(const totp_params& a, const totp_params& b) {
  return a.key == b.key && a.step == b.step && a.digits == b.digits;
}

// Throws rv::config_error for a file it cannot use.
server_files load_server_files(const options& opts) {
  server_files f;
  f.secrets = load_secrets_file(opts.secrets_file);
  if (!opts.client_keys_file.empty()) f.keys = load_client_keys_file(opts.client_keys_file);
  f.tls = make_server_context(opts.cert_file, opts.key_file);
  if (!opts.credential_key_file.empty())
    f.credential_keys = load_key_file(opts.credential_key_file, "pool credential key file");
  if (!opts.ticket_key_file.empty()) set_ticket_keys(f.tls.get(), load_key_file(opts.ticket_key_file, "TLS ticket key file"));
  return f;
}

// SIGHUP: new secrets, client keys and certificate for new connections.
// Parked connections of removed or rotated UUIDs are closed (their hidden servers register again
// with the new secret, or stop); open tunnels are never touched. A file that
// fails to load leaves the running configuration as it was.
void reload(server_state& st) {
  server_files files;
  try {
    files = load_server_files(st.opts);
  } catch (const std::exception& e) {
    log::error("reload failed, still running with the previous configuration: ", e.what());
    return;
  }
  std::size_t closed = 0;
  const auto& fresh = files.secrets;
  for (const auto& [uuid, old] : st.secrets) {
    auto it = fresh.find(uuid);
    const bool removed = it == fresh.end();
    if (!removed && same_secret(it->second.params, old.params)) continue;
    auto evicted = st.parking.evict(uuid);
    for (auto& p : evicted) p->stream->abort();
    st.gate.forget(uuid);
    if (st.shared) st.shared->forget(uuid);
    closed += evicted.size();
    log::info("uuid=", uuid, removed ? " removed" : " rotated", ": closed ", evicted.size(), " parked connections");
  }
  st.secrets = std::move(files.secrets);
  st.keys = std::move(files.keys);
  st.tls = std::move(files.tls);
  if (!files.credential_keys.empty()) {
    st.gate.set_credential_keys(std::move(files.credential_keys));
    log::info("reloaded the pool credential keys from ", st.opts.credential_key_file);
  }
  log::info("reloaded ", st.opts.secrets_file, " (", st.secrets.size(), " UUIDs) and ", st.opts.cert_file,
            "; closed ", closed, " parked connections");
}

awaitable<void> reload_on_hangup(asio::signal_set& hangup, server_state& st) {
  for (;;) {
    auto [ec, sig] = co_await hangup.async_wait(nothrow);
    if (ec) co_return;
    log::info("signal ", sig, ": reloading");
    reload(st);
  }
}

// After binding (ports below 1024 need root), run as `user`: a compromise of
// the server process then holds no root. Files reloaded on SIGHUP must be
// readable by that user.
void drop_privileges(const std::string& user) {
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw config_error("--user " + user + ": no such user");
  if (::geteuid() != 0) {
    if (::geteuid() == pw->pw_uid) return;
    throw config_error("--user " + user + " needs rvserver to start as root");
  }
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    throw exit_error(exit_code::failure, "cannot switch to user " + user + ": " + std::strerror(errno));
  if (::setuid(0) == 0) throw exit_error(exit_code::failure, "could regain root after switching to " + user);
  log::info("running as user ", user);
}

// Parked connections are descriptors: raise the soft limit to the hard one
// (as nginx's worker_rlimit_nofile), and keep a reserve below it for the
// secrets file, the certificate and the metrics listener.
std::size_t connection_cap(const options& opts) {
  const std::size_t limit = raise_descriptor_limit();
  if (opts.max_connections) return opts.max_connections;
  constexpr std::size_t reserve = 64;
  if (limit == unlimited_descriptors) return 1u << 20;
  return limit > 2 * reserve ? limit - reserve : 16;
}

gate_settings gate_settings_of(const options& opts) {
  gate_settings g;
  g.per_source.free_failures = opts.max_failures;
  g.per_source.max_delay = opts.max_failure_delay;
  g.per_block.free_failures = opts.max_failures * block_share;
  g.per_block.max_delay = opts.max_failure_delay;
  g.per_uuid.max_delay = std::min<milliseconds>(g.per_uuid.max_delay, opts.max_failure_delay);
  g.reuse = opts.token_reuse;
  g.credential_lifetime = opts.credential_lifetime;
  g.credential_chain = opts.credential_chain;
  return g;
}

// What run() owns, and the order in which it ends, in one place. The
// registry lets go of the parked streams first (they are sockets of the
// io_context; their sessions hold them too); then the io_context destroys the
// session frames still pending, which use the state (their connection_slot,
// the registry); then the state. Members end in the reverse of their order
// here, after the destructor's body. Everything else run() makes (acceptors,
// signal sets) is declared after this and so ends first.
struct server_process {
  std::optional<server_state> state;  // made once the listeners are bound and root is dropped
  asio::io_context io{1};
  ~server_process() {
    if (!state) return;
    state->parking.clear();
    // The Redis connection is a socket of the io_context: it goes before it.
    state->shared.reset();
    if (state->redis) state->redis->stop();
    state->redis.reset();
  }
};

}  // namespace

server_state::server_state(const options& o, server_files files, std::size_t connection_cap)
    : opts(o),
      tls(std::move(files.tls)),
      secrets(std::move(files.secrets)),
      keys(std::move(files.keys)),
      parking(o.max_parked_per_uuid),
      gate(gate_settings_of(o)),
      takes({o.client_rate, o.client_burst}),
      max_connections(connection_cap) {
  if (!files.credential_keys.empty()) gate.set_credential_keys(std::move(files.credential_keys));
  stats.node = o.node_id;
}

namespace {

// --redis: connects (and keeps reconnecting) in the background; until the
// first connection, registrations with a code meet a Redis that is down.
void share_gate_in_redis(server_state& st, asio::io_context& io) {
  const auto& o = st.opts;
  redis_settings settings;
  settings.address = *o.redis;
  settings.timeout = o.redis_timeout;
  if (!o.redis_ca_file.empty()) settings.trust.ca_file = o.redis_ca_file;
  st.redis = std::make_unique<redis_client>(io.get_executor(), std::move(settings));
  st.shared = std::make_unique<shared_gate>(io.get_executor(), *st.redis, st.gate, gate_settings_of(o), o.redis_prefix);
  st.stats.redis_used = true;
  const std::string where = o.redis->to_string();
  st.redis->on_state_change = [&st, where](bool up) {
    st.stats.redis_up = up;
    if (up) {
      log::info("redis: connected to ", where, "; the registration gate's memory is shared there");
    } else if (st.opts.redis_fallback_local) {
      log::warn("redis: without Redis, judging TOTP codes with this node's memory alone until it is back "
                "(--redis-unavailable local: a code may be replayed at another node meanwhile)");
    } else {
      log::warn("redis: without Redis, refusing registrations with a TOTP code (503) until it is back; "
                "pool credentials and clients are served as before");
    }
  };
  st.redis->start();
}

}  // namespace

int run(const options& opts) {
  // Writes to a closed pipe or socket must be errors, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);

  // Logs of several nodes often meet in one place: each line names its node.
  if (opts.node_id_given) log::set_program("rvserver[" + opts.node_id + "]");
  server_process process;
  auto& io = process.io;

  // Bind first (a port below 1024 needs root), then drop root, then read the
  // files as the user who will read them again on SIGHUP: the same owner
  // and permission checks hold at start and at every reload.
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (const auto& spec : opts.listen) acceptors.push_back(listen_on(io, spec));
  std::unique_ptr<tcp::acceptor> metrics_acceptor;
  if (opts.metrics) metrics_acceptor = listen_on(io, *opts.metrics);
  if (!opts.user.empty()) drop_privileges(opts.user);
  auto files = load_server_files(opts);
  auto& st = process.state.emplace(opts, std::move(files), connection_cap(opts));
  log::info(st.secrets.size(), " UUIDs in ", opts.secrets_file);
  if (!opts.client_keys_file.empty())
    log::info(st.keys.size(), " UUIDs take only clients with a key (", opts.client_keys_file, ")");
  log::info("node ", opts.node_id);
  if (opts.redis) share_gate_in_redis(st, io);
  log::debug("at most ", st.max_connections, " connections, ", opts.max_connections_per_source, " per address");
  for (const auto& a : acceptors) log::info("listening on ", announce(*a, "listening"));
  if (metrics_acceptor) {
    log::info("metrics on ", announce(*metrics_acceptor, "metrics"));
    if (!metrics_acceptor->local_endpoint().address().is_loopback())
      log::warn("the metrics listener is not on loopback: whoever reaches it sees every UUID and its parked "
                "connections, without authentication; bind it to 127.0.0.1 or put an authenticating proxy in front");
  }

  for (auto& a : acceptors) asio::co_spawn(io, accept_loop(*a, st), asio::detached);
  if (metrics_acceptor)
    asio::co_spawn(io, serve_metrics(*metrics_acceptor, st.stats, st.parking), asio::detached);

  asio::signal_set signals(io);
  stop_on_signals(io, signals);
  asio::co_spawn(io, trim_memory_every(10s, [&st] { return st.stats.connections + st.stats.pairings; }),
                 asio::detached);
  asio::signal_set hangup(io, SIGHUP);
  asio::co_spawn(io, reload_on_hangup(hangup, st), asio::detached);
  io.run();
  return exit_code::ok;
}

}  // namespace rvserver
