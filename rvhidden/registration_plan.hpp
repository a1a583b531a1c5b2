// How one service's pool slots register, without I/O: what a slot presents
// (the pool credential, a TOTP code, or nothing yet: it waits for the
// credential another slot's code brings), what each answer means for the
// slot, and how many slots the server leaves room for (one, on a seed server).
// The hidden server's mirror of rvserver's registration_gate. The caller
// passes both clocks, does the reading and writing, and logs the lines the
// plan hands back; the plan decides their words and levels.
//
// One slot at a time sends a code; the others wait for the credential its
// answer brings, so that no code is sent twice (a server with --token-reuse
// never refuses a reused one, and then the plan stops reusing codes). Against
// a server that issues no credentials (a seed server), every slot sends the
// current code, as the seed protocol does.
#pragma once
#include <chrono>
#include <cstdint>
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
};

// What the server's answer to a registration means for the slot that sent it.
enum class registration_result {
  parked,            // 200: wait parked for a client
  stale_credential,  // 401 to a credential, or to a code sent before: register again at once
  unauthorized,      // 401: the secret or the clock is wrong; back off long
  throttled,         // 429: wait at least retry_after()
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
};

class registration_plan {
 public:
  // How long a slot that got kind::wait waits before it asks again.
  static constexpr std::chrono::milliseconds poll_interval{100};

  // `server` names the rendezvous server in log lines; `connect_timeout`
  // bounds a registration, and so how long a slot waits for another's.
  registration_plan(std::string uuid, rv::totp_params secret, unsigned pool, std::chrono::seconds connect_timeout,
                    std::string server);

  // The credential while it is fresh; else a code, with the turn when no
  // other slot holds it (and the code is new this step, or the server takes
  // reused ones); else wait. A slot that has waited (since `waiting_since`)
  // for a step and two connect timeouts, and every slot against a server
  // without credentials, gets the current code without the turn.
  registration_auth next_auth(steady_time waiting_since, steady_time now, std::int64_t unix_now);
  // The registration `auth` was used for has ended, however it ended: gives
  // back the turn when it held it.
  void end_turn(const registration_auth& auth);

  // What `answer` to a registration with `auth`, sent by `slot`, means. A 200
  // remembers its credential (kept until min(Max-Age/4, 60 s) before Max-Age,
  // Max-Age counted as at most a day), whether the server issues credentials
  // (answers to codes only) and that `slot` registered last; one without
  // notices makes the pool one slot. A 401 to a credential forgets it when it
  // is still the one held; one to a reused code stops code reuse. A 429
  // keeps its Retry-After (1 s .. 1 h).
  answer_outcome on_answer(const registration_auth& auth, const rv::response_head& answer, unsigned slot,
                           steady_time now);

  // A failure to log: a warning the first time, at debug while the same one
  // repeats (every slot meets it), so a server that is down is one line.
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

  unsigned pool_size() const { return pool_size_; }
  credential_support credentials() const { return credentials_; }
  std::chrono::milliseconds retry_after() const { return retry_after_; }  // from the last 429

 private:
  void keep_credential(const rv::registration_answer& answer, steady_time now);

  std::string uuid_;
  rv::totp_params secret_;
  std::chrono::seconds connect_timeout_;
  std::string server_;
  unsigned pool_size_;       // drops to 1 against a seed server
  unsigned slots_running_;   // slots still going: pool_size_ once surplus slots have stopped
  unsigned newest_slot_ = 0;  // whose registration was answered last: the one a seed server keeps
  std::string last_failure_;  // repeated failures are logged once, not per slot

  credential_support credentials_ = credential_support::unknown;
  std::string credential_;
  steady_time credential_until_{};
  bool code_in_flight_ = false;                  // a slot holds the turn to send a code
  std::optional<std::uint64_t> last_code_step_;  // the TOTP step of the last code sent
  bool reused_codes_ok_ = true;                  // false once the server refused a code we had sent before
  std::chrono::milliseconds retry_after_{0};
};

}  // namespace rvhidden
