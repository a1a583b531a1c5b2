// TLS contexts and the SPKI pin of a certificate.
#include "rv/tls.hpp"

#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <string_view>

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
  // The engine's two record buffers (~17 KiB each) go back as soon as they
  // are empty: idle and parked connections are most of a server's.
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
  // One TLS 1.3 ticket per handshake, stateless (the session travels in the
  // ticket, sealed with this context's random key): rvhidden and rvconnect
  // resume with it, which skips the certificate, its checks and the
  // signature on every later connection, a third of the CPU of opening a
  // tunnel (BENCHMARKS.md). (EC)DHE still runs, so resumed sessions keep
  // forward secrecy. No server-side cache: a parked connection costs no
  // more memory, and a restart or a reload (a new context, a new key) just
  // means one full handshake again.
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    throw config_error("cannot load certificate " + cert_file + ": " + openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    throw config_error("cannot load private key " + key_file + ": " + openssl_errors());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw config_error("private key " + key_file + " does not match certificate " + cert_file);
  return ctx;
}

namespace {

// A ticket key: its name (sent in the ticket, to find it again), an AES-256
// key that encrypts the ticket and an HMAC-SHA256 key that authenticates it,
// each derived from the secret under its own label, so that no two uses share
// a key.
struct ticket_key {
  std::array<unsigned char, 16> name;
  std::array<unsigned char, 32> aes;
  std::array<unsigned char, 32> hmac;
};

std::array<unsigned char, 32> derive(std::string_view label, const std::array<unsigned char, 32>& secret) {
  std::array<unsigned char, 32> out{};
  std::string input(label);
  input.append(reinterpret_cast<const char*>(secret.data()), secret.size());
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), out.data(), &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  return out;
}

int ticket_keys_slot() {
  static const int slot = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* keys, CRYPTO_EX_DATA*, int, long, void*) {
        auto* k = static_cast<std::vector<ticket_key>*>(keys);
        if (k) OPENSSL_cleanse(k->data(), k->size() * sizeof(ticket_key));
        delete k;
      });
  return slot;
}

int seal_or_open_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int encrypt) {
  const auto* keys = static_cast<const std::vector<ticket_key>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_slot()));
  if (!keys || keys->empty()) return -1;
  auto mac_key = [&](const ticket_key& k) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string("key", const_cast<unsigned char*>(k.hmac.data()), k.hmac.size()),
        OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1;
  };
  if (encrypt) {
    const ticket_key& k = keys->front();
    std::copy(k.name.begin(), k.name.end(), name);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1 || !mac_key(k)) return -1;
    return 1;
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const ticket_key& k = (*keys)[i];
    if (!std::equal(k.name.begin(), k.name.end(), name)) continue;
    if (!mac_key(k) || EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
    return i == 0 ? 1 : 2;  // 2: valid, but sealed with a key on its way out: issue a new ticket
  }
  return 0;  // not ours (another cluster's, or a key since dropped): a full handshake
}

}  // namespace

void set_ticket_keys(SSL_CTX* ctx, const std::vector<std::array<unsigned char, 32>>& secrets) {
  auto keys = std::make_unique<std::vector<ticket_key>>();
  for (const auto& secret : secrets) {
    ticket_key k{};
    const auto name = derive("rendezvous ticket name", secret);
    std::copy_n(name.begin(), k.name.size(), k.name.begin());
    k.aes = derive("rendezvous ticket aes-256-cbc", secret);
    k.hmac = derive("rendezvous ticket hmac-sha256", secret);
    keys->push_back(k);
  }
  if (keys->empty()) return;
  delete static_cast<std::vector<ticket_key>*>(SSL_CTX_get_ex_data(ctx, ticket_keys_slot()));
  // The context owns the keys from here (freed with it, ticket_keys_slot).
  if (SSL_CTX_set_ex_data(ctx, ticket_keys_slot(), keys.get()) != 1)
    throw std::runtime_error("cannot keep ticket keys: " + openssl_errors());
  keys.release();
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, seal_or_open_ticket);
}

namespace {
// The ex_data slot of a client context that holds its last ticket's session.
int session_slot() {
  static const int slot = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* session, CRYPTO_EX_DATA*, int, long, void*) {
        SSL_SESSION_free(static_cast<SSL_SESSION*>(session));  // null-safe
      });
  return slot;
}

// A ticket arrived (after a handshake): keep a copy for the next connection.
// A copy, because OpenSSL marks the connection's own session unresumable
// when that connection ends without close_notify (an aborted tunnel), which
// says nothing against the ticket.
int keep_session(SSL* ssl, SSL_SESSION* session) {
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (!copy) return 0;
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  SSL_SESSION_free(static_cast<SSL_SESSION*>(SSL_CTX_get_ex_data(ctx, session_slot())));
  SSL_CTX_set_ex_data(ctx, session_slot(), copy);
  return 0;  // OpenSSL drops its reference to the original
}
}  // namespace

SSL_SESSION* resumable_session(SSL_CTX* ctx) {
  auto* session = static_cast<SSL_SESSION*>(SSL_CTX_get_ex_data(ctx, session_slot()));
  return session && SSL_SESSION_is_resumable(session) ? session : nullptr;
}

ssl_ctx_ptr make_client_context(const client_trust& trust) {
  auto ctx = new_context(TLS_client_method());
  // Tickets go to keep_session, not to OpenSSL's own cache (which a client
  // would have to search itself anyway).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), keep_session);
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
