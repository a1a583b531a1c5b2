// What rvhidden's slots present when they register, and what the answers mean
// (see registration_plan.hpp).
#include "rvhidden/registration_plan.hpp"

#include <algorithm>

#include "rv/printable.hpp"
#include "rv/answers.hpp"

namespace rvhidden {
using std::chrono::seconds;

namespace {
// An answer that parks nothing, and its one line.
answer_outcome outcome(registration_result what, log_line line) {
  answer_outcome o;
  o.what = what;
  o.log.push_back(std::move(line));
  return o;
}
}  // namespace

service_plan::service_plan(std::string uuid, rv::totp_params secret, std::chrono::seconds connect_timeout)
    : uuid_(std::move(uuid)), secret_(std::move(secret)), connect_timeout_(connect_timeout) {}

std::optional<std::string> service_plan::claim_node_id(unsigned node, const std::string& label,
                                                       const std::string& id) {
  // A node that answers another ID now (it restarted under a new name) lets go of its old one.
  for (auto it = node_ids_.begin(); it != node_ids_.end();)
    if (it->second.node == node && it->first != id) {
      it = node_ids_.erase(it);
    } else {
      ++it;
    }
  auto [it, fresh] = node_ids_.try_emplace(id, holder{node, label});
  if (fresh || it->second.node == node) return std::nullopt;
  return it->second.label;
}

void service_plan::release_node_ids(unsigned node) {
  std::erase_if(node_ids_, [node](const auto& entry) { return entry.second.node == node; });
}

registration_plan::registration_plan(service_plan& service, unsigned pool, std::string server)
    : service_(service),
      node_(service.next_node_++),
      server_(std::move(server)),
      pool_size_(pool),
      slots_running_(pool) {}

registration_plan::~registration_plan() { service_.release_node_ids(node_); }

void registration_plan::forget_node_id() {
  service_.release_node_ids(node_);
  node_id_.reset();
}

registration_auth registration_plan::next_auth(steady_time waiting_since, steady_time now, std::int64_t unix_now) {
  using kind = registration_auth::kind;
  auto& sv = service_;
  // Never a credential to a seed server: it would take it for a client.
  if (credentials_ != credential_support::none) {
    if (own_) {
      if (!credential_.empty() && now < credential_until_) return {kind::credential, credential_, {}, false, false, false, node_};
    } else if (sv.has_credential(now)) {
      return {kind::credential, sv.credential_, {}, false, false, true, sv.credential_from_};
    }
  }
  const std::uint64_t step = rv::totp_counter(sv.secret_, unix_now);
  // Bounded: a code step (30 s by default) plus the registration in flight.
  const auto give_up = waiting_since + seconds(sv.secret_.step) + sv.connect_timeout_ * 2;
  if (credentials_ == credential_support::none || now > give_up)
    return {kind::code, {}, rv::totp(sv.secret_, unix_now)};
  const bool reused = step == sv.last_code_step_;
  if (!sv.code_in_flight_ && (!reused || sv.reused_codes_ok_)) {
    sv.code_in_flight_ = true;
    sv.last_code_step_ = step;
    return {kind::code, {}, rv::totp(sv.secret_, unix_now), true, reused};
  }
  return {};
}

void registration_plan::end_turn(const registration_auth& auth) {
  if (auth.code_turn) service_.code_in_flight_ = false;
}

// Remembers a credential from a 200, with a margin so that it is not
// presented in its last seconds: as this node's own once it refused the
// shared one, else as the service's, for every node that shares this one's key.
void registration_plan::keep_credential(const rv::registration_answer& answer, steady_time now) {
  const seconds left = answer.credential_max_age;
  if (!answer.credential || answer.credential->empty() || left.count() <= 0) return;
  const auto until = now + left - std::min(left / 4, seconds(60));
  if (own_) {
    credential_ = *answer.credential;
    credential_until_ = until;
    return;
  }
  service_.credential_ = *answer.credential;
  service_.credential_until_ = until;
  service_.credential_from_ = node_;
}

answer_outcome registration_plan::on_answer(const registration_auth& auth, const rv::response_head& answer,
                                            unsigned slot, steady_time now) {
  using rv::log::level;
  const auto& uuid = service_.uuid_;
  const bool with_credential = !auth.credential.empty();
  if (with_credential && credentials_ == credential_support::unknown &&
      (answer.status == 404 || (answer.status == 200 && !rv::read_registration_answer(answer).notify))) {
    // A seed server knows no credentials: a registration without a code is a
    // client to it, answered 404 or paired with someone's parked connection.
    credentials_ = credential_support::none;
    return outcome(registration_result::stale_credential, {level::info, "uuid=" + uuid + " the server" + at() + " answered a pool credential as a seed server " +
                               "answers a client (" + std::to_string(answer.status) +
                               "): registering there with a code"});
  }
  if (answer.status == 401 && with_credential) {
    if (auth.shared && auth.from != node_) {
      // Handed out by another node: this one does not share its key (or
      // restarted with another). The others may well take it still.
      own_ = true;
      return outcome(registration_result::stale_credential, {level::info, "uuid=" + uuid + " the server" + at() +
                                 " refused the pool credential another node issued (the nodes do not share a "
                                 "credential key, or this one restarted): it gets a code and then a credential of "
                                 "its own"});
    }
    if (auth.shared) {
      if (service_.credential_ == auth.credential) service_.credential_.clear();
    } else if (credential_ == auth.credential) {
      credential_.clear();
    }
    return outcome(registration_result::stale_credential, {level::debug, "uuid=" + uuid + " the server" + at() +
                                " no longer takes our pool credential; registering with a code"});
  }
  if (answer.status == 401 && auth.reused) {
    service_.reused_codes_ok_ = false;
    return outcome(registration_result::stale_credential, failure("the server" + at() + " refused uuid=" + uuid +
                     " (401) with a code this machine had sent before: it refuses reused codes (--token-reuse "
                     "never) or the secret changed; trying the next code"));
  }
  if (answer.status == 429) {
    retry_after_ = rv::read_retry_after(answer);
    return outcome(registration_result::throttled, failure("the server" + at() + " is throttling uuid=" + uuid +
                     " or this address (429: too many failed tokens or tunnels); waiting " +
                     std::to_string(retry_after_.count() / 1000) + " s"));
  }
  if (answer.status == 503) {
    // A node of a cluster that cannot reach the memory the nodes share
    // (docs/PROTOCOL.md §4.5): the other nodes may well take the code.
    retry_after_ = rv::read_retry_after(answer);
    return outcome(registration_result::throttled, failure("the server" + at() + " cannot check a code for uuid=" +
                     uuid + " now (503: a cluster node without its shared memory); waiting " +
                     std::to_string(retry_after_.count() / 1000) + " s"));
  }
  if (answer.status == 401)
    return outcome(registration_result::unauthorized, failure("the server" + at() + " refused uuid=" + uuid +
                     " (401): the secret does not match the server's, or this clock is off "
                     "(TOTP needs it within 30 s); check the secrets file and NTP"));
  if (answer.status != 200)
    return outcome(registration_result::failed, failure("the server" + at() + " answered " + std::to_string(answer.status) + " " +
                     rv::printable(answer.reason) + " to the registration of uuid=" + uuid));

  answer_outcome parked;
  parked.what = registration_result::parked;
  const auto what = rv::read_registration_answer(answer);
  if (!auth.code.empty()) {
    credentials_ = what.credential ? credential_support::issued : credential_support::none;
  } else if (credentials_ == credential_support::unknown) {
    credentials_ = credential_support::issued;  // it took one: it knows them
  }
  keep_credential(what, now);
  parked.notices = what.notify;
  if (!last_failure_.empty()) {
    parked.log.push_back({level::warn, "registered at " + server_ + " again; uuid=" + uuid});
    last_failure_.clear();
  }
  newest_slot_ = slot;
  if (what.node) {
    node_id_ = what.node;
    parked.same_node_as = service_.claim_node_id(node_, server_, *what.node);
    if (parked.same_node_as) {
      parked.log.push_back({level::info, "uuid=" + uuid + " the server" + at() + " is node " + *what.node +
                                             ", where this service parks already through " + *parked.same_node_as +
                                             ": not parking there twice (checked again every --resolve-interval)"});
      return parked;
    }
  }
  // Known now, not only once a parked connection is evicted: the slots still
  // waiting to register then stop instead of evicting this one.
  if (!parked.notices)
    if (auto line = use_one_slot("the server" + at() + " offers no arrival notices"))
      parked.log.push_back(std::move(*line));
  std::string node;
  if (what.node) node = " node=" + *what.node;
  parked.log.push_back({level::info, "parked uuid=" + uuid + " slot=" + std::to_string(slot) + " server=" + server_ +
                                         node + (parked.notices ? "" : " (seed server: no notices)")});
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
  return log_line{rv::log::level::info, "uuid=" + service_.uuid_ + " " + std::string(why) +
                                            ": a seed-protocol server, which keeps one parked connection per UUID; "
                                            "using a pool of 1"};
}

}  // namespace rvhidden
