// `rvserver cert`: makes a self-signed EC P-256 certificate and its key, writes both whole,
// and prints the pin and the command lines that use them.
#include "rvserver/cert_command.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rvserver/atomic_file.hpp"
#include "rvserver/random_bytes.hpp"
#include "rv/error.hpp"
#include "rv/tls.hpp"
#include "rvserver/subcommand_options.hpp"

namespace rvserver {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr std::string_view default_port = "8899";

struct openssl_deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using ossl_ptr = std::unique_ptr<T, openssl_deleter>;

[[noreturn]] void openssl_failure(const std::string& what) {
  throw std::runtime_error("cannot " + what + ": " + rv::openssl_errors());
}

// An IP address (the literal form, "[...]" allowed around IPv6) or a DNS name (letters,
// digits, '-', '.', a leading "*." wildcard). Anything else could smuggle more entries into
// the subjectAltName value.
struct cert_name {
  std::string text;  // as it goes into the certificate
  bool ip = false;
};

cert_name classify_name(std::string name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1)
    return {name, true};
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  bool ok = !rest.empty() && rest.size() <= 253 && rest.front() != '.' && rest.front() != '-' && rest.back() != '.';
  for (char c : rest)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  if (!ok)
    throw rv::config_error("--name '" + name + "' is neither a host name (letters, digits, '-', '.') nor an IP address");
  return {name, false};
}

std::string pem_of(const std::function<int(BIO*)>& write, const char* what) {
  ossl_ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) openssl_failure(std::string("encode the ") + what);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string host_port(const cert_name& name) {
  bool v6 = name.ip && name.text.find(':') != std::string::npos;
  return (v6 ? "[" + name.text + "]" : name.text) + ":" + std::string(default_port);
}

}  // namespace

int run_cert_command(int argc, char** argv) {
  constexpr std::string_view command = "cert";
  po::options_description desc("rvserver cert options");
  desc.add_options()
      ("name", po::value<std::vector<std::string>>()->value_name("HOST"),
       "a name clients dial: a DNS name or an IP address; repeatable; the first is also the CN (required)")
      ("out", po::value<std::string>()->value_name("DIR")->default_value("."),
       "where to write cert.pem and key.pem (created when missing)")
      ("days", po::value<unsigned>()->value_name("N")->default_value(3650), "validity in days")
      ("force", "replace an existing cert.pem and key.pem");
  usage_text text{command,
                  "  rvserver cert --name HOST [--name HOST2]... [--out DIR] [--days N] [--force]\n"
                  "\n"
                  "Makes a self-signed certificate (EC P-256, SHA-256) for a first deployment: DIR/cert.pem\n"
                  "(mode 0644) and its private key DIR/key.pem (mode 0600), and prints the SPKI pin\n"
                  "(sha256//BASE64) that rvhidden and rvconnect take to trust it.\n",
                  "The certificate names each HOST as a subjectAltName (DNS, or IP for an address), has\n"
                  "the first as its common name, and is a leaf (CA:FALSE, serverAuth). Clients trust it\n"
                  "by its pin, or by a copy of cert.pem as their CA file (which also checks the name).\n"
                  "\n"
                  "Examples:\n"
                  "  rvserver cert --name rv.example.com --out /etc/rendezvous\n"
                  "  rvserver cert --name rv.example.com --name 203.0.113.7 --days 825\n"
                  "\n"
                  "Exit status: 0 written; 1 failure; 2 bad usage, or a file exists (without --force).\n"};
  po::variables_map vm;
  if (!parse_command_line(argc, argv, desc, {}, {}, text, vm)) return rv::exit_code::ok;
  if (!vm.count("name")) throw rv::config_error("--name is required (try 'rvserver cert --help')");
  std::vector<cert_name> names;
  for (const auto& n : vm["name"].as<std::vector<std::string>>()) names.push_back(classify_name(n));
  if (names.front().text.size() > 64)
    throw rv::config_error("the first --name is the common name, at most 64 characters: give a shorter one first");
  const unsigned days = vm["days"].as<unsigned>();
  if (days < 1 || days > 36500) throw rv::config_error("--days must be in 1..36500");
  const bool force = vm.count("force") > 0;
  const fs::path dir = vm["out"].as<std::string>();
  const fs::path cert_path = dir / "cert.pem", key_path = dir / "key.pem";
  if (!force) {
    for (const auto& p : {cert_path, key_path})
      if (std::error_code ec; fs::exists(fs::symlink_status(p, ec)))
        throw rv::config_error(p.string() + " exists (give --force to replace it)");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw rv::config_error("cannot create directory " + dir.string() + ": " + ec.message());

  ossl_ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) openssl_failure("generate an EC P-256 key");
  ossl_ptr<X509> x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) openssl_failure("make a certificate");
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 159 random bits.
  std::array<std::uint8_t, 20> serial{};
  random_bytes(serial);
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x01);
  ossl_ptr<BIGNUM> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()))) openssl_failure("set the serial");
  // Valid from an hour ago: a client whose clock is a little behind still accepts it.
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), static_cast<int>(days), 0, nullptr))
    openssl_failure("set the validity");
  if (X509_set_pubkey(x.get(), key.get()) != 1) openssl_failure("set the public key");
  X509_NAME* subject = X509_get_subject_name(x.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(names.front().text.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x.get(), subject) != 1)
    openssl_failure("set the name");

  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(n.ip ? "IP:" : "DNS:") + n.text;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  // The subject key identifier first: the authority key identifier of a self-signed
  // certificate is read from it.
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    ossl_ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1)
      openssl_failure(std::string("add the ") + OBJ_nid2sn(nid) + " extension");
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) openssl_failure("sign the certificate");

  const std::string cert_pem = pem_of([&](BIO* b) { return PEM_write_bio_X509(b, x.get()); }, "certificate");
  const std::string key_pem = pem_of(
      [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); },
      "private key");
  // Both temp files first, then both into place: a failure leaves neither half of a pair.
  const directory out(dir);
  temp_file key_tmp(out, "key.pem", 0600);
  key_tmp.write(key_pem);
  temp_file cert_tmp(out, "cert.pem", 0644);
  cert_tmp.write(cert_pem);
  auto exists = [&](const char* name) { return rv::config_error(out.shown(name) + " exists (give --force to replace it)"); };
  if (force) {
    key_tmp.rename_to_target();
    cert_tmp.rename_to_target();
  } else {
    if (!key_tmp.link_to_target()) throw exists("key.pem");
    if (!cert_tmp.link_to_target()) {
      ::unlinkat(out.fd(), "key.pem", 0);
      throw exists("cert.pem");
    }
  }
  out.sync();

  const std::string pin = rv::to_string(rv::spki_sha256(x.get()));
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n.text;
  const auto abs_cert = fs::absolute(cert_path).lexically_normal().string();
  const auto abs_key = fs::absolute(key_path).lexically_normal().string();
  const auto server = host_port(names.front());
  std::cout << "wrote " << abs_cert << " (self-signed, EC P-256, for " << listed << "; valid " << days
            << " days)\n"
            << "wrote " << abs_key << " (its private key, mode 0600: it stays on this host)\n"
            << "pin " << pin << "\n"
            << "\n"
            << "rvserver  --cert " << abs_cert << " --key " << abs_key << " --secrets FILE ...\n"
            << "rvhidden  --server " << server << " --pin '" << pin << "' --uuid UUID --secrets FILE --forward HOST:PORT\n"
            << "rvconnect --server " << server << " --pin '" << pin << "' UUID\n"
            << "\n"
            << "The pin is not secret, but give it to the clients over a channel you trust. Instead of\n"
            << "--pin they may take a copy of cert.pem as --ca-file, which also checks that --server (or\n"
            << "--server-name) is one of the names above. A running rvserver loads a new certificate\n"
            << "on SIGHUP (kill -HUP PID).\n";
  return rv::exit_code::ok;
}

}  // namespace rvserver
