// byte_stream over TCP sockets and over stdin/stdout.
#include "rv/stream.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace rv {

namespace {
// Bytes a connection may move without giving the others a turn.
constexpr std::size_t fair_share = 512 * 1024;
}  // namespace

direct_socket_io::direct_socket_io(tcp::socket& s) : socket_(s) {
  error_code ignored;
  socket_.non_blocking(true, ignored);
}

awaitable<std::size_t> direct_socket_io::read_some(asio::mutable_buffer buf, error_code& ec) {
  for (;;) {
    if (ready_) {
      error_code e;
      std::size_t n = socket_.read_some(buf, e);
      if (!e) {
        ready_ = n == buf.size();
        if ((unyielded_ += n) >= fair_share) {
          unyielded_ = 0;
          co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
        }
        co_return n;
      }
      if (e != asio::error::would_block) {
        ec = e;
        co_return 0;
      }
      ready_ = false;
    }
    co_await wait_readable(ec);
    if (ec) co_return 0;
  }
}

awaitable<void> direct_socket_io::wait_readable(error_code& ec) {
  if (ready_) co_return;
  // asio re-arms the descriptor in epoll for a wait, so bytes that arrived
  // since the last read wake it at once.
  auto [e] = co_await socket_.async_wait(tcp::socket::wait_read, nothrow);
  unyielded_ = 0;
  if (e) {
    ec = e;
    co_return;
  }
  ready_ = true;
}

awaitable<void> direct_socket_io::write_all(asio::const_buffer buf, error_code& ec) {
  while (buf.size() > 0) {
    error_code e;
    std::size_t n = socket_.write_some(buf, e);
    if (!e) {
      buf += n;
      continue;
    }
    if (e != asio::error::would_block) {
      ec = e;
      co_return;
    }
    auto [we] = co_await socket_.async_wait(tcp::socket::wait_write, nothrow);
    if (we) {
      ec = we;
      co_return;
    }
  }
}

awaitable<std::size_t> tcp_stream::read_some(asio::mutable_buffer buf, error_code& ec) {
  co_return co_await io_.read_some(buf, ec);
}

awaitable<void> tcp_stream::write_all(asio::const_buffer buf, error_code& ec) {
  co_await io_.write_all(buf, ec);
}

awaitable<void> tcp_stream::wait_readable() {
  error_code ignored;  // the read that follows reports it
  co_await io_.wait_readable(ignored);
}

awaitable<void> tcp_stream::shutdown_send(error_code& ec) {
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  // The peer already closed both ways: there is nothing left to half-close.
  if (ec == asio::error::not_connected) ec.clear();
  co_return;
}

void tcp_stream::abort() {
  error_code ignored;
  if (!socket_.is_open()) return;
  // SO_LINGER 0 turns close into a reset: the peer must see an abort, not a
  // clean FIN that would pass for the end of the data (docs/PROTOCOL.md §8).
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

namespace {
// Regular files and devices such as /dev/null cannot be polled (epoll says
// EPERM); they never block, so we read and write them directly.
bool direct_io(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return true;
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return true;
  if (S_ISCHR(st.st_mode) && !::isatty(fd)) return true;
  return false;
}
}  // namespace

stdio_stream::stdio_stream(const asio::any_io_executor& ex) : in_(ex), out_(ex) {
  in_is_file_ = direct_io(0);
  out_is_file_ = direct_io(1);
  if (!in_is_file_) in_.assign(0);
  if (!out_is_file_) out_.assign(1);
}

awaitable<std::size_t> stdio_stream::read_some(asio::mutable_buffer buf, error_code& ec) {
  if (in_closed_) {
    ec = asio::error::operation_aborted;
    co_return 0;
  }
  if (!in_is_file_) {
    auto [e, n] = co_await in_.async_read_some(buf, nothrow);
    ec = e;
    co_return n;
  }
  // Let the other direction run between chunks of a large file.
  co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
  ssize_t n = ::read(0, buf.data(), buf.size());
  if (n < 0) {
    ec = error_code(errno, boost::system::system_category());
    co_return 0;
  }
  if (n == 0) ec = asio::error::eof;
  co_return static_cast<std::size_t>(n);
}

awaitable<void> stdio_stream::write_all(asio::const_buffer buf, error_code& ec) {
  if (out_closed_) {
    ec = asio::error::operation_aborted;
    co_return;
  }
  if (!out_is_file_) {
    auto [e, n] = co_await asio::async_write(out_, buf, nothrow);
    ec = e;
    co_return;
  }
  const char* p = static_cast<const char*>(buf.data());
  std::size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(1, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = error_code(errno, boost::system::system_category());
      co_return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
}

awaitable<void> stdio_stream::shutdown_send(error_code& ec) {
  out_closed_ = true;
  if (out_is_file_) {
    ::close(1);
  } else {
    out_.close(ec);
  }
  co_return;
}

void stdio_stream::abort() {
  error_code ignored;
  in_closed_ = out_closed_ = true;
  if (in_.is_open()) in_.close(ignored);
  if (out_.is_open()) out_.close(ignored);
}

}  // namespace rv
