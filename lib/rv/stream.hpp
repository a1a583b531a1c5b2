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
  // Returns once read_some would not wait (data, end of stream or an error
  // is there), so that the relay holds no buffer while its source is quiet.
  // An error here is reported by the read that follows.
  virtual awaitable<void> wait_readable() { co_return; }
};

// Reads and writes on a non-blocking socket that go straight to the kernel
// and through the reactor only when the socket would block. Each syscall and
// each trip through the scheduler costs about as much as copying 16 KiB on
// the virtual machines this runs on (BENCHMARKS.md), and asio's operations
// make one such trip per completion.
class direct_socket_io {
 public:
  explicit direct_socket_io(tcp::socket& s);
  // Waits only when the last read found nothing or less than it asked for
  // (the kernel's queue was drained then). After a share of bytes moved
  // without waiting, it yields once to the other connections of this thread.
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec);
  awaitable<void> wait_readable(error_code& ec);
  // Whether the next read goes to the kernel first rather than waiting.
  bool ready() const { return ready_; }
  // Writes all of buf, waiting only while the kernel's send buffer is full.
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec);

 private:
  tcp::socket& socket_;
  // Nothing is read from a new connection before it is readable: one that
  // never sends (a peer holding TCP connections it never starts TLS on)
  // then holds no read buffer, ours or the TLS engine's.
  bool ready_ = false;
  std::size_t unyielded_ = 0;
};

// A plain TCP connection (the hidden side's leg to its local service; rvconnect's
// local listener).
class tcp_stream final : public byte_stream {
 public:
  explicit tcp_stream(tcp::socket socket) : socket_(std::move(socket)), io_(socket_) {}
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write_all(asio::const_buffer buf, error_code& ec) override;
  awaitable<void> shutdown_send(error_code& ec) override;
  void abort() override;
  awaitable<void> wait_readable() override;
  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
  direct_socket_io io_;
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
