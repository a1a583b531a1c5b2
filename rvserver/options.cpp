// rvserver's command line and config file.
#include "rvserver/options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

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
    "SIGHUP reloads the secrets file, the --client-keys file, the --pool-credential-key-file\n"
    "and the certificate: parked\n"
    "connections of removed or rotated UUIDs are closed, open tunnels stay. SIGINT or\n"
    "SIGTERM stop the server.\n"
    "\n"
    "Exit status:\n"
    "  0  stopped by a signal\n"
    "  1  runtime failure (cannot listen, ...)\n"
    "  2  bad usage or configuration (options, secrets file, certificate)\n";

std::chrono::milliseconds to_ms(double seconds, const char* name, double max = 3600) {
  if (!(seconds >= 0) || seconds > max)
    throw rv::config_error(std::string("--") + name + " must be between 0 and " +
                           std::to_string(static_cast<long>(max)) + " seconds");
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
      ("client-keys", po::value<std::string>()->value_name("FILE"),
       "UUID KEY lines, mode 0600: clients of these UUIDs must present the key (optional)")
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
      ("max-connections", po::value<std::size_t>()->value_name("N"),
       "open connections in all; past it new ones are closed unread "
       "(default: the descriptor limit less 64)")
      ("max-connections-per-source", po::value<std::size_t>()->value_name("N")->default_value(1000),
       "open connections from one address (an IPv6 /64); past it, new ones are closed unread")
      ("client-rate", po::value<double>()->value_name("PER_SECOND")->default_value(20),
       "parked connections one client address may take per second, sustained; past it: 429 (0: no limit)")
      ("client-burst", po::value<double>()->value_name("N")->default_value(40),
       "parked connections one client address may take at once")
      ("max-failures", po::value<unsigned>()->value_name("N")->default_value(5),
       "failed tokens from one address before it must wait (429, Retry-After); "
       "each further failure doubles the wait, from 1 s")
      ("max-failure-delay", po::value<double>()->value_name("SECONDS")->default_value(900),
       "the longest such wait")
      ("token-reuse", po::value<std::string>()->value_name("POLICY")->default_value("same-source"),
       "whether a TOTP code may register again: 'same-source' (only from the address that used it "
       "first; seed hidden servers need it) or 'never' (RFC 6238 strict)")
      ("pool-credential-lifetime", po::value<double>()->value_name("SECONDS")->default_value(600),
       "lifetime of the pool credentials issued to hidden servers that ask (0: issue none)")
      ("pool-credential-chain", po::value<double>()->value_name("SECONDS")->default_value(86400),
       "how long pool credentials keep renewing after the TOTP registration that began them; "
       "then the hidden server registers with a code again")
      ("idle-timeout", po::value<double>()->value_name("SECONDS")->default_value(0),
       "close a tunnel after this long without a byte either way (0: never)")
      ("half-closed-timeout", po::value<double>()->value_name("SECONDS")->default_value(0),
       "close a tunnel this long after one side finished sending, if the other has not (0: never)")
      ("metrics", po::value<std::string>()->value_name("HOST:PORT"),
       "serve Prometheus metrics at http://HOST:PORT/metrics: plain HTTP without authentication, "
       "so keep it on loopback or behind an authenticating proxy")
      ("user", po::value<std::string>()->value_name("NAME"),
       "after binding, run as this user (rvserver must start as root)")
      ("redis", po::value<std::string>()->value_name("URL"),
       "share the registration gate's memory (used codes, failure throttles, trusted addresses) with "
       "the other nodes of a cluster in this Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], "
       "rediss://... (TLS) or unix:///PATH[?db=N]; put a password in the --config file, not on the "
       "command line (default: no Redis, the memory is this process's own)")
      ("redis-prefix", po::value<std::string>()->value_name("PREFIX")->default_value("rv:"),
       "prefix of every Redis key rvserver writes (several clusters may share one Redis)")
      ("redis-timeout", po::value<double>()->value_name("SECONDS")->default_value(1),
       "deadline for each Redis answer; a Redis that misses it counts as down")
      ("redis-unavailable", po::value<std::string>()->value_name("POLICY")->default_value("refuse"),
       "while Redis is down, registrations with a TOTP code are refused with 503 and Retry-After "
       "('refuse'), or judged by this node alone ('local': a code may then be replayed at another "
       "node). Pool credentials and clients never need Redis")
      ("redis-ca-file", po::value<std::string>()->value_name("FILE"),
       "for rediss://: trust this CA instead of the system store")
      ("pool-credential-key-file", po::value<std::string>()->value_name("FILE"),
       "keys of the pool credentials, one per line (64 hex digits), mode 0600: the first issues, every "
       "line verifies, SIGHUP reloads. Give every node the same file, so a credential from one node "
       "is good at the others and after a restart (default: a key drawn at start)")
      ("tls-ticket-key-file", po::value<std::string>()->value_name("FILE"),
       "keys that seal TLS session tickets, one per line as for the pool credential keys: nodes "
       "with the same file resume each other's sessions, so clients that move between nodes skip "
       "the certificate and its signature (default: a key drawn at start and at each reload)")
      ("node-id", po::value<std::string>()->value_name("ID"),
       "this node's name when several rvservers serve as one: in every log line (rvserver[ID]) and the "
       "metrics, and told to "
       "hidden servers that ask, so that they see two addresses reaching one node (default: HOSTNAME:PID)");
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
  if (vm.count("client-keys")) o.client_keys_file = vm["client-keys"].as<std::string>();
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
  if (vm.count("max-connections")) {
    o.max_connections = vm["max-connections"].as<std::size_t>();
    if (o.max_connections == 0) throw rv::config_error("--max-connections must be at least 1");
  }
  o.max_connections_per_source = vm["max-connections-per-source"].as<std::size_t>();
  if (o.max_connections_per_source == 0) throw rv::config_error("--max-connections-per-source must be at least 1");
  o.client_rate = vm["client-rate"].as<double>();
  o.client_burst = vm["client-burst"].as<double>();
  if (!(o.client_rate >= 0) || o.client_rate > 1e6) throw rv::config_error("--client-rate must be between 0 and 1000000");
  if (!(o.client_burst >= 1) || o.client_burst > 1e6) throw rv::config_error("--client-burst must be between 1 and 1000000");
  o.max_failures = vm["max-failures"].as<unsigned>();
  o.max_failure_delay = std::chrono::duration_cast<std::chrono::seconds>(secs("max-failure-delay"));
  const auto& reuse = vm["token-reuse"].as<std::string>();
  if (reuse == "same-source")
    o.token_reuse = reuse_policy::same_source;
  else if (reuse == "never")
    o.token_reuse = reuse_policy::never;
  else
    throw rv::config_error("--token-reuse must be 'same-source' or 'never', got '" + reuse + "'");
  o.credential_lifetime = std::chrono::duration_cast<std::chrono::seconds>(
      to_ms(vm["pool-credential-lifetime"].as<double>(), "pool-credential-lifetime"));
  o.credential_chain = std::chrono::duration_cast<std::chrono::seconds>(
      to_ms(vm["pool-credential-chain"].as<double>(), "pool-credential-chain", 30 * 86400));
  if (o.credential_chain < o.credential_lifetime)
    throw rv::config_error("--pool-credential-chain must be at least --pool-credential-lifetime");
  o.idle_timeout = to_ms(vm["idle-timeout"].as<double>(), "idle-timeout", 7 * 86400);
  o.half_closed_timeout = to_ms(vm["half-closed-timeout"].as<double>(), "half-closed-timeout", 7 * 86400);
  if (vm.count("metrics")) {
    const auto& text = vm["metrics"].as<std::string>();
    auto ep = rv::parse_endpoint(text);
    if (!ep) throw rv::config_error("--metrics expects HOST:PORT, got '" + text + "'");
    o.metrics = *ep;
  }
  if (vm.count("user")) o.user = vm["user"].as<std::string>();
  if (vm.count("redis")) {
    std::string why;
    o.redis = rv::parse_redis_url(vm["redis"].as<std::string>(), why);
    if (!o.redis) throw rv::config_error("--redis: " + why);
  }
  o.redis_prefix = vm["redis-prefix"].as<std::string>();
  if (o.redis_prefix.size() > 64) throw rv::config_error("--redis-prefix must be at most 64 characters");
  o.redis_timeout = to_ms(vm["redis-timeout"].as<double>(), "redis-timeout", 60);
  if (o.redis_timeout.count() < 10) throw rv::config_error("--redis-timeout must be at least 0.01 seconds");
  const auto& unavailable = vm["redis-unavailable"].as<std::string>();
  if (unavailable != "refuse" && unavailable != "local")
    throw rv::config_error("--redis-unavailable must be 'refuse' or 'local', got '" + unavailable + "'");
  o.redis_fallback_local = unavailable == "local";
  if (vm.count("redis-ca-file")) o.redis_ca_file = vm["redis-ca-file"].as<std::string>();
  if (vm.count("pool-credential-key-file")) o.credential_key_file = vm["pool-credential-key-file"].as<std::string>();
  if (vm.count("tls-ticket-key-file")) o.ticket_key_file = vm["tls-ticket-key-file"].as<std::string>();
  if (vm.count("node-id")) {
    o.node_id = vm["node-id"].as<std::string>();
    o.node_id_given = true;
    // It goes into a header field and into metrics labels as it is.
    const bool plain = std::all_of(o.node_id.begin(), o.node_id.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
    });
    if (o.node_id.empty() || o.node_id.size() > 64 || !plain)
      throw rv::config_error("--node-id must be 1 to 64 characters of letters, digits, '-', '_', '.' and ':', got '" +
                             o.node_id + "'");
  } else {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "rvserver");
    o.node_id = std::string(host) + ":" + std::to_string(getpid());
  }
  return o;
}

}  // namespace rvserver
