// What rvhidden's slots present when they register, and what the answers mean
// (see registration_plan.hpp).
#include "rvhidden/registration_plan.hpp"

#include <algorithm>

#include "rv/printable.hpp"
#include "rv/protocol.hpp"

namespace rvhidden {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A field holding a number of seconds (Max-Age, Retry-After), at most `cap`:
// the server's number is added to a clock, and a big one would overflow it
// (undefined behaviour), so larger numbers, however many digits, count as
// `cap`. 0 when the field is absent or not all digits.
long seconds_field(const rv::response_head& answer, std::string_view name, long cap) {
  const std::string* value = answer.find(name);
  if (!value || value->empty()) return 0;
  long secs = 0;
  for (const char c : *value) {
    if (c < '0' || c > '9') return 0;
    secs = std::min(cap, secs * 10 + (c - '0'));
  }
  return secs;
}

// A pool credential is kept at most a day, whatever Max-Age says: ours live
// minutes, and a server that no longer takes one answers 401, after which the
// next registration sends a code.
constexpr long max_credential_age = 24 * 3600;

// Retry-After in seconds (RFC 9110 §10.2.3; we never send the date form), at most an hour.
milliseconds retry_after_of(const rv::response_head& answer) {
  return milliseconds(std::clamp<long>(seconds_field(answer, "Retry-After", 3600), 1, 3600) * 1000);
}

}  // namespace

registration_plan::registration_plan(std::string uuid, rv::totp_params secret, unsigned pool,
                                     std::chrono::seconds connect_timeout, std::string server)
    : uuid_(std::move(uuid)),
      secret_(std::move(secret)),
      connect_timeout_(connect_timeout),
      server_(std::move(server)),
      pool_size_(pool),
      slots_running_(pool) {}

registration_auth registration_plan::next_auth(steady_time waiting_since, steady_time now, std::int64_t unix_now) {
  using kind = registration_auth::kind;
  if (!credential_.empty() && now < credential_until_) return {kind::credential, credential_, {}};
  const std::uint64_t step = rv::totp_counter(secret_, unix_now);
  // Bounded: a code step (30 s by default) plus the registration in flight.
  const auto give_up = waiting_since + seconds(secret_.step) + connect_timeout_ * 2;
  if (credentials_ == credential_support::none || now > give_up) return {kind::code, {}, rv::totp(secret_, unix_now)};
  const bool reused = step == last_code_step_;
  if (!code_in_flight_ && (!reused || reused_codes_ok_)) {
    code_in_flight_ = true;
    last_code_step_ = step;
    return {kind::code, {}, rv::totp(secret_, unix_now), true, reused};
  }
  return {};
}

void registration_plan::end_turn(const registration_auth& auth) {
  if (auth.code_turn) code_in_flight_ = false;
}

// Remembers a credential from a 200, with a margin so that it is not
// presented in its last seconds.
void registration_plan::keep_credential(const rv::response_head& answer, steady_time now) {
  const std::string* credential = answer.find(rv::credential_field);
  const long seconds_left = seconds_field(answer, rv::credential_age_field, max_credential_age);
  if (!credential || credential->empty() || seconds_left <= 0) return;
  credential_ = *credential;
  credential_until_ = now + seconds(seconds_left) - std::min(seconds(seconds_left / 4), seconds(60));
}

answer_outcome registration_plan::on_answer(const registration_auth& auth, const rv::response_head& answer,
                                            unsigned slot, steady_time now) {
  using rv::log::level;
  if (answer.status == 401 && !auth.credential.empty()) {
    if (credential_ == auth.credential) credential_.clear();
    return {registration_result::stale_credential, false,
            {{level::debug,
              "uuid=" + uuid_ + " the server no longer takes our pool credential; registering with a code"}}};
  }
  if (answer.status == 401 && auth.reused) {
    reused_codes_ok_ = false;
    return {registration_result::stale_credential, false,
            {failure("the server refused uuid=" + uuid_ + " (401) with a code this machine had sent before: "
                     "it refuses reused codes (--token-reuse never) or the secret changed; trying the next code")}};
  }
  if (answer.status == 429) {
    retry_after_ = retry_after_of(answer);
    return {registration_result::throttled, false,
            {failure("the server is throttling uuid=" + uuid_ + " or this address (429: too many failed tokens " +
                     "or tunnels); waiting " + std::to_string(retry_after_.count() / 1000) + " s")}};
  }
  if (answer.status == 401)
    return {registration_result::unauthorized, false,
            {failure("the server refused uuid=" + uuid_ +
                     " (401): the secret does not match the server's, or this clock is off "
                     "(TOTP needs it within 30 s); check the secrets file and NTP")}};
  if (answer.status != 200)
    return {registration_result::failed, false,
            {failure("the server answered " + std::to_string(answer.status) + " " + rv::printable(answer.reason) +
                     " to the registration of uuid=" + uuid_)}};

  answer_outcome parked{registration_result::parked, false, {}};
  if (!auth.code.empty()) {
    const bool issued = answer.find(rv::credential_field) != nullptr;
    credentials_ = issued ? credential_support::issued : credential_support::none;
  }
  keep_credential(answer, now);
  const std::string* notify = answer.find(rv::notify_field);
  parked.notices = notify && *notify == "1";
  if (!last_failure_.empty()) {
    parked.log.push_back({level::warn, "registered at " + server_ + " again; uuid=" + uuid_});
    last_failure_.clear();
  }
  newest_slot_ = slot;
  // Known now, not only once a parked connection is evicted: the slots still
  // waiting to register then stop instead of evicting this one.
  if (!parked.notices)
    if (auto line = use_one_slot("the server offers no arrival notices")) parked.log.push_back(std::move(*line));
  parked.log.push_back({level::info, "parked uuid=" + uuid_ + " slot=" + std::to_string(slot) + " server=" + server_ +
                                         (parked.notices ? "" : " (seed server: no notices)")});
  return parked;
}

log_line registration_plan::failure(const std::string& what) {
  if (what == last_failure_) return {rv::log::level::debug, what};
  last_failure_ = what;
  return {rv::log::level::warn, what};
}

std::optional<log_line> registration_plan::use_one_slot(std::string_view why) {
  if (pool_size_ == 1) return std::nullopt;
  pool_size_ = 1;
  return log_line{rv::log::level::info, "uuid=" + uuid_ + " " + std::string(why) +
                                            ": a seed-protocol server, which keeps one parked connection per UUID; "
                                            "using a pool of 1"};
}

}  // namespace rvhidden
