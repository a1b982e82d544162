#pragma once
// Removes secrets customers paste into mail (card numbers, passwords, seed phrases, private keys)
// before anything is stored or logged. Pure: no I/O.

#include <string>
#include <string_view>
#include <vector>

namespace supportd::daemon {

struct redaction {
  std::string text;                 // the input with secrets replaced by "[… removed]"
  std::vector<std::string> kinds;   // what was removed, e.g. "card number" (each kind once)
};

/// Card numbers (13–19 digits, spaces or dashes allowed, Luhn-valid), values after
/// "password:"/"密码是"-style labels, seed phrases (12–24 lower-case words, or text after
/// "seed phrase"/"助记词"), and 64-hex-digit private keys.
[[nodiscard]] redaction redact_sensitive(std::string_view text);

/// Luhn checksum (ISO/IEC 7812-1) over the digits of `digits`.
[[nodiscard]] bool luhn_valid(std::string_view digits);

}  // namespace supportd::daemon
