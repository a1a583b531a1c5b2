// A TLS connection over a TCP socket, driven through a BIO of our own (a
// source/sink BIO over two byte queues, not OpenSSL's memory BIOs) so that the
// relay can half-close it: shutdown_send() sends close_notify and a FIN while
// reading goes on, which asio::ssl::stream cannot do (its shutdown waits for
// the peer's close_notify and swallows data meanwhile).
//
// One reader and one writer may run at once. Output that either produces
// (records, alerts, post-handshake messages) is written to the socket by one
// of them at a time; the other waits for that write to finish. While the
// writer waits for room, what the reader produces is queued, up to a fixed
// cap: past it read_some fails with no_buffer_space (a peer that requests
// KeyUpdates and reads nothing cannot grow our memory).
//
// The TLS engine reads and writes ciphertext through a BIO of ours straight
// from and into two byte queues, which the socket fills and drains with
// direct non-blocking calls: a record crosses user space with one copy each
// way besides the engine's own, and a stream gives its queues back whenever
// it waits to read.
#pragma once
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "rv/byte_queue.hpp"
#include "rv/stream.hpp"
#include "rv/tls.hpp"

namespace rv {

class tls_stream final : public byte_stream {
 public:
  enum class role { client, server };

  tls_stream(tcp::socket socket, ssl_ctx_ptr ctx, role r);
  ~tls_stream() override;
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  // Client only, before handshake: the name to send as SNI and to verify the
  // certificate against (an IP address is matched against IP SANs, without
  // any zone id), and the pins the server key must match (empty: no pin
  // check). Throws rv::config_error for a name that cannot be checked (empty,
  // or one OpenSSL refuses): the check is never skipped.
  void set_server_name(const std::string& host);
  void set_pins(std::vector<spki_pin> pins) { pins_ = std::move(pins); }

  // On failure ec is set and failure_reason() says why in words (certificate
  // problem, pin mismatch, protocol error, timeout is the caller's).
  awaitable<void> handshake(error_code& ec);
  const std::string& failure_reason() const { return reason_; }
  std::string protocol_version() const;
  std::string cipher_suite() const;
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }  // a ticket's session, no certificate sent

  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override;
  // Sends close_notify, then a TCP FIN; reading goes on.
  awaitable<void> shutdown_send(error_code& ec) override;
  void abort() override;
  awaitable<void> wait_readable() override;

  // Frees the buffers of an idle connection, such as a parked one: our byte
  // queues and the TLS engine's record buffers. A stream does this whenever
  // it waits to read; this is for a caller that stops reading. Safe at any
  // time: it does nothing to a buffer that holds bytes, nor to the one a
  // read is filling (across a wait or a yield).
  void release_buffers();

  // Bytes received but not yet returned by read_some.
  bool has_buffered_input() const;
  tcp::socket& socket() { return socket_; }

 private:
  awaitable<void> fill(error_code& ec);   // at least one socket read into in_
  awaitable<void> flush(error_code& ec);  // all of out_ to the socket
  void fail(const char* what);
  // Records the engine's first failure (and its reason) and returns it.
  error_code engine_failed(const char* what);
  friend struct tls_stream_bio;

  tcp::socket socket_;
  direct_socket_io io_;
  ssl_ctx_ptr ctx_;
  SSL* ssl_ = nullptr;
  byte_queue in_;   // network -> TLS engine
  byte_queue out_;  // TLS engine -> network
  error_code stashed_;             // a read error found after data that read_some returned first
  std::string stashed_reason_;
  bool bulk_ = false;              // a read has filled its space: read io_chunk at a time
  bool writing_ = false;           // a flush waits for room in the socket
  bool filling_ = false;           // a fill reads into in_'s prepared space
  asio::steady_timer write_done_;  // cancelled when a flush finishes: wakes waiters
  error_code write_error_;
  // The engine's first failure. Once it failed, OpenSSL may fail the other
  // direction's calls with an empty error queue; both directions report
  // this one, the error that broke the connection (a bad record, say).
  error_code engine_error_;
  bool sent_shutdown_ = false;
  std::string host_;
  std::vector<spki_pin> pins_;
  std::string reason_;
};

}  // namespace rv
