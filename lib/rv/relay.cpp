// Two copy loops joined in one frame; the frame that owns both streams awaits it.
#include "rv/relay.hpp"

#include <memory>

namespace rv {

namespace {
constexpr std::size_t relay_chunk = 32 * 1024;

awaitable<void> copy(byte_stream& from, byte_stream& to, std::uint64_t& count, std::uint64_t* live,
                     error_code& first_error) {
  auto buf = std::make_unique<char[]>(relay_chunk);
  for (;;) {
    error_code ec;
    std::size_t n = co_await from.read_some(asio::buffer(buf.get(), relay_chunk), ec);
    if (n > 0) {
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
    }
    if (ec == asio::error::eof) {
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
}  // namespace

awaitable<relay_result> relay(byte_stream& a, byte_stream& b, std::uint64_t* live_a_to_b,
                              std::uint64_t* live_b_to_a) {
  relay_result result;
  co_await (copy(a, b, result.a_to_b, live_a_to_b, result.error) &&
            copy(b, a, result.b_to_a, live_b_to_a, result.error));
  co_return result;
}

}  // namespace rv
