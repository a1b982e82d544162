#include "supportd/daemon/guard.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace supportd::daemon {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The checks below compare lower(text) with lower-case constants; these do it without building
// lower(text), which was most of the guard's cost (a heap string per header, per message).
char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// lower(text).starts_with(prefix)
bool lower_starts_with(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower_char(text[i]) != prefix[i]) return false;
  return true;
}

/// lower(text) == other
bool lower_equals(std::string_view text, std::string_view other) {
  return text.size() == other.size() && lower_starts_with(text, other);
}

/// lower(text).ends_with(suffix)
bool lower_ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         lower_starts_with(text.substr(text.size() - suffix.size()), suffix);
}

/// contains(lower(text), needle)
bool lower_contains(std::string_view text, std::string_view needle) {
  if (needle.empty()) return true;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (lower_starts_with(text.substr(i), needle)) return true;
  return false;
}

bool is_ours(const guard_settings& settings, std::string_view address) {
  return std::any_of(settings.our_addresses.begin(), settings.our_addresses.end(),
                     [&](const std::string& ours) { return lower_equals(address, ours); });
}

guard_verdict deny(std::string rule, std::string reason) {
  return {false, std::move(rule), std::move(reason)};
}

/// Local parts that belong to systems, not people (RFC 3834 §2 "MAILER-DAEMON" and kin).
bool is_system_local_part(std::string_view local) {
  static constexpr std::array exact{
      "mailer-daemon", "postmaster",  "mail-daemon", "listserv", "majordomo", "daemon",
      "mailerdaemon",  "bounce",      "bounces",     "root",     "nobody",    "autoresponder",
      "auto-reply",    "autoreply",   "notifications", "notification", "alerts", "alert"};
  for (std::string_view e : exact)
    if (local == e) return true;
  static constexpr std::array prefixes{"noreply", "no-reply", "no_reply", "donotreply",
                                       "do-not-reply", "do_not_reply", "bounce-", "bounces-",
                                       "owner-", "mailer-daemon"};
  for (std::string_view p : prefixes)
    if (local.starts_with(p)) return true;
  // List software request/owner addresses (RFC 2142 conventions).
  return local.ends_with("-request") || local.ends_with("-owner") || local.ends_with("-bounces") ||
         local.ends_with("-noreply") || local.ends_with("-no-reply");
}

/// Subjects that only machines write; catches auto-replies without any header (Lotus Notes).
/// A marker counts at the start of the subject, or anywhere when longer than six bytes.
bool is_auto_reply_subject(std::string_view subject) {
  static constexpr std::array<std::string_view, 23> markers{
      "out of office",        "out of the office",  "automatic reply",  "auto-reply",
      "autoreply",            "auto reply:",        "auto:",            "vacation reply",
      "undeliverable",        "undelivered mail",   "delivery status notification",
      "delivery failure",     "mail delivery failed", "returned mail:", "failure notice",
      "delivery has failed",  "自动回复",           "自動回覆",         "自動回复",
      "退信",                 "休假",               "不在办公室",       "外出"};
  // One pass over the subject, trying at each byte only the markers that start with it,
  // compared case-insensitively in place: no lower-case copy, no search per marker (together
  // most of the guard's cost). Bit k of starting_with[b]: markers[k] starts with byte b.
  static_assert(markers.size() <= 32);
  static constexpr std::array<std::uint32_t, 256> starting_with = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::size_t k = 0; k < markers.size(); ++k) t[static_cast<unsigned char>(markers[k].front())] |= 1U << k;
    return t;
  }();
  for (std::size_t p = 0; p < subject.size(); ++p) {
    for (std::uint32_t set = starting_with[static_cast<unsigned char>(lower_char(subject[p]))]; set != 0;
         set &= set - 1) {
      const std::string_view m = markers[static_cast<std::size_t>(std::countr_zero(set))];
      if ((p == 0 || m.size() > 6) && lower_starts_with(subject.substr(p), m)) return true;
    }
  }
  return false;
}

}  // namespace

std::string reply_address(const mime::parsed_message& msg) {
  if (msg.reply_to && !msg.reply_to->address.empty()) return msg.reply_to->address;
  if (msg.from) return msg.from->address;
  return {};
}

namespace {

// The header fields the rules read, found in one pass over the list instead of one pass per
// rule: each is the first field of its name, as parsed_message::header() finds it.
struct rule_fields {
  const mime::header_field* auto_submitted = nullptr;
  std::array<bool, 3> auto_reply{};  // X-Autoreply, X-Autorespond, X-Auto-Reply present
  const mime::header_field* response_suppress = nullptr;
  const mime::header_field* list = nullptr;  // the first List-* field
  const mime::header_field* precedence = nullptr;
  const mime::header_field* spam_flag = nullptr;
  const mime::header_field* spam_status = nullptr;
  bool dmarc_fail = false;                 // some Authentication-Results has dmarc=fail
  const mime::header_field* loop = nullptr;  // the first X-Loop naming one of our addresses

  rule_fields(const mime::parsed_message& msg, const guard_settings& settings) {
    auto first = [](const mime::header_field*& slot, const mime::header_field& h) {
      if (slot == nullptr) slot = &h;
    };
    for (const auto& h : msg.headers) {
      const std::string_view n = h.name;
      if (list == nullptr && lower_starts_with(n, "list-")) list = &h;
      switch (n.size()) {
        case 6:
          if (loop == nullptr && lower_equals(n, "x-loop")) {
            for (const auto& ours : settings.our_addresses)
              if (lower_contains(h.value, ours)) loop = &h;
          }
          break;
        case 10:
          if (lower_equals(n, "precedence")) first(precedence, h);
          break;
        case 11:
          if (lower_equals(n, "x-autoreply")) auto_reply[0] = true;
          if (lower_equals(n, "x-spam-flag")) first(spam_flag, h);
          break;
        case 12:
          if (lower_equals(n, "x-auto-reply")) auto_reply[2] = true;
          break;
        case 13:
          if (lower_equals(n, "x-autorespond")) auto_reply[1] = true;
          if (lower_equals(n, "x-spam-status")) first(spam_status, h);
          break;
        case 14:
          if (lower_equals(n, "auto-submitted")) first(auto_submitted, h);
          break;
        case 22:
          if (lower_equals(n, "authentication-results") && lower_contains(h.value, "dmarc=fail"))
            dmarc_fail = true;
          break;
        case 24:
          if (lower_equals(n, "x-auto-response-suppress")) first(response_suppress, h);
          break;
        default:
          break;
      }
    }
  }
};

}  // namespace

guard_verdict should_auto_reply(const mime::parsed_message& msg, const guard_settings& settings) {
  const rule_fields fields(msg, settings);
  // RFC 3834 §2: Auto-Submitted with any value but "no" marks machine-generated mail.
  if (fields.auto_submitted != nullptr) {
    const std::string_view v = fields.auto_submitted->value;
    // The keyword may be followed by parameters or a comment: "no (human)" is still "no".
    std::string_view keyword = trim(v);
    keyword = keyword.substr(0, std::min(keyword.find_first_of(" \t;("), keyword.size()));
    if (!lower_equals(keyword, "no")) return deny("auto-submitted", "Auto-Submitted: " + std::string(trim(v)));
  }
  // A null reverse-path is a delivery status notification (RFC 3834 §2, RFC 5321 §4.5.5).
  if (msg.return_path && msg.return_path->empty())
    return deny("null-return-path", "Return-Path: <> (bounce)");
  if (msg.content_type == "multipart/report")
    return deny("delivery-report", "Content-Type: multipart/report");
  static constexpr std::array<std::string_view, 3> auto_reply_names{"X-Autoreply", "X-Autorespond",
                                                                     "X-Auto-Reply"};
  for (std::size_t k = 0; k < auto_reply_names.size(); ++k)
    if (fields.auto_reply[k]) return deny("auto-reply-header", std::string(auto_reply_names[k]) + " present");
  // Microsoft's header asks others not to auto-answer; only automated senders set it.
  if (fields.response_suppress != nullptr && !trim(fields.response_suppress->value).empty())
    return deny("auto-response-suppress",
                "X-Auto-Response-Suppress: " + std::string(trim(fields.response_suppress->value)));
  // RFC 3834 §2 and RFC 2369: list and bulk mail is never answered.
  if (fields.list != nullptr) return deny("mailing-list", fields.list->name + " present");
  if (fields.precedence != nullptr) {
    const std::string_view p = trim(fields.precedence->value);
    if (lower_equals(p, "bulk") || lower_equals(p, "list") || lower_equals(p, "junk"))
      return deny("precedence", "Precedence: " + lower(p));
  }
  // Receiving server verdicts: answering spam or forged senders is backscatter.
  if (fields.spam_flag != nullptr && lower_starts_with(trim(fields.spam_flag->value), "yes"))
    return deny("spam", "X-Spam-Flag: YES");
  if (fields.spam_status != nullptr && lower_starts_with(trim(fields.spam_status->value), "yes"))
    return deny("spam", "X-Spam-Status: Yes");
  if (fields.dmarc_fail) return deny("dmarc-fail", "Authentication-Results: dmarc=fail");

  if (!msg.from || msg.from->address.empty())
    return deny("no-sender", "no usable From address");
  const std::string_view from = msg.from->address;
  const std::string_view to = msg.reply_to && !msg.reply_to->address.empty()
                                  ? std::string_view(msg.reply_to->address)
                                  : from;  // reply_address()
  for (const std::string_view addr : {from, to}) {
    if (is_ours(settings, addr)) return deny("own-address", "sent from our own address " + lower(addr));
    std::string_view local = addr.substr(0, addr.find('@'));
    if (is_system_local_part(lower(local))) return deny("system-sender", "system sender " + lower(addr));
  }
  // Our own replies coming back (loops): our Message-ID domain or our loop header.
  if (!settings.our_message_id_domain.empty() && msg.message_id.size() > settings.our_message_id_domain.size() &&
      lower_ends_with(msg.message_id, settings.our_message_id_domain) &&
      msg.message_id[msg.message_id.size() - settings.our_message_id_domain.size() - 1] == '@')
    return deny("own-message", "Message-ID on our domain " + msg.message_id);
  if (fields.loop != nullptr) return deny("loop", "X-Loop: " + fields.loop->value);
  if (is_auto_reply_subject(msg.subject))
    return deny("auto-reply-subject", "subject looks automatic: " + msg.subject);
  // RFC 5230 §4.5: do not answer mail that was not sent to one of our addresses (Bcc, lists).
  if (settings.require_addressed && !settings.our_addresses.empty()) {
    bool addressed = false;
    for (const auto* list : {&msg.to, &msg.cc})
      for (const auto& mb : *list) addressed = addressed || is_ours(settings, mb.address);
    if (!addressed) return deny("not-addressed", "none of our addresses is in To or Cc");
  }
  return {};
}

}  // namespace supportd::daemon
