// Who may register a UUID, across connections: the failed-token throttles
// (per source address and per UUID), the replay rule for TOTP codes, and the
// pool credential extension. No I/O; the caller passes both clocks.
//
// The per-UUID throttle stops a guesser who spreads over many addresses, but
// it must not lock the real hidden server out: addresses that registered the
// UUID successfully in the last day are exempt from it and from their IPv6
// /48's throttle (never from their own per-source throttle), and a success
// forgives none of the failures (they were guesses all the same). A valid pool credential passes before any
// throttle: it proves a code registration already, and a neighbour's
// failures at the same address must not hold back a pool's refills. Unknown
// UUIDs are throttled like known ones and checked against a decoy secret at
// the same cost, so neither a 429 nor the time taken says whether a UUID
// exists.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rvserver/pool_credential.hpp"
#include "rvserver/replay.hpp"
#include "rv/totp.hpp"
#include "rvserver/throttle.hpp"

namespace rvserver {

struct gate_settings {
  throttle_policy per_source{};
  throttle_policy per_block{.free_failures = 5 * block_share};  // IPv6 /48s (block_key)
  throttle_policy per_uuid{.free_failures = 20, .first_delay = milliseconds(1000), .max_delay = milliseconds(60000)};
  reuse_policy reuse = reuse_policy::same_source;
  std::chrono::seconds credential_lifetime{600};
  std::chrono::seconds credential_chain{86400};  // credentials renew for this long after a code
};

struct registration_attempt {
  std::string_view uuid;
  const rv::totp_params* secret = nullptr;  // null: the UUID is unknown
  std::string_view token;                   // a TOTP code, or
  std::string_view credential;              // a pool credential (when not empty)
  std::string source;                       // source_key() of the peer
  std::string block;                        // block_key() of the peer (empty for IPv4)
};

enum class verdict {
  accepted,
  throttled,           // too many failures: answer 429 with retry_after
  refused,             // unknown UUID or wrong code (one answer for both)
  replayed,            // a right code that was used before (replay.hpp)
  credential_refused,  // a pool credential that is expired, forged or from before a restart
};

struct gate_result {
  verdict what;
  milliseconds retry_after{0};      // throttled
  std::int64_t chain_began = 0;     // accepted: when its credential chain began (a code: now)
};

class registration_gate {
 public:
  explicit registration_gate(const gate_settings& s)
      : by_source_(s.per_source),
        by_block_(s.per_block),
        by_uuid_(s.per_uuid),
        used_(s.reuse),
        credentials_(s.credential_lifetime, s.credential_chain) {}

  gate_result check(const registration_attempt& a, clock_time now, std::int64_t unix_now);

  // The two checks that need no memory, for a gate whose tables live
  // elsewhere (shared_gate): the start of the chain of a valid credential
  // for a known UUID; the TOTP step of a right code for a known UUID (an
  // unknown UUID's code is checked against a decoy, so both cost the same).
  std::optional<std::int64_t> valid_credential(const registration_attempt& a, std::int64_t unix_now) const;
  std::optional<std::uint64_t> matching_code(const registration_attempt& a, std::int64_t unix_now) const;

  // An address that registered a UUID lately is exempt from the UUID's
  // throttles for this long; a UUID keeps this many such addresses.
  static constexpr std::chrono::hours trust_for{24};
  static constexpr std::size_t trusted_per_uuid = 8;

  // A credential for an accepted registration (`began`: its result's
  // chain_began), and how long it lives (0: issue none, the chain is over or
  // credentials are off).
  std::string issue_credential(std::string_view uuid, const rv::totp_params& secret, std::int64_t unix_now,
                               std::int64_t began) const {
    return credentials_.issue(uuid, secret, unix_now, began);
  }
  std::chrono::seconds credential_max_age(std::int64_t unix_now, std::int64_t began) const {
    return credentials_.max_age(unix_now, began);
  }

  // --pool-credential-key-file: the first key issues, every key verifies.
  void set_credential_keys(std::vector<credential_key> keys) { credentials_.set_keys(std::move(keys)); }

  // The UUID's secret was rotated or removed: forget its used codes and trusted addresses.
  void forget(const std::string& uuid);

 private:
  bool trusted(const std::string& uuid, const std::string& source, clock_time now) const;
  void trust(const std::string& uuid, const std::string& source, clock_time now);
  void failed(const registration_attempt& a, clock_time now);

  failure_throttle by_source_;
  failure_throttle by_block_;
  failure_throttle by_uuid_;
  used_codes used_;
  pool_credentials credentials_;
  // Per UUID, the addresses that registered it lately, newest last (a few).
  std::map<std::string, std::vector<std::pair<std::string, clock_time>>, std::less<>> trusted_;
};

}  // namespace rvserver
