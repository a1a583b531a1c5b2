// `rvserver secrets add|list|remove|rotate`: their command lines, the new UUIDs and secrets,
// and how a new secret is handed over (stdout, or a file of its own with --out).
#include "rvserver/secrets_command.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "rvserver/atomic_file.hpp"
#include "rvserver/random_bytes.hpp"
#include "rv/base32.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"
#include "rv/secrets.hpp"
#include "rvserver/secrets_file.hpp"
#include "rvserver/secrets_text.hpp"
#include "rvserver/subcommand_options.hpp"

namespace rvserver {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr unsigned default_step = 30;
constexpr unsigned default_digits = 6;

std::string new_uuid() {
  std::array<std::uint8_t, 16> b{};
  random_bytes(b);
  return format_uuid_v4(b);
}

std::string new_secret(bool seed_compatible) {
  if (seed_compatible) {
    std::array<std::uint8_t, 23> b{};  // 23 x 7 bits = 161 bits of randomness
    random_bytes(b);
    return rv::base32_encode(seed_compatible_key(b));
  }
  std::array<std::uint8_t, 20> b{};  // 160 bits, RFC 4226 §4's recommended length
  random_bytes(b);
  return rv::base32_encode(b);
}

std::string uuid_argument(const po::variables_map& vm, std::string_view command) {
  if (!vm.count("uuid"))
    throw rv::config_error("a UUID is required (try 'rvserver " + std::string(command) + " --help')");
  auto uuid = vm["uuid"].as<std::string>();
  if (!rv::valid_uuid(uuid))
    throw rv::config_error("invalid UUID '" + uuid + "' (1..128 of A-Z a-z 0-9 . _ ~ -)");
  return uuid;
}

// An action's command line: --secrets FILE for every action (--help is added when it is
// parsed), and a UUID argument for those that name one.
struct action_options {
  po::options_description visible;
  po::options_description hidden;
  po::positional_options_description positional;

  action_options(std::string_view command, bool takes_uuid) : visible("rvserver " + std::string(command) + " options") {
    visible.add_options()("secrets", po::value<std::string>()->value_name("FILE"),
                          "the secrets file of rvserver (required)");
    if (takes_uuid) {
      hidden.add_options()("uuid", po::value<std::string>(), "UUID");
      positional.add("uuid", 1);
    }
  }
};

// Parses an action's command line into `vm`: nullopt after --help, else the secrets file
// (--secrets is required).
std::optional<fs::path> parse_action(int argc, char** argv, const action_options& options, const usage_text& text,
                                     po::variables_map& vm) {
  if (!parse_command_line(argc, argv, options.visible, options.hidden, options.positional, text, vm))
    return std::nullopt;
  if (!vm.count("secrets"))
    throw rv::config_error("--secrets is required (try 'rvserver " + std::string(text.command) + " --help')");
  return vm["secrets"].as<std::string>();
}

// What `secrets add` and `secrets rotate` share: how the new key is made and handed over.
void add_new_secret_options(po::options_description& desc) {
  desc.add_options()
      ("seed-compatible", "a key a node-rendezvous seed server also accepts (every byte below 0x80)")
      ("issuer", po::value<std::string>()->value_name("NAME")->default_value("rendezvous"),
       "issuer shown by authenticator apps (in the otpauth:// URI)")
      ("out", po::value<std::string>()->value_name("FILE"),
       "write the hidden machine's secrets file to FILE (new, mode 0600) instead of stdout, which then shows "
       "only the UUID")
      ("force", "with --out: replace FILE when it exists");
}

// `--out FILE`: the hidden machine's secrets file, written by us with mode 0600 whatever the
// umask (a shell's `> FILE` gets the umask's mode). It appears whole: a temp file beside it,
// linked into place, so that an existing FILE (or a link there) is never written; with
// --force renamed over it instead, which replaces a link rather than writing through it.
// Made before the secrets file changes, so that a bad --out fails before a secret exists.
class identity_file {
 public:
  identity_file(const fs::path& path, bool force, const fs::path& secrets_file)
      : dir_(path.parent_path()), name_(file_name_of(path)), force_(force) {
    if (name_.empty()) throw rv::config_error("--out " + path.string() + " names a directory, not a file");
    if (auto st = dir_.stat_of(name_)) {
      if (!force_) throw rv::config_error(shown() + " exists (give --force to replace it)");
      if (S_ISDIR(st->st_mode)) throw rv::config_error("--out " + shown() + " is a directory");
      struct stat out {}, secrets {};
      if (::stat(path.c_str(), &out) == 0 && ::stat(secrets_file.c_str(), &secrets) == 0 && same_file(out, secrets))
        throw rv::config_error("--out " + shown() + " is the secrets file itself");
    }
    tmp_.emplace(dir_, name_, 0600);
  }
  std::string shown() const { return dir_.shown(name_); }
  void commit(std::string_view text) {
    tmp_->write(text);
    if (force_)
      tmp_->rename_to_target();
    else if (!tmp_->link_to_target())
      throw std::runtime_error(shown() + " appeared while the secret was being made");
    dir_.sync();
  }

 private:
  directory dir_;
  std::string name_;
  bool force_;
  std::optional<temp_file> tmp_;  // after dir_, which it refers to
};

// --out and --force, checked and prepared before the secrets file changes.
void prepare_out(const po::variables_map& vm, const fs::path& secrets_file, std::optional<identity_file>& out) {
  if (vm.count("out"))
    out.emplace(vm["out"].as<std::string>(), vm.count("force") > 0, secrets_file);
  else if (vm.count("force"))
    throw rv::config_error("--force goes with --out FILE (it lets FILE be replaced)");
}

// The last line of an edit: what changed, and when a running rvserver sees it.
int report_edit(const std::string& what) {
  std::cerr << what << "; a running rvserver picks up the change on SIGHUP (kill -HUP PID)\n";
  return rv::exit_code::ok;
}

// What the hidden machine needs, as a secrets file for it (the URI is a comment): written to
// `out` when given (stdout then shows only the UUID, which is no secret), else on stdout. The
// secret goes nowhere else.
void hand_over_identity(std::string_view uuid, std::string_view secret, unsigned step, unsigned digits,
                        std::string_view issuer, std::optional<identity_file>& out) {
  const std::string text =
      format_secret_line(uuid, secret, step, digits) + "\n# " + otpauth_uri(issuer, uuid, secret, step, digits) + "\n";
  auto lost = [&](const std::string& why) {
    return std::runtime_error(why + ": the secrets file has a secret for " + std::string(uuid) +
                              " that was not handed over; 'rvserver secrets rotate " + std::string(uuid) +
                              "' makes a new one");
  };
  if (out) {
    try {
      out->commit(text);
    } catch (const std::exception& e) {
      throw lost(e.what());
    }
    std::cout << uuid << "\n" << std::flush;
    std::cerr << "wrote the hidden machine's secrets file " << out->shown() << " (mode 0600; for rvhidden --uuid "
              << uuid << " --secrets FILE): copy it there out of band and keep no other copy\n";
    return;
  }
  std::cout << text << std::flush;
  if (!std::cout) throw lost("cannot write to stdout");
  std::cerr << "stdout is the hidden machine's secrets file (for rvhidden --uuid " << uuid
            << " --secrets FILE, mode 0600): copy it there out of band and keep no other copy\n";
}

constexpr std::string_view secrets_synopsis =
    "  rvserver secrets add [UUID] --secrets FILE [--step S] [--digits D] [--seed-compatible]\n"
    "                       [--issuer NAME] [--out FILE [--force]]\n"
    "  rvserver secrets list --secrets FILE\n"
    "  rvserver secrets remove UUID --secrets FILE\n"
    "  rvserver secrets rotate UUID --secrets FILE [--seed-compatible] [--issuer NAME]\n"
    "                       [--out FILE [--force]]\n"
    "\n"
    "Edits rvserver's secrets file: one line per UUID, 'UUID BASE32SECRET [STEP [DIGITS]]',\n"
    "mode 0600. Each change is atomic (a lock against other writers, a temp file renamed over\n"
    "the file) and keeps the other lines and comments as they were. A running rvserver picks\n"
    "changes up on SIGHUP. 'rvserver secrets ACTION --help' describes each action.\n";

constexpr usage_text add_usage{
    "secrets add",
    "  rvserver secrets add [UUID] --secrets FILE [--step S] [--digits D] [--seed-compatible]\n"
    "                       [--issuer NAME] [--out FILE [--force]]\n"
    "\n"
    "Adds a UUID (a new random UUID v4 when none is given) with a new random 160-bit secret\n"
    "to FILE, creating FILE (mode 0600) when it does not exist, and hands over what the\n"
    "hidden machine needs: on stdout, or in the file that --out names.\n",
    "Output: the hidden machine's secrets file, two lines:\n"
    "  UUID BASE32SECRET [STEP [DIGITS]]\n"
    "  # otpauth://totp/ISSUER:UUID?secret=...&issuer=...&algorithm=SHA1&digits=D&period=S\n"
    "on stdout; with --out, in that file (mode 0600 whatever the umask) and stdout shows\n"
    "only the UUID. A running rvserver picks up the new UUID on SIGHUP.\n"
    "\n"
    "Examples:\n"
    "  rvserver secrets add --secrets /etc/rendezvous/secrets --out hidden-secrets\n"
    "  rvserver secrets add laptop-7 --secrets /etc/rendezvous/secrets --seed-compatible\n"
    "\n"
    "Exit status: 0 added; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
    "a bad secrets file, a symbolic link of another user at FILE, the UUID is already\n"
    "there, or the --out file exists.\n"};

int secrets_add(int argc, char** argv) {
  action_options options(add_usage.command, true);
  options.visible.add_options()
      ("step", po::value<unsigned>()->value_name("SECONDS")->default_value(default_step),
       "TOTP time step, 1..3600")
      ("digits", po::value<unsigned>()->value_name("N")->default_value(default_digits), "token digits, 6..8");
  add_new_secret_options(options.visible);
  po::variables_map vm;
  const auto file = parse_action(argc, argv, options, add_usage, vm);
  if (!file) return rv::exit_code::ok;
  const unsigned step = vm["step"].as<unsigned>();
  const unsigned digits = vm["digits"].as<unsigned>();
  if (step < 1 || step > 3600) throw rv::config_error("--step must be in 1..3600 seconds");
  if (digits < 6 || digits > 8) throw rv::config_error("--digits must be 6, 7 or 8");
  const std::string issuer = vm["issuer"].as<std::string>();
  check_issuer(issuer);  // before the file changes
  const std::string uuid = vm.count("uuid") ? uuid_argument(vm, add_usage.command) : new_uuid();
  std::optional<identity_file> out;
  prepare_out(vm, *file, out);
  const std::string secret = new_secret(vm.count("seed-compatible") > 0);

  edit_secrets_file(*file, false, [&](const std::string& current) {
    auto table = rv::parse_secrets(current, file->string());
    if (table.count(uuid))
      throw rv::config_error(uuid + " is already in " + file->string() +
                             " (for a new secret: rvserver secrets rotate " + uuid + " --secrets " +
                             file->string() + ")");
    return append_line(current, format_secret_line(uuid, secret, step, digits));
  });
  hand_over_identity(uuid, secret, step, digits, issuer, out);
  return report_edit("added " + uuid + " to " + file->string());
}

constexpr usage_text list_usage{
    "secrets list",
    "  rvserver secrets list --secrets FILE\n"
    "\n"
    "Lists the UUIDs of FILE in file order, one per line, with their time step and digits:\n"
    "  UUID step=30 digits=6\n"
    "Never the secrets.\n",
    "Exit status: 0 listed (even none); 2 bad usage or a bad secrets file.\n"};

int secrets_list(int argc, char** argv) {
  action_options options(list_usage.command, false);
  po::variables_map vm;
  const auto file = parse_action(argc, argv, options, list_usage, vm);
  if (!file) return rv::exit_code::ok;
  // No lock: rename-based writers never leave a partial file behind. Any owner, as for the
  // edits: root may list the service user's file.
  const auto content = rv::read_secrets_file(*file, rv::secrets_owner::any);
  const auto table = rv::parse_secrets(content, file->string());
  for (const auto& uuid : uuids_in_order(content)) {
    const auto& entry = table.find(uuid)->second;  // parse_secrets accepted every line
    std::cout << uuid << " step=" << entry.params.step << " digits=" << entry.params.digits << "\n";
  }
  if (table.empty()) std::cerr << "no UUIDs in " << file->string() << "\n";
  return rv::exit_code::ok;
}

constexpr usage_text remove_usage{
    "secrets remove",
    "  rvserver secrets remove UUID --secrets FILE\n"
    "\n"
    "Removes the UUID's line from FILE; other lines and comments stay as they were.\n",
    "A running rvserver forgets the UUID on SIGHUP.\n"
    "\n"
    "Exit status: 0 removed; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
    "a bad secrets file, a symbolic link of another user at FILE, or the UUID is not in it.\n"};

int secrets_remove(int argc, char** argv) {
  action_options options(remove_usage.command, true);
  po::variables_map vm;
  const auto file = parse_action(argc, argv, options, remove_usage, vm);
  if (!file) return rv::exit_code::ok;
  const std::string uuid = uuid_argument(vm, remove_usage.command);
  edit_secrets_file(*file, true, [&](const std::string& current) {
    auto updated = remove_uuid_line(current, uuid);
    if (!updated) throw rv::config_error(uuid + " is not in " + file->string());
    return *updated;
  });
  return report_edit("removed " + uuid + " from " + file->string());
}

constexpr usage_text rotate_usage{
    "secrets rotate",
    "  rvserver secrets rotate UUID --secrets FILE [--seed-compatible] [--issuer NAME]\n"
    "                       [--out FILE [--force]]\n"
    "\n"
    "Gives the UUID a new random secret in FILE (same step and digits; the rest of its line\n"
    "is kept) and hands over the hidden machine's new secrets file, as 'secrets add' does:\n"
    "on stdout, or in the file that --out names.\n",
    "The old secret stops working once a running rvserver gets SIGHUP: give the hidden\n"
    "machine its new line first, or expect it to be refused (401) until it has it.\n"
    "\n"
    "Exit status: 0 rotated; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
    "a bad secrets file, a symbolic link of another user at FILE, the UUID is not in it,\n"
    "or the --out file exists.\n"};

int secrets_rotate(int argc, char** argv) {
  action_options options(rotate_usage.command, true);
  add_new_secret_options(options.visible);
  po::variables_map vm;
  const auto file = parse_action(argc, argv, options, rotate_usage, vm);
  if (!file) return rv::exit_code::ok;
  const std::string uuid = uuid_argument(vm, rotate_usage.command);
  const std::string issuer = vm["issuer"].as<std::string>();
  check_issuer(issuer);  // before the file changes
  std::optional<identity_file> out;
  prepare_out(vm, *file, out);
  const std::string secret = new_secret(vm.count("seed-compatible") > 0);
  unsigned step = default_step, digits = default_digits;
  edit_secrets_file(*file, true, [&](const std::string& current) {
    auto table = rv::parse_secrets(current, file->string());
    auto it = table.find(uuid);
    auto updated = replace_uuid_secret(current, uuid, secret);
    if (it == table.end() || !updated) throw rv::config_error(uuid + " is not in " + file->string());
    step = it->second.params.step;
    digits = it->second.params.digits;
    return *updated;
  });
  hand_over_identity(uuid, secret, step, digits, issuer, out);
  return report_edit("new secret for " + uuid + " in " + file->string());
}

}  // namespace

int run_secrets_command(int argc, char** argv) {
  // argv[0] is "secrets".
  std::string_view action = argc > 1 ? argv[1] : "";
  if (action == "add") return secrets_add(argc - 1, argv + 1);
  if (action == "list") return secrets_list(argc - 1, argv + 1);
  if (action == "remove") return secrets_remove(argc - 1, argv + 1);
  if (action == "rotate") return secrets_rotate(argc - 1, argv + 1);
  if (action == "--help" || action == "-h" || action == "help") {
    std::cout << "Usage:\n" << secrets_synopsis;
    return rv::exit_code::ok;
  }
  if (action.empty())
    throw rv::config_error("'rvserver secrets' needs an action: add, list, remove or rotate (try 'rvserver secrets --help')");
  throw rv::config_error("unknown secrets action '" + std::string(action) +
                         "': expected add, list, remove or rotate (try 'rvserver secrets --help')");
}

}  // namespace rvserver
