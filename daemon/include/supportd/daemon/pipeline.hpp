#pragma once
// The message pipeline: parse → guard → match thread → classify → render → queue → record.
// Synchronous and free of network I/O: the poller fetches, this decides and writes the ledger,
// the poller then delivers the outbox and flags the message.

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "supportd/classifier/classifier.hpp"
#include "supportd/daemon/config.hpp"
#include "supportd/daemon/guard.hpp"
#include "supportd/mime/message.hpp"
#include "supportd/reply/templates.hpp"
#include "supportd/store/store.hpp"

namespace supportd::daemon {

/// What operators can reload with SIGHUP; swapped as one immutable unit.
struct runtime {
  std::shared_ptr<const classifier::rules> rules;
  std::shared_ptr<const reply::template_set> templates;
};

/// Loads rules and templates named by the settings, validating both (check-config, reload).
[[nodiscard]] std::expected<std::shared_ptr<const runtime>, std::vector<std::string>> load_runtime(
    const settings& s);

/// Guard settings derived from the reply settings.
[[nodiscard]] guard_settings make_guard_settings(const reply_settings& r);

/// The verdict on one message seen on its own, as a new message (no thread log): what
/// `supportd classify` prints.
struct evaluation {
  std::expected<mime::parsed_message, mime::parse_error> parsed;
  guard_verdict guard;
  classifier::classification cls;
};
[[nodiscard]] evaluation evaluate(std::string_view raw, const runtime& rt,
                                  const guard_settings& guard, const mime::parse_limits& limits);

/// The stored outcome of processing one inbound message.
struct outcome {
  std::string decision;  // auto_reply, escalate, suppress, duplicate
  std::string reason;
  std::int64_t thread_id = 0;
  std::string ticket;
  std::int64_t inbound_id = 0;
};

/// "Re: <subject> [#ticket]" without stacking prefixes.
[[nodiscard]] std::string reply_subject(std::string_view original, std::string_view ticket);
/// The Message-ID of our reply, derived from the inbound message so a retry is the same message.
[[nodiscard]] std::string reply_message_id(std::string_view inbound_message_id,
                                           const store::inbound_key& key,
                                           std::string_view domain);
/// The ticket of a "[#TICKET]" tag in a subject, or "".
[[nodiscard]] std::string ticket_in_subject(std::string_view subject);

class pipeline {
 public:
  pipeline(const settings& s, store::store& db, mime::parse_limits limits = {});

  /// Decides one inbound message and records the decision (and a queued reply) in one
  /// transaction. Throws store::store_error on database failure (the caller retries).
  /// `arrived` is the message's INTERNALDATE (0 when unknown).
  outcome process(const store::inbound_key& key, std::string_view raw, const runtime& rt,
                  std::int64_t now, std::int64_t arrived = 0);

  /// Gives up on a message that failed processing repeatedly (a poison message): records it as
  /// quarantined in an escalated thread so an agent sees it, and lets the mailbox flow on.
  outcome quarantine(const store::inbound_key& key, std::string_view reason, std::int64_t now);

 private:
  /// Why a reply to a new thread is withheld (kill switch, repeat window, flood cap), if it is.
  struct hold {
    std::string decision;  // "hold", "escalate" or "suppress"
    std::string reason;
    bool escalate = false;
  };
  std::optional<hold> hold_reason(const std::string& address, const std::string& category,
                                  std::int64_t now, std::int64_t arrived);

  const settings& settings_;
  store::store& db_;
  guard_settings guard_;
  mime::parse_limits limits_;
};

}  // namespace supportd::daemon
