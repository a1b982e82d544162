// Transfer-encoding decoders. mimetic's QP decoder is used for bodies; base64 and RFC 2047 "Q"
// are decoded here because mimetic's base64 decoder reports no errors and mis-decodes padded
// chunks that are concatenated (common in forwarded parts), and it has no "Q" decoder at all.

#include <array>
#include <iterator>

#include <mimetic/codec/code.h>
#include <mimetic/codec/qp.h>

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

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string base64_decode(std::string_view in, bool& invalid) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  unsigned int acc = 0;
  int bits = 0;
  int sextets = 0;  // in the current 4-character quantum
  for (char c : in) {
    const auto uc = static_cast<unsigned char>(c);
    if (c == '=') {
      // Padding ends a quantum; a following chunk starts afresh.
      if (sextets == 1) invalid = true;
      acc = 0;
      bits = 0;
      sextets = 0;
      continue;
    }
    const signed char v = base64_table[uc];
    if (v < 0) {
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') invalid = true;
      continue;
    }
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    sextets = (sextets + 1) % 4;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
    }
  }
  if (sextets == 1) invalid = true;
  return out;
}

std::string qp_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  mimetic::QP::Decoder decoder;
  mimetic::decode(in.begin(), in.end(), decoder, std::back_inserter(out));
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
