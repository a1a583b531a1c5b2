// rvserver's error answers to a peer: counted by status in the metrics,
// logged, written, then a bounded lingering close.
#pragma once
#include <chrono>
#include <string>

#include "rv/stream.hpp"
#include "rvserver/server_state.hpp"

namespace rvserver {

// Writes `answer` (a whole error response), counted under `status`.
rv::awaitable<void> answer_error(server_state& st, rv::byte_stream& s, int status, std::string answer);
// An error answer with `diagnostic` as its JSON body, logged at info.
rv::awaitable<void> refuse(server_state& st, rv::byte_stream& s, const conn_info& c, int status,
                           std::string diagnostic);
// 429 with Retry-After for `wait`, logged as a warning.
rv::awaitable<void> too_many(server_state& st, rv::byte_stream& s, const conn_info& c,
                             std::chrono::milliseconds wait, std::string diagnostic);

}  // namespace rvserver
