// Two copy loops joined in one frame; the frame that owns both streams awaits it.
#include "rv/relay.hpp"

#include <memory>

namespace rv {

namespace {
// Four full TLS records: one read of a TLS stream and one write to the next.
constexpr std::size_t relay_chunk = 64 * 1024;

// What the copy loops tell the watchdog.
struct relay_progress {
  steady_clock::time_point last_byte = steady_clock::now();
  steady_clock::time_point first_eof{};  // set when one direction ends cleanly
};

awaitable<void> copy(byte_stream& from, byte_stream& to, std::uint64_t& count, std::uint64_t* live,
                     error_code& first_error, relay_progress& progress) {
  // Held only while bytes flow: a quiet source is waited for without it.
  std::unique_ptr<char[]> buf;
  for (;;) {
    if (!buf) {
      co_await from.wait_readable();
      buf = std::make_unique_for_overwrite<char[]>(relay_chunk);
    }
    error_code ec;
    std::size_t n = co_await from.read_some(asio::buffer(buf.get(), relay_chunk), ec);
    if (n > 0) {
      progress.last_byte = steady_clock::now();
      error_code wec;
      co_await to.write_all(asio::buffer(buf.get(), n), wec);
      if (wec) {
        if (!first_error) first_error = wec;
        from.abort();
        to.abort();
        co_return;
      }
      count += n;
      if (live) *live += n;
      progress.last_byte = steady_clock::now();
    }
    if (n < relay_chunk) buf.reset();  // the source had no more for now
    if (ec == asio::error::eof) {
      if (progress.first_eof == steady_clock::time_point{}) progress.first_eof = steady_clock::now();
      error_code sec;
      co_await to.shutdown_send(sec);
      if (sec) {
        if (!first_error) first_error = sec;
        from.abort();
        to.abort();
      }
      co_return;
    }
    if (ec) {
      if (!first_error) first_error = ec;
      from.abort();
      to.abort();
      co_return;
    }
  }
}

// Wakes at the nearest deadline; returns (after aborting both streams) only
// when one has passed. The relay cancels it when both copies finish first.
awaitable<void> watchdog(byte_stream& a, byte_stream& b, const relay_progress& progress, relay_deadlines d) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto due = steady_clock::time_point::max();
    if (d.idle.count() > 0) due = progress.last_byte + d.idle;
    if (d.half_closed.count() > 0 && progress.first_eof != steady_clock::time_point{})
      due = std::min(due, progress.first_eof + d.half_closed);
    if (due <= steady_clock::now()) break;
    // Without a half-close yet and no idle limit, look again in a second.
    timer.expires_at(std::min(due, steady_clock::now() + std::chrono::seconds(1)));
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) co_return;  // cancelled: the relay is over
  }
  a.abort();
  b.abort();
}
}  // namespace

awaitable<relay_result> relay(byte_stream& a, byte_stream& b, std::uint64_t* live_a_to_b,
                              std::uint64_t* live_b_to_a, relay_deadlines deadlines) {
  relay_result result;
  relay_progress progress;
  auto both = [&]() -> awaitable<void> {
    co_await (copy(a, b, result.a_to_b, live_a_to_b, result.error, progress) &&
              copy(b, a, result.b_to_a, live_b_to_a, result.error, progress));
  };
  if (deadlines.idle.count() == 0 && deadlines.half_closed.count() == 0) {
    co_await both();
    co_return result;
  }
  auto winner = co_await (both() || watchdog(a, b, progress, deadlines));
  if (winner.index() == 1) result.error = asio::error::timed_out;
  co_return result;
}

}  // namespace rv
