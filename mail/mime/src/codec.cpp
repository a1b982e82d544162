// Transfer-encoding decoders. Quoted-printable bodies decode exactly as mimetic's QP decoder
// does (a test compares the two), without its per-byte cost; base64 and RFC 2047 "Q" are
// decoded here because mimetic's base64 decoder reports no errors and mis-decodes padded
// chunks that are concatenated (common in forwarded parts), and it has no "Q" decoder at all.

#include <array>
#include <iterator>

#include "detail/codec.hpp"

namespace supportd::mime::detail {
namespace {

constexpr std::array<signed char, 256> make_base64_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
  }
  // RFC 4648 §5 URL-safe letters appear in some broken mailers' output; accept them.
  t[static_cast<unsigned char>('-')] = 62;
  t[static_cast<unsigned char>('_')] = 63;
  return t;
}

constexpr auto base64_table = make_base64_table();

constexpr std::array<signed char, 256> hex_table = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'A' + 10);
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  return t;
}();

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string base64_decode(std::string_view in, bool& invalid) {
  std::string out;
  out.resize(in.size() / 4 * 3 + 3);
  char* w = out.data();
  unsigned int acc = 0;
  int bits = 0;
  int sextets = 0;  // in the current 4-character quantum
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (sextets == 0) {
      // At a quantum boundary (no bits pending): whole quanta of alphabet characters at once.
      while (i + 4 <= n) {
        const signed char a = base64_table[s[i]];
        const signed char b = base64_table[s[i + 1]];
        const signed char c = base64_table[s[i + 2]];
        const signed char d = base64_table[s[i + 3]];
        if ((a | b | c | d) < 0) break;
        const auto q = static_cast<unsigned int>(a) << 18 | static_cast<unsigned int>(b) << 12 |
                       static_cast<unsigned int>(c) << 6 | static_cast<unsigned int>(d);
        *w++ = static_cast<char>(q >> 16);
        *w++ = static_cast<char>((q >> 8) & 0xFFU);
        *w++ = static_cast<char>(q & 0xFFU);
        i += 4;
      }
      if (i >= n) break;
    }
    const char ch = in[i];
    const auto uc = static_cast<unsigned char>(ch);
    if (ch == '=') {
      // Padding ends a quantum; a following chunk starts afresh.
      if (sextets == 1) invalid = true;
      acc = 0;
      bits = 0;
      sextets = 0;
      continue;
    }
    const signed char v = base64_table[uc];
    if (v < 0) {
      if (ch != '\r' && ch != '\n' && ch != ' ' && ch != '\t') invalid = true;
      continue;
    }
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    sextets = (sextets + 1) % 4;
    if (bits >= 8) {
      bits -= 8;
      *w++ = static_cast<char>((acc >> bits) & 0xFFU);
    }
  }
  if (sextets == 1) invalid = true;
  out.resize(static_cast<std::size_t>(w - out.data()));
  return out;
}

// mimetic's QP::Decoder state machine, step for step (its results are the reference, quirks
// included: with bare LF line ends, blanks before a line break swallow the break, and a blank
// at the very end comes out as '='), but writing runs of plain bytes at once instead of a
// byte at a time through an output iterator.
std::string qp_decode(std::string_view in) {
  enum class state { waiting_char, after_eq, first_hex, second_hex, blank, newline };
  constexpr auto is_blank = [](unsigned char c) { return c == ' ' || c == '\t'; };
  constexpr auto is_nl = [](unsigned char c) { return c == '\r' || c == '\n'; };
  std::string out;
  out.reserve(in.size());
  std::string prev;  // mimetic's m_prev: '=' and what followed it, or pending blanks
  unsigned char nl = 0;
  state st = state::waiting_char;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    if (st == state::waiting_char) {
      // The common cases, each ending where the state machine would be back here with nothing
      // pending: a run of bytes that are neither blank, newline, '=' nor control; "=XY"; and a
      // soft line break "=\n" not followed by '\r'.
      std::size_t j = i;
      while (j < n && s[j] > ' ' && s[j] != '=') ++j;
      if (j > i) {
        out.append(in.data() + i, j - i);
        i = j;
        continue;
      }
      if (s[i] == '=' && i + 2 < n) {
        // Runs of "=XY" (QP-encoded UTF-8 is nothing else), a table lookup per digit.
        const std::size_t start = i;
        while (i + 2 < n && s[i] == '=' && (hex_table[s[i + 1]] | hex_table[s[i + 2]]) >= 0) {
          out.push_back(static_cast<char>(hex_table[s[i + 1]] << 4 | hex_table[s[i + 2]]));
          i += 3;
        }
        if (i != start) continue;
        if (s[i + 1] == '\n' && s[i + 2] != '\r') {
          i += 2;
          continue;
        }
      }
    }
    const unsigned char c = s[i];
    bool consumed = true;
    switch (st) {
      case state::blank:
        if (is_blank(c)) {
          prev.push_back(static_cast<char>(c));
        } else if (is_nl(c)) {
          prev.clear();  // trailing blanks dropped, and with them this newline byte
          st = state::waiting_char;
        } else {
          out += prev;
          prev.clear();
          st = state::waiting_char;
          consumed = false;
        }
        break;
      case state::after_eq:
        if (is_blank(c)) {
          prev.push_back(static_cast<char>(c));
        } else if (is_nl(c)) {
          st = state::newline;  // soft line break
          consumed = false;
        } else {
          if (prev.size() > 1) {  // blanks after '=': kept as they are
            out += prev;
            prev.clear();
            st = state::waiting_char;
          } else {
            st = state::first_hex;
          }
          consumed = false;
        }
        break;
      case state::first_hex:
        if (hex_value(static_cast<char>(c)) < 0) {
          out += prev;
          prev.clear();
          out.push_back(static_cast<char>(c));
          st = state::waiting_char;
        } else {
          prev.push_back(static_cast<char>(c));
          st = state::second_hex;
        }
        break;
      case state::second_hex:
        if (hex_value(static_cast<char>(c)) < 0) {
          out += prev;
          prev.clear();
          out.push_back(static_cast<char>(c));
        } else {
          out.push_back(static_cast<char>(hex_value(prev.back()) << 4 | hex_value(static_cast<char>(c))));
          prev.clear();
        }
        st = state::waiting_char;
        break;
      case state::newline:
        if (nl == 0) {
          nl = c;
        } else {
          if (prev.empty() || prev.front() != '=') out.push_back('\n');
          prev.clear();
          st = state::waiting_char;
          const bool pair = c == (nl == '\r' ? '\n' : '\r');
          nl = 0;
          consumed = pair;
        }
        break;
      case state::waiting_char:
        if (is_blank(c)) {
          st = state::blank;
          consumed = false;
        } else if (is_nl(c)) {
          st = state::newline;
          consumed = false;
        } else if (c == '=') {
          st = state::after_eq;
          prev.push_back('=');
        }  // else a control byte: dropped (RFC 2045 §6.7 note 4)
        break;
    }
    if (consumed) ++i;
  }
  // mimetic's flush().
  if (!prev.empty()) {
    out.push_back('=');
    if (prev.size() > 1 && prev[1] != ' ') out.push_back(prev[1]);
  } else if (nl != 0) {
    out.push_back('\n');
  }
  return out;
}

bool q_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace supportd::mime::detail
