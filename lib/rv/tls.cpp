// TLS contexts and SPKI pins.
#include "rv/tls.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "rv/base64.hpp"
#include "rv/error.hpp"

namespace rv {

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::optional<spki_pin> parse_pin(std::string_view text) {
  constexpr std::string_view prefix = "sha256//";
  if (!text.starts_with(prefix)) return std::nullopt;
  auto raw = base64_decode(text.substr(prefix.size()));
  if (!raw || raw->size() != 32) return std::nullopt;
  spki_pin pin{};
  std::copy(raw->begin(), raw->end(), pin.begin());
  return pin;
}

std::vector<spki_pin> parse_pins(std::string_view text) {
  std::vector<spki_pin> pins;
  while (!text.empty()) {
    auto cut = text.find(';');
    auto one = text.substr(0, cut);
    auto pin = parse_pin(one);
    if (!pin)
      throw config_error("--pin must look like sha256//BASE64 (the base64 of the SHA-256 of the "
                         "server's DER public key), got '" + std::string(one) + "'");
    pins.push_back(*pin);
    text = cut == std::string_view::npos ? std::string_view{} : text.substr(cut + 1);
  }
  return pins;
}

std::string to_string(const spki_pin& pin) { return "sha256//" + base64_encode(pin); }

spki_pin spki_sha256(X509* cert) {
  spki_pin pin{};
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (len > 0) {
    unsigned int out_len = 0;
    EVP_Digest(der, static_cast<std::size_t>(len), pin.data(), &out_len, EVP_sha256(), nullptr);
  }
  OPENSSL_free(der);
  return pin;
}

namespace {
ssl_ctx_ptr new_context(const SSL_METHOD* method) {
  SSL_CTX* raw = SSL_CTX_new(method);
  if (!raw) throw std::runtime_error("cannot create a TLS context: " + openssl_errors());
  ssl_ctx_ptr ctx(raw, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // TLS 1.3 suites, AES-128-GCM first (OpenSSL puts AES-256-GCM first): as
  // Mozilla's configurations, Go and BoringSSL do. It is the suite every TLS
  // 1.3 peer must implement, and a third faster than AES-256-GCM: both
  // relays of a tunnel spend most of their CPU on it (BENCHMARKS.md). A TLS
  // 1.3 server follows the client's order, so this picks the suite of our
  // own legs and leaves other clients theirs.
  SSL_CTX_set_ciphersuites(raw, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  // Relay buffers are per connection; idle ones are the bulk of a parked
  // server's memory.
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}
}  // namespace

ssl_ctx_ptr make_server_context(const std::string& cert_file, const std::string& key_file) {
  auto ctx = new_context(TLS_server_method());
  // Mozilla "intermediate" (TLS 1.2 list; TLS 1.3 suites are OpenSSL's defaults).
  SSL_CTX_set_cipher_list(ctx.get(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                          "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384");
  // No TLS 1.3 session tickets: our clients never resume (each connection is
  // a fresh handshake), and a ticket costs the server CPU and every parked
  // client connection the memory of one more session.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    throw config_error("cannot load certificate " + cert_file + ": " + openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    throw config_error("cannot load private key " + key_file + ": " + openssl_errors());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw config_error("private key " + key_file + " does not match certificate " + cert_file);
  return ctx;
}

ssl_ctx_ptr make_client_context(const client_trust& trust) {
  auto ctx = new_context(TLS_client_method());
  if (trust.verify_chain()) {
    if (!trust.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx.get(), trust.ca_file.c_str(), nullptr) != 1)
        throw config_error("cannot load CA file " + trust.ca_file + ": " + openssl_errors());
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      throw config_error("cannot load the system CA store: " + openssl_errors());
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    // Pin only: the chain may be self-signed; tls_stream checks the key
    // against the pins right after the handshake, before any byte is sent.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

}  // namespace rv
