// How one service's pool slots register, without I/O: what a slot presents
// (the pool credential, a TOTP code, or nothing yet: it waits for the
// credential another slot's code brings), what each answer means for the
// slot, and how many slots the server leaves room for (one, on a seed server).
// The hidden server's mirror of rvserver's registration_gate. The caller
// passes both clocks, does the reading and writing, and logs the lines the
// plan hands back; the plan decides their words and levels.
//
// A service may park at several nodes (rvservers serving as one, or several
// addresses of one name). Two parts, then:
// - service_plan, one per service: the one turn to send a code, the codes
//   sent, the pool credential shared by every node, and which node IDs the
//   service parks at.
// - registration_plan, one per (service, node): that node's slots, its seed
//   detection, its failures, and its own credential once it has refused the
//   shared one.
//
// One slot at a time, across every node of the service, sends a code; the
// others wait for the credential its answer brings, so that no code is sent
// twice (a server with --token-reuse never refuses a reused one, and then the
// plan stops reusing codes; nodes that share replay memory refuse a code
// another node took). Nodes that share their credential key take one
// another's credentials; a node that refuses the shared credential, which it
// did not hand out, keeps a credential of its own from then on. Against a
// server that issues no credentials (a seed server), every slot sends the
// current code, as the seed protocol does.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rv/answers.hpp"
#include "rv/head.hpp"
#include "rv/log.hpp"
#include "rv/totp.hpp"

namespace rvhidden {

using steady_time = std::chrono::steady_clock::time_point;

// Whether the server hands out pool credentials (docs/PROTOCOL.md §4.3);
// learned from the answer to a registration with a TOTP code.
enum class credential_support { unknown, issued, none };

// How a slot proves itself this time.
struct registration_auth {
  enum class kind { wait, credential, code };
  kind what = kind::wait;  // wait: ask again after poll_interval
  std::string credential;  // kind::credential
  std::string code;        // kind::code
  bool code_turn = false;  // this slot holds the one turn to send a code: end_turn() when its registration ends
  bool reused = false;     // the code was sent before (fine unless the server says otherwise)
  bool shared = false;     // kind::credential: the service's credential, not the node's own
  unsigned from = 0;       // kind::credential: the node whose answer brought it
};

// What the server's answer to a registration means for the slot that sent it.
enum class registration_result {
  parked,            // 200: wait parked for a client (unless same_node_as says otherwise)
  stale_credential,  // 401 to a credential, or to a code sent before: register again at once
  unauthorized,      // 401: the secret or the clock is wrong; back off long
  throttled,         // 429, or 503 from a cluster node: wait at least retry_after()
  failed,            // any other status: back off
};

// A line for the caller to log.
struct log_line {
  rv::log::level level;
  std::string text;
};

struct answer_outcome {
  registration_result what = registration_result::failed;
  bool notices = false;       // parked: arrival notices will come (else the first client byte is the arrival)
  std::vector<log_line> log;  // in order
  // parked, but at a node (by its Rendezvous-Node ID) this service already
  // parks at through the address named here: withdraw the connection and
  // drain this address. The log then holds the info line that says so.
  std::optional<std::string> same_node_as;
};

class registration_plan;

// The service-wide part: one per UUID, outliving its registration_plans.
class service_plan {
 public:
  service_plan(std::string uuid, rv::totp_params secret, std::chrono::seconds connect_timeout);
  service_plan(const service_plan&) = delete;
  service_plan& operator=(const service_plan&) = delete;

  const std::string& uuid() const { return uuid_; }
  // Whether a fresh shared credential is held (tests and logs).
  bool has_credential(steady_time now) const { return !credential_.empty() && now < credential_until_; }

 private:
  friend class registration_plan;
  // The address (label) of the node that already holds `id`, when another
  // node than `node` does; else `node` holds it from now on.
  std::optional<std::string> claim_node_id(unsigned node, const std::string& label, const std::string& id);
  void release_node_ids(unsigned node);

  std::string uuid_;
  rv::totp_params secret_;
  std::chrono::seconds connect_timeout_;
  unsigned next_node_ = 0;

  std::string credential_;  // the shared credential: every node that shares the issuing node's key takes it
  steady_time credential_until_{};
  unsigned credential_from_ = 0;                 // the node whose answer brought it
  bool code_in_flight_ = false;                  // a slot of some node holds the turn to send a code
  std::optional<std::uint64_t> last_code_step_;  // the TOTP step of the last code sent, at any node
  bool reused_codes_ok_ = true;                  // false once a server refused a code we had sent before

  struct holder {
    unsigned node;
    std::string label;
  };
  std::map<std::string, holder> node_ids_;  // Rendezvous-Node ID -> the node that parks there first
};

// One service at one node.
class registration_plan {
 public:
  // How long a slot that got kind::wait waits before it asks again.
  static constexpr std::chrono::milliseconds poll_interval{100};

  // `server` names the node in log lines ("127.0.0.2:8899"). `service`
  // (connect_timeout bounds a registration, and so how long a slot waits for
  // another's) must outlive the plan.
  registration_plan(service_plan& service, unsigned pool, std::string server);
  ~registration_plan();
  registration_plan(const registration_plan&) = delete;
  registration_plan& operator=(const registration_plan&) = delete;

  // The node's own credential while it has one and it is fresh, else the
  // shared one while it is fresh (never to a seed server); else a code, with
  // the service's turn when no slot of any node holds it (and the code is new
  // this step, or the servers take reused ones); else wait. A slot that has
  // waited (since `waiting_since`) for a step and two connect timeouts, and
  // every slot against a server without credentials, gets the current code
  // without the turn.
  registration_auth next_auth(steady_time waiting_since, steady_time now, std::int64_t unix_now);
  // The registration `auth` was used for has ended, however it ended: gives
  // back the turn when it held it.
  void end_turn(const registration_auth& auth);

  // What `answer` to a registration with `auth`, sent by `slot`, means. A 200
  // remembers its credential (kept until min(Max-Age/4, 60 s) before Max-Age,
  // Max-Age counted as at most a day): the node's own once it has one, else
  // as the service's; whether the server issues credentials (answers to
  // codes only) and that `slot` registered last; one without notices makes
  // the pool one slot; its node ID is claimed for this node, or names the
  // address that already holds it (same_node_as). A 401 to the shared
  // credential that another node handed out makes this node keep its own
  // from now on; to one this node handed out, or to its own, forgets it when
  // it is still the one held. A 401 to a reused code stops code reuse. A 429
  // keeps its Retry-After (1 s .. 1 h). An answer that only a seed server
  // gives a client (a 404, or a 200 without notices) to a credential at a
  // node not known yet makes it a seed node: register there with a code.
  answer_outcome on_answer(const registration_auth& auth, const rv::response_head& answer, unsigned slot,
                           steady_time now);

  // A failure to log: a warning the first time, at debug while the same one
  // repeats (every slot of this node meets it), so a node that is down is
  // one line, and another node's failures do not hide it.
  log_line failure(const std::string& what);

  // A seed server keeps one parked connection per UUID, the newest
  // (docs/PROTOCOL.md §10.1), so a pool there is one slot: another slot's registration would
  // evict the parked one, whose slot would then register and evict it back.
  // The line to log when the pool shrinks now, `why` saying what showed it.
  std::optional<log_line> use_one_slot(std::string_view why);
  // Whether `slot` should stop rather than register (again): more slots run
  // than the pool holds, and another slot's registration is the newest, the
  // one a seed server keeps. Its connection may be parked, or taken by a
  // client and being replaced: either way a registration from this slot
  // would evict it.
  bool surplus(unsigned slot) const { return slots_running_ > pool_size_ && newest_slot_ != slot; }
  void slot_stopped() { --slots_running_; }
  // A stopped slot runs again (its node's address came back, or is checked again).
  void slot_restarted() { ++slots_running_; }
  // The node is drained: another address may claim its node ID now.
  void forget_node_id();

  unsigned node() const { return node_; }
  const std::string& server() const { return server_; }
  unsigned pool_size() const { return pool_size_; }
  credential_support credentials() const { return credentials_; }
  bool own_credential() const { return own_; }  // refused the shared credential: keeps one of its own
  const std::optional<std::string>& node_id() const { return node_id_; }
  std::chrono::milliseconds retry_after() const { return retry_after_; }  // from the last 429

 private:
  void keep_credential(const rv::registration_answer& answer, steady_time now);
  std::string at() const { return " at " + server_; }

  service_plan& service_;
  unsigned node_;
  std::string server_;
  unsigned pool_size_;       // drops to 1 against a seed server
  unsigned slots_running_;   // slots still going: pool_size_ once surplus slots have stopped
  unsigned newest_slot_ = 0;  // whose registration was answered last: the one a seed server keeps
  std::string last_failure_;  // repeated failures are logged once, not per slot

  credential_support credentials_ = credential_support::unknown;
  bool own_ = false;         // this node refused the shared credential: it keeps its own
  std::string credential_;   // its own, when own_
  steady_time credential_until_{};
  std::optional<std::string> node_id_;  // the last Rendezvous-Node it answered
  std::chrono::milliseconds retry_after_{0};
};

}  // namespace rvhidden
