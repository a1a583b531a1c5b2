// A TLS connection over a TCP socket, driven through memory BIOs so that the
// relay can half-close it: shutdown_send() sends close_notify and a FIN while
// reading goes on, which asio::ssl::stream cannot do (its shutdown waits for
// the peer's close_notify and swallows data meanwhile).
//
// One reader and one writer may run at once. Output that either produces
// (records, alerts, post-handshake messages) is written to the socket by one
// of them at a time; the other waits for that write to finish.
#pragma once
#include <string>
#include <vector>

#include <openssl/ssl.h>

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
  // certificate against (an IP address is matched against IP SANs), and the
  // pins the server key must match (empty: no pin check).
  void set_server_name(const std::string& host);
  void set_pins(std::vector<spki_pin> pins) { pins_ = std::move(pins); }

  // On failure ec is set and failure_reason() says why in words (certificate
  // problem, pin mismatch, protocol error, timeout is the caller's).
  awaitable<void> handshake(error_code& ec);
  const std::string& failure_reason() const { return reason_; }
  std::string protocol_version() const;

  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override;
  // Sends close_notify, then a TCP FIN; reading goes on.
  awaitable<void> shutdown_send(error_code& ec) override;
  void abort() override;

  // Frees the socket I/O buffers (~130 KiB) of an idle connection, such as a
  // parked one; the next read waits for readability before taking a buffer
  // again, so an idle stream holds none. Does nothing while a read or a
  // write is in progress.
  void release_buffers();

  // Bytes received but not yet returned by read_some.
  bool has_buffered_input() const;
  tcp::socket& socket() { return socket_; }

 private:
  awaitable<void> fill(error_code& ec);   // one socket read into the TLS engine
  awaitable<void> flush(error_code& ec);  // all pending TLS output to the socket
  void fail(const char* what);

  tcp::socket socket_;
  ssl_ctx_ptr ctx_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // network -> TLS engine
  BIO* wbio_ = nullptr;  // TLS engine -> network
  std::vector<char> in_buf_, out_buf_;
  bool writing_ = false;
  bool reading_ = false;  // a socket read into in_buf_ is pending
  asio::steady_timer write_done_;  // cancelled when a flush finishes: wakes waiters
  error_code write_error_;
  bool sent_shutdown_ = false;
  std::string host_;
  std::vector<spki_pin> pins_;
  std::string reason_;
};

}  // namespace rv
