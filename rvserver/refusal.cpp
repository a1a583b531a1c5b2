// rvserver's error answers (refusal.hpp).
#include "rvserver/refusal.hpp"

#include "rv/answers.hpp"
#include "rv/io.hpp"
#include "rv/log.hpp"

namespace rvserver {

using namespace rv;
using namespace std::chrono_literals;

namespace {

// Writes an answer, half-closes, and waits briefly for the peer to close:
// closing with unread input would turn into a reset that can destroy the
// answer in flight (RFC 9112 §9.6, "lingering close").
awaitable<void> answer_then_close(byte_stream& s, std::string answer) {
  error_code ec;
  co_await s.write_all(asio::buffer(answer), ec);
  if (!ec) co_await s.shutdown_send(ec);
  char sink[1024];
  for (int i = 0; i < 64 && !ec; ++i) co_await s.read_some(asio::buffer(sink), ec);
}

}  // namespace

awaitable<void> answer_error(server_state& st, byte_stream& s, int status, std::string answer) {
  ++st.stats.answers[status];
  co_await within(5s, answer_then_close(s, std::move(answer)));
}

awaitable<void> refuse(server_state& st, byte_stream& s, const conn_info& c, int status, std::string diagnostic) {
  log::info("conn=", c.id, " peer=", c.peer, " status=", status, " ", diagnostic);
  co_await answer_error(st, s, status, error_response(status, diagnostic));
}

awaitable<void> too_many(server_state& st, byte_stream& s, const conn_info& c, milliseconds wait,
                         std::string diagnostic) {
  const long secs = retry_after_seconds(wait);
  log::warn("conn=", c.id, " peer=", c.peer, " status=429 ", diagnostic, "; retry after ", secs, " s");
  co_await answer_error(st, s, 429, throttled_response(secs, diagnostic));
}

}  // namespace rvserver
