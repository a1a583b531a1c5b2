// The order of the registration checks (see registration_gate.hpp).
#include "rvserver/registration_gate.hpp"

#include <algorithm>

namespace rvserver {
namespace {

const rv::totp_params& decoy_secret() {
  // Unknown UUIDs are checked against this, so that both failures cost the same.
  static const rv::totp_params decoy{std::vector<std::uint8_t>(20, 0x5a), 30, 6};
  return decoy;
}

}  // namespace

std::optional<std::int64_t> registration_gate::valid_credential(const registration_attempt& a,
                                                                std::int64_t unix_now) const {
  const auto& secret = a.secret ? *a.secret : decoy_secret();
  auto began = credentials_.verify(a.uuid, secret, a.credential, unix_now);
  if (!a.secret) return std::nullopt;
  return began;
}

std::optional<std::uint64_t> registration_gate::matching_code(const registration_attempt& a,
                                                              std::int64_t unix_now) const {
  const auto& secret = a.secret ? *a.secret : decoy_secret();
  auto counter = rv::totp_match(secret, a.token, unix_now);
  if (!a.secret) return std::nullopt;
  return counter;
}

gate_result registration_gate::check(const registration_attempt& a, clock_time now, std::int64_t unix_now) {
  const std::string uuid(a.uuid);
  if (!a.credential.empty()) {
    // A credential is a 256-bit MAC, not something to guess, and every pool
    // slot of a hidden server may present a stale one after a restart: a
    // refusal is not counted as a failed token.
    if (auto began = valid_credential(a, unix_now)) {
      trust(uuid, a.source, now);
      return {verdict::accepted, milliseconds(0), *began};
    }
  }
  auto wait = by_source_.retry_after(a.source, now);
  if (wait.count() == 0 && !trusted(uuid, a.source, now)) {
    if (!a.block.empty()) wait = by_block_.retry_after(a.block, now);
    if (wait.count() == 0) wait = by_uuid_.retry_after(uuid, now);
  }
  if (wait.count() > 0) return {verdict::throttled, wait};
  if (!a.credential.empty()) return {verdict::credential_refused};

  auto counter = matching_code(a, unix_now);
  if (!counter) {
    failed(a, now);
    return {verdict::refused};
  }
  if (!used_.use(uuid, *counter, rv::totp_counter(*a.secret, unix_now), a.source)) return {verdict::replayed};
  trust(uuid, a.source, now);
  return {verdict::accepted, milliseconds(0), unix_now};
}

void registration_gate::failed(const registration_attempt& a, clock_time now) {
  by_source_.failed(a.source, now);
  if (!a.block.empty()) by_block_.failed(a.block, now);
  by_uuid_.failed(std::string(a.uuid), now);
}

bool registration_gate::trusted(const std::string& uuid, const std::string& source, clock_time now) const {
  auto it = trusted_.find(uuid);
  if (it == trusted_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const auto& t) { return t.first == source && now - t.second < trust_for; });
}

void registration_gate::trust(const std::string& uuid, const std::string& source, clock_time now) {
  auto& list = trusted_[uuid];
  std::erase_if(list, [&](const auto& t) { return t.first == source; });
  if (list.size() >= trusted_per_uuid) list.erase(list.begin());
  list.emplace_back(source, now);
}

void registration_gate::forget(const std::string& uuid) {
  used_.forget(uuid);
  trusted_.erase(uuid);
}

}  // namespace rvserver
