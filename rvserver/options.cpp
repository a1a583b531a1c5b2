// rvserver's command line and config file.
#include "options.hpp"

#include <cmath>

#include "rv/cli.hpp"
#include "rv/error.hpp"

namespace rvserver {

namespace po = boost::program_options;

namespace {
constexpr std::string_view synopsis =
    "  rvserver --cert FILE --key FILE --secrets FILE [--listen HOST:PORT]... [options]\n"
    "\n"
    "The public rendezvous server: hidden servers (rvhidden) register a UUID with a\n"
    "TOTP token and park connections here; clients (rvconnect, curl) name the UUID and\n"
    "are paired with a parked connection. TLS on every connection.\n"
    "\n"
    "Provisioning (each has its own help):\n"
    "  rvserver secrets add|list|remove|rotate ...   manage the secrets file\n"
    "  rvserver cert ...                             make a self-signed certificate\n";

constexpr std::string_view epilogue =
    "Examples:\n"
    "  rvserver --listen 0.0.0.0:8899 --cert cert.pem --key key.pem --secrets secrets\n"
    "  rvserver --listen '[::]:8899' --listen 0.0.0.0:8899 --config /etc/rendezvous/rvserver.conf\n"
    "\n"
    "The secrets file (mode 0600) has one line per UUID:\n"
    "  UUID BASE32SECRET [STEP [DIGITS]]     # defaults 30 and 6\n"
    "\n"
    "On start, one line per listener goes to stdout: 'listening ADDRESS:PORT' (the real\n"
    "port when 0 was asked), and 'metrics ADDRESS:PORT' for --metrics. Logs go to stderr.\n"
    "SIGHUP reloads the secrets file and the certificate: parked connections of removed\n"
    "or rotated UUIDs are closed, open tunnels stay. SIGINT or SIGTERM stop the server.\n"
    "\n"
    "Exit status:\n"
    "  0  stopped by a signal\n"
    "  1  runtime failure (cannot listen, ...)\n"
    "  2  bad usage or configuration (options, secrets file, certificate)\n";

std::chrono::milliseconds to_ms(double seconds, const char* name) {
  if (!(seconds >= 0) || seconds > 3600)
    throw rv::config_error(std::string("--") + name + " must be between 0 and 3600 seconds");
  return std::chrono::milliseconds(static_cast<long>(std::lround(seconds * 1000)));
}
}  // namespace

std::optional<options> parse_options(int argc, char** argv) {
  po::options_description desc("rvserver options");
  desc.add_options()
      ("listen,l", po::value<std::vector<std::string>>()->value_name("HOST:PORT"),
       "address to listen on; repeatable; '[::]:8899' for IPv6 (default 0.0.0.0:8899)")
      ("cert", po::value<std::string>()->value_name("FILE"), "PEM certificate chain (required)")
      ("key", po::value<std::string>()->value_name("FILE"), "PEM private key (required)")
      ("secrets", po::value<std::string>()->value_name("FILE"),
       "UUIDs and their TOTP secrets, mode 0600 (required)")
      ("grace", po::value<double>()->value_name("SECONDS")->default_value(3),
       "how long a client waits for a parked connection before 404")
      ("max-parked", po::value<std::size_t>()->value_name("N")->default_value(64),
       "parked connections kept per UUID; beyond it the oldest is closed")
      ("handshake-timeout", po::value<double>()->value_name("SECONDS")->default_value(10),
       "deadline for the TLS handshake")
      ("head-timeout", po::value<double>()->value_name("SECONDS")->default_value(10),
       "deadline for a request head after the handshake")
      ("notify-timeout", po::value<double>()->value_name("SECONDS")->default_value(10),
       "deadline for a hidden server's answer to an arrival notice (then 504)")
      ("keepalive", po::value<double>()->value_name("SECONDS")->default_value(20),
       "TCP keepalive idle time on parked connections")
      ("metrics", po::value<std::string>()->value_name("HOST:PORT"),
       "serve Prometheus metrics at http://HOST:PORT/metrics (plain HTTP: use loopback)")
      ("user", po::value<std::string>()->value_name("NAME"),
       "after binding, run as this user (rvserver must start as root)");
  po::variables_map vm;
  if (!rv::cli::parse(argc, argv, desc, {}, {"rvserver", synopsis, epilogue}, vm)) return std::nullopt;

  options o;
  auto required = [&](const char* name) {
    if (!vm.count(name))
      throw rv::config_error(std::string("--") + name + " is required (try 'rvserver --help')");
    return vm[name].as<std::string>();
  };
  o.cert_file = required("cert");
  o.key_file = required("key");
  o.secrets_file = required("secrets");
  std::vector<std::string> listen{"0.0.0.0:8899"};
  if (vm.count("listen")) listen = vm["listen"].as<std::vector<std::string>>();
  for (const auto& text : listen) {
    auto ep = rv::parse_endpoint(text);
    if (!ep) throw rv::config_error("--listen expects HOST:PORT or [V6ADDR]:PORT, got '" + text + "'");
    o.listen.push_back(*ep);
  }
  o.grace = to_ms(vm["grace"].as<double>(), "grace");
  o.max_parked_per_uuid = vm["max-parked"].as<std::size_t>();
  if (o.max_parked_per_uuid == 0) throw rv::config_error("--max-parked must be at least 1");
  auto secs = [&](const char* name) {
    auto ms = to_ms(vm[name].as<double>(), name);
    if (ms.count() < 1000) throw rv::config_error(std::string("--") + name + " must be at least 1 second");
    return std::chrono::duration_cast<std::chrono::seconds>(ms);
  };
  o.handshake_timeout = secs("handshake-timeout");
  o.head_timeout = secs("head-timeout");
  o.notify_timeout = secs("notify-timeout");
  o.keepalive = secs("keepalive");
  if (vm.count("metrics")) {
    const auto& text = vm["metrics"].as<std::string>();
    auto ep = rv::parse_endpoint(text);
    if (!ep) throw rv::config_error("--metrics expects HOST:PORT, got '" + text + "'");
    o.metrics = *ep;
  }
  if (vm.count("user")) o.user = vm["user"].as<std::string>();
  return o;
}

}  // namespace rvserver
