// Replay protection for TOTP codes (RFC 6238 §5.2: a code that was accepted
// must not be accepted again). No I/O.
//
// Seed-protocol hidden servers fill their pool by registering again with the
// current code, which within one 30 s step is the same code. The default,
// `same_source`, lets a code be used again only from the address that used it
// first, so a code seen elsewhere (a log, a screen) is worthless to anyone
// else; `never` is the RFC's rule and needs hidden servers that use the pool
// credential extension (rvhidden does) or register at most once per step.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rvserver {

enum class reuse_policy { same_source, never };

class used_codes {
 public:
  explicit used_codes(reuse_policy p) : policy_(p) {}

  // True when `counter`'s code may be accepted for `uuid` from `source`, and
  // records its use. `now_counter` is the current step, so that steps too old
  // to verify any more are forgotten (the table stays at a few entries per UUID).
  bool use(const std::string& uuid, std::uint64_t counter, std::uint64_t now_counter, const std::string& source);

  // A UUID's secret was removed or rotated: its old codes mean nothing now.
  void forget(const std::string& uuid) { used_.erase(uuid); }

 private:
  struct use_of {
    std::uint64_t counter;
    std::string first_source;
  };
  reuse_policy policy_;
  std::map<std::string, std::vector<use_of>, std::less<>> used_;
};

}  // namespace rvserver
