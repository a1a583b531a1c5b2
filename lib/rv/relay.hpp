// The relay: octets both ways between two streams until both ends are done.
//
// End of stream on one side becomes a half-close on the other (close_notify
// or FIN), so a reply that follows a client's EOF still reaches it. An abort
// (reset, TLS error, failed write) on either side aborts both at once: the
// peer of a truncated stream never sees a clean end (docs/PROTOCOL.md §8).
#pragma once
#include <chrono>
#include <cstdint>

#include "rv/stream.hpp"

namespace rv {

struct relay_result {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
  error_code error;  // the first abort, if any; empty when both ends closed cleanly
};

// Optional deadlines (zero = none). When one passes, both streams are
// aborted and the result's error is asio::error::timed_out.
struct relay_deadlines {
  std::chrono::milliseconds idle{0};         // no byte either way for this long
  std::chrono::milliseconds half_closed{0};  // one direction ended and the other not done after this long
};

// Both streams must outlive the relay; the caller owns them. Where given,
// the live counters grow as bytes are delivered (for metrics of long tunnels).
awaitable<relay_result> relay(byte_stream& a, byte_stream& b, std::uint64_t* live_a_to_b = nullptr,
                              std::uint64_t* live_b_to_a = nullptr, relay_deadlines deadlines = {});

}  // namespace rv
