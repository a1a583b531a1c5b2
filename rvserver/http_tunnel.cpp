// Every request head of an HTTP-mode tunnel checked, not only the first (see http_tunnel.hpp).
#include "rvserver/http_tunnel.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "rv/io.hpp"
#include "rv/answers.hpp"
#include "rv/protocol.hpp"

namespace rvserver {

using namespace rv;

namespace {
// classify() refused the heads whose body length cannot be determined, so
// this is the check's framing; a head it let through regardless ends the
// connection as malformed.
request_body body_of(const request_head& head) {
  return request_body(request_body_framing(head).value_or(body_framing{}));
}
}  // namespace

checked_requests::checked_requests(byte_stream& client, const request_head& first, std::string leftover, check c,
                                   head_limits limits)
    : client_(client),
      check_(std::move(c)),
      limits_(limits),
      in_(std::move(leftover)),
      body_(body_of(first)),
      upgrade_(asks_upgrade(first)) {
  raw_ = upgrade_ && body_.done();
}

std::size_t checked_requests::refuse(refusal r, error_code& ec) {
  refused_ = std::move(r);
  ec = asio::error::eof;  // the hidden server sees the client's end, and finishes what it owes
  return 0;
}

void checked_requests::after_body_bytes() {
  if (upgrade_ && body_.done()) raw_ = true;
}

std::size_t checked_requests::take_buffered(char* out, std::size_t space) {
  const std::string_view have = std::string_view(in_).substr(0, space);
  const std::size_t n = raw_ ? have.size() : body_.take(have);
  std::memcpy(out, in_.data(), n);
  in_.erase(0, n);
  after_body_bytes();
  return n;
}

awaitable<std::size_t> checked_requests::read_some(asio::mutable_buffer buf, error_code& ec) {
  auto* const out = static_cast<char*>(buf.data());
  for (;;) {
    if (head_sent_ < head_out_.size()) {
      const std::size_t n = std::min(buf.size(), head_out_.size() - head_sent_);
      std::memcpy(out, head_out_.data() + head_sent_, n);
      head_sent_ += n;
      co_return n;
    }
    if (refused_) {
      ec = asio::error::eof;
      co_return 0;
    }
    if (body_.bad())
      co_return refuse({400, error_response(400, "malformed chunked request body"), "malformed chunked body"}, ec);

    if (raw_ || !body_.done()) {
      if (!in_.empty()) {
        const std::size_t n = take_buffered(out, buf.size());
        if (n > 0) co_return n;
        continue;  // the body went bad
      }
      const std::size_t got = co_await client_.read_some(buf, ec);
      if (ec || raw_) co_return got;
      const std::size_t n = body_.take(std::string_view(out, got));
      in_.assign(out + n, got - n);  // past the body's end: the next head begins
      after_body_bytes();
      if (n > 0) co_return n;
      continue;
    }

    // At a head: the client's end of stream here is the tunnel's clean end.
    request_head head;
    const auto parsed = co_await read_head(client_, in_, head, limits_, ec);
    if (ec) co_return 0;
    if (parsed.status != parse_status::good) {
      const std::string why = "malformed request head: " + parsed.error;
      co_return refuse({400, error_response(400, why), why}, ec);
    }
    if (auto refusal = check_(head)) co_return refuse(std::move(*refusal), ec);
    ++later_requests_;
    head_out_ = forwarded_request(head);
    head_sent_ = 0;
    body_ = body_of(head);
    upgrade_ = asks_upgrade(head);
    after_body_bytes();
  }
}

awaitable<void> checked_requests::write_all(asio::const_buffer buf, error_code& ec) {
  co_await client_.write_all(buf, ec);
}

awaitable<void> checked_requests::shutdown_send(error_code& ec) {
  if (refused_ && !answered_) {
    answered_ = true;
    co_await client_.write_all(asio::buffer(refused_->answer), ec);
    if (ec) co_return;
  }
  co_await client_.shutdown_send(ec);
  if (ec || !answered_) co_return;
  // The client may have sent more after the refused head: closing with it
  // unread would reset the connection and could destroy the answer in
  // flight (RFC 9112 §9.6). Read it away for a moment first.
  auto linger = [this]() -> awaitable<void> {
    char sink[4096];
    error_code e;
    for (int i = 0; i < 64 && !e; ++i) co_await client_.read_some(asio::buffer(sink), e);
  };
  co_await within(std::chrono::seconds(2), linger());
}

awaitable<void> checked_requests::wait_readable() {
  if (head_sent_ < head_out_.size() || !in_.empty() || refused_ || body_.bad()) co_return;
  co_await client_.wait_readable();
}

}  // namespace rvserver
