// byte_stream: the one interface the relay moves octets through, so one relay
// serves TLS legs, plain TCP to the local service, and rvconnect's stdio.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "rv/asio.hpp"

namespace rv {

// One reader and one writer may be active at once (the two relay directions);
// never two readers or two writers.
class byte_stream {
 public:
  virtual ~byte_stream() = default;
  // Reads at least one byte. End of stream: returns 0 with ec == asio::error::eof
  // (a TLS close_notify or a TCP FIN). Anything else is an abort.
  virtual awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) = 0;
  // Writes all of buf (or fails).
  virtual awaitable<void> write_all(asio::const_buffer buf, error_code& ec) = 0;
  // Half-close: no more writes; the peer sees end of stream, reads go on.
  virtual awaitable<void> shutdown_send(error_code& ec) = 0;
  // Abort both directions at once; pending operations complete with an error.
  // Idempotent.
  virtual void abort() = 0;
};

// A plain TCP connection (the hidden side's leg to its local service; rvconnect's
// local listener).
class tcp_stream final : public byte_stream {
 public:
  explicit tcp_stream(tcp::socket socket) : socket_(std::move(socket)) {}
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override;
  awaitable<void> shutdown_send(error_code& ec) override;
  void abort() override;
  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
};

// stdin for reading and stdout for writing, as netcat does. Pipes, ttys and
// sockets are driven by the reactor; regular files (`rvconnect < file`), which
// epoll refuses, are read and written directly, which never blocks for long.
class stdio_stream final : public byte_stream {
 public:
  explicit stdio_stream(const asio::any_io_executor& ex);
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override;
  awaitable<void> shutdown_send(error_code& ec) override;  // closes stdout
  void abort() override;

 private:
  asio::posix::stream_descriptor in_, out_;
  bool in_is_file_ = false, out_is_file_ = false;
  bool in_closed_ = false, out_closed_ = false;
};

}  // namespace rv
