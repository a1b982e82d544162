#include "detail/idle_session.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "detail/imap_target.hpp"

namespace supportd::idle::detail {
namespace {

// An action that carries no text.
action signal(action::kind what) {
  action a;
  a.what = what;
  return a;
}

}  // namespace

idle_session::idle_session(session_settings settings) : settings_(std::move(settings)) {}

bool idle_session::awaiting_response() const {
  return phase_ != phase::idling && phase_ != phase::failed;
}

bool idle_session::has_capability(const std::string& name) const {
  return capabilities_ && std::ranges::find(*capabilities_, name) != capabilities_->end();
}

void idle_session::send(std::vector<action>& out, const std::string& command, phase next) {
  // Built in a buffer, not as "w" + ...: GCC 12 at -O3 warns falsely on string concatenation
  // and assignment here (-Wrestrict, PR 105329).
  std::array<char, 24> tag{'w'};
  const auto end = std::to_chars(tag.data() + 1, tag.data() + tag.size(), next_tag_++).ptr;
  pending_tag_ = std::string(tag.data(), end);
  std::string text(tag.data(), end);
  text.append(" ").append(command).append("\r\n");
  out.push_back(action{.what = action::kind::send, .text = std::move(text)});
  phase_ = next;
}

std::vector<action> idle_session::fail(failure_kind kind, std::string why) {
  phase_ = phase::failed;
  return {action{.what = action::kind::fail, .text = std::move(why), .failure = kind}};
}

std::vector<action> idle_session::after_capabilities(std::vector<action> out) {
  if (!capabilities_) {
    send(out, "CAPABILITY", phase::capability);
    return out;
  }
  if (settings_.starttls && !tls_done_) {
    // Never fall back to clear text when the upgrade is required (RFC 3501 6.2.1).
    if (!has_capability("STARTTLS"))
      return fail(failure_kind::config, "the server does not offer STARTTLS");
    send(out, "STARTTLS", phase::starttls);
    return out;
  }
  if (authenticated_) return after_login(std::move(out));
  // LOGINDISABLED: the server forbids LOGIN on this connection (RFC 3501 6.2.3).
  if (has_capability("LOGINDISABLED")) {
    return fail(failure_kind::config,
                "the server disables LOGIN on this connection (LOGINDISABLED)");
  }
  if (settings_.user.empty()) return fail(failure_kind::config, "no IMAP user configured");
  auto user = imap_quoted(settings_.user);
  auto password = imap_quoted(settings_.password);
  if (!user) return fail(failure_kind::config, "the IMAP user " + user.error());
  if (!password) return fail(failure_kind::config, "the IMAP password " + password.error());
  send(out, "LOGIN " + *user + " " + *password, phase::login);
  return out;
}

std::vector<action> idle_session::after_login(std::vector<action> out) {
  if (!capabilities_) {
    send(out, "CAPABILITY", phase::capability);
    return out;
  }
  if (!has_capability("IDLE")) {
    return fail(failure_kind::unsupported, "the server does not advertise IDLE (RFC 2177)");
  }
  auto mailbox = imap_quoted(settings_.mailbox);
  if (!mailbox) return fail(failure_kind::config, "the mailbox name " + mailbox.error());
  // EXAMINE, not SELECT: read-only, so watching never clears \Recent or changes flags.
  send(out, "EXAMINE " + *mailbox, phase::examine);
  return out;
}

std::vector<action> idle_session::on_tls_ready() {
  if (phase_ != phase::tls_handshake)
    return fail(failure_kind::protocol, "TLS ready outside STARTTLS");
  tls_done_ = true;
  capabilities_.reset();  // discard what was learnt in clear text (RFC 3501 6.2.1)
  std::vector<action> out;
  send(out, "CAPABILITY", phase::capability);
  return out;
}

std::vector<action> idle_session::renew_idle() {
  if (phase_ != phase::idling) return {};
  phase_ = phase::done_sent;  // DONE is untagged; the IDLE command's tag completes (RFC 2177)
  return {action{.what = action::kind::send, .text = "DONE\r\n"}};
}

std::vector<action> idle_session::on_response(const response& r) {
  if (phase_ == phase::failed) return {};
  std::vector<action> out;

  if (r.kind == response_kind::untagged) {
    if (r.cond == condition::bye) {
      return fail(failure_kind::transient, "the server closed the session: " + r.text);
    }
    if (r.capabilities) capabilities_ = r.capabilities;
    if (r.number) {
      const bool watching =
          phase_ == phase::idle_requested || phase_ == phase::idling || phase_ == phase::done_sent;
      if (r.keyword == "EXISTS") {
        // EXISTS is the mailbox size (RFC 3501 7.3.1); only growth means new mail.
        if (watching && (!exists_ || *r.number > *exists_)) {
          out.push_back(signal(action::kind::new_mail));
        }
        exists_ = r.number;
      } else if (r.keyword == "EXPUNGE" && exists_ && *exists_ > 0) {
        --*exists_;  // later EXISTS counts are relative to the shrunken mailbox (RFC 3501 7.4.1)
      }
      return out;
    }
    if (phase_ == phase::greeting) {
      if (r.cond == condition::ok) return after_capabilities(std::move(out));
      if (r.cond == condition::preauth) {
        // STARTTLS is only valid before authentication, so a PREAUTH clear-text session
        // cannot be upgraded (RFC 3501 6.2.1).
        if (settings_.starttls && !tls_done_) {
          return fail(failure_kind::config,
                      "PREAUTH greeting on a connection that requires STARTTLS");
        }
        authenticated_ = true;
        return after_capabilities(std::move(out));
      }
      return fail(failure_kind::protocol, "unexpected greeting: " + r.keyword + " " + r.text);
    }
    return out;  // * OK Still here, * FLAGS, * n FETCH, ...: nothing to do
  }

  if (r.kind == response_kind::continuation) {
    if (phase_ != phase::idle_requested) {
      return fail(failure_kind::protocol, "unexpected continuation: " + r.text);
    }
    phase_ = phase::idling;
    out.push_back(signal(action::kind::idling));
    return out;
  }

  // Tagged: completes the one command in flight.
  if (phase_ == phase::greeting || r.tag != pending_tag_) {
    return fail(failure_kind::protocol, "tagged response for an unknown command: " + r.tag);
  }
  if (r.capabilities) capabilities_ = r.capabilities;
  const bool ok = r.cond == condition::ok;
  switch (phase_) {
    case phase::capability:
      if (!ok) return fail(failure_kind::protocol, "CAPABILITY failed: " + r.text);
      if (!capabilities_)
        return fail(failure_kind::protocol, "CAPABILITY returned no capability list");
      return after_capabilities(std::move(out));
    case phase::starttls:
      if (!ok) return fail(failure_kind::config, "the server refused STARTTLS: " + r.text);
      phase_ = phase::tls_handshake;
      out.push_back(signal(action::kind::start_tls));
      return out;
    case phase::login:
      if (r.cond == condition::no) return fail(failure_kind::auth, "LOGIN refused: " + r.text);
      if (!ok) return fail(failure_kind::protocol, "LOGIN rejected: " + r.text);
      authenticated_ = true;
      // Capabilities may change after login; trust only a list sent with the OK.
      if (!r.capabilities) capabilities_.reset();
      return after_login(std::move(out));
    case phase::examine:
      if (r.cond == condition::no)
        return fail(failure_kind::transient, "EXAMINE refused: " + r.text);
      if (!ok) return fail(failure_kind::protocol, "EXAMINE rejected: " + r.text);
      send(out, "IDLE", phase::idle_requested);
      return out;
    case phase::idle_requested:
      return fail(failure_kind::unsupported, "the server refused IDLE: " + r.text);
    case phase::idling:
    case phase::done_sent:
      // After DONE (or a server ending IDLE on its own) the IDLE command completes; start anew.
      if (!ok) return fail(failure_kind::transient, "IDLE ended with an error: " + r.text);
      send(out, "IDLE", phase::idle_requested);
      return out;
    case phase::greeting:
    case phase::tls_handshake:
    case phase::failed:
      break;
  }
  return fail(failure_kind::protocol, "unexpected tagged response: " + r.tag + " " + r.keyword);
}

}  // namespace supportd::idle::detail
