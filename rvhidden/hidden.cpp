// rvhidden: pool slots that register and park, and hand each arrival to its tunnel (arrival.cpp).
#include "rvhidden/hidden.hpp"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <deque>
#include <random>

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

// Shared by every service, slot and tunnel; run() owns it and outlives them all.
struct shared_state {
  const options& opts;
  ssl_ctx_ptr tls;
  std::string host_header;  // "host:port" as the user wrote --server
  std::uint64_t registrations = 0;  // parked so far, all services (for trim_memory_every)
  std::mt19937 rng{std::random_device{}()};
  tunnel_counts tunnels{};  // all services'; run() sets the caps
};

// One UUID and its local service, with a pool of slots of its own; run()
// owns one per service, each outliving its slots and tunnels.
struct hidden_state {
  hidden_state(shared_state& sh, const service& sv, totp_params secret, unsigned pool)
      : shared(sh),
        svc(sv),
        plan(sv.uuid, std::move(secret), pool, sh.opts.connect_timeout, to_string(sh.opts.server)),
        tunnels{sh.tunnels, sv, sh.opts.connect_timeout} {}

  shared_state& shared;
  const service& svc;
  registration_plan plan;   // what to present, what answers mean, how many slots
  service_tunnels tunnels;  // this service's (--max-tunnels-per-service)
};

void emit(const log_line& line) { log::emit(line.level, line.text); }

// How this slot proves itself: the credential, or a code; while another slot
// holds the turn to send a code, it waits for the credential that brings.
awaitable<registration_auth> choose_auth(registration_plan& plan) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto since = steady_clock::now();
  for (;;) {
    auto auth = plan.next_auth(since, steady_clock::now(), std::time(nullptr));
    if (auth.what != registration_auth::kind::wait) co_return auth;
    timer.expires_after(registration_plan::poll_interval);
    co_await timer.async_wait(nothrow);
  }
}

// Gives the turn to send a code back however the registration ends.
struct code_turn_guard {
  registration_plan& plan;
  const registration_auth& auth;
  ~code_turn_guard() { plan.end_turn(auth); }
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

void report_failure(hidden_state& st, const std::string& what) { emit(st.plan.failure(what)); }

void use_one_slot(hidden_state& st, std::string_view why) {
  if (auto line = st.plan.use_one_slot(why)) emit(*line);
}

// Dials, registers and waits parked for one client.
awaitable<park_outcome> park_once(hidden_state& st, unsigned slot) {
  const auto& o = st.shared.opts;
  const auto server = to_string(o.server);
  auto connection = co_await connect_tls(o, st.shared.tls, o.keepalive);
  if (!connection.stream) {
    report_failure(st, connect_failure(connection, server));
    co_return park_outcome::failed;
  }
  auto stream = std::move(connection.stream);
  error_code ec;

  const auto auth = co_await choose_auth(st.plan);
  // Held from here, so that a slot that stops below gives the code turn back
  // (kept, it would make every later code wait out the slots' give-up time).
  code_turn_guard turn{st.plan, auth};
  // Waiting for another slot's credential, this slot may have learned that
  // the server is a seed server, where its registration would do harm.
  if (st.plan.surplus(slot)) co_return park_outcome::surplus;
  registration r;
  r.uuid = st.svc.uuid;
  r.host = st.shared.host_header;
  r.token = auth.code;
  r.credential = auth.credential;
  r.notify = true;
  r.want_credential = true;
  const auto request = registration_request(r);
  if (!co_await within(o.connect_timeout, stream->write_all(asio::buffer(request), ec)) || ec) {
    report_failure(st, "lost the connection to " + server + " while registering");
    co_return park_outcome::failed;
  }
  std::string buf;
  response_head answer;
  auto parsed = co_await within(o.connect_timeout, read_head(*stream, buf, answer, {}, ec));
  if (!parsed || ec || parsed->status != parse_status::good) {
    report_failure(st, "no valid answer from " + server + " to the registration;" + error_note(ec));
    co_return park_outcome::failed;
  }
  const auto meaning = st.plan.on_answer(auth, answer, slot, steady_clock::now());
  for (const auto& line : meaning.log) emit(line);
  switch (meaning.what) {
    case registration_result::parked: break;
    case registration_result::stale_credential: co_return park_outcome::stale_credential;
    case registration_result::unauthorized: co_return park_outcome::unauthorized;
    case registration_result::throttled: co_return park_outcome::throttled;
    case registration_result::failed: co_return park_outcome::failed;
  }
  ++st.shared.registrations;
  const bool notices = meaning.notices;

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
      report_failure(st, "an arrival notice " + late);
      co_return park_outcome::lost;
    }
    if (ec || got->status != parse_status::good) co_return park_outcome::lost;
    std::string problem;
    auto notice = read_arrival_notice(head, problem);
    if (!notice) {
      if (!problem.empty()) log::warn(problem, "; closing it");
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
      report_failure(st, "a client's first bytes " + late);
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

// Registers, parks and re-parks until stopped, or until it is a slot too many
// for a seed server: then every slot but the newest registration's stops. The
// choice is never by slot number, which made slot 0, evicted by a newer
// registration of slot 3, register again and evict slot 3's in turn.
awaitable<void> pool_slot(hidden_state& st, unsigned slot) {
  backoff wait(st.shared.opts.backoff_min, st.shared.opts.backoff_max);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool stop = false;
  while (!stop && !st.plan.surplus(slot)) {
    auto outcome = park_outcome::failed;
    try {
      outcome = co_await park_once(st, slot);
    } catch (const std::exception& e) {
      // Nothing a server sends may end a slot for good: count it as a failure.
      report_failure(st, std::string("registration failed: ") + e.what());
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
        use_one_slot(st, "a newer registration closed a parked connection");
        if (st.plan.surplus(slot)) {
          stop = true;
          continue;
        }
        pause = wait.next(st.shared.rng);
        break;
      case park_outcome::surplus:
        stop = true;
        continue;
      case park_outcome::lost:
      case park_outcome::failed:
        pause = wait.next(st.shared.rng);
        break;
      case park_outcome::stale_credential:
        continue;
      case park_outcome::throttled:
        pause = std::max(wait.next(st.shared.rng), st.plan.retry_after());
        break;
      case park_outcome::unauthorized:
        // Retrying a wrong secret fast helps nobody; it also feeds throttles.
        pause = std::max(wait.next(st.shared.rng), milliseconds(30000));
        break;
    }
    timer.expires_after(pause);
    co_await timer.async_wait(nothrow);
  }
  st.plan.slot_stopped();
  log::debug("uuid=", st.svc.uuid, " slot=", slot, " stops: the server keeps one parked connection per UUID, "
             "and another slot holds it");
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
  shared_state shared{opts, tls, to_string(opts.server)};
  shared.tunnels.max = tunnel_cap(opts, descriptors);
  shared.tunnels.max_per_service = opts.max_tunnels_per_service;
  log::debug("at most ", shared.tunnels.max, " tunnels at once; descriptor limit ", descriptors);
  // A deque: the slots hold references to its elements.
  std::deque<hidden_state> services;
  for (const auto& svc : opts.services) {
    services.emplace_back(shared, svc, secrets.find(svc.uuid)->second.params, opts.pool);
    log::debug("serving uuid=", svc.uuid, " from ", to_string(svc.forward), " with a pool of ", opts.pool);
  }
  asio::io_context io(1);
  for (auto& st : services)
    for (unsigned slot = 0; slot < opts.pool; ++slot) asio::co_spawn(io, pool_slot(st, slot), asio::detached);

  asio::co_spawn(io, trim_memory_every(10s, [&shared] { return shared.tunnels.next_id + shared.registrations; }),
                 asio::detached);
  asio::signal_set signals(io);
  stop_on_signals(io, signals);
  io.run();
  return exit_code::ok;
}

}  // namespace rvhidden
