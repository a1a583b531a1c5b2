// The client's half of an HTTP-mode tunnel, as the relay reads it.
//
// The session checks the first request head (it names the UUID, carries the
// client key where one is required) and forwards it without Authorization and
// Rendezvous-Client-Key. On a keep-alive connection the client may send more
// requests: a browser or curl reuses a connection for another UUID, or for
// the same one. Each later head is checked here as the first was and passed
// on stripped the same way; bodies pass as they are, and their framing
// (Content-Length, chunked: rv/http_body.hpp) says where the next head
// starts.
//
// A request that fails its check ends the client's half of the tunnel: the
// hidden server sees end of stream, finishes the responses it owes, and then
// the client gets the refusal in their place (421 Misdirected Request for
// another UUID, which clients send again on a new connection) and the
// connection closes. After a request that asks for an upgrade (WebSocket),
// the rest of the connection is relayed unread: it may no longer be HTTP, and
// it goes to the same service, for the same checked client.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "rv/head.hpp"
#include "rv/http_body.hpp"
#include "rv/stream.hpp"

namespace rvserver {

class checked_requests final : public rv::byte_stream {
 public:
  struct refusal {
    int status = 0;
    std::string answer;      // the whole response, sent in place of the refused request's
    std::string diagnostic;  // for the log
  };
  // nullopt: pass the head on; otherwise what to answer instead.
  using check = std::function<std::optional<refusal>(const rv::request_head&)>;

  // `client` outlives this stream. `first` is the head the session checked
  // and forwarded; `leftover` is what the client sent after it.
  checked_requests(rv::byte_stream& client, const rv::request_head& first, std::string leftover, check c,
                   rv::head_limits limits);

  rv::awaitable<std::size_t> read_some(rv::asio::mutable_buffer buf, rv::error_code& ec) override;
  rv::awaitable<void> write_all(rv::asio::const_buffer buf, rv::error_code& ec) override;
  // After a refusal: the answer first, then the end of stream, then a short
  // lingering read so that closing does not reset the answer away.
  rv::awaitable<void> shutdown_send(rv::error_code& ec) override;
  void abort() override { client_.abort(); }
  rv::awaitable<void> wait_readable() override;

  const std::optional<refusal>& refused() const { return refused_; }
  std::size_t later_requests() const { return later_requests_; }  // passed on after the first

 private:
  // Ends the client's half with this answer to come.
  std::size_t refuse(refusal r, rv::error_code& ec);
  // Moves up to `space` bytes of the current body (or, raw, anything) from in_.
  std::size_t take_buffered(char* out, std::size_t space);
  void after_body_bytes();

  rv::byte_stream& client_;
  check check_;
  rv::head_limits limits_;
  std::string in_;        // read from the client, not yet returned: a body's rest, a next head
  std::string head_out_;  // a checked head, stripped, being returned
  std::size_t head_sent_ = 0;
  rv::request_body body_;
  bool upgrade_ = false;  // the current request asks for an upgrade: raw once its body is done
  bool raw_ = false;
  std::optional<refusal> refused_;
  bool answered_ = false;
  std::size_t later_requests_ = 0;
};

}  // namespace rvserver
