// TLS contexts for the rendezvous server and its clients, and SPKI pins
// (curl's --pinnedpubkey form: "sha256//BASE64", several joined by ';').
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace rv {

using ssl_ctx_ptr = std::shared_ptr<SSL_CTX>;
using spki_pin = std::array<std::uint8_t, 32>;  // SHA-256 of the DER SubjectPublicKeyInfo

// "sha256//BASE64" -> pin; nullopt when malformed.
std::optional<spki_pin> parse_pin(std::string_view text);
// One or more pins joined by ';'. Throws rv::config_error when any is malformed.
std::vector<spki_pin> parse_pins(std::string_view text);
std::string to_string(const spki_pin& pin);  // back to "sha256//BASE64"
// The pin of a certificate's public key.
spki_pin spki_sha256(X509* cert);

// TLS 1.2 and 1.3 with Mozilla's "intermediate" ciphers, no renegotiation, no
// compression. Throws rv::config_error naming the file and OpenSSL's reason.
ssl_ctx_ptr make_server_context(const std::string& cert_file, const std::string& key_file);

// How rvhidden and rvconnect decide to trust the rendezvous server.
struct client_trust {
  std::string ca_file;         // empty: the system CA store
  std::vector<spki_pin> pins;  // non-empty: the server key must match one
  // With pins and no ca_file, the pin alone decides (a self-signed server);
  // with both, the chain and host name must verify and the pin must match.
  bool verify_chain() const { return !ca_file.empty() || pins.empty(); }
};

// Prefers TLS 1.3 (our own legs), accepts 1.2 (a seed server). Throws
// rv::config_error when the CA file cannot be loaded. A client context is
// for one server: it keeps the last session ticket that server sent, and
// tls_stream offers it on the next connection (resumption).
ssl_ctx_ptr make_client_context(const client_trust& trust);
// That ticket's session (not owned), or null. For tls_stream.
SSL_SESSION* resumable_session(SSL_CTX* ctx);

// OpenSSL's error queue as one line (and clears it).
std::string openssl_errors();

}  // namespace rv
