// TLS over memory BIOs, driven by coroutines.
#include "rv/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include <boost/asio/ssl/error.hpp>

namespace rv {

namespace {
constexpr std::size_t io_chunk = 64 * 1024;
// A connection starts with buffers for a handshake (one full TLS record), and
// grows them to io_chunk only once a read fills one: the handshake burst of a
// pool of parked connections must not leave 130 KiB each in malloc's free
// lists after release_buffers().
constexpr std::size_t first_chunk = 16 * 1024 + 512;

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

error_code ssl_error_code() {
  unsigned long e = ERR_peek_last_error();
  return error_code(static_cast<int>(e ? e : 1), asio::error::get_ssl_category());
}
}  // namespace

tls_stream::tls_stream(tcp::socket socket, ssl_ctx_ptr ctx, role r)
    : socket_(std::move(socket)),
      ctx_(std::move(ctx)),
      ssl_(SSL_new(ctx_.get())),
      rbio_(BIO_new(BIO_s_mem())),
      wbio_(BIO_new(BIO_s_mem())),
      write_done_(socket_.get_executor(), steady_clock::time_point::max()) {
  if (!ssl_ || !rbio_ || !wbio_) throw std::bad_alloc();
  // An empty read BIO means "wait for the network", not end of stream.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_, rbio_, wbio_);
  if (r == role::client)
    SSL_set_connect_state(ssl_);
  else
    SSL_set_accept_state(ssl_);
}

tls_stream::~tls_stream() { SSL_free(ssl_); }  // frees both BIOs

void tls_stream::set_server_name(const std::string& host) {
  host_ = host;
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
  }
}

std::string tls_stream::protocol_version() const { return SSL_get_version(ssl_); }

bool tls_stream::has_buffered_input() const {
  return BIO_ctrl_pending(rbio_) > 0 || SSL_pending(ssl_) > 0;
}

void tls_stream::fail(const char* what) {
  reason_ = std::string(what) + ": " + openssl_errors();
}

awaitable<void> tls_stream::fill(error_code& ec) {
  if (in_buf_.empty()) {
    auto [we] = co_await socket_.async_wait(tcp::socket::wait_read, nothrow);
    if (we) {
      ec = we;
      co_return;
    }
    in_buf_.resize(first_chunk);
  }
  reading_ = true;
  auto [e, n] = co_await socket_.async_read_some(asio::buffer(in_buf_), nothrow);
  reading_ = false;
  if (e) {
    // A FIN without close_notify is a truncation, never a clean end (RFC 8446 §6.1).
    ec = e;
    if (e == asio::error::eof) ec = asio::ssl::error::stream_truncated;
    co_return;
  }
  BIO_write(rbio_, in_buf_.data(), static_cast<int>(n));
  if (n == in_buf_.size() && n < io_chunk) in_buf_.resize(io_chunk);  // bulk traffic: fewer, larger reads
}

awaitable<void> tls_stream::flush(error_code& ec) {
  while (BIO_ctrl_pending(wbio_) > 0) {
    if (writing_) {
      // The other coroutine is writing; it drains everything, ours included.
      co_await write_done_.async_wait(nothrow);
      continue;
    }
    writing_ = true;
    // As large as what is pending (a handshake flight is a few KiB), up to a
    // whole io_chunk written by write_all and its record overhead.
    const std::size_t want = std::min(std::max<std::size_t>(BIO_ctrl_pending(wbio_), 4096), io_chunk + 1024);
    if (out_buf_.size() < want) out_buf_.resize(want);
    while (!write_error_ && BIO_ctrl_pending(wbio_) > 0) {
      int n = BIO_read(wbio_, out_buf_.data(), static_cast<int>(out_buf_.size()));
      if (n <= 0) break;
      auto [e, written] =
          co_await asio::async_write(socket_, asio::buffer(out_buf_.data(), static_cast<std::size_t>(n)), nothrow);
      if (e) write_error_ = e;
    }
    writing_ = false;
    write_done_.cancel();
    if (write_error_) {
      // Drop what cannot be sent so that waiters do not spin.
      (void)BIO_reset(wbio_);
      break;
    }
  }
  if (write_error_) ec = write_error_;
}

awaitable<void> tls_stream::handshake(error_code& ec) {
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) break;
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      // Before fail() or ERR_clear_error() empty the error queue it reads.
      ec = ssl_error_code();
      long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        reason_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
        if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
          reason_ += " (the certificate is not for '" + host_ + "'; see --server-name)";
        else
          reason_ += " (give the issuing CA with --ca-file, or pin the key with --pin)";
        ERR_clear_error();
      } else {
        reason_ = openssl_errors();  // callers say "TLS handshake failed: ..." or "TLS with X failed: ..."
      }
      error_code ignored;
      co_await flush(ignored);  // send our alert, if any
      co_return;
    }
    co_await flush(ec);
    if (ec) {
      reason_ = "TLS handshake: " + ec.message();
      co_return;
    }
    if (err == SSL_ERROR_WANT_READ) {
      co_await fill(ec);
      if (ec) {
        if (ec == asio::ssl::error::stream_truncated)
          reason_ = "the peer closed the connection during the TLS handshake";
        else
          reason_ = "TLS handshake: " + ec.message();
        co_return;
      }
    }
  }
  co_await flush(ec);
  if (ec) {
    reason_ = "TLS handshake: " + ec.message();
    co_return;
  }
  if (!pins_.empty()) {
    X509* cert = SSL_get0_peer_certificate(ssl_);
    if (!cert) {
      reason_ = "the server sent no certificate to check the pin against";
      ec = asio::error::access_denied;
      co_return;
    }
    auto got = spki_sha256(cert);
    if (std::find(pins_.begin(), pins_.end(), got) == pins_.end()) {
      reason_ = "the server's public key does not match --pin (its pin is " + to_string(got) + ")";
      ec = asio::error::access_denied;
      co_return;
    }
  }
}

awaitable<std::size_t> tls_stream::read_some(asio::mutable_buffer buf, error_code& ec) {
  for (;;) {
    ERR_clear_error();
    std::size_t got = 0;
    int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &got);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    // Reading may have produced output (a KeyUpdate reply, an alert). When
    // the writer is busy it drains that too; waiting for it here would stall
    // this direction behind a peer that is slow to read the other one, and
    // two relays doing that to each other would deadlock. A write error is
    // kept in write_error_ and reported by the next write.
    if (BIO_ctrl_pending(wbio_) > 0 && !writing_ && err != SSL_ERROR_SSL) {
      error_code ignored;
      co_await flush(ignored);
    }
    switch (err) {
      case SSL_ERROR_NONE:
        co_return got;
      case SSL_ERROR_ZERO_RETURN:
        ec = asio::error::eof;  // close_notify: a clean end of stream
        co_return 0;
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        co_await fill(ec);
        if (ec) co_return 0;
        continue;
      default:
        ec = ssl_error_code();  // first: fail() empties the error queue
        fail("TLS read failed");
        co_return 0;
    }
  }
}

awaitable<void> tls_stream::write_all(asio::const_buffer buf, error_code& ec) {
  if (sent_shutdown_ || write_error_) {
    ec = asio::error::shut_down;
    if (write_error_) ec = write_error_;
    co_return;
  }
  const char* p = static_cast<const char*>(buf.data());
  std::size_t left = buf.size();
  while (left > 0) {
    // Bound what sits in the write BIO: at most one chunk ahead of the socket.
    std::size_t n = std::min(left, io_chunk);
    ERR_clear_error();
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, p, n, &written) != 1) {
      ec = ssl_error_code();
      fail("TLS write failed");
      co_return;
    }
    p += written;
    left -= written;
    co_await flush(ec);
    if (ec) co_return;
  }
}

awaitable<void> tls_stream::shutdown_send(error_code& ec) {
  if (sent_shutdown_) co_return;
  sent_shutdown_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; 0 means "not yet received theirs", which is fine
  co_await flush(ec);
  if (ec) co_return;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  // The peer already closed both ways: close_notify went out, nothing is lost.
  if (ec == asio::error::not_connected) ec.clear();
}

void tls_stream::release_buffers() {
  if (writing_ || reading_) return;
  std::vector<char>().swap(in_buf_);
  std::vector<char>().swap(out_buf_);
  // A memory BIO keeps the capacity its largest content needed (the
  // handshake's): empty ones are swapped for new ones.
  if (BIO_ctrl_pending(rbio_) == 0) {
    if (BIO* fresh = BIO_new(BIO_s_mem())) {
      BIO_set_mem_eof_return(fresh, -1);
      SSL_set0_rbio(ssl_, fresh);  // frees the old one
      rbio_ = fresh;
    }
  }
  if (BIO_ctrl_pending(wbio_) == 0) {
    if (BIO* fresh = BIO_new(BIO_s_mem())) {
      SSL_set0_wbio(ssl_, fresh);
      wbio_ = fresh;
    }
  }
}

void tls_stream::abort() {
  if (!socket_.is_open()) return;
  error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
  write_done_.cancel();
}

}  // namespace rv
