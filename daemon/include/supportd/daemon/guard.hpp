#pragma once
// The guard stage: decides whether a message may get an automatic reply at all (RFC 3834 §2,
// RFC 5230 §4.5, the taxonomy's "never answer a machine" list). Pure: no I/O.

#include <string>
#include <string_view>
#include <vector>

#include "supportd/mime/message.hpp"

namespace supportd::daemon {

struct guard_settings {
  std::vector<std::string> our_addresses;  // lower case
  std::string our_message_id_domain;       // lower case
  bool require_addressed = true;           // RFC 5230 §4.5
};

struct guard_verdict {
  bool may_reply = true;
  std::string rule;    // short stable id of the rule that fired, e.g. "auto-submitted"
  std::string reason;  // human-readable detail, e.g. "Auto-Submitted: auto-replied"
};

/// Whether an automatic reply to this message is allowed; the first rule that forbids it wins.
[[nodiscard]] guard_verdict should_auto_reply(const mime::parsed_message& msg,
                                              const guard_settings& settings);

/// The address a reply goes to: Reply-To if it has an address, else From (RFC 5322 §3.6.2).
[[nodiscard]] std::string reply_address(const mime::parsed_message& msg);

}  // namespace supportd::daemon
