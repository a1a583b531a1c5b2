// rv/io: within() deadlines and read_head() over real loopback streams, and read_head's cost.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <time.h>

#include "rv/io.hpp"
#include "io_fixture.hpp"

using namespace rv_test;
using rv::parse_status;

namespace {

awaitable<void> read_once(rv::byte_stream& s, error_code& ec) {
  char c = 0;
  auto into = asio::buffer(&c, 1);
  co_await s.read_some(into, ec);
}

// Writes one byte after `delay`, or nothing when there is none.
awaitable<void> write_after(rv::byte_stream& s, std::optional<steady_clock::duration> delay) {
  if (!delay) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, *delay);
  co_await timer.async_wait(use_awaitable);
  error_code ec;
  const char x = 'x';
  auto one = asio::buffer(&x, 1);
  co_await s.write_all(one, ec);
  BOOST_TEST(!ec);
}

struct deadline_outcome {
  bool finished = false;
  error_code read_ec;
  long long elapsed_ms = 0;
};

// within(limit, awaitable<void>)
awaitable<void> timed_read(rv::byte_stream& s, steady_clock::duration limit, deadline_outcome& out) {
  const auto start = steady_clock::now();
  auto op = read_once(s, out.read_ec);
  out.finished = co_await rv::within(limit, std::move(op));
  out.elapsed_ms = ms_since(start);
}

// within(limit, awaitable<T>)
awaitable<void> timed_read_value(rv::byte_stream& s, steady_clock::duration limit, deadline_outcome& out) {
  const auto start = steady_clock::now();
  char c = 0;
  auto into = asio::buffer(&c, 1);
  auto op = s.read_some(into, out.read_ec);
  std::optional<std::size_t> n = co_await rv::within(limit, std::move(op));
  out.elapsed_ms = ms_since(start);
  out.finished = n.has_value();
  if (n) {
    BOOST_TEST(*n == 1u);
    BOOST_TEST(c == 'x');
  }
}

struct deadline_case {
  const char* name;
  std::optional<steady_clock::duration> peer_writes_after;  // none: the peer stays silent
  steady_clock::duration limit;
  bool finished;
};

const deadline_case deadline_cases[] = {
    {"the timer wins", std::nullopt, 50ms, false},
    {"the op finishes first", 20ms, 5s, true},
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(io, io_fixture)

// The timer that wins cancels the op (its read ends with operation_aborted);
// an op that finishes first cancels the timer (else the fixture would find it
// left behind).
BOOST_AUTO_TEST_CASE(within_races_an_op_against_a_timer) {
  for (const auto& c : deadline_cases) {
    for (auto t : transports) {
      for (bool with_value : {false, true}) {
        BOOST_TEST_CONTEXT(c.name << ", " << t << (with_value ? ", awaitable<T>" : ", awaitable<void>")) {
          run([&]() -> awaitable<void> {
            auto p = co_await connected_pair(t);
            deadline_outcome out;
            if (with_value)
              co_await (timed_read_value(*p.server, c.limit, out) && write_after(*p.client, c.peer_writes_after));
            else
              co_await (timed_read(*p.server, c.limit, out) && write_after(*p.client, c.peer_writes_after));
            BOOST_TEST(out.finished == c.finished);
            if (c.finished) {
              BOOST_TEST(!out.read_ec);
              BOOST_TEST(out.elapsed_ms < 2000);
            } else {
              BOOST_TEST(out.read_ec == aborted);
              BOOST_TEST(out.elapsed_ms >= 50);
              BOOST_TEST(out.elapsed_ms < 2000);
            }
          });
        }
      }
    }
  }
}

namespace {
const std::string connect_head = "CONNECT uuid:0123-abcd HTTP/1.1\r\nHost: rv.example:443\r\n\r\n";

// Writes `head` one byte per write (over TLS, one record each), yielding
// between writes, then its last byte together with `after` in one write.
awaitable<void> trickle(rv::byte_stream& s, const std::string& head, const std::string& after, error_code& ec) {
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i + 1 < head.size() && !ec; ++i) {
    auto one = asio::buffer(head.data() + i, 1);
    co_await s.write_all(one, ec);
    co_await asio::post(ex, use_awaitable);
  }
  std::string tail = head.substr(head.size() - 1) + after;
  if (!ec) co_await s.write_all(asio::buffer(tail), ec);
}

struct head_read {
  parse_status status = parse_status::need_more;
  std::string error;
  error_code ec;
};

awaitable<void> read_request(rv::byte_stream& s, std::string& buf, rv::request_head& head,
                             const rv::head_limits& limits, head_read& out) {
  auto r = co_await rv::read_head(s, buf, head, limits, out.ec);
  out.status = r.status;
  out.error = r.error;
}
}  // namespace

// A head that arrives a byte at a time parses once whole; the bytes that came
// with its end (tunnel bytes) stay in the buffer.
BOOST_AUTO_TEST_CASE(read_head_parses_a_head_split_across_one_byte_writes) {
  for (auto t : transports) {
    BOOST_TEST_CONTEXT(t) {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(t);
        const std::string tunnel = "SSH-2.0-first tunnel bytes\r\n";
        const rv::head_limits limits;
        std::string buf;
        rv::request_head head;
        head_read got;
        error_code wec;
        co_await (trickle(*p.client, connect_head, tunnel, wec) && read_request(*p.server, buf, head, limits, got));
        BOOST_TEST(!wec);
        BOOST_TEST_REQUIRE(got.status == parse_status::good, got.error << " " << got.ec.message());
        BOOST_TEST(!got.ec);
        BOOST_TEST(head.method == "CONNECT");
        BOOST_TEST(head.target == "uuid:0123-abcd");
        BOOST_TEST(rv::value_or(head.find("Host"), "(none)") == "rv.example:443");
        BOOST_TEST(buf == tunnel);
      });
    }
  }
}

// The seed server's bare 200 and an arrival notice in one write: the first
// read takes both, and the second head parses from the buffer without waiting
// on the (silent) peer.
BOOST_AUTO_TEST_CASE(read_head_leaves_a_following_head_in_the_buffer) {
  for (auto t : transports) {
    BOOST_TEST_CONTEXT(t) {
      run([&]() -> awaitable<void> {
        auto p = co_await connected_pair(t);
        const std::string both =
            "HTTP/1.1 200\r\n\r\n"
            "HTTP/1.1 200 Rendezvous\r\nRendezvous-Mode: stream\r\nRendezvous-Client: 192.0.2.7:40001\r\n\r\n"
            "client bytes";
        error_code ec;
        co_await p.server->write_all(asio::buffer(both), ec);
        BOOST_TEST_REQUIRE(!ec);
        const rv::head_limits limits;
        std::string buf;
        rv::response_head first, second;
        auto r1 = co_await rv::read_head(*p.client, buf, first, limits, ec);
        BOOST_TEST_REQUIRE(r1.status == parse_status::good, r1.error << " " << ec.message());
        BOOST_TEST(first.status == 200);
        BOOST_TEST(first.reason == "");
        BOOST_TEST(first.fields.empty());
        const steady_clock::duration limit = 1s;
        auto op = rv::read_head(*p.client, buf, second, limits, ec);
        auto r2 = co_await rv::within(limit, std::move(op));
        BOOST_TEST_REQUIRE(r2.has_value(), "the second read_head waited on the network");
        BOOST_TEST(r2->status == parse_status::good);
        BOOST_TEST(second.status == 200);
        BOOST_TEST(second.reason == "Rendezvous");
        BOOST_TEST(rv::value_or(second.find("Rendezvous-Mode"), "(none)") == "stream");
        BOOST_TEST(buf == "client bytes");
      });
    }
  }
}

namespace {
std::string repeat(const std::string& piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

struct oversized_case {
  const char* name;
  std::string data;  // what the peer sends (and then it waits)
  parse_status status;
};

// Writes `data`; it may fail once the reader has given up and aborted.
awaitable<void> write_ignoring_errors(rv::byte_stream& s, const std::string& data) {
  error_code ignored;
  co_await s.write_all(asio::buffer(data), ignored);
}

awaitable<void> read_request_then_abort(rv::byte_stream& s, std::string& buf, rv::request_head& head,
                                        const rv::head_limits& limits, head_read& out) {
  co_await read_request(s, buf, head, limits, out);
  s.abort();
}
}  // namespace

// Over a limit, read_head stops with too_large (and malformed input with bad)
// without buffering more than the limit plus one read, even while the peer
// keeps sending.
BOOST_AUTO_TEST_CASE(read_head_reports_a_head_over_the_limit) {
  const std::string start = "GET / HTTP/1.1\r\n";
  const oversized_case cases[] = {
      {"head over 16 KiB", start + repeat("X-Pad: " + std::string(1000, 'a') + "\r\n", 40) + "\r\n",
       parse_status::too_large},
      {"line over 8 KiB", start + "X-Pad: " + std::string(9000, 'a') + "\r\n\r\n", parse_status::too_large},
      {"too many fields", start + repeat("X-F: 1\r\n", 150) + "\r\n", parse_status::too_large},
      {"an endless head (1 MiB and counting)", start + repeat("X-Pad: " + std::string(100, 'a') + "\r\n", 10000),
       parse_status::too_large},
      {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", parse_status::bad},
  };
  for (const auto& c : cases) {
    for (auto t : transports) {
      BOOST_TEST_CONTEXT(c.name << ", " << t) {
        run([&]() -> awaitable<void> {
          auto p = co_await connected_pair(t);
          const rv::head_limits limits;
          std::string buf;
          rv::request_head head;
          head_read got;
          co_await (write_ignoring_errors(*p.client, c.data) &&
                    read_request_then_abort(*p.server, buf, head, limits, got));
          BOOST_TEST(got.status == c.status, got.error << " " << got.ec.message());
          BOOST_TEST(!got.ec);
          BOOST_TEST(buf.size() <= limits.max_head + 4096);
        });
      }
    }
  }
}

namespace {
enum class stream_end { clean_eof, fin_without_close_notify };

struct early_end_case {
  const char* name;
  std::string data;  // sent before the end
  stream_end end;
  bool tls_only;
  error_code ec;
};
}  // namespace

// A stream that ends before a whole head sets ec: eof for a clean end, a
// truncation for a TLS stream cut short.
BOOST_AUTO_TEST_CASE(read_head_sets_ec_when_the_stream_ends_first) {
  const early_end_case cases[] = {
      {"nothing, then EOF", "", stream_end::clean_eof, false, eof},
      {"half a head, then EOF", "CONNECT uuid:x HTTP/1.1\r\nHost: h", stream_end::clean_eof, false, eof},
      {"half a head, then a FIN without close_notify", "CONNECT uuid:x HTTP/1.1\r\nHo",
       stream_end::fin_without_close_notify, true, truncated},
  };
  for (const auto& c : cases) {
    for (auto t : transports) {
      if (c.tls_only && t != transport::tls) continue;
      BOOST_TEST_CONTEXT(c.name << ", " << t) {
        run([&]() -> awaitable<void> {
          auto p = co_await connected_pair(t);
          error_code wec;
          if (!c.data.empty()) co_await p.client->write_all(asio::buffer(c.data), wec);
          if (c.end == stream_end::clean_eof)
            co_await p.client->shutdown_send(wec);
          else
            static_cast<rv::tls_stream&>(*p.client).socket().shutdown(tcp::socket::shutdown_send);
          BOOST_TEST(!wec);
          const rv::head_limits limits;
          std::string buf;
          rv::request_head head;
          head_read got;
          co_await read_request(*p.server, buf, head, limits, got);
          BOOST_TEST(got.ec == c.ec);
          BOOST_TEST(got.status != parse_status::good);
          BOOST_TEST(buf == c.data);
        });
      }
    }
  }
}

namespace {
// Hands out `data` one byte per read_some and never waits: a peer that sends
// its head as one-byte TLS records, without the network's noise in the way.
class byte_at_a_time final : public rv::byte_stream {
 public:
  explicit byte_at_a_time(const std::string& data) : data_(data) {}
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override {
    if (next_ == data_.size()) {
      ec = asio::error::eof;
      co_return 0;
    }
    *static_cast<char*>(buf.data()) = data_[next_++];
    co_return 1;
  }
  awaitable<void> write_all(asio::const_buffer, error_code&) override { co_return; }
  awaitable<void> shutdown_send(error_code&) override { co_return; }
  void abort() override {}

 private:
  const std::string& data_;
  std::size_t next_ = 0;
};

// CPU time of this thread only: what the head read cost the server's one
// thread, whatever else the machine was doing meanwhile.
double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// A request head of exactly `size` bytes, in field lines of about 1000 bytes.
std::string head_of_size(std::size_t size) {
  std::string head = "GET / HTTP/1.1\r\n";
  while (size - head.size() > 1000 + 100) head += "X-Pad: " + std::string(991, 'a') + "\r\n";
  head += "X-End: " + std::string(size - head.size() - 7 - 4, 'b') + "\r\n\r\n";
  return head;
}

awaitable<double> cpu_to_read_byte_by_byte(const std::string& head, const rv::head_limits& limits) {
  byte_at_a_time s(head);
  std::string buf;
  rv::request_head parsed;
  error_code ec;
  const double start = thread_cpu_seconds();
  auto r = co_await rv::read_head(s, buf, parsed, limits, ec);
  const double spent = thread_cpu_seconds() - start;
  BOOST_TEST_REQUIRE(r.status == parse_status::good, r.error << " " << ec.message());
  BOOST_TEST(buf.empty());
  co_return spent;
}
}  // namespace

// A head sent a byte at a time costs CPU in proportion to its size: a head
// four times as long costs about four times as much, not sixteen (as when
// every read parsed the buffer again from its start). Absolute times would
// not hold on a busy machine or in a sanitizer build, so the test compares
// the two sizes on this thread's CPU time, measured back to back in each of
// several attempts (a slowdown of the machine then hits both alike), and
// judges the median attempt.
BOOST_AUTO_TEST_CASE(read_head_costs_linear_time_in_a_head_sent_a_byte_at_a_time) {
  const rv::head_limits limits{.max_line = 8 * 1024, .max_head = 64 * 1024, .max_fields = 100};
  const std::string small = head_of_size(4 * 1024), large = head_of_size(16 * 1024);
  BOOST_TEST_REQUIRE(small.size() == 4u * 1024);
  BOOST_TEST_REQUIRE(large.size() == 16u * 1024);
  std::vector<double> ratios;
  double best_small = 1e9, best_large = 1e9;
  for (int attempt = 0; attempt < 7; ++attempt) {
    run([&]() -> awaitable<void> {
      const double small_cost = co_await cpu_to_read_byte_by_byte(small, limits);
      const double large_cost = co_await cpu_to_read_byte_by_byte(large, limits);
      ratios.push_back(large_cost / small_cost);
      best_small = std::min(best_small, small_cost);
      best_large = std::min(best_large, large_cost);
    });
  }
  std::sort(ratios.begin(), ratios.end());
  const double ratio = ratios[ratios.size() / 2];
  BOOST_TEST_MESSAGE("read_head, one byte per read: best 4 KiB " << best_small * 1e3 << " ms, best 16 KiB "
                                                                  << best_large * 1e3 << " ms, ratio of the bests "
                                                                  << best_large / best_small << ", median ratio "
                                                                  << ratio);
  BOOST_TEST(ratio < 8.0, "16 KiB cost " << ratio << " times 4 KiB (best " << best_large * 1e3 << " ms vs "
                                         << best_small * 1e3 << " ms): linear is about 4, quadratic 16");
}

BOOST_AUTO_TEST_SUITE_END()
