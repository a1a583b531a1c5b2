// rv/redis: the client against a real redis-server (Debian's, started per test on a Unix
// socket in a temporary directory, or on 127.0.0.1 for TCP and TLS): round trips, pipelining,
// reply timeouts (SIGSTOP), restarts, AUTH, and tear-down while commands are pending.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rv/log.hpp"
#include "rv/redis.hpp"
#include "io_fixture.hpp"

using namespace rv_test;
using rv::resp::value;
using vtype = rv::resp::value::type;

namespace rv::resp {
inline std::ostream& operator<<(std::ostream& os, value::type t) { return os << to_string(t); }
}  // namespace rv::resp

namespace {

const char* const redis_binary = "/usr/bin/redis-server";

struct have_redis {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(::access(redis_binary, X_OK) == 0);
    r.message() << redis_binary << " is not installed (scripts/install-deps installs redis-server)";
    return r;
  }
};

// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// Sends an inline PING over a blocking Unix socket connection; true when any reply line comes
// (+PONG, or -NOAUTH from a server with a password).
bool answers_ping(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  timeval tv{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::write(fd, "PING\r\n", 6) == 6) {
    char c = 0;
    ok = ::read(fd, &c, 1) == 1 && (c == '+' || c == '-');
  }
  ::close(fd);
  return ok;
}

// One redis-server process, killed by its PID when this goes out of scope (and, through
// PR_SET_PDEATHSIG, when the test process dies). It always listens on DIR/redis.sock, which
// readiness checks use; `extra` adds TCP, TLS or a password.
class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    socket_ = (dir_.path_ / "redis.sock").string();
    start();
  }
  ~redis_server() { kill_now(); }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  const std::string& socket() const { return socket_; }
  std::string url() const { return "unix://" + socket_; }
  std::filesystem::path dir() const { return dir_.path_; }

  void start() {
    BOOST_TEST_REQUIRE(pid_ < 0);
    std::vector<std::string> args{redis_binary, "--port", "0", "--unixsocket", socket_, "--save", "",
                                  "--appendonly", "no", "--daemonize", "no", "--dir", dir_.path_.string()};
    args.insert(args.end(), extra_.begin(), extra_.end());
    const auto log = (dir_.path_ / "redis.log").string();
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    BOOST_TEST_REQUIRE(pid_ >= 0, "fork: " << std::strerror(errno));
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(redis_binary, argv.data());
      ::_exit(127);
    }
    // Up within 10 s (usually some 10 ms), or the test fails with Redis's own words.
    const auto deadline = steady_clock::now() + 10s;
    while (!answers_ping(socket_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        BOOST_TEST_REQUIRE(false, "redis-server exited: " << read_log());
      }
      BOOST_TEST_REQUIRE(bool(steady_clock::now() < deadline), "redis-server did not answer PING: " << read_log());
      std::this_thread::sleep_for(10ms);
    }
  }

  void signal(int sig) const {
    BOOST_TEST_REQUIRE(pid_ > 0);
    BOOST_TEST_REQUIRE(::kill(pid_, sig) == 0);
  }

  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string read_log() const {
    std::ifstream in(dir_.path_ / "redis.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  temp_dir dir_;
  std::vector<std::string> extra_;
  std::string socket_;
  pid_t pid_ = -1;
};

// Sends this process's stderr (where rv::log writes) to a file while it lives.
class stderr_capture {
 public:
  stderr_capture() : file_(dir_.path_ / "stderr") {
    saved_ = ::dup(2);
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    BOOST_TEST_REQUIRE(fd >= 0);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~stderr_capture() { restore(); }
  // Everything written so far.
  std::string text() const {
    std::ifstream in(file_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Puts stderr back and echoes what was captured, so that a failing test still shows it.
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
    const auto t = text();
    BOOST_TEST_MESSAGE("captured log:\n" << t);
  }

 private:
  temp_dir dir_;
  std::filesystem::path file_;
  int saved_ = -1;
};

std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

rv::redis_settings settings_for(const std::string& url, std::chrono::milliseconds timeout = 1000ms) {
  std::string error;
  auto a = rv::parse_redis_url(url, error);
  BOOST_TEST_REQUIRE(a.has_value(), error);
  rv::redis_settings s;
  s.address = *a;
  s.timeout = timeout;
  return s;
}

// A client and what its on_state_change reported.
struct watched_client {
  watched_client(const asio::any_io_executor& ex, rv::redis_settings s) : client(ex, std::move(s)) {
    client.on_state_change = [this](bool up) { (up ? ups : downs) += 1; };
  }
  rv::redis_client client;
  int ups = 0, downs = 0;
};

awaitable<void> sleep_for(steady_clock::duration d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  co_await t.async_wait(nothrow);
}

// Polls `pred` every 10 ms; false when `limit` passes first. A template, not std::function:
// g++ 12 destroys twice a lambda converted to std::function inside a co_await expression.
template <class Pred>
awaitable<bool> wait_until(Pred pred, steady_clock::duration limit) {
  const auto deadline = steady_clock::now() + limit;
  while (!pred()) {
    if (steady_clock::now() >= deadline) co_return false;
    co_await sleep_for(10ms);
  }
  co_return true;
}

// c.run(resp::args(a...)), as the owner writes it (no braced list in a co_await: g++ 12).
template <class... A>
awaitable<std::optional<value>> send(rv::redis_client& c, const A&... a) {
  return c.run(rv::resp::args(a...));
}

// Runs `n` copies of `task(i)` at once and waits for all of them (within `limit`). `task` is
// taken by reference (it must outlive them): no temporary in the caller's co_await expression.
template <class Task>
awaitable<bool> run_all(int n, Task& task, steady_clock::duration limit) {
  auto ex = co_await asio::this_coro::executor;
  auto left = std::make_shared<int>(n);
  for (int i = 0; i < n; ++i)
    asio::co_spawn(ex, task(i), [left](std::exception_ptr e) {
      --*left;
      if (e) std::rethrow_exception(e);
    });
  const auto all_done = [left] { return *left == 0; };
  co_return co_await wait_until(all_done, limit);
}

bool is_bulk(const std::optional<value>& v, std::string_view text) {
  return v && v->kind == vtype::bulk && v->text == text;
}
bool is_integer(const std::optional<value>& v, std::int64_t n) {
  return v && v->kind == vtype::integer && v->integer == n;
}
bool is_ok(const std::optional<value>& v) { return v && v->kind == vtype::simple && v->text == "OK"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(redis, *boost::unit_test::precondition(have_redis()))

BOOST_FIXTURE_TEST_CASE(not_started_or_stopped_fails_at_once, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    rv::redis_client c(ex, settings_for(server.url()));
    BOOST_TEST(!c.up());
    BOOST_TEST(!(co_await send(c, "PING")).has_value());
    c.stop();
    c.start();  // after stop: nothing
    co_await sleep_for(100ms);
    BOOST_TEST(!c.up());
    BOOST_TEST(!(co_await send(c, "PING")).has_value());
  });
}

BOOST_FIXTURE_TEST_CASE(set_get_incr_eval_round_trips, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    watched_client w(ex, settings_for(server.url()));
    auto& c = w.client;
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(w.ups == 1);
    BOOST_TEST(w.downs == 0);

    BOOST_TEST(is_ok(co_await send(c, "SET", "greeting", "hello")));
    BOOST_TEST(is_bulk(co_await send(c, "GET", "greeting"), "hello"));
    auto missing = co_await send(c, "GET", "no-such-key");
    BOOST_TEST_REQUIRE(missing.has_value());
    BOOST_TEST(missing->kind == vtype::nil);

    // Bytes a text protocol would choke on.
    std::string odd("\0\r\n$3\r\n*1\xff", 10);
    BOOST_TEST(is_ok(co_await send(c, "SET", odd, odd)));
    BOOST_TEST(is_bulk(co_await send(c, "GET", odd), odd));
    const std::string big(300 * 1000, 'z');
    BOOST_TEST(is_ok(co_await send(c, "SET", "big", big)));
    BOOST_TEST(is_bulk(co_await send(c, "GET", "big"), big));

    BOOST_TEST(is_integer(co_await send(c, "INCR", "counter"), 1));
    BOOST_TEST(is_integer(co_await send(c, "INCRBY", "counter", "41"), 42));
    auto wrong = co_await send(c, "INCR", "greeting");
    BOOST_TEST_REQUIRE(wrong.has_value());  // an error reply is a value
    BOOST_TEST(wrong->is_error());
    BOOST_TEST(wrong->text.find("not an integer") != std::string::npos, wrong->text);

    auto eval = co_await send(c, "EVAL", "return {KEYS[1], ARGV[1], 7, {redis.call('GET', KEYS[1])}}", "1",
                                 "greeting", "arg");
    BOOST_TEST_REQUIRE(eval.has_value());
    BOOST_TEST_REQUIRE(eval->kind == vtype::array);
    BOOST_TEST_REQUIRE(eval->items.size() == 4u);
    BOOST_TEST(eval->items[0].text == "greeting");
    BOOST_TEST(eval->items[1].text == "arg");
    BOOST_TEST(eval->items[2].integer == 7);
    BOOST_TEST_REQUIRE(eval->items[3].items.size() == 1u);
    BOOST_TEST(eval->items[3].items[0].text == "hello");

    auto script_error = co_await send(c, "EVAL", "return redis.error_reply('NOPE said the script')", "0");
    BOOST_TEST_REQUIRE(script_error.has_value());
    BOOST_TEST(script_error->is_error());
    BOOST_TEST(c.up());  // error replies do not drop the connection
    c.stop();
    BOOST_TEST(w.downs == 0);  // stop() does not report
  });
}

BOOST_FIXTURE_TEST_CASE(a_thousand_concurrent_commands_get_their_own_replies, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    rv::redis_client c(ex, settings_for(server.url(), 5000ms));
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    int wrong = 0, done = 0;
    // 100 coroutines, 10 commands each, all in flight together: ECHOes that name their sender
    // and INCRs of a key of each coroutine's own that must count 1..5 in order.
    auto task = [&](int i) -> awaitable<void> {
      for (int j = 0; j < 5; ++j) {
        const std::string tag = "coroutine " + std::to_string(i) + " command " + std::to_string(j);
        if (!is_bulk(co_await c.run(rv::resp::args("ECHO", tag)), tag)) ++wrong;
        const std::string key = "count:" + std::to_string(i);
        if (!is_integer(co_await c.run(rv::resp::args("INCR", key)), j + 1)) ++wrong;
        ++done;
      }
    };
    BOOST_TEST_REQUIRE(co_await run_all(100, task, 8s));
    BOOST_TEST(done == 500);
    BOOST_TEST(wrong == 0);

    // And 1000 launched in the same instant: one write for all of them.
    std::vector<std::optional<value>> replies(1000);
    auto one = [&](int i) -> awaitable<void> {
      const std::string text = std::to_string(i);
      replies[i] = co_await c.run(rv::resp::args("ECHO", text));
    };
    BOOST_TEST_REQUIRE(co_await run_all(1000, one, 8s));
    int mismatched = 0;
    for (int i = 0; i < 1000; ++i)
      if (!is_bulk(replies[i], std::to_string(i))) ++mismatched;
    BOOST_TEST(mismatched == 0);
    c.stop();
  }, 20s);
}

BOOST_FIXTURE_TEST_CASE(a_silent_redis_is_down_until_it_answers_again, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    watched_client w(ex, settings_for(server.url(), 300ms));
    auto& c = w.client;
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_ok(co_await send(c, "SET", "k", "before")));

    server.signal(SIGSTOP);
    std::vector<long long> elapsed;
    int answered = 0;
    auto ask = [&](int) -> awaitable<void> {
      const auto start = steady_clock::now();
      if (co_await c.run(rv::resp::args("GET", "k"))) ++answered;
      elapsed.push_back(ms_since(start));
    };
    BOOST_TEST_REQUIRE(co_await run_all(20, ask, 3s));
    BOOST_TEST(answered == 0);
    for (auto ms : elapsed) {
      BOOST_TEST(ms >= 250);
      BOOST_TEST(ms < 800);
    }
    BOOST_TEST(!c.up());
    // Reconnecting to a stopped server connects (the kernel's backlog takes it) but PING gets
    // no answer: it stays down, and says so once.
    co_await sleep_for(1500ms);
    BOOST_TEST(!c.up());
    BOOST_TEST(w.downs == 1);
    BOOST_TEST(w.ups == 1);
    const auto start = steady_clock::now();
    BOOST_TEST(!(co_await send(c, "GET", "k")).has_value());
    BOOST_TEST(ms_since(start) < 50, "a command while down fails at once");

    server.signal(SIGCONT);
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_bulk(co_await send(c, "GET", "k"), "before"));
    BOOST_TEST(w.ups == 2);
    BOOST_TEST(w.downs == 1);
    c.stop();
  }, 15s);
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_command_keeps_the_order_of_the_rest, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    rv::redis_client c(ex, settings_for(server.url(), 2000ms));
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    // A slow command raced with a short timer loses: its reply comes later and is discarded,
    // and the commands after it still get their own.
    auto raced = co_await (c.run(rv::resp::args("EVAL", "local t = redis.call('TIME'); while true do local n = redis.call('TIME'); "
                                          "if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 200000 then break end end "
                                          "return 'slow'",
                                  "0")) ||
                           sleep_for(20ms));
    BOOST_TEST(raced.index() == 1u);
    BOOST_TEST(is_bulk(co_await send(c, "ECHO", "after"), "after"));
    BOOST_TEST(is_integer(co_await send(c, "INCR", "n"), 1));
    BOOST_TEST(c.up());
    c.stop();
  });
}

BOOST_FIXTURE_TEST_CASE(a_restarted_redis_is_found_again, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    watched_client w(ex, settings_for(server.url(), 500ms));
    auto& c = w.client;
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_ok(co_await send(c, "SET", "k", "v")));

    server.kill_now();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return !c.up(); }, 2s), "EOF noticed while idle");
    BOOST_TEST(w.downs == 1);
    for (int i = 0; i < 3; ++i) {
      const auto start = steady_clock::now();
      BOOST_TEST(!(co_await send(c, "GET", "k")).has_value());
      BOOST_TEST(ms_since(start) < 50, "fails fast while down");
      co_await sleep_for(200ms);
    }

    server.start();  // the same socket path
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(w.ups == 2);
    // A new server without persistence: the key is gone, the client works.
    auto v = co_await send(c, "GET", "k");
    BOOST_TEST_REQUIRE(v.has_value());
    BOOST_TEST(v->kind == vtype::nil);
    BOOST_TEST(is_ok(co_await send(c, "SET", "k", "again")));
    c.stop();
  }, 15s);
}

BOOST_FIXTURE_TEST_CASE(auth_and_select, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server({"--requirepass", "correct horse"});

    auto good = settings_for(server.url() + "?db=3");
    good.address.password = "correct horse";
    rv::redis_client c(ex, good);
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    auto info = co_await send(c, "CLIENT", "INFO");
    BOOST_TEST_REQUIRE(info.has_value());
    BOOST_TEST(info->text.find(" db=3 ") != std::string::npos, info->text);

    // An ACL user and its password: the default user has the requirepass one.
    auto as_user = settings_for("unix://default:correct%20horse@" + server.socket());
    rv::redis_client u(ex, as_user);
    u.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return u.up(); }, 5s));
    BOOST_TEST(is_integer(co_await send(u, "INCR", "by-user"), 1));
    c.stop();
    u.stop();
  });
}

BOOST_FIXTURE_TEST_CASE(a_wrong_password_stays_down_and_says_why_once, io_fixture) {
  redis_server server({"--requirepass", "correct horse"});
  stderr_capture log;
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto bad = settings_for(server.url(), 300ms);
    bad.address.password = "battery staple";
    watched_client w(ex, bad);
    w.client.start();
    auto none = settings_for(server.url(), 300ms);  // no password at all
    watched_client n(ex, none);
    n.client.start();
    // Long enough for several retries (100 + 200 + 400 + 800 ms).
    co_await sleep_for(2000ms);
    BOOST_TEST(!w.client.up());
    BOOST_TEST(!n.client.up());
    BOOST_TEST(w.ups + w.downs + n.ups + n.downs == 0);
    BOOST_TEST(!(co_await send(w.client, "PING")).has_value());
    w.client.stop();
    n.client.stop();
  });
  log.restore();
  const auto text = log.text();
  BOOST_TEST(count_lines(text, "AUTH refused: WRONGPASS") == 1u, text);
  BOOST_TEST(count_lines(text, "PING answered: NOAUTH") == 1u, text);
  BOOST_TEST(text.find("battery") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(logs_never_hold_passwords_or_arguments, io_fixture) {
  redis_server server({"--requirepass", "hunter2"});
  stderr_capture log;
  const auto level = rv::log::current_level();
  rv::log::set_level(rv::log::level::debug);
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto s = settings_for(server.url(), 300ms);
    s.address.password = "hunter2";
    rv::redis_client c(ex, s);
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_ok(co_await send(c, "SET", "uuid-0f8fad5b", "198.51.100.7")));
    server.signal(SIGSTOP);
    BOOST_TEST(!(co_await send(c, "GET", "uuid-0f8fad5b")).has_value());
    server.signal(SIGCONT);
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    c.stop();
  });
  rv::log::set_level(level);
  log.restore();
  const auto text = log.text();
  BOOST_TEST(text.find("no reply within 300 ms") != std::string::npos, text);
  BOOST_TEST(text.find("hunter2") == std::string::npos);
  BOOST_TEST(text.find("uuid-0f8fad5b") == std::string::npos);
  BOOST_TEST(text.find("198.51.100.7") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(max_pending_fails_the_surplus_at_once, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    auto s = settings_for(server.url(), 400ms);
    s.max_pending = 5;
    rv::redis_client c(ex, s);
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    server.signal(SIGSTOP);
    std::vector<long long> elapsed;
    auto ask = [&](int) -> awaitable<void> {
      const auto start = steady_clock::now();
      BOOST_TEST(!(co_await c.run(rv::resp::args("PING"))).has_value());
      elapsed.push_back(ms_since(start));
    };
    BOOST_TEST_REQUIRE(co_await run_all(8, ask, 3s));
    std::sort(elapsed.begin(), elapsed.end());
    BOOST_TEST(elapsed[2] < 50);   // three over the limit: at once
    BOOST_TEST(elapsed[3] >= 350);  // five waited for the timeout
    server.signal(SIGCONT);
    c.stop();
  });
}

BOOST_FIXTURE_TEST_CASE(tcp_on_loopback, io_fixture) {
  const auto port = free_port();
  redis_server server({"--port", std::to_string(port), "--bind", "127.0.0.1"});
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rv::redis_client c(ex,
                       settings_for("redis://127.0.0.1:" + std::to_string(port) + "/2"));
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_ok(co_await send(c, "SET", "over", "tcp")));
    BOOST_TEST(is_bulk(co_await send(c, "GET", "over"), "tcp"));
    auto info = co_await send(c, "CLIENT", "INFO");
    BOOST_TEST_REQUIRE(info.has_value());
    BOOST_TEST(info->text.find(" db=2 ") != std::string::npos, info->text);
    BOOST_TEST(info->text.find("addr=127.0.0.1:") != std::string::npos, info->text);
    c.stop();
  });
}

BOOST_FIXTURE_TEST_CASE(tls_with_a_ca_made_at_test_time, io_fixture) {
  const auto& p = pki::get();
  const auto port = free_port();
  redis_server server({"--tls-port", std::to_string(port), "--bind", "127.0.0.1", "--tls-cert-file", p.leaf_cert,
                       "--tls-key-file", p.leaf_key, "--tls-ca-cert-file", p.ca_cert, "--tls-auth-clients", "no",
                       "--requirepass", "tls secret"});
  stderr_capture log;
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto s = settings_for("rediss://:tls%20secret@127.0.0.1:" + std::to_string(port), 2000ms);
    s.trust.ca_file = p.ca_cert;
    rv::redis_client c(ex, s);
    c.start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c.up(); }, 5s));
    BOOST_TEST(is_ok(co_await send(c, "SET", "over", "tls")));
    BOOST_TEST(is_bulk(co_await send(c, "GET", "over"), "tls"));
    std::vector<std::optional<value>> replies(200);
    auto one = [&](int i) -> awaitable<void> {
      const std::string text = std::to_string(i);
      replies[i] = co_await c.run(rv::resp::args("ECHO", text));
    };
    BOOST_TEST_REQUIRE(co_await run_all(200, one, 5s));
    int mismatched = 0;
    for (int i = 0; i < 200; ++i)
      if (!is_bulk(replies[i], std::to_string(i))) ++mismatched;
    BOOST_TEST(mismatched == 0);

    // A CA that did not sign Redis's certificate: never up.
    auto wrong = s;
    wrong.trust.ca_file = p.other_ca_cert;
    rv::redis_client w(ex, wrong);
    w.start();
    co_await sleep_for(500ms);
    BOOST_TEST(!w.up());
    w.stop();
    c.stop();
  });
  log.restore();
  BOOST_TEST(count_lines(log.text(), "TLS failed") == 1u, log.text());
}

BOOST_FIXTURE_TEST_CASE(stop_with_commands_pending_and_destruction_in_backoff, io_fixture) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    redis_server server;
    auto c = std::make_unique<rv::redis_client>(ex, settings_for(server.url(), 5000ms));
    c->start();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return c->up(); }, 5s));
    server.signal(SIGSTOP);
    int failed = 0;
    auto ask = [&, client = c.get()](int) -> awaitable<void> {
      if (!co_await client->run(rv::resp::args("PING"))) ++failed;
    };
    // The commands wait for a frozen Redis; the client is stopped and destroyed under them.
    for (int i = 0; i < 10; ++i)
      asio::co_spawn(ex, ask(i), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
    co_await sleep_for(50ms);
    const auto start = steady_clock::now();
    c->stop();
    c->stop();  // twice is fine
    c.reset();
    BOOST_TEST_REQUIRE(co_await wait_until([&] { return failed == 10; }, 1s));
    BOOST_TEST(ms_since(start) < 200);
    server.signal(SIGCONT);

    // Destroyed without stop() while it sleeps between attempts at a socket that is not there.
    auto lost = std::make_unique<rv::redis_client>(ex, settings_for("unix://" + (server.dir() / "none.sock").string()));
    lost->start();
    co_await sleep_for(250ms);
    BOOST_TEST(!lost->up());
    lost.reset();
  });
}

// A server that answers the login's PING and then sends `garbage` for the first command.
awaitable<void> bad_redis(asio::local::stream_protocol::socket s, std::string garbage) {
  std::string got;
  char buf[4096];
  bool greeted = false;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
    if (ec) co_return;
    got.append(buf, n);
    if (!greeted && got.find("PING\r\n") != std::string::npos) {
      greeted = true;
      got.clear();
      co_await asio::async_write(s, asio::buffer(std::string_view("+PONG\r\n")), nothrow);
    } else if (greeted && got.find("\r\n") != std::string::npos) {
      co_await asio::async_write(s, asio::buffer(garbage), nothrow);
      got.clear();
    }
  }
}

awaitable<void> serve_bad_redis(asio::local::stream_protocol::acceptor& a, std::string garbage) {
  for (;;) {
    auto [ec, s] = co_await a.async_accept(nothrow);
    if (ec) co_return;
    asio::co_spawn(a.get_executor(), bad_redis(std::move(s), garbage), asio::detached);
  }
}

BOOST_FIXTURE_TEST_CASE(protocol_errors_drop_the_connection_at_once, io_fixture) {
  struct bad_case {
    std::string name, garbage;
  };
  const bad_case cases[] = {
      {"negative length", "$-5\r\n"},
      {"unknown type", "?\r\n"},
      {"two replies to one command", "+OK\r\n+OK\r\n"},
      {"too deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      temp_dir dir;
      const auto path = (dir.path_ / "bad.sock").string();
      run([&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::local::stream_protocol::acceptor acceptor(ex, asio::local::stream_protocol::endpoint(path));
        asio::co_spawn(ex, serve_bad_redis(acceptor, c.garbage), asio::detached);
        watched_client w(ex, settings_for("unix://" + path, 2000ms));
        w.client.start();
        BOOST_TEST_REQUIRE(co_await wait_until([&] { return w.client.up(); }, 5s));
        for (int round = 0; round < 2; ++round) {
          const auto start = steady_clock::now();
          auto reply = co_await send(w.client, "GET", "k");
          // "+OK" twice: the first is the reply, the second one too many (the client
          // may or may not see it before it returns).
          if (c.name != "two replies to one command") BOOST_TEST(!reply.has_value());
          BOOST_TEST(ms_since(start) < 500, "dropped on the bad reply, not on the timeout");
          BOOST_TEST_REQUIRE(co_await wait_until([&] { return w.downs == round + 1; }, 2s));
          BOOST_TEST_REQUIRE(co_await wait_until([&] { return w.client.up(); }, 5s), "reconnected");
        }
        BOOST_TEST(w.ups == 3);
        w.client.stop();
        acceptor.close();
      });
    }
}

// The owner may also stop the client and destroy the io_context without running it again.
BOOST_AUTO_TEST_CASE(io_context_destroyed_with_everything_pending) {
  redis_server server;
  auto io = std::make_unique<asio::io_context>();
  auto c = std::make_unique<rv::redis_client>(io->get_executor(), settings_for(server.url(), 5000ms));
  c->start();
  const auto deadline = steady_clock::now() + 5s;
  while (!c->up() && steady_clock::now() < deadline) io->run_for(10ms);
  BOOST_TEST_REQUIRE(c->up());
  server.signal(SIGSTOP);
  int finished = 0;
  for (int i = 0; i < 5; ++i)
    asio::co_spawn(*io, c->run(rv::resp::args("PING")), [&](std::exception_ptr, std::optional<value>) { ++finished; });
  io->run_for(50ms);
  BOOST_TEST(finished == 0);
  c->stop();
  c.reset();
  io.reset();  // the keeper and the commands' frames are destroyed, never resumed
  server.signal(SIGCONT);
}

BOOST_AUTO_TEST_SUITE_END()
