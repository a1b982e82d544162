#include "supportd/daemon/pipeline.hpp"

#include <array>
#include <cstdio>

#include "supportd/daemon/redact.hpp"
#include "supportd/reply/compose.hpp"

namespace supportd::daemon {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::uint64_t fnv1a(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  std::array<char, 17> buf{};
  std::snprintf(buf.data(), buf.size(), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf.data(), 16);
}

/// "退款 (subject 3), refund (body 1)": what matched, where, and how much it weighed.
std::string join_keywords(const classifier::classification& c) {
  std::string out;
  for (const auto& k : c.keywords) {
    if (!out.empty()) out += ", ";
    std::string weight = std::to_string(k.weight);
    weight.erase(weight.find_last_not_of('0') + 1);
    if (weight.ends_with('.')) weight.pop_back();
    out += k.keyword + " (" + k.where + " " + weight + ")";
  }
  return out;
}

/// The customer's name for the greeting: display name, else the address's local part.
std::string customer_name(const mime::parsed_message& msg) {
  if (!msg.from) return {};
  if (!msg.from->name.empty()) return msg.from->name;
  return msg.from->address.substr(0, msg.from->address.find('@'));
}

}  // namespace

std::expected<std::shared_ptr<const runtime>, std::vector<std::string>> load_runtime(
    const settings& s) {
  std::vector<std::string> errors;
  auto rules = classifier::rules::load(s.rules_path);
  if (!rules) {
    errors.push_back(rules.error().to_string());
    return std::unexpected(errors);
  }
  auto templates = reply::template_set::load(s.templates_dir, (*rules)->categories());
  if (!templates) {
    for (const auto& e : templates.error()) errors.push_back(e.file + ": " + e.message);
    return std::unexpected(errors);
  }
  auto rt = std::make_shared<runtime>();
  rt->rules = *rules;
  rt->templates = *templates;
  return rt;
}

guard_settings make_guard_settings(const reply_settings& r) {
  return {r.addresses, r.message_id_domain, r.require_addressed};
}

evaluation evaluate(std::string_view raw, const runtime& rt, const guard_settings& guard,
                    const mime::parse_limits& limits) {
  evaluation ev{mime::parse_message(raw, limits), {}, {}};
  if (!ev.parsed) {
    ev.guard = {false, "unparseable", ev.parsed.error().detail};
    ev.cls.category = "general";
    ev.cls.language = "en";
    ev.cls.escalate = true;
    return ev;
  }
  const auto& msg = *ev.parsed;
  ev.guard = should_auto_reply(msg, guard);
  ev.cls = classifier::classify(*rt.rules, msg.subject,
                                msg.new_text.empty() ? msg.body_text : msg.new_text);
  return ev;
}

std::string reply_subject(std::string_view original, std::string_view ticket) {
  std::string subject(original);
  // Drop a tag we added before, so a thread's subject never collects tags.
  if (auto pos = subject.find("[#"); pos != std::string::npos) {
    auto end = subject.find(']', pos);
    if (end != std::string::npos) {
      subject.erase(pos, end - pos + 1);
      while (!subject.empty() && subject.back() == ' ') subject.pop_back();
    }
  }
  std::string l = lower(subject);
  bool already_reply = l.starts_with("re:") || l.starts_with("re :") ||
                       subject.starts_with("回复:") || subject.starts_with("回复：") ||
                       subject.starts_with("答复:") || subject.starts_with("答复：");
  std::string out = already_reply ? subject : "Re: " + subject;
  return (subject.empty() ? std::string("Re:") : out) + " [#" + std::string(ticket) + "]";
}

std::string reply_message_id(std::string_view inbound_message_id, const store::inbound_key& key,
                             std::string_view domain) {
  std::string basis(inbound_message_id);
  if (basis.empty())
    basis = key.mailbox + "/" + std::to_string(key.uidvalidity) + "/" + std::to_string(key.uid);
  return "ar." + hex64(fnv1a(basis, 0xcbf29ce484222325ULL)) +
         hex64(fnv1a(basis, 0x84222325cbf29ce4ULL)) + "@" + std::string(domain);
}

std::string ticket_in_subject(std::string_view subject) {
  for (auto pos = subject.find("[#"); pos != std::string_view::npos;
       pos = subject.find("[#", pos + 2)) {
    auto end = subject.find(']', pos);
    if (end == std::string_view::npos) break;
    std::string_view t = subject.substr(pos + 2, end - pos - 2);
    bool ok = !t.empty() && t.size() <= 32;
    for (char c : t)
      ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-');
    if (ok) return std::string(t);
  }
  return {};
}

pipeline::pipeline(const settings& s, store::store& db, mime::parse_limits limits)
    : settings_(s), db_(db), guard_(make_guard_settings(s.reply)), limits_(limits) {}

outcome pipeline::process(const store::inbound_key& key, std::string_view raw, const runtime& rt,
                          std::int64_t now, std::int64_t arrived) {
  evaluation ev = evaluate(raw, rt, guard_, limits_);
  store::store::transaction tx(db_);
  outcome out;

  store::message_row in;
  // Every decision without a reply ends the same way: record the inbound row, commit, report.
  auto finish = [&](std::string decision, std::string reason, std::int64_t thread_id,
                    std::string ticket) {
    in.thread_id = thread_id;
    in.decision = std::move(decision);
    in.reason = std::move(reason);
    outcome o{in.decision, in.reason, thread_id, std::move(ticket), db_.record_inbound(in)};
    tx.commit();
    return o;
  };
  in.key = key;
  in.direction = "in";
  in.state = store::inbound_state::decided;
  in.created_at = now;
  in.category = ev.cls.category;
  in.confidence = ev.cls.confidence;
  in.language = ev.cls.language;
  in.keywords = join_keywords(ev.cls);

  if (!ev.parsed) {
    // Unparseable mail is never dropped: it gets a thread of its own for an agent to look at.
    store::thread_row t;
    t.subject = "(unparseable message)";
    t.category = "general";
    t.language = "en";
    t.status = store::thread_status::escalated;
    t.created_at = t.updated_at = now;
    t = db_.create_thread(t);
    in.body = std::string(raw.substr(0, 64 * 1024));
    return finish("escalate", "unparseable: " + ev.parsed.error().detail, t.id, t.ticket);
  }

  const mime::parsed_message& msg = *ev.parsed;
  // Secrets customers paste never reach the store, the log or our reply's subject.
  redaction subject = redact_sensitive(msg.subject);
  redaction body = redact_sensitive(msg.body_text);
  std::string removed;
  for (const auto* r : {&subject, &body})
    for (const auto& kind : r->kinds)
      if (removed.find(kind) == std::string::npos) removed += (removed.empty() ? "" : ", ") + kind;
  in.message_id = msg.message_id;
  in.from_address = msg.from ? msg.from->address : "";
  in.subject = subject.text;
  in.body = body.text;

  // The same message delivered twice (copies, resends with the same Message-ID) is answered once.
  if (!msg.message_id.empty() && db_.inbound_message_id_decided(msg.message_id)) {
    auto t = db_.thread_by_message_id(msg.message_id);
    return finish("duplicate", "Message-ID already handled", t ? t->id : 0, t ? t->ticket : "");
  }

  // Thread matching: our Message-IDs in In-Reply-To/References, else a [#ticket] tag from a
  // participant of that thread (a tag alone must not let a stranger into someone's thread).
  std::optional<store::thread_row> thread;
  if (!msg.in_reply_to.empty()) thread = db_.thread_by_message_id(msg.in_reply_to);
  for (auto it = msg.references.rbegin(); !thread && it != msg.references.rend(); ++it)
    thread = db_.thread_by_message_id(*it);
  if (!thread) {
    std::string ticket = ticket_in_subject(msg.subject);
    if (!ticket.empty()) {
      auto t = db_.thread_by_ticket(ticket);
      if (t && db_.is_participant(t->id, in.from_address)) thread = t;
    }
  }

  if (thread) {
    if (!ev.guard.may_reply)
      return finish("suppress", ev.guard.rule + ": " + ev.guard.reason, thread->id,
                    thread->ticket);
    // The taxonomy's thread rule: a customer writing again gets a person, not a second robot.
    db_.set_thread_status(thread->id, store::thread_status::escalated);
    return finish("escalate",
                  thread->status == store::thread_status::resolved
                      ? "customer wrote again to a resolved thread: reopened"
                      : "customer wrote again in an answered thread",
                  thread->id, thread->ticket);
  }

  store::thread_row t;
  t.customer_address = reply_address(msg);
  t.customer_name = customer_name(msg);
  t.subject = subject.text;
  t.category = ev.cls.category;
  t.language = ev.cls.language;
  t.created_at = t.updated_at = now;
  if (!ev.guard.may_reply) {
    t.status = store::thread_status::suppressed;
    t = db_.create_thread(t);
    return finish("suppress", ev.guard.rule + ": " + ev.guard.reason, t.id, t.ticket);
  }

  // Loop and flood limits: the thread is logged either way, only the reply is withheld.
  if (auto held = hold_reason(t.customer_address, ev.cls.category, now, arrived)) {
    t.status = held->escalate ? store::thread_status::escalated : store::thread_status::suppressed;
    t = db_.create_thread(t);
    return finish(held->decision, held->reason, t.id, t.ticket);
  }

  t.status = ev.cls.escalate ? store::thread_status::escalated : store::thread_status::auto_replied;
  t = db_.create_thread(t);
  in.thread_id = t.id;

  reply::reply_vars vars;
  vars.customer_name = t.customer_name;
  vars.subject = subject.text;
  vars.ticket = t.ticket;
  vars.category = ev.cls.category;
  vars.category_name = rt.rules->display_name(ev.cls.category, ev.cls.language);
  vars.language = ev.cls.language;
  vars.support_address = settings_.reply.from.address;
  auto rendered = rt.templates->render(ev.cls.category, ev.cls.language, vars);
  if (!rendered) {
    db_.set_thread_status(t.id, store::thread_status::escalated);
    return finish("escalate",
                  "template error: " + rendered.error().file + ": " + rendered.error().message,
                  t.id, t.ticket);
  }

  in.decision = "auto_reply";
  in.reason = ev.cls.escalate ? (ev.cls.low_confidence ? "low confidence: escalated"
                                                       : "category escalates")
                              : "";
  in.reason += (in.reason.empty() ? "" : "; ") + std::string("template ") +
               rendered->template_name + "@" + rendered->template_version;
  if (!removed.empty()) in.reason += "; removed from the log: " + removed;
  out.inbound_id = db_.record_inbound(in);

  reply::outgoing_message reply_msg;
  reply_msg.from = settings_.reply.from;
  reply_msg.to.push_back({msg.reply_to && !msg.reply_to->address.empty() ? msg.reply_to->name
                          : msg.from ? msg.from->name : "",
                          t.customer_address});
  // A message without a subject gets the category's name, in the customer's language.
  reply_msg.subject =
      reply_subject(subject.text.empty() ? vars.category_name : subject.text, t.ticket);
  reply_msg.message_id = reply_message_id(msg.message_id, key, settings_.reply.message_id_domain);
  reply_msg.in_reply_to = msg.message_id;
  reply_msg.references = msg.references;  // compose() appends in_reply_to (RFC 5322 §3.6.4)
  reply_msg.date = reply::format_date(now);
  // RFC 3834 §5: mark the reply as automatic so other responders stay silent.
  reply_msg.extra_headers = {{"Auto-Submitted", "auto-replied"},
                             {"X-Auto-Response-Suppress", "All"},
                             {"X-Loop", settings_.reply.from.address}};
  reply_msg.body_text = rendered->body;

  store::outbox_row ob;
  ob.inbound_id = out.inbound_id;
  ob.thread_id = t.id;
  ob.message_id = reply_msg.message_id;
  ob.envelope_from = settings_.smtp.envelope_from;
  ob.recipients = {t.customer_address};
  ob.data = reply::compose(reply_msg);
  ob.next_attempt_at = now;
  db_.queue_reply(ob);

  store::message_row sent;
  sent.thread_id = t.id;
  sent.direction = "out";
  sent.message_id = reply_msg.message_id;
  sent.from_address = settings_.reply.from.address;
  sent.subject = reply_msg.subject;
  sent.decision = "auto_reply";
  sent.reason = rendered->template_name + "@" + rendered->template_version;
  sent.category = ev.cls.category;
  sent.language = ev.cls.language;
  sent.body = rendered->body;
  sent.created_at = now;
  db_.record_outbound(sent);

  out.decision = in.decision;
  out.reason = in.reason;
  out.thread_id = t.id;
  out.ticket = t.ticket;
  tx.commit();
  return out;
}

std::optional<pipeline::hold> pipeline::hold_reason(const std::string& address,
                                                    const std::string& category,
                                                    std::int64_t now, std::int64_t arrived) {
  const auto& r = settings_.reply;
  if (!r.enabled)
    return hold{"hold", "kill switch: [reply] enabled = false", true};
  const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(r.max_age).count();
  if (max_age > 0 && arrived > 0 && arrived < now - max_age)
    return hold{"suppress",
                "backlog: arrived " + std::to_string((now - arrived) / 3600) +
                    "h ago, over max_age_hours " + std::to_string(r.max_age.count()),
                false};
  // RFC 5230 §4.2 (:days): one reply per sender and topic within the window; a second message on
  // the same topic so soon is a person to talk to, not a robot to repeat.
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(r.repeat_window).count();
  if (window > 0 && db_.replies_to_since(address, now - window, category) > 0)
    return hold{"escalate",
                "already auto-replied to " + address + " about " + category + " within " +
                    std::to_string(r.repeat_window.count()) + "h",
                true};
  if (db_.replies_to_since(address, now - 86400) >= r.max_per_recipient_per_day)
    return hold{"suppress",
                "flood: " + std::to_string(r.max_per_recipient_per_day) +
                    " auto-replies to " + address + " in the last 24h",
                false};
  return std::nullopt;
}

outcome pipeline::quarantine(const store::inbound_key& key, std::string_view reason,
                            std::int64_t now) {
  store::store::transaction tx(db_);
  store::thread_row t;
  t.subject = "(quarantined message)";
  t.category = "general";
  t.language = "en";
  t.status = store::thread_status::escalated;
  t.created_at = t.updated_at = now;
  t = db_.create_thread(t);
  store::message_row in;
  in.key = key;
  in.direction = "in";
  // Recorded as decided (decision "quarantine") so the flag step marks it \Seen like any other.
  in.state = store::inbound_state::decided;
  in.thread_id = t.id;
  in.decision = "quarantine";
  in.reason = std::string(reason);
  in.created_at = now;
  outcome out{in.decision, in.reason, t.id, t.ticket, db_.record_inbound(in)};
  tx.commit();
  return out;
}

}  // namespace supportd::daemon
