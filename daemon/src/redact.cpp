#include "supportd/daemon/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace supportd::daemon {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

void note(redaction& r, std::string kind) {
  if (std::find(r.kinds.begin(), r.kinds.end(), kind) == r.kinds.end())
    r.kinds.push_back(std::move(kind));
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// Issuer prefixes of the card schemes (ISO/IEC 7812 IINs): Visa, Mastercard, Amex, JCB, Diners,
/// Discover, UnionPay. Date-like ids ("2026…") and phone numbers do not start like cards.
bool plausible_card_prefix(std::string_view d) {
  auto prefix = [&](std::size_t n) { return std::stoi(std::string(d.substr(0, n))); };
  if (d[0] == '4') return true;
  int two = prefix(2), four = prefix(4);
  return (two >= 51 && two <= 55) || (four >= 2221 && four <= 2720) || two == 34 || two == 37 ||
         two == 35 || two == 30 || two == 36 || two == 38 || two == 39 || four == 6011 ||
         two == 62 || two == 64 || two == 65;
}

/// Card numbers: a digit run with single spaces/dashes inside, 13–19 digits, a card scheme's
/// prefix and a valid Luhn check digit.
std::string redact_cards(std::string_view in, redaction& r) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    if (!is_digit(in[i]) || (i > 0 && is_digit(in[i - 1]))) {
      out += in[i++];
      continue;
    }
    std::size_t j = i;
    std::string digits;
    std::size_t end = i;
    while (j < in.size()) {
      if (is_digit(in[j])) {
        digits += in[j];
        end = ++j;
      } else if ((in[j] == ' ' || in[j] == '-') && j + 1 < in.size() && is_digit(in[j + 1])) {
        ++j;
      } else {
        break;
      }
    }
    if (digits.size() >= 13 && digits.size() <= 19 && plausible_card_prefix(digits) &&
        luhn_valid(digits)) {
      out += "[card number removed]";
      note(r, "card number");
    } else {
      out.append(in.substr(i, end - i));
    }
    i = end;
  }
  return out;
}

/// A line that is 12–24 short lower-case words is a BIP-39 style seed phrase.
bool looks_like_seed_line(std::string_view line) {
  int words = 0;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) {
      if (!is_lower(line[i]) && !(is_digit(line[i]) && i > start)) {
        // "1.word" numbering is allowed: digits then '.'
        if (!(line[i] == '.' && i > start)) return false;
      }
      ++i;
    }
    std::size_t len = i - start;
    if (len < 3 || len > 12) return false;
    ++words;
  }
  return words >= 12 && words <= 24;
}

/// Whether [pos, pos+64) is a hex run of exactly 64 digits (a raw private key).
bool hex64_at(std::string_view s, std::size_t pos) {
  if (pos + 64 > s.size()) return false;
  if (pos > 0 && std::isxdigit(static_cast<unsigned char>(s[pos - 1]))) return false;
  for (std::size_t k = pos; k < pos + 64; ++k)
    if (!std::isxdigit(static_cast<unsigned char>(s[k]))) return false;
  return pos + 64 == s.size() || !std::isxdigit(static_cast<unsigned char>(s[pos + 64]));
}

struct label {
  std::string_view text;  // lower-case
  bool always;            // value follows directly ("password:"), else only secret-looking ones
};

/// Replaces what follows a password label with "[removed]".
std::string redact_line_labels(std::string_view line, redaction& r) {
  static constexpr std::array<std::string_view, 10> names{
      "password", "passwd", "passcode", "pwd", "pin", "支付密码", "登录密码", "密码", "口令", "pin码"};
  static constexpr std::array<label, 10> seps{{{":", true},
                                               {"：", true},
                                               {"=", true},
                                               {" is ", false},
                                               {" was ", false},
                                               {"是", false},
                                               {"为", false},
                                               {"是：", true},
                                               {"是:", true},
                                               {" is: ", true}}};
  std::string lower = lower_ascii(line);
  for (auto name : names) {
    for (std::size_t pos = lower.find(name); pos != std::string::npos;
         pos = lower.find(name, pos + 1)) {
      // ASCII names must stand as words ("pin" is not "spinning").
      if (is_lower(name[0]) && pos > 0 && is_lower(lower[pos - 1])) continue;
      std::size_t after = pos + name.size();
      if (is_lower(name[0]) && after < lower.size() && is_lower(lower[after])) continue;
      for (const auto& sep : seps) {
        std::size_t v = after;
        while (v < lower.size() && is_space(lower[v]) && sep.text[0] != ' ') ++v;
        if (lower.compare(v, sep.text.size(), sep.text) != 0) continue;
        v += sep.text.size();
        while (v < lower.size() && is_space(lower[v])) ++v;
        std::size_t end = v;
        while (end < lower.size() && !is_space(lower[end]) && lower[end] != ',' &&
               (end + 2 >= lower.size() || lower.compare(end, 3, "，") != 0))
          ++end;
        std::string_view value = line.substr(v, end - v);
        while (!value.empty() && (value.back() == '.' || value.back() == ';')) value.remove_suffix(1);
        if (value.empty() || value == "[removed]") continue;
        bool secret_looking = std::any_of(value.begin(), value.end(), [](char c) {
          return is_digit(c) || (!is_lower(c) && static_cast<unsigned char>(c) < 0x80 &&
                                 !std::isupper(static_cast<unsigned char>(c)));
        });
        if (!sep.always && !secret_looking) continue;
        std::string out(line.substr(0, v));
        out += "[removed]";
        out += line.substr(v + value.size());
        note(r, "password");
        return redact_line_labels(out, r);
      }
    }
  }
  return std::string(line);
}

}  // namespace

bool luhn_valid(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) continue;
    int d = *it - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
    ++count;
  }
  return count > 0 && sum % 10 == 0;
}

redaction redact_sensitive(std::string_view text) {
  redaction r;
  std::string cards = redact_cards(text, r);
  std::string out;
  out.reserve(cards.size());
  bool seed_follows = false;  // the previous line announced a seed phrase / private key
  std::size_t start = 0;
  while (start <= cards.size()) {
    std::size_t nl = cards.find('\n', start);
    std::size_t end = nl == std::string::npos ? cards.size() : nl;
    std::string_view line(cards.data() + start, end - start);
    std::string lower = lower_ascii(line);
    static constexpr std::array<std::string_view, 8> seed_words{
        "seed phrase", "recovery phrase", "mnemonic", "secret phrase", "private key",
        "助记词",      "私钥",            "恢复短语"};
    bool announces = std::any_of(seed_words.begin(), seed_words.end(), [&](std::string_view w) {
      return lower.find(w) != std::string::npos;
    });
    std::string cleaned;
    if (looks_like_seed_line(line) || (seed_follows && !line.empty())) {
      cleaned = "[seed phrase removed]";
      note(r, "seed phrase");
      seed_follows = false;
    } else {
      cleaned = redact_line_labels(line, r);
      if (announces) {
        // Whatever follows the announcing words on this line ("助记词：apple banana …").
        for (auto w : seed_words) {
          std::size_t pos = lower_ascii(cleaned).find(w);
          if (pos == std::string::npos) continue;
          std::size_t v = pos + w.size();
          std::string rest = cleaned.substr(v);
          std::size_t colon = rest.find_first_of(":=");
          std::size_t wide = rest.find("：");
          std::size_t cut = std::min(colon, wide);
          if (cut != std::string::npos) {
            std::size_t after = v + cut + (cut == wide ? 3 : 1);
            bool has_value = cleaned.find_first_not_of(" \t", after) != std::string::npos;
            if (has_value) {
              cleaned = cleaned.substr(0, after) + " [seed phrase removed]";
              note(r, "seed phrase");
            } else {
              seed_follows = true;  // the phrase is on the next line
            }
          }
          break;
        }
      }
    }
    for (std::size_t p = 0; p + 64 <= cleaned.size(); ++p)
      if (hex64_at(cleaned, p)) {
        cleaned.replace(p, 64, "[private key removed]");
        note(r, "private key");
      }
    out += cleaned;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  r.text = std::move(out);
  return r;
}

}  // namespace supportd::daemon
