// RESP, the Redis serialization protocol (RESP2, as Redis speaks it to a client that sent no
// HELLO): commands written as arrays of bulk strings, replies read incrementally under bounds.
// Socket-free (rv_proto): redis.hpp moves the bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rv::resp {

// One reply. RESP3's null ('_') reads as nil, its boolean ('#t'/'#f') as integer 1/0 and its
// double (',') as a simple string of its text; nothing else of RESP3 is read.
struct value {
  enum class type { simple, error, integer, bulk, nil, array };
  type kind = type::nil;
  std::string text;              // simple string, error message, or bulk string
  std::int64_t integer = 0;
  std::vector<value> items;      // array
  bool is_error() const { return kind == type::error; }

  bool operator==(const value&) const = default;
};

// "simple", "error", ... for messages.
std::string_view to_string(value::type t);

// Appends one command as a RESP array of bulk strings. Arguments may hold any bytes.
void append_command(std::string& out, std::span<const std::string_view> args);
void append_command(std::string& out, std::span<const std::string> args);
std::string command(std::initializer_list<std::string_view> args);

// A command's arguments as redis_client::run takes them: co_await c.run(resp::args("GET", key)).
// g++ 12 cannot compile a braced list inside a co_await expression ("array used as initializer":
// `co_await c.run({"GET", key})` fails), and this builds the vector outside it. Arguments are
// anything a std::string_view converts from.
template <class... Args>
std::vector<std::string> args(const Args&... a) {
  std::vector<std::string> out;
  out.reserve(sizeof...(a));
  (out.emplace_back(std::string_view(a)), ...);
  return out;
}

// Appends `v` as a reply in RESP2 (nil as the null bulk string "$-1"): what a server would send,
// for tests and the fuzz target. A simple string or error must not hold CR or LF (RESP cannot
// carry them there); the reader never produces one that does.
void append_reply(std::string& out, const value& v);

// The bounds of one reply. Past any of them the reply is bad: the connection it came on is to be
// dropped, since the rest of its byte stream cannot be trusted to line up with commands.
struct limits {
  std::size_t max_bulk = 1 << 20;  // bytes of one bulk string
  std::size_t max_items = 4096;    // array elements in one reply, all its arrays together
  unsigned max_depth = 8;          // arrays nested in arrays: "*1\r\n*0\r\n" has depth 2
  std::size_t max_line = 4096;     // a type line (simple string, error, integer, length), CRLF excluded
  std::size_t max_reply = 16 << 20;  // wire bytes of one reply
};

// Incremental reader of replies. Bytes go in with feed(), replies come out with next() in the
// order they were sent. Each byte is examined a bounded number of times whatever the split of
// the input into feeds (a half-parsed reply is kept as parsed, not parsed again), and the bytes
// it holds are those of one partial reply plus whatever followed it in the last feed.
class reader {
 public:
  explicit reader(limits l = {});
  void feed(std::string_view bytes);  // appends to its buffer (ignored once bad)
  enum class status { value, need_more, bad };
  // One complete reply into `out`, or need_more (feed more), or bad (sticky: every later call
  // says bad too; error() says why).
  status next(value& out);
  const std::string& error() const;  // why bad; empty otherwise
  std::size_t buffered() const;      // bytes fed and not yet returned in a reply

 private:
  struct frame {
    value array;
    std::size_t remaining = 0;
  };
  enum class step { complete, pushed, need_more, bad };
  status fail(std::string why);
  // One element: `element` complete, or a frame pushed for a non-empty array.
  step parse_element(value& element);
  step take_line(std::string_view& line);

  limits limits_;
  std::string buf_;
  std::size_t pos_ = 0;            // first byte of buf_ not yet consumed
  std::size_t scanned_ = 0;        // bytes past pos_ known to hold no CRLF start
  std::int64_t bulk_pending_ = -1; // a bulk header was read: its payload length
  std::vector<frame> stack_;       // the arrays of the reply being read, outermost first
  std::size_t reply_items_ = 0;
  std::size_t reply_bytes_ = 0;    // consumed so far for the reply being read
  std::size_t buffered_ = 0;
  bool bad_ = false;
  std::string error_;
};

}  // namespace rv::resp
