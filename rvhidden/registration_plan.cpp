// What rvhidden's slots present when they register, and what the answers mean
// (see registration_plan.hpp).
#include "rvhidden/registration_plan.hpp"

#include <algorithm>

#include "rv/printable.hpp"
#include "rv/answers.hpp"

namespace rvhidden {
using std::chrono::seconds;

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
void registration_plan::keep_credential(const rv::registration_answer& answer, steady_time now) {
  const seconds left = answer.credential_max_age;
  if (!answer.credential || answer.credential->empty() || left.count() <= 0) return;
  credential_ = *answer.credential;
  credential_until_ = now + left - std::min(left / 4, seconds(60));
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
    retry_after_ = rv::read_retry_after(answer);
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
  const auto what = rv::read_registration_answer(answer);
  if (!auth.code.empty()) credentials_ = what.credential ? credential_support::issued : credential_support::none;
  keep_credential(what, now);
  parked.notices = what.notify;
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
