#pragma once
// Operator policies on loaded templates, beyond their syntax: applied by check-config, at start
// and on reload, so a template that fails them never answers a customer.

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "supportd/daemon/config.hpp"
#include "supportd/daemon/pipeline.hpp"
#include "supportd/reply/templates.hpp"

namespace supportd::daemon {

/// What the policies found, each line "file:line: ...".
struct policy_findings {
  std::vector<std::string> errors;    // the templates are refused
  std::vector<std::string> warnings;  // accepted; the operator is told
};

/// Every link in the templates must point within [templates] link_domains (subdomains included),
/// and its host must read the same in every client. Without that key the domains of [reply]
/// from and message_id_domain are assumed and findings are warnings, not errors.
[[nodiscard]] policy_findings check_template_links(const settings& s,
                                                   const reply::template_set& templates);

/// A runtime that passed load_runtime and the policies, with the warnings to show.
struct checked_runtime {
  std::shared_ptr<const runtime> rt;
  std::vector<std::string> warnings;
};

/// load_runtime, then the policies: any error refuses the whole runtime (the caller keeps its
/// old one on reload, or does not start).
[[nodiscard]] std::expected<checked_runtime, std::vector<std::string>> load_checked_runtime(
    const settings& s);

}  // namespace supportd::daemon
