#include "supportd/daemon/checks.hpp"

#include <utility>

namespace supportd::daemon {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

policy_findings check_template_links(const settings& s, const reply::template_set& templates) {
  policy_findings found;
  const bool configured = s.link_domains.has_value();
  std::vector<std::string> domains;
  if (configured) {
    domains = *s.link_domains;
  } else {
    const std::string& from = s.reply.from.address;
    if (const auto at = from.rfind('@'); at != std::string::npos)
      domains.push_back(from.substr(at + 1));
    if (!s.reply.message_id_domain.empty() &&
        (domains.empty() || s.reply.message_id_domain != domains.front()))
      domains.push_back(s.reply.message_id_domain);
  }
  const std::string list =
      configured ? "[templates] link_domains"
                 : "the domains of [reply] (" + joined(domains) +
                       "; set [templates] link_domains to choose them and make this an error)";
  auto& out = configured ? found.errors : found.warnings;
  for (const auto& [file, link] : templates.links()) {
    const std::string where = file + ":" + std::to_string(link.line) + ": ";
    if (!link.problem.empty())
      out.push_back(where + "link " + link.text + " cannot be checked against " + list + ": " +
                    link.problem);
    else if (!reply::host_within(link.host, domains))
      out.push_back(where + "link to host " + link.host + " is outside " + list + ": " + link.text);
  }
  return found;
}

std::expected<checked_runtime, std::vector<std::string>> load_checked_runtime(const settings& s) {
  auto rt = load_runtime(s);
  if (!rt) return std::unexpected(std::move(rt.error()));
  policy_findings links = check_template_links(s, *(*rt)->templates);
  if (!links.errors.empty()) return std::unexpected(std::move(links.errors));
  return checked_runtime{*rt, std::move(links.warnings)};
}

}  // namespace supportd::daemon
