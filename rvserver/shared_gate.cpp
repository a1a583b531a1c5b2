// The registration gate's tables in Redis (see shared_gate.hpp). The Lua
// scripts mirror throttle.cpp, replay.cpp and registration_gate.cpp; a change
// to a rule there is a change here too (tests/e2e/test_cluster.py runs the
// same cases against both).
#include "rvserver/shared_gate.hpp"

#include <string_view>
#include <vector>

#include "rv/log.hpp"
#include "rv/totp.hpp"

namespace rvserver {

using namespace rv;

namespace {

// Every script starts with Redis's clock in milliseconds (one clock for all
// nodes) and the throttle read: how long `key` still makes its holder wait,
// and whether `source` registered the UUID in the last trust_for.
constexpr std::string_view prologue = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function wait_of(key)
  local b = tonumber(redis.call('HGET', key, 'b') or '0') or 0
  if b > now then return b - now end
  return 0
end
local function trusted(key, source, trust_ms)
  local s = redis.call('ZSCORE', key, source)
  return s ~= false and s ~= nil and now - tonumber(s) < trust_ms
end
-- KEYS[1..4]: source, block, UUID throttles, trusted set; ARGV[1]: source,
-- ARGV[2]: trust_for in ms, ARGV[3]: '1' when there is a block (IPv6).
local function throttle_wait()
  local w = wait_of(KEYS[1])
  if w == 0 and not trusted(KEYS[4], ARGV[1], tonumber(ARGV[2])) then
    if ARGV[3] == '1' then w = wait_of(KEYS[2]) end
    if w == 0 then w = wait_of(KEYS[3]) end
  end
  return w
end
-- `source` registered the UUID now: the newest `keep` such addresses stay
-- trusted for trust_for (registration_gate::trust).
local function trust(keep)
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  local n = redis.call('ZCARD', KEYS[4])
  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - keep - 1) end
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[2]))
end
)lua";

// How long a registration from this source must wait, in ms (0: it may try).
constexpr std::string_view look_script = "return throttle_wait()\n";

// A failed token: each throttle counts it (failure_throttle::failed). ARGV[4..]:
// per throttle, free failures, first delay, max delay, forget after (ms).
constexpr std::string_view fail_script = R"lua(
local function failed(key, i)
  local free = math.max(1, tonumber(ARGV[i]))
  local first, maxd, forget = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local f = tonumber(redis.call('HGET', key, 'f') or '0') or 0
  local l = tonumber(redis.call('HGET', key, 'l') or '0') or 0
  local b = tonumber(redis.call('HGET', key, 'b') or '0') or 0
  if f > 0 and now - l > forget then f = 0 end
  f = f + 1
  if f >= free then
    local d = first
    local n = free
    while n < f and d < maxd do d = d * 2; n = n + 1 end
    b = now + math.min(d, maxd)
  end
  redis.call('HSET', key, 'f', f, 'l', now, 'b', b)
  -- Kept while it counts for anything: the failures until forgotten, the delay until over.
  redis.call('PEXPIRE', key, math.max(forget, b - now) + 1000)
end
failed(KEYS[1], 4)
if ARGV[3] == '1' then failed(KEYS[2], 8) end
failed(KEYS[3], 12)
return 0
)lua";

// A right code: the throttles again (guesses counted since the look), then
// the replay rule (used_codes::use), then trust. Returns {0, 0} accepted,
// {1, wait} throttled, {2, 0} replayed. KEYS[5]: the code's use;
// ARGV[4]: 'same' or 'never', ARGV[5]: how long a use is kept (ms),
// ARGV[6]: how many addresses a UUID trusts.
constexpr std::string_view accept_script = R"lua(
local w = throttle_wait()
if w > 0 then return {1, w} end
local first = redis.call('GET', KEYS[5])
if first then
  if ARGV[4] ~= 'same' or first ~= ARGV[1] then return {2, 0} end
else
  redis.call('SET', KEYS[5], ARGV[1], 'PX', tonumber(ARGV[5]))
end
trust(tonumber(ARGV[6]))
return {0, 0}
)lua";

// A valid credential's address is trusted (registration_gate::trust).
constexpr std::string_view trust_script = R"lua(
trust(tonumber(ARGV[4]))
return 0
)lua";

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

void add_policy(std::vector<std::string>& args, const throttle_policy& p) {
  args.push_back(std::to_string(p.free_failures));
  args.push_back(ms(p.first_delay));
  args.push_back(ms(p.max_delay));
  args.push_back(ms(p.forget_after));
}

}  // namespace

shared_gate::shared_gate(asio::any_io_executor ex, redis_client& redis, registration_gate& local,
                         const gate_settings& s, std::string prefix)
    : ex_(std::move(ex)),
      redis_(redis), local_(local), settings_(s), prefix_(std::move(prefix)) {}

std::string shared_gate::key(std::string_view kind, std::string_view id) const {
  return prefix_ + std::string(kind) + ":" + std::string(id);
}

awaitable<std::optional<gate_result>> shared_gate::check(const registration_attempt& a, std::int64_t unix_now) {
  const std::string uuid(a.uuid);
  // EVAL script 4 KEYS... ARGV...: every script sees the throttles and the trusted set.
  auto eval = [&](std::string_view body, std::vector<std::string> extra_keys, std::vector<std::string> extra_args) {
    std::vector<std::string> args{std::string("EVAL"), std::string(prologue) + std::string(body),
                                  std::to_string(4 + extra_keys.size()), key("thr:src", a.source),
                                  key("thr:blk", a.block.empty() ? "-" : a.block), key("thr:uuid", uuid),
                                  key("trust", uuid)};
    for (auto& k : extra_keys) args.push_back(std::move(k));
    args.push_back(a.source);
    args.push_back(ms(registration_gate::trust_for));
    args.push_back(a.block.empty() ? "0" : "1");
    for (auto& v : extra_args) args.push_back(std::move(v));
    return redis_.run(std::move(args));
  };
  auto failed_reply = [](const std::optional<resp::value>& r) {
    if (!r) return true;
    if (r->is_error()) log::warn("redis: a gate script failed: ", r->text);
    return r->is_error();
  };

  if (!a.credential.empty()) {
    if (auto began = local_.valid_credential(a, unix_now)) {
      // Trusting the address is a courtesy to its later code registrations;
      // the credential itself needs nothing from Redis.
      const auto now = std::chrono::steady_clock::now();
      const std::string pair = uuid + " " + a.source;
      if (auto it = trust_written_.find(pair); it != trust_written_.end() && now - it->second < std::chrono::hours(1))
        co_return gate_result{verdict::accepted, milliseconds(0), *began};
      if (trust_written_.size() > 100000) trust_written_.clear();
      if (redis_.up()) trust_written_[pair] = now;  // down: the write fails at once; try again next time
      std::vector<std::string> keep{std::to_string(registration_gate::trusted_per_uuid)};
      asio::co_spawn(ex_, eval(trust_script, std::vector<std::string>{}, std::move(keep)), asio::detached);
      co_return gate_result{verdict::accepted, milliseconds(0), *began};
    }
  }
  auto look = co_await eval(look_script, std::vector<std::string>{}, std::vector<std::string>{});
  if (failed_reply(look)) co_return std::nullopt;
  if (look->integer > 0) co_return gate_result{verdict::throttled, milliseconds(look->integer)};
  if (!a.credential.empty()) co_return gate_result{verdict::credential_refused};

  auto counter = local_.matching_code(a, unix_now);
  if (!counter) {
    std::vector<std::string> policies;
    add_policy(policies, settings_.per_source);
    add_policy(policies, settings_.per_block);
    add_policy(policies, settings_.per_uuid);
    auto fail = co_await eval(fail_script, std::vector<std::string>{}, std::move(policies));
    // Unrecorded, the failure still gets its refusal: it is wrong either way.
    if (failed_reply(fail)) log::debug("redis: a failed token could not be counted");
    co_return gate_result{verdict::refused};
  }
  // A code verifies for one step either side of now, so its use matters for three steps.
  const auto step_ms = static_cast<long>(a.secret->step) * 1000;
  std::vector<std::string> use_key{key("used:" + uuid, std::to_string(*counter))};
  std::vector<std::string> use_args{std::string("never"), std::to_string(3 * step_ms + 1000),
                                    std::to_string(registration_gate::trusted_per_uuid)};
  if (settings_.reuse == reuse_policy::same_source) use_args[0] = "same";
  auto accept = co_await eval(accept_script, std::move(use_key), std::move(use_args));
  if (failed_reply(accept)) co_return std::nullopt;
  if (accept->kind != resp::value::type::array || accept->items.size() != 2) {
    log::warn("redis: unexpected answer to the gate's accept script");
    co_return std::nullopt;
  }
  const auto what = accept->items[0].integer;
  if (what == 1) co_return gate_result{verdict::throttled, milliseconds(accept->items[1].integer)};
  if (what == 2) co_return gate_result{verdict::replayed};
  co_return gate_result{verdict::accepted, milliseconds(0), unix_now};
}

void shared_gate::forget(const std::string& uuid) {
  trust_written_.clear();  // rare (a reload that changed a secret): no need to pick out the UUID's pairs
  // Fire and forget: a reload must not wait on Redis, and a trusted set that
  // survives an outage still expires within trust_for.
  asio::co_spawn(ex_, redis_.run({"DEL", key("trust", uuid)}), asio::detached);
}

}  // namespace rvserver
