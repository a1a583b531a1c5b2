// libFuzzer target: the RESP reply reader on arbitrary bytes fed in arbitrary chunks. Checks
// that it never crashes, that every reply respects the limits, that the chunking changes
// nothing (the same replies and the same end as one whole feed), and that a reply written back
// with append_reply reads back equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "rv/resp.hpp"

namespace {

using rv::resp::reader;
using rv::resp::value;

struct shape {
  unsigned depth = 0;      // arrays nested, this one included
  std::size_t items = 0;   // array elements, all arrays together
};

void check(const value& v, const rv::resp::limits& l, unsigned depth, shape& s) {
  switch (v.kind) {
    case value::type::simple:
    case value::type::error:
      if (v.text.size() + 1 > l.max_line) std::abort();
      if (v.text.find_first_of("\r\n") != std::string::npos) std::abort();
      break;
    case value::type::bulk:
      if (v.text.size() > l.max_bulk) std::abort();
      break;
    case value::type::integer:
    case value::type::nil:
      if (!v.text.empty() || !v.items.empty()) std::abort();
      break;
    case value::type::array:
      if (depth + 1 > l.max_depth) std::abort();
      if (depth + 1 > s.depth) s.depth = depth + 1;
      s.items += v.items.size();
      for (const auto& item : v.items) check(item, l, depth + 1, s);
      break;
  }
}

// Feeds `text` in chunks whose sizes come from `sizes` (cycled), collecting replies.
reader::status read_all(std::string_view text, std::string_view sizes, const rv::resp::limits& l,
                        std::vector<value>& out) {
  reader r(l);
  std::size_t fed = 0;
  std::size_t turn = 0;
  reader::status st = reader::status::need_more;
  while (fed < text.size()) {
    std::size_t n = text.size() - fed;
    if (!sizes.empty()) n = std::min<std::size_t>(n, 1 + static_cast<unsigned char>(sizes[turn++ % sizes.size()]) % 64);
    r.feed(text.substr(fed, n));
    fed += n;
    value v;
    while ((st = r.next(v)) == reader::status::value) out.push_back(std::move(v));
    if (st == reader::status::bad) {
      if (r.error().empty()) std::abort();
      return st;
    }
    if (r.buffered() > fed) std::abort();
  }
  return st;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  // The first byte picks the limits, the next few the chunk sizes; the rest is the reply stream.
  rv::resp::limits l;
  if (all[0] & 1) l = rv::resp::limits{64, 16, 3, 32, 512};
  const std::size_t n_sizes = static_cast<unsigned char>(all[1]) % 8;
  if (size < 2 + n_sizes) return 0;
  const auto sizes = all.substr(2, n_sizes);
  const auto text = all.substr(2 + n_sizes);

  std::vector<value> chunked, whole;
  const auto chunked_end = read_all(text, sizes, l, chunked);
  const auto whole_end = read_all(text, {}, l, whole);
  if (chunked_end != whole_end || chunked != whole) std::abort();

  for (const auto& v : chunked) {
    shape s;
    check(v, l, 0, s);
    if (s.items > l.max_items) std::abort();

    // Written back and read again, a reply is the same reply. (RESP3 null, booleans and
    // doubles come back as RESP2 nil, integers and simple strings: the value is the same.)
    std::string again;
    rv::resp::append_reply(again, v);
    auto roomy = l;
    roomy.max_reply = std::numeric_limits<std::size_t>::max();
    reader r(roomy);
    r.feed(again);
    value back;
    if (r.next(back) != reader::status::value || !(back == v) || r.buffered() != 0) std::abort();
  }
  return 0;
}
