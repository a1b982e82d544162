#pragma once
// Links in reply text: what a mail client would make clickable, and whether its host is one the
// operator allows. A reply that links elsewhere speaks with our voice for someone else's page,
// which is what phishing needs, so check-config refuses templates with such links.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::reply {

/// A link written in a text.
struct link {
  std::size_t line = 0;  // 1-based line of the link's first character
  std::string text;      // the link as written, without trailing sentence punctuation
  std::string host;      // lower case, without userinfo, port or trailing dot
  /// Why the host cannot be trusted as written (non-ASCII letters, a backslash, a host taken
  /// from a variable, ...); "" when `host` is what every client would open.
  std::string problem;
};

/// Finds what mail clients make clickable in plain text: `scheme://` URLs, `www.` names,
/// `mailto:` addresses and bare mail addresses. The host is read the way a browser reads it:
/// `https://ours.example@evil.com` goes to evil.com. Mustache tags are understood: a mailto: of
/// {{support_address}} is our own address and skipped, any other variable in a host is a problem.
[[nodiscard]] std::vector<link> find_links(std::string_view text);

/// True if `host` is one of `domains` or a subdomain of one, whole labels and ignoring case:
/// "help.example.com" is within "example.com"; "example.com.evil.net" and "badexample.com" are not.
[[nodiscard]] bool host_within(std::string_view host, const std::vector<std::string>& domains);

}  // namespace supportd::reply
