// The Redis client (see redis.hpp): a keeper coroutine per client that connects, logs in and
// then runs three loops on the connection (read replies, write queued commands, watch the
// oldest reply's deadline) until one of them, a waiter's timeout or stop() drops it.
#include "rv/redis.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <utility>

#include "rv/error.hpp"
#include "rv/io.hpp"
#include "rv/log.hpp"
#include "rv/printable.hpp"
#include "rv/tls.hpp"
#include "rv/tls_stream.hpp"

namespace rv {

namespace {

using std::chrono::milliseconds;
constexpr milliseconds backoff_start{100};
constexpr milliseconds backoff_cap{2000};
// One read of replies. Replies here are small; a large one takes several reads.
constexpr std::size_t read_chunk = 16 * 1024;
// What a Redis error may put into a log line (AUTH, SELECT and PING answers only).
constexpr std::size_t max_logged_error = 200;

// A byte_stream over a Unix domain socket (Redis's `unixsocket`).
class local_stream final : public byte_stream {
 public:
  explicit local_stream(asio::local::stream_protocol::socket s) : socket_(std::move(s)) {}
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    auto [e, n] = co_await socket_.async_read_some(buf, nothrow);
    ec = e;
    co_return n;
  }
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override {
    auto [e, n] = co_await asio::async_write(socket_, buf, nothrow);
    ec = e;
  }
  awaitable<void> shutdown_send(error_code& ec) override {
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    co_return;
  }
  void abort() override {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::local::stream_protocol::socket socket_;
};

// One command in flight. The FIFO and the run() that awaits it share it; when that run() is
// gone (timed out or cancelled) the slot stays in the FIFO, abandoned, so that the replies
// after it still meet their own commands.
struct slot {
  explicit slot(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;  // run() waits on it until the deadline; cancelled when finished
  std::optional<resp::value> reply;
  bool finished = false;   // the reply is in, or the command failed (reply empty)
  bool abandoned = false;  // run() returned: discard the reply
  steady_clock::time_point deadline;
  std::uint64_t connection = 0;  // the connection it was sent on
};

std::string millis(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A Redis error message fit for a log line.
std::string loggable(const std::string& text) {
  return printable(std::string_view(text).substr(0, max_logged_error));
}

}  // namespace

struct redis_client::state {
  state(asio::any_io_executor e, redis_settings s)
      : ex(e), settings(std::move(s)), where(settings.address.to_string()), phase(e), backoff(e),
        writer_wake(e), watchdog_wake(e) {}

  asio::any_io_executor ex;
  redis_settings settings;
  const std::string where;  // the address for logs, without the password
  ssl_ctx_ptr tls;          // rediss:// only
  redis_client* owner = nullptr;  // whose on_state_change to call; null once stopped
  bool started = false;
  bool stopped = false;
  bool up = false;        // logged in; the loops serve commands
  bool dropping = false;  // the connection is being torn down: no new commands
  std::string drop_reason;
  std::uint64_t connection = 0;  // counts connections that came up
  std::unique_ptr<byte_stream> stream;  // while up
  std::deque<std::shared_ptr<slot>> pending;  // in the order the replies will come
  std::string out;  // commands queued while a write was in flight: the next write
  asio::steady_timer phase;          // the login's deadline; stop() cancels it
  asio::steady_timer backoff;        // between attempts; stop() cancels it
  asio::steady_timer writer_wake;    // the writer sleeps on it while `out` is empty
  asio::steady_timer watchdog_wake;  // the watchdog sleeps on it while nothing is pending

  // Ends the current connection: every loop on it returns, and the keeper then fails what
  // is pending. The first reason wins.
  void drop(std::string reason) {
    if (dropping || !stream) return;
    dropping = true;
    drop_reason = std::move(reason);
    stream->abort();
    writer_wake.cancel();
    watchdog_wake.cancel();
  }

  void fail_pending() {
    for (auto& s : pending) {
      s->finished = true;
      s->wake.cancel();
    }
    pending.clear();
    out.clear();
  }

  void notify(bool now_up) {
    if (!owner || !owner->on_state_change) return;
    // A copy: the callback may destroy the client that holds it.
    auto callback = owner->on_state_change;
    try {
      callback(now_up);
    } catch (const std::exception& e) {
      log::error("redis ", where, ": on_state_change threw: ", e.what());
    }
  }
};

namespace {

using state = redis_client::state;

// Reads until `reader` yields one reply. False with `why` set on EOF, an error or bad RESP.
awaitable<bool> read_reply(byte_stream& stream, resp::reader& reader, resp::value& v, std::string& why) {
  std::unique_ptr<char[]> buf;
  for (;;) {
    const auto st = reader.next(v);
    if (st == resp::reader::status::value) co_return true;
    if (st == resp::reader::status::bad) {
      why = "protocol error: " + reader.error();
      co_return false;
    }
    if (!buf) buf = std::make_unique_for_overwrite<char[]>(read_chunk);
    error_code ec;
    const auto n = co_await stream.read_some(asio::buffer(buf.get(), read_chunk), ec);
    reader.feed(std::string_view(buf.get(), n));
    if (ec == asio::error::eof) {
      why = "connection closed by Redis";
      co_return false;
    }
    if (ec) {
      why = "read failed: " + ec.message();
      co_return false;
    }
  }
}

// Connects and logs in: AUTH (when a password is set), SELECT (when db is not 0) and PING,
// written together, each reply checked. Null with `why` set on failure. The keeper bounds it
// in time.
awaitable<std::unique_ptr<byte_stream>> establish(state& s, resp::reader& reader, std::string& why) {
  const auto& a = s.settings.address;
  std::unique_ptr<byte_stream> stream;
  error_code ec;
  if (a.how == redis_address::kind::unix_socket) {
    asio::local::stream_protocol::socket socket(s.ex);
    const asio::local::stream_protocol::endpoint path(a.path);
    auto [e] = co_await socket.async_connect(path, nothrow);
    if (e) {
      why = "cannot connect: " + e.message();
      co_return nullptr;
    }
    stream = std::make_unique<local_stream>(std::move(socket));
  } else {
    // Named, not a temporary in the co_await expression: g++ 12 destroys such temporaries twice.
    const endpoint_spec where{a.host, a.port};
    auto socket = co_await dial(where, s.settings.timeout, ec);
    if (ec) {
      why = "cannot connect: " + ec.message();
      co_return nullptr;
    }
    // An idle connection to a host that vanished is noticed without a command.
    set_keepalive(socket, std::chrono::seconds(60));
    if (a.how == redis_address::kind::tcp) {
      stream = std::make_unique<tcp_stream>(std::move(socket));
    } else {
      auto tls = std::make_unique<tls_stream>(std::move(socket), s.tls, tls_stream::role::client);
      tls->set_server_name(a.host);
      tls->set_pins(s.settings.trust.pins);
      co_await tls->handshake(ec);
      if (ec) {
        why = "TLS failed: " + tls->failure_reason();
        co_return nullptr;
      }
      stream = std::move(tls);
    }
  }

  std::string login;
  if (!a.password.empty()) {
    if (a.user.empty()) {
      login += resp::command({"AUTH", a.password});
    } else {
      login += resp::command({"AUTH", a.user, a.password});
    }
  }
  const std::string db = std::to_string(a.db);
  if (a.db != 0) login += resp::command({"SELECT", db});
  login += resp::command({"PING"});
  co_await stream->write_all(asio::buffer(login), ec);
  if (ec) {
    why = "write failed: " + ec.message();
    co_return nullptr;
  }
  resp::value v;
  if (!a.password.empty()) {
    if (!co_await read_reply(*stream, reader, v, why)) co_return nullptr;
    if (v.is_error()) {
      why = "AUTH refused: " + loggable(v.text);
      co_return nullptr;
    }
  }
  if (a.db != 0) {
    if (!co_await read_reply(*stream, reader, v, why)) co_return nullptr;
    if (v.is_error()) {
      why = "SELECT " + db + " refused: " + loggable(v.text);
      co_return nullptr;
    }
  }
  if (!co_await read_reply(*stream, reader, v, why)) co_return nullptr;
  if (v.is_error()) {
    why = "PING answered: " + loggable(v.text);  // LOADING, NOAUTH, ...
    co_return nullptr;
  }
  co_return stream;
}

// Hands each reply to the command at the head of the FIFO.
awaitable<void> read_loop(state& s, byte_stream& stream, resp::reader& reader) {
  auto buf = std::make_unique_for_overwrite<char[]>(read_chunk);
  for (;;) {
    resp::value v;
    for (;;) {
      const auto st = reader.next(v);
      if (st == resp::reader::status::need_more) break;
      if (st == resp::reader::status::bad) {
        s.drop("protocol error: " + reader.error());
        co_return;
      }
      if (s.pending.empty()) {
        s.drop("protocol error: a reply to no command");
        co_return;
      }
      auto head = std::move(s.pending.front());
      s.pending.pop_front();
      head->finished = true;
      if (!head->abandoned) {
        head->reply = std::move(v);
        head->wake.cancel();
      }
    }
    error_code ec;
    const auto n = co_await stream.read_some(asio::buffer(buf.get(), read_chunk), ec);
    if (s.dropping) co_return;
    reader.feed(std::string_view(buf.get(), n));
    if (ec == asio::error::eof) {
      s.drop("connection closed by Redis");
      co_return;
    }
    if (ec) {
      s.drop("read failed: " + ec.message());
      co_return;
    }
  }
}

// Writes whatever queued, in one write per batch.
awaitable<void> write_loop(state& s, byte_stream& stream) {
  std::string writing;
  for (;;) {
    if (s.dropping) co_return;
    if (s.out.empty()) {
      s.writer_wake.expires_at(steady_clock::time_point::max());
      co_await s.writer_wake.async_wait(nothrow);
      continue;
    }
    writing.clear();
    std::swap(writing, s.out);
    error_code ec;
    co_await stream.write_all(asio::buffer(writing), ec);
    if (s.dropping) co_return;
    if (ec) {
      s.drop("write failed: " + ec.message());
      co_return;
    }
    // A burst's buffer is not kept for the quiet that follows.
    if (writing.capacity() > 64 * 1024) std::string().swap(writing);
  }
}

// Drops the connection when the oldest command's reply is overdue, whether or not anyone still
// waits for it: a Redis that does not answer is down.
awaitable<void> watchdog(state& s) {
  for (;;) {
    if (s.dropping) co_return;
    if (s.pending.empty()) {
      s.watchdog_wake.expires_at(steady_clock::time_point::max());
    } else {
      const auto due = s.pending.front()->deadline;
      if (steady_clock::now() >= due) {
        s.drop("no reply within " + millis(s.settings.timeout));
        co_return;
      }
      s.watchdog_wake.expires_at(due);
    }
    co_await s.watchdog_wake.async_wait(nothrow);
  }
}

awaitable<void> keep(std::shared_ptr<state> sp) {
  state& s = *sp;
  auto delay = backoff_start;
  std::string logged;  // the reason last logged in this failure streak
  while (!s.stopped) {
    resp::reader reader(s.settings.limits);
    std::string why;
    std::unique_ptr<byte_stream> stream;
    s.phase.expires_after(s.settings.timeout);
    try {
      auto result = co_await (establish(s, reader, why) || s.phase.async_wait(nothrow));
      if (result.index() == 0) {
        stream = std::move(std::get<0>(result));
      } else {
        why = "no answer within " + millis(s.settings.timeout);
      }
    } catch (const std::exception& e) {
      why = e.what();  // a host name OpenSSL cannot check, memory
    }
    if (s.stopped) break;

    if (stream) {
      s.stream = std::move(stream);
      s.up = true;
      s.dropping = false;
      s.drop_reason.clear();
      ++s.connection;
      delay = backoff_start;
      logged.clear();
      log::debug("redis ", s.where, " up");
      s.notify(true);
      if (!s.stopped && !s.dropping) {
        try {
          co_await (read_loop(s, *s.stream, reader) && write_loop(s, *s.stream) && watchdog(s));
        } catch (const std::exception& e) {
          s.drop(std::string("failed: ") + e.what());
        }
      }
      s.up = false;
      s.fail_pending();
      s.stream.reset();
      if (s.stopped) break;
      log::warn("redis ", s.where, " down: ", s.drop_reason, "; reconnecting");
      logged = s.drop_reason;
      s.notify(false);
      if (s.stopped) break;
    } else if (why != logged) {
      log::warn("redis ", s.where, " unavailable: ", why, "; retrying");
      logged = why;
    } else {
      log::debug("redis ", s.where, " still unavailable: ", why);
    }

    s.backoff.expires_after(delay);
    co_await s.backoff.async_wait(nothrow);
    delay = std::min(delay * 2, backoff_cap);
  }
  log::debug("redis ", s.where, " client stopped");
}

awaitable<std::optional<resp::value>> run_command(std::shared_ptr<state> sp, std::vector<std::string> args) {
  state& s = *sp;
  if (!s.up || s.dropping || s.stopped || args.empty()) co_return std::nullopt;
  if (s.pending.size() >= s.settings.max_pending) {
    log::debug("redis ", s.where, ": ", s.pending.size(), " commands in flight; ", printable(args[0]), " not sent");
    co_return std::nullopt;
  }
  auto me = std::make_shared<slot>(s.ex);
  me->deadline = steady_clock::now() + s.settings.timeout;
  me->connection = s.connection;
  const bool was_idle = s.pending.empty();
  resp::append_command(s.out, args);
  s.pending.push_back(me);
  s.writer_wake.cancel();
  if (was_idle) s.watchdog_wake.cancel();

  me->wake.expires_at(me->deadline);
  auto [ec] = co_await me->wake.async_wait(nothrow);
  if (me->finished) co_return std::move(me->reply);
  me->abandoned = true;
  if (!ec && s.up && s.connection == me->connection) {
    log::debug("redis ", s.where, ": no reply to ", printable(args[0].substr(0, 32)), " within ",
               millis(s.settings.timeout));
    s.drop("no reply within " + millis(s.settings.timeout));
  }
  co_return std::nullopt;
}

}  // namespace

redis_client::redis_client(asio::any_io_executor ex, redis_settings s)
    : state_(std::make_shared<state>(std::move(ex), std::move(s))) {
  state_->owner = this;
  if (state_->settings.address.how == redis_address::kind::tls)
    state_->tls = make_client_context(state_->settings.trust);
}

redis_client::~redis_client() { stop(); }

void redis_client::start() {
  auto& s = *state_;
  if (s.started || s.stopped) return;
  s.started = true;
  asio::co_spawn(s.ex, keep(state_), [where = s.where](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error("redis ", where, ": client ended: ", x.what());
    } catch (...) {
      log::error("redis ", where, ": client ended");
    }
  });
}

void redis_client::stop() {
  auto& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  s.owner = nullptr;
  s.up = false;
  s.drop("stopped");
  s.fail_pending();
  s.phase.cancel();
  s.backoff.cancel();
}

bool redis_client::up() const { return state_->up && !state_->dropping && !state_->stopped; }

awaitable<std::optional<resp::value>> redis_client::run(std::vector<std::string> args) {
  // Not a coroutine itself: the frame holds the state, never `this`.
  return run_command(state_, std::move(args));
}

}  // namespace rv
