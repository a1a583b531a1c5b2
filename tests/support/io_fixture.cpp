// Loopback connections, test-time certificates (OpenSSL 3 API) and byte helpers.
#include "io_fixture.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <random>
#include <stdexcept>

#include "rv/io.hpp"

namespace rv_test {

namespace {

struct key_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct cert_deleter {
  void operator()(X509* c) const { X509_free(c); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_deleter>;
using cert_ptr = std::unique_ptr<X509, cert_deleter>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("making test certificates: ") + what + ": " + rv::openssl_errors());
}

key_ptr make_key() {
  key_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

void add_ext(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by issuer/issuer_key, or
// self-signed when issuer is null. A CA gets CA:TRUE; anything else is a TLS
// server certificate for 127.0.0.1 and localhost.
cert_ptr make_cert(EVP_PKEY* key, const char* cn, bool ca, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  cert_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509* x = cert.get();
  check(X509_set_version(x, 2) == 1, "X509_set_version");
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, ctx, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(x, ctx, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(x, ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(x, ctx, NID_ext_key_usage, "serverAuth");
    add_ext(x, ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  check(X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, path.c_str());
  bool ok = cert ? PEM_write_X509(f, cert) == 1
                 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  check(ok, path.c_str());
}

}  // namespace

pki::pki() {
  auto file = [&](const char* name) { return (dir.path_ / name).string(); };

  auto ca_pkey = make_key();
  auto ca = make_cert(ca_pkey.get(), "rendezvous test CA", true, nullptr, nullptr);
  auto other_ca_pkey = make_key();
  auto other_ca = make_cert(other_ca_pkey.get(), "rendezvous other CA", true, nullptr, nullptr);
  auto leaf_pkey = make_key();
  auto leaf = make_cert(leaf_pkey.get(), "localhost", false, ca.get(), ca_pkey.get());
  auto self_pkey = make_key();
  auto self = make_cert(self_pkey.get(), "localhost", false, nullptr, nullptr);

  ca_cert = file("ca.pem");
  other_ca_cert = file("other-ca.pem");
  leaf_cert = file("leaf.pem");
  leaf_key = file("leaf.key");
  self_cert = file("self.pem");
  self_key = file("self.key");
  write_pem(ca_cert, ca.get(), nullptr);
  write_pem(other_ca_cert, other_ca.get(), nullptr);
  write_pem(leaf_cert, leaf.get(), nullptr);
  write_pem(leaf_key, nullptr, leaf_pkey.get());
  write_pem(self_cert, self.get(), nullptr);
  write_pem(self_key, nullptr, self_pkey.get());
  leaf_pin = rv::spki_sha256(leaf.get());
  self_pin = rv::spki_sha256(self.get());
}

const pki& pki::get() {
  static const pki instance;
  return instance;
}

rv::ssl_ctx_ptr leaf_server_context() {
  return rv::make_server_context(pki::get().leaf_cert, pki::get().leaf_key);
}

rv::ssl_ctx_ptr self_signed_server_context() {
  return rv::make_server_context(pki::get().self_cert, pki::get().self_key);
}

rv::ssl_ctx_ptr ca_client_context() {
  rv::client_trust trust;
  trust.ca_file = pki::get().ca_cert;
  return rv::make_client_context(trust);
}

std::pair<tcp::socket, tcp::socket> tcp_pair(const asio::any_io_executor& ex) {
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(ex), server(ex);
  // A loopback connect to a listening socket completes at once (the backlog
  // takes it), so blocking here never stalls the io_context.
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  rv::set_nodelay(client);
  rv::set_nodelay(server);
  return {std::move(client), std::move(server)};
}

tls_pair::tls_pair(const asio::any_io_executor& ex, rv::ssl_ctx_ptr client_ctx, rv::ssl_ctx_ptr server_ctx) {
  auto [c, s] = tcp_pair(ex);
  client = std::make_unique<rv::tls_stream>(std::move(c), std::move(client_ctx), rv::tls_stream::role::client);
  server = std::make_unique<rv::tls_stream>(std::move(s), std::move(server_ctx), rv::tls_stream::role::server);
}

awaitable<void> tls_pair::handshake(error_code& client_ec, error_code& server_ec) {
  co_await (client->handshake(client_ec) && server->handshake(server_ec));
}

awaitable<stream_pair> connected_pair(transport t) {
  auto ex = co_await asio::this_coro::executor;
  stream_pair out;
  if (t == transport::tcp) {
    auto [c, s] = tcp_pair(ex);
    out.client = std::make_unique<rv::tcp_stream>(std::move(c));
    out.server = std::make_unique<rv::tcp_stream>(std::move(s));
    co_return out;
  }
  tls_pair tls(ex, ca_client_context(), leaf_server_context());
  tls.client->set_server_name("127.0.0.1");
  error_code cec, sec;
  co_await tls.handshake(cec, sec);
  BOOST_TEST_REQUIRE(!cec, "client handshake: " << cec.message() << ": " << tls.client->failure_reason());
  BOOST_TEST_REQUIRE(!sec, "server handshake: " << sec.message() << ": " << tls.server->failure_reason());
  out.client = std::move(tls.client);
  out.server = std::move(tls.server);
  co_return out;
}

awaitable<void> send_then_close(rv::byte_stream& s, const std::string& data, error_code& ec, std::size_t chunk) {
  for (std::size_t at = 0; at < data.size() && !ec; at += chunk) {
    auto piece = asio::buffer(data.data() + at, std::min(chunk, data.size() - at));
    co_await s.write_all(piece, ec);
  }
  if (!ec) co_await s.shutdown_send(ec);
}

awaitable<void> read_to_end(rv::byte_stream& s, std::string& out, error_code& ec) {
  // An odd size, so that reads and TLS records never line up.
  std::vector<char> buf(50 * 1000 + 7);
  auto into = asio::buffer(buf);
  while (!ec) {
    std::size_t n = co_await s.read_some(into, ec);
    out.append(buf.data(), n);
  }
}

awaitable<void> read_exactly(rv::byte_stream& s, std::size_t want, std::string& out, error_code& ec) {
  std::vector<char> buf(50 * 1000 + 7);
  while (out.size() < want && !ec) {
    auto into = asio::buffer(buf.data(), std::min(buf.size(), want - out.size()));
    std::size_t n = co_await s.read_some(into, ec);
    out.append(buf.data(), n);
  }
}

awaitable<void> speak_then_listen(rv::byte_stream& s, exchange& x) {
  co_await send_then_close(s, x.sent, x.send_ec);
  co_await read_to_end(s, x.received, x.read_ec);
}

awaitable<void> listen_then_speak(rv::byte_stream& s, exchange& x) {
  co_await read_to_end(s, x.received, x.read_ec);
  co_await send_then_close(s, x.sent, x.send_ec);
}

awaitable<void> send_both_ways(rv::byte_stream& client, rv::byte_stream& server, two_way_transfer& x) {
  co_await (send_then_close(client, x.up, x.up_send) && read_to_end(server, x.got_up, x.up_read) &&
            send_then_close(server, x.down, x.down_send) && read_to_end(client, x.got_down, x.down_read));
}

void check_both_ways(const two_way_transfer& x) {
  BOOST_TEST(!x.up_send);
  BOOST_TEST(!x.down_send);
  BOOST_TEST(x.up_read == eof);
  BOOST_TEST(x.down_read == eof);
  BOOST_TEST(compare_bytes(x.got_up, x.up) == "identical");
  BOOST_TEST(compare_bytes(x.got_down, x.down) == "identical");
}

std::string pattern(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

std::string compare_bytes(const std::string& got, const std::string& want) {
  std::size_t n = std::min(got.size(), want.size());
  std::size_t i = 0;
  while (i < n && got[i] == want[i]) ++i;
  if (i == n && got.size() == want.size()) return "identical";
  return "got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size()) +
         "; first difference at offset " + std::to_string(i);
}

}  // namespace rv_test
