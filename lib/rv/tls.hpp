// TLS contexts for the rendezvous server and its clients, and the SPKI pin of
// a certificate (pins in text and client_trust: trust.hpp).
#pragma once
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "rv/trust.hpp"

namespace rv {

using ssl_ctx_ptr = std::shared_ptr<SSL_CTX>;

// The pin of a certificate's public key.
spki_pin spki_sha256(X509* cert);

// TLS 1.2 and 1.3 with Mozilla's "intermediate" ciphers, no renegotiation, no
// compression. Throws rv::config_error naming the file and OpenSSL's reason.
ssl_ctx_ptr make_server_context(const std::string& cert_file, const std::string& key_file);

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
