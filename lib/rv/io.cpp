// Deadlines, head reads and dialing.
#include "rv/io.hpp"

#include <random>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace rv {

awaitable<bool> within(steady_clock::duration limit, awaitable<void> op) {
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto winner = co_await (std::move(op) || timer.async_wait(nothrow));
  co_return winner.index() == 0;
}

namespace {
template <class Head>
awaitable<parse_result> read_any_head(byte_stream& s, std::string& buf, Head& head,
                                      const head_limits& limits, error_code& ec) {
  // One parser for the whole head: buf only grows until the head is complete,
  // so each byte is scanned once however small the reads.
  head_parser<Head> parser(limits);
  char chunk[4096];
  for (;;) {
    if (!buf.empty()) {
      parse_result r = parser.parse(buf);
      if (r.status == parse_status::good) {
        head = std::move(parser.head());
        buf.erase(0, r.consumed);
        co_return r;
      }
      if (r.status != parse_status::need_more) {
        head = Head{};
        co_return r;
      }
    }
    std::size_t n = co_await s.read_some(asio::buffer(chunk), ec);
    if (ec) {
      // An empty head on every failure once anything was parsed, as when
      // each read parsed into it afresh.
      if (!buf.empty()) head = Head{};
      co_return parse_result{parse_status::need_more, 0, ec.message()};
    }
    buf.append(chunk, n);
  }
}
}  // namespace

awaitable<parse_result> read_head(byte_stream& s, std::string& buf, request_head& head,
                                  const head_limits& limits, error_code& ec) {
  return read_any_head(s, buf, head, limits, ec);
}

awaitable<parse_result> read_head(byte_stream& s, std::string& buf, response_head& head,
                                  const head_limits& limits, error_code& ec) {
  return read_any_head(s, buf, head, limits, ec);
}

awaitable<std::string> read_small_body(byte_stream& s, std::string& buf, const response_head& head,
                                       std::size_t cap) {
  const std::string* length = head.find("Content-Length");
  if (!length || length->empty() || length->size() > 6 ||
      length->find_first_not_of("0123456789") != std::string::npos)
    co_return std::string{};
  const std::size_t want = std::stoul(*length);
  if (want > cap) co_return std::string{};
  error_code ec;
  char chunk[1024];
  while (buf.size() < want && !ec) {
    std::size_t n = co_await s.read_some(asio::buffer(chunk), ec);
    buf.append(chunk, n);
  }
  if (buf.size() < want) co_return std::string{};
  co_return buf.substr(0, want);
}

std::optional<asio::ip::address> ip_literal(const std::string& host) {
  error_code not_an_address;
  auto address = asio::ip::make_address(host, not_an_address);
  if (not_an_address) return std::nullopt;
  return address;
}

namespace {
awaitable<void> try_connect(const endpoint_spec& where, tcp::socket& socket, error_code& ec) {
  // An address needs no lookup: asio's resolver runs getaddrinfo on a thread
  // of its own, and the hop there and back is a measurable part of opening
  // a tunnel (rvhidden dials --forward 127.0.0.1:22 for every client).
  if (const auto literal = ip_literal(where.host)) {
    const tcp::endpoint ep(*literal, where.port);
    auto [cec] = co_await socket.async_connect(ep, nothrow);
    ec = cec;
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(where.host, std::to_string(where.port), nothrow);
  if (rec) {
    ec = rec;
    co_return;
  }
  auto [cec, ep] = co_await asio::async_connect(socket, results, nothrow);
  ec = cec;
}
}  // namespace

awaitable<tcp::socket> dial(const endpoint_spec& where, steady_clock::duration limit, error_code& ec) {
  tcp::socket socket(co_await asio::this_coro::executor);
  if (!co_await within(limit, try_connect(where, socket, ec))) {
    ec = asio::error::timed_out;
    co_return socket;
  }
  if (!ec) set_nodelay(socket);
  co_return socket;
}

void stop_on_signals(asio::io_context& io, asio::signal_set& signals) {
  signals.add(SIGINT);
  signals.add(SIGTERM);
  signals.async_wait([&io](error_code ec, int sig) {
    if (ec) return;
    log::info("signal ", sig, ": shutting down");
    io.stop();
  });
}

void set_nodelay(tcp::socket& s) {
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

void set_keepalive(tcp::socket& s, seconds idle) {
  error_code ignored;
  s.set_option(asio::socket_base::keep_alive(true), ignored);
  int fd = s.native_handle();
  // A pool parks its connections within moments of each other, so equal
  // idle times make all their probes fire at once on both sides: at 10,000
  // parked on loopback that overflowed the kernel's backlog, probes were lost
  // and thousands of healthy connections timed out together. Each connection
  // draws its idle time from [2/3, 1] of the setting, and five unanswered
  // probes, not three, end it.
  static thread_local std::minstd_rand rng{std::random_device{}()};
  const int full = static_cast<int>(std::max<long>(1, idle.count()));
  int idle_s = std::uniform_int_distribution<int>(std::max(1, full * 2 / 3), full)(rng);
  int interval = std::max(1, full / 3);
  int count = 5;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  // Unacknowledged data (a write into a dead NAT mapping) fails as fast.
  unsigned int user_timeout = static_cast<unsigned int>((idle_s + interval * count) * 1000);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

std::string error_note(const error_code& ec) { return ec ? " error=" + ec.message() : std::string(); }

std::string value_or(const std::string* text, std::string_view fallback) {
  return text ? *text : std::string(fallback);
}

std::string peer_string(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  if (addr.is_v6()) {
    auto v6 = addr.to_v6();
    if (v6.is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
    else return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  }
  return addr.to_string() + ":" + std::to_string(ep.port());
}

}  // namespace rv
