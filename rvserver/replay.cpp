// Which TOTP codes have been used, per UUID (see replay.hpp).
#include "rvserver/replay.hpp"

#include <algorithm>

namespace rvserver {

bool used_codes::use(const std::string& uuid, std::uint64_t counter, std::uint64_t now_counter,
                     const std::string& source) {
  auto& uses = used_[uuid];
  // A code verifies for one step either side of now (totp_match), so a use
  // two steps back can never be presented successfully again.
  std::erase_if(uses, [&](const use_of& u) { return u.counter + 2 <= now_counter; });
  auto it = std::find_if(uses.begin(), uses.end(), [&](const use_of& u) { return u.counter == counter; });
  if (it == uses.end()) {
    uses.push_back({counter, source});
    return true;
  }
  return policy_ == reuse_policy::same_source && it->first_source == source;
}

}  // namespace rvserver
