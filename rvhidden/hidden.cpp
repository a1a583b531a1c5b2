// rvhidden: pool slots that register and park, and hand each arrival to its tunnel (arrival.cpp).
#include "rvhidden/hidden.hpp"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "rv/answers.hpp"
#include "rv/connect_tls.hpp"
#include "rv/error.hpp"
#include "rv/io.hpp"
#include "rv/limits.hpp"
#include "rv/log.hpp"
#include "rv/memory.hpp"
#include "rv/printable.hpp"
#include "rv/protocol.hpp"
#include "rv/secrets.hpp"
#include "rv/tls_stream.hpp"
#include "rvhidden/arrival.hpp"
#include "rvhidden/registration_plan.hpp"

namespace rvhidden {
namespace {

using namespace rv;
using namespace std::chrono_literals;

// Shared by every service, node, slot and tunnel; run() owns it and outlives them all.
struct shared_state {
  const options& opts;
  ssl_ctx_ptr tls;  // the first node's; checks the CA file once at start
  // One TLS client context per node address, each keeping that node's last
  // session ticket (lib/rv/tls.hpp): with one context for every node, each
  // move between nodes would offer another node's ticket and pay a full
  // handshake, unless the nodes share --tls-ticket-key-file.
  std::map<std::string, ssl_ctx_ptr> contexts;
  const ssl_ctx_ptr& context_for(const std::string& label) {
    auto& ctx = contexts[label];
    if (!ctx) ctx = contexts.size() == 1 ? tls : make_client_context(opts.trust);
    return ctx;
  }
  std::uint64_t registrations = 0;  // parked so far, all services (for trim_memory_every)
  std::mt19937 rng{std::random_device{}()};
  tunnel_counts tunnels{};  // all services'; run() sets the caps
};

// One address rvhidden parks at: a --server as given, or (--server-addresses
// all) an address its name resolved to.
struct node_target {
  cli::server_access access;  // aimed at this address; the certificate still names the --server
  std::string label;          // the address, in log lines ("127.0.0.2:8899")
  std::string host_header;    // Host: the --server as the user wrote it
};

struct node_pool;

// One UUID and its local service, with a pool of slots at each node; run()
// owns one per service, each outliving its nodes, slots and tunnels.
struct hidden_state {
  hidden_state(shared_state& sh, const service& sv, totp_params secret)
      : shared(sh),
        svc(sv),
        plan(sv.uuid, std::move(secret), sh.opts.connect_timeout),
        tunnels{sh.tunnels, sv, sh.opts.connect_timeout} {}

  shared_state& shared;
  const service& svc;
  service_plan plan;        // the code turn and the credential, for every node
  service_tunnels tunnels;  // this service's (--max-tunnels-per-service)
  // Every address it parked at, by label; a drained one's slots stop.
  std::map<std::string, std::shared_ptr<node_pool>> nodes;
  std::set<std::string> same_node_logged;  // labels already reported as another address of a node
};

// One service at one node: the registration plan and the slots. Shared by
// its slots (detached coroutines) and by hidden_state::nodes.
struct node_pool {
  node_pool(hidden_state& s, node_target t)
      : st(s), target(std::move(t)), plan(s.plan, s.shared.opts.pool, target.label) {}

  // The slots stop: those waiting (backoff, their turn) at once, a parked
  // one once its connection ends (taken or closed); tunnels run on.
  void drain() {
    draining = true;
    plan.forget_node_id();
    for (auto* timer : idle) timer->cancel();
  }

  // A registration here succeeded: the node is up again. Its other slots,
  // whose backoff grew while it was down, try again now instead of one by
  // one as their waits end (a restarted node would otherwise be refilled
  // only after up to --max-backoff).
  void wake_backoffs() {
    ++parks;
    for (auto* timer : idle) timer->cancel();
  }

  hidden_state& st;
  node_target target;
  registration_plan plan;  // what to present, what answers mean, how many slots
  std::uint64_t parks = 0;  // registrations answered 200 here
  bool draining = false;   // left DNS, or another address of a node already parked at
  bool same_node = false;  // drained as another address of a node: checked again on each re-resolve
  bool filled = false;     // the slots after the first run: started once the first one parked
  std::set<unsigned> running;          // slots whose coroutine runs (a drained one's parked slots too)
  std::set<asio::steady_timer*> idle;  // the waits drain() cuts short
};

// A slot's wait that drain() may cut short, registered while it lasts.
class idle_wait {
 public:
  idle_wait(node_pool& np, asio::steady_timer& timer) : np_(np), timer_(timer) { np_.idle.insert(&timer_); }
  ~idle_wait() { np_.idle.erase(&timer_); }
  idle_wait(const idle_wait&) = delete;
  idle_wait& operator=(const idle_wait&) = delete;

 private:
  node_pool& np_;
  asio::steady_timer& timer_;
};

void emit(const log_line& line) { log::emit(line.level, line.text); }

// How this slot proves itself: the credential, or a code; while another slot
// (of any node) holds the turn to send a code, it waits for the credential
// that brings. A node drained meanwhile gets kind::wait back: stop.
awaitable<registration_auth> choose_auth(node_pool& np) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto since = steady_clock::now();
  while (!np.draining) {
    auto auth = np.plan.next_auth(since, steady_clock::now(), std::time(nullptr));
    if (auth.what != registration_auth::kind::wait) co_return auth;
    timer.expires_after(registration_plan::poll_interval);
    co_await timer.async_wait(nothrow);
  }
  co_return registration_auth{};
}

// Gives the turn to send a code back however the registration ends: once
// answered (not when the parked connection ends, which would hold every other
// node's code for as long as this one stays parked), or when it fails first.
class code_turn_guard {
 public:
  code_turn_guard(registration_plan& plan, const registration_auth& auth) : plan_(plan), auth_(auth) {}
  ~code_turn_guard() { release(); }
  code_turn_guard(const code_turn_guard&) = delete;
  code_turn_guard& operator=(const code_turn_guard&) = delete;
  void release() {
    if (held_) plan_.end_turn(auth_);
    held_ = false;
  }

 private:
  registration_plan& plan_;
  const registration_auth& auth_;
  bool held_ = true;
};

// Jittered exponential backoff: spreads reconnections so that a restarted
// server is not hit by every hidden server at the same instant.
class backoff {
 public:
  backoff(milliseconds min, milliseconds max) : min_(min), max_(max), next_(min) {}
  milliseconds next(std::mt19937& rng) {
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    auto wait = milliseconds(static_cast<long>(static_cast<double>(next_.count()) * jitter(rng)));
    next_ = std::min(max_, next_ * 2);
    return wait;
  }
  void reset() { next_ = min_; }

 private:
  milliseconds min_, max_, next_;
};

enum class park_outcome {
  taken,           // a client arrived; its tunnel runs on its own
  lost,            // the parked connection closed without a client
  superseded,      // the same, on a seed server: it keeps one per UUID
  surplus,         // a seed server, and another slot's registration is the newest: ours would evict it
  drained,         // the node is drained (left DNS, or another address of a node parked at): stop
  failed,          // could not connect, handshake or register: back off
  unauthorized,    // 401: the secret or the clock is wrong; back off long
  throttled,       // 429: wait as long as the server said (plan.retry_after())
  stale_credential,  // the server no longer knows our credential: register with a code at once
};

// rvhidden's line for a connection that failed: after a failed dial or a
// handshake that timed out it says that the slot retries.
std::string connect_failure(const tls_connection& c, const std::string& server) {
  if (c.failed_at == tls_connection::stage::handshake) return c.failure(server);
  return c.failure(server) + "; retrying with backoff";
}

void report_failure(node_pool& np, const std::string& what) { emit(np.plan.failure(what)); }

void use_one_slot(node_pool& np, std::string_view why) {
  if (auto line = np.plan.use_one_slot(why)) emit(*line);
}

awaitable<void> pool_slot(std::shared_ptr<node_pool> np, unsigned slot);

void start_slot(const std::shared_ptr<node_pool>& np, unsigned slot, const asio::any_io_executor& ex) {
  np->running.insert(slot);
  asio::co_spawn(ex, pool_slot(np, slot), asio::detached);
}

// The first slot at a node parked: the node is not another address of one
// parked at already, and it is known whether it is a seed server (a pool of
// one). The rest of the pool starts now; slots that will not run count as stopped.
void fill_pool(const std::shared_ptr<node_pool>& np, const asio::any_io_executor& ex) {
  if (np->filled) return;
  np->filled = true;
  const unsigned pool = np->st.shared.opts.pool;
  for (unsigned slot = 1; slot < pool; ++slot) {
    if (slot < np->plan.pool_size()) {
      start_slot(np, slot, ex);
    } else {
      np->plan.slot_stopped();
    }
  }
}

// A drained node is wanted again: its address came back, or it is checked
// again for being another address of a node parked at. The slots that
// stopped start again (only the first, while the pool has not parked yet);
// those still parked from before go on, so the node never holds more than
// its pool.
void revive(const std::shared_ptr<node_pool>& np, const asio::any_io_executor& ex) {
  np->draining = false;
  np->same_node = false;
  const unsigned slots = np->filled ? np->plan.pool_size() : 1;
  for (unsigned slot = 0; slot < slots; ++slot) {
    if (np->running.count(slot)) continue;
    np->plan.slot_restarted();
    start_slot(np, slot, ex);
  }
}

// Dials, registers and waits parked for one client.
awaitable<park_outcome> park_once(const std::shared_ptr<node_pool>& self, unsigned slot) {
  node_pool& np = *self;
  hidden_state& st = np.st;
  const auto& o = st.shared.opts;
  const auto& server = np.target.label;
  auto connection = co_await connect_tls(np.target.access, st.shared.context_for(server), o.keepalive);
  if (!connection.stream) {
    report_failure(np, connect_failure(connection, server));
    co_return park_outcome::failed;
  }
  auto stream = std::move(connection.stream);
  error_code ec;

  const auto auth = co_await choose_auth(np);
  if (auth.what == registration_auth::kind::wait) co_return park_outcome::drained;
  // Held from here, so that a slot that stops below gives the code turn back
  // (kept, it would make every later code wait out the slots' give-up time).
  code_turn_guard turn{np.plan, auth};
  // Waiting for another slot's credential, this slot may have learned that
  // the server is a seed server, where its registration would do harm.
  if (np.plan.surplus(slot)) co_return park_outcome::surplus;
  registration r;
  r.uuid = st.svc.uuid;
  r.host = np.target.host_header;
  r.token = auth.code;
  r.credential = auth.credential;
  r.notify = true;
  r.want_credential = true;
  r.want_node = true;
  const auto request = registration_request(r);
  if (!co_await within(o.connect_timeout, stream->write_all(asio::buffer(request), ec)) || ec) {
    report_failure(np, "lost the connection to " + server + " while registering");
    co_return park_outcome::failed;
  }
  std::string buf;
  response_head answer;
  auto parsed = co_await within(o.connect_timeout, read_head(*stream, buf, answer, {}, ec));
  if (!parsed || ec || parsed->status != parse_status::good) {
    report_failure(np, "no valid answer from " + server + " to the registration;" + error_note(ec));
    co_return park_outcome::failed;
  }
  auto meaning = np.plan.on_answer(auth, answer, slot, steady_clock::now());
  turn.release();
  if (meaning.same_node_as && !st.same_node_logged.insert(server).second)
    for (auto& line : meaning.log) line.level = log::level::debug;  // said once per address
  for (const auto& line : meaning.log) emit(line);
  switch (meaning.what) {
    case registration_result::parked: break;
    case registration_result::stale_credential: co_return park_outcome::stale_credential;
    case registration_result::unauthorized: co_return park_outcome::unauthorized;
    case registration_result::throttled: co_return park_outcome::throttled;
    case registration_result::failed: co_return park_outcome::failed;
  }
  if (meaning.same_node_as) {
    // Closing a parked connection withdraws it (docs/PROTOCOL.md §4.4).
    np.same_node = true;
    np.drain();
    co_return park_outcome::drained;
  }
  ++st.shared.registrations;
  np.wake_backoffs();
  const bool notices = meaning.notices;
  fill_pool(self, co_await asio::this_coro::executor);

  // Idle until the first byte arrives (the arrival notice, or a seed
  // server's client's first byte): no buffers and no read in progress
  // meanwhile, so a parked slot costs little more than its TLS state.
  // Keepalive turns a dead connection into an error here.
  // The first of them may already be here, read with the answer (one read
  // returns every record that has arrived).
  stream->release_buffers();
  if (buf.empty() && !stream->has_buffered_input()) {
    auto [we] = co_await stream->socket().async_wait(tcp::socket::wait_read, nothrow);
    if (we) co_return park_outcome::lost;
  }
  // From the first byte on, the rest follows at once or never: a server that
  // sends half a notice (or half a TLS record) and stalls must not hold this
  // slot for good, so the read has --connect-timeout.
  const auto late = "from " + server + " did not come whole within --connect-timeout (" +
                    std::to_string(o.connect_timeout.count()) + " s); parking again";
  if (notices) {
    response_head head;
    auto got = co_await within(o.connect_timeout, read_head(*stream, buf, head, {}, ec));
    if (!got) {
      report_failure(np, "an arrival notice " + late);
      co_return park_outcome::lost;
    }
    if (ec || got->status != parse_status::good) co_return park_outcome::lost;
    std::string problem;
    auto notice = read_arrival_notice(head, problem);
    if (!notice) {
      if (!problem.empty()) log::warn(problem, " (from ", server, "); closing it");
      co_return park_outcome::lost;
    }
    std::string mode(to_string(notice->mode));
    asio::co_spawn(co_await asio::this_coro::executor,
                   guarded_arrival(std::move(stream), std::move(buf), std::move(mode), std::move(notice->client),
                                   st.tunnels),
                   asio::detached);
    co_return park_outcome::taken;
  }
  // Seed server: the first client byte is the arrival.
  if (buf.empty()) {
    buf.resize(16 * 1024);
    auto n = co_await within(o.connect_timeout, stream->read_some(asio::buffer(buf), ec));
    if (!n) {
      report_failure(np, "a client's first bytes " + late);
      co_return park_outcome::lost;
    }
    buf.resize(*n);
    if (*n == 0) co_return park_outcome::superseded;
  }
  std::string mode = "seed", who = "?";
  asio::co_spawn(co_await asio::this_coro::executor,
                 guarded_arrival(std::move(stream), std::move(buf), std::move(mode), std::move(who), st.tunnels),
                 asio::detached);
  co_return park_outcome::taken;
}

// Registers, parks and re-parks until stopped, until its node is drained, or
// until it is a slot too many for a seed server: then every slot but the
// newest registration's stops. The choice is never by slot number, which made
// slot 0, evicted by a newer registration of slot 3, register again and evict
// slot 3's in turn. Each node's slots back off on their own: a node that is
// down or silent delays no other.
awaitable<void> pool_slot(std::shared_ptr<node_pool> np, unsigned slot) {
  auto& shared = np->st.shared;
  backoff wait(shared.opts.backoff_min, shared.opts.backoff_max);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool stop = false;
  while (!stop && !np->draining && !np->plan.surplus(slot)) {
    auto outcome = park_outcome::failed;
    try {
      outcome = co_await park_once(np, slot);
    } catch (const std::exception& e) {
      // Nothing a server sends may end a slot for good: count it as a failure.
      report_failure(*np, std::string("registration at ") + np->target.label + " failed: " + e.what());
    }
    milliseconds pause{0};
    switch (outcome) {
      case park_outcome::taken:
        wait.reset();
        continue;  // refill at once
      case park_outcome::superseded:
        // A newer registration closed this one. Another slot's, the newest:
        // that one holds the place now and this slot stops. Someone else's
        // (another hidden server for this UUID): back off, so that the two do
        // not take turns evicting each other at full speed.
        use_one_slot(*np, "a newer registration closed a parked connection at " + np->target.label);
        if (np->plan.surplus(slot)) {
          stop = true;
          continue;
        }
        pause = wait.next(shared.rng);
        break;
      case park_outcome::surplus:
      case park_outcome::drained:
        stop = true;
        continue;
      case park_outcome::lost:
      case park_outcome::failed:
        pause = wait.next(shared.rng);
        break;
      case park_outcome::stale_credential:
        continue;
      case park_outcome::throttled:
        pause = std::max(wait.next(shared.rng), np->plan.retry_after());
        break;
      case park_outcome::unauthorized:
        // Retrying a wrong secret fast helps nobody; it also feeds throttles.
        pause = std::max(wait.next(shared.rng), milliseconds(30000));
        break;
    }
    if (np->draining) break;
    const auto parks_before = np->parks;
    idle_wait cut_short(*np, timer);
    timer.expires_after(pause);
    co_await timer.async_wait(nothrow);
    if (np->parks != parks_before) wait.reset();  // woken by wake_backoffs(), or the node took others meanwhile
  }
  np->plan.slot_stopped();
  np->running.erase(slot);
  if (np->draining) {
    log::debug("uuid=", np->st.svc.uuid, " slot=", slot, " at ", np->target.label, " stops: the node is drained");
  } else {
    log::debug("uuid=", np->st.svc.uuid, " slot=", slot, " at ", np->target.label,
               " stops: the server keeps one parked connection per UUID, and another slot holds it");
  }
}

// A --server, aimed at `address` (itself, or one its name resolved to).
node_target target_for(const options& o, const endpoint_spec& server, const endpoint_spec& address) {
  return {o.at(address, server.host), to_string(address), to_string(server)};
}

// The addresses each --server name resolves to (A and AAAA, in the
// resolver's order), within --connect-timeout. An IP address is its own.
awaitable<void> lookup(const endpoint_spec& server, std::vector<endpoint_spec>& found, error_code& ec) {
  if (ip_literal(server.host)) {
    found.push_back(server);
    co_return;
  }
  tcp::resolver resolver(co_await asio::this_coro::executor);
  // No address_configured flag: a name on loopback (localhost: 127.0.0.1
  // and ::1) keeps both families.
  auto [rec, results] = co_await resolver.async_resolve(server.host, std::to_string(server.port),
                                                        tcp::resolver::numeric_service, nothrow);
  ec = rec;
  for (const auto& entry : results) {
    const auto ep = entry.endpoint();
    found.push_back({ep.address().to_string(), ep.port()});
  }
}

// Which nodes every service parks at, now and on each --resolve-interval;
// run() owns it.
struct node_watch {
  const options& opts;
  std::deque<hidden_state>& services;
  std::map<std::string, std::vector<node_target>> last_good;  // by --server: its last addresses
  std::set<std::string> failing;                               // --servers whose lookup fails now (said once)
  std::set<std::string> current;                               // labels in use
};

// Starts a pool at each new address, drains those gone, and checks again
// the addresses drained as another address of a node (it may have changed).
void apply_targets(node_watch& w, const std::vector<node_target>& targets, const asio::any_io_executor& ex) {
  std::set<std::string> wanted;
  for (const auto& t : targets) wanted.insert(t.label);
  for (const auto& label : wanted)
    if (!w.current.count(label)) log::info("parking at ", label);
  for (const auto& label : w.current)
    if (!wanted.count(label))
      log::info(label, " is no longer among the addresses of the servers: draining it (its parked connections "
                       "stay until a client takes them or they close; tunnels run on)");
  w.current = wanted;
  for (auto& st : w.services) {
    for (const auto& t : targets) {
      auto it = st.nodes.find(t.label);
      if (it == st.nodes.end()) {
        // A pool of its own, whose first slot parks alone: its answer tells
        // whether the node is another address of one parked at already.
        auto np = std::make_shared<node_pool>(st, t);
        st.nodes.emplace(t.label, np);
        start_slot(np, 0, ex);
      } else if (it->second->draining) {
        revive(it->second, ex);
      }
    }
    // Kept while drained (small), so that an address that comes back finds
    // the slots still parked there and adds none beyond its pool.
    for (auto& [label, np] : st.nodes)
      if (!wanted.count(label) && !np->draining) np->drain();
  }
}

// Resolves (--server-addresses all) or takes the --servers as given, applies
// the result, and does it again every --resolve-interval. A name that fails
// to resolve keeps its last addresses.
awaitable<void> watch_nodes(node_watch& w) {
  const auto& o = w.opts;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    std::vector<node_target> targets;
    for (const auto& server : o.servers) {
      if (o.addresses == server_addresses::first) {
        targets.push_back(target_for(o, server, server));
        continue;
      }
      const auto key = to_string(server);
      std::vector<endpoint_spec> found;
      error_code ec;
      if (!co_await within(o.connect_timeout, lookup(server, found, ec))) ec = asio::error::timed_out;
      if (ec || found.empty()) {
        if (w.failing.insert(key).second)
          log::warn("cannot resolve ", server.host, ":", error_note(ec), "; keeping its last ",
                    w.last_good[key].size(), " addresses and trying again every --resolve-interval");
      } else {
        if (w.failing.erase(key)) log::warn("resolved ", server.host, " again");
        auto& kept = w.last_good[key];
        kept.clear();
        for (const auto& address : found) kept.push_back(target_for(o, server, address));
      }
      for (const auto& t : w.last_good[key]) targets.push_back(t);
    }
    // Two names for one address: one node.
    std::vector<node_target> unique;
    for (auto& t : targets)
      if (std::none_of(unique.begin(), unique.end(), [&](const node_target& u) { return u.label == t.label; }))
        unique.push_back(std::move(t));
    apply_targets(w, unique, co_await asio::this_coro::executor);
    timer.expires_after(o.resolve_interval);
    co_await timer.async_wait(nothrow);
  }
}

}  // namespace

int run(const options& opts) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::size_t descriptors = raise_descriptor_limit();
  auto secrets = load_secrets_file(opts.secrets_file);
  for (const auto& svc : opts.services)
    if (!secrets.count(svc.uuid)) throw config_error("no line for uuid " + svc.uuid + " in " + opts.secrets_file);
  auto tls = make_client_context(opts.trust);

  // The state is declared before the io_context so that it outlives the pool
  // slot and tunnel frames the io_context's destructor destroys.
  shared_state shared{opts, tls};
  shared.tunnels.max = tunnel_cap(opts, descriptors);
  shared.tunnels.max_per_service = opts.max_tunnels_per_service;
  log::debug("at most ", shared.tunnels.max, " tunnels at once; descriptor limit ", descriptors);
  // A deque: the nodes and slots hold references to its elements.
  std::deque<hidden_state> services;
  for (const auto& svc : opts.services) {
    services.emplace_back(shared, svc, secrets.find(svc.uuid)->second.params);
    log::debug("serving uuid=", svc.uuid, " from ", to_string(svc.forward), " with a pool of ", opts.pool,
               " at each node");
  }
  node_watch watch{opts, services, {}, {}, {}};
  asio::io_context io(1);
  asio::co_spawn(io, watch_nodes(watch), asio::detached);
  asio::co_spawn(io, trim_memory_every(10s, [&shared] { return shared.tunnels.next_id + shared.registrations; }),
                 asio::detached);
  asio::signal_set signals(io);
  stop_on_signals(io, signals);
  io.run();
  return exit_code::ok;
}

}  // namespace rvhidden
