// TLS contexts for the rendezvous server and its clients, and the SPKI pin of
// a certificate (pins in text and client_trust: trust.hpp).
#pragma once
#include <memory>
#include <array>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "rv/trust.hpp"

namespace rv {

using ssl_ctx_ptr = std::shared_ptr<SSL_CTX>;

// The pin of a certificate's public key.
spki_pin spki_sha256(X509* cert);

// TLS 1.2 and 1.3 with Mozilla's "intermediate" ciphers, no renegotiation, no
// compression. Throws rv::config_error naming the file and OpenSSL's reason.
ssl_ctx_ptr make_server_context(const std::string& cert_file, const std::string& key_file);

// Seals the server context's session tickets with keys derived from these
// secrets instead of a random key of its own: every server given the same
// secrets resumes every other's sessions (the nodes of a cluster). The first
// secret seals new tickets; every one opens them (a ticket under another
// than the first is renewed), so secrets rotate as pool credential keys do.
// `secrets` is not empty.
void set_ticket_keys(SSL_CTX* ctx, const std::vector<std::array<unsigned char, 32>>& secrets);

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
