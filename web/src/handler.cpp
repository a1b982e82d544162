#include "supportd/web/handler.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <exception>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "detail/auth.hpp"
#include "detail/exposition.hpp"
#include "detail/form.hpp"
#include "detail/pages.hpp"
#include "supportd/reply/compose.hpp"

namespace supportd::web {

namespace mst = kainjow::mustache;

namespace {

constexpr std::string_view session_cookie = "supportd_session";
constexpr std::size_t max_name = 64;
constexpr std::size_t max_note = 20'000;
constexpr std::size_t max_reply = 100'000;
constexpr std::size_t list_limit = 500;

// --- Responses ---------------------------------------------------------------------------------

// Every response: no framing, no sniffing, no referrer leaks; scripts are not allowed at all
// (the page needs none), so injected markup could not run even if escaping failed.
void security_headers(response& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'self'; img-src 'self'; "
                         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

response text(int status, std::string body, std::string type = "text/plain; charset=utf-8") {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(type));
  r.headers.emplace_back("Cache-Control", "no-store");
  security_headers(r);
  r.body = std::move(body);
  return r;
}

response redirect(std::string location) {
  auto r = text(303, "");
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

// Who is asking: an agent signed in through the browser (with the cookie that CSRF tokens are
// bound to) or a script holding the bearer token.
struct agent {
  std::string name;
  std::string cookie;  // "" for bearer requests: no ambient credential, so no CSRF check
  std::string csrf;
};

std::string render(std::string_view tmpl, const mst::data& data) {
  mst::mustache m{std::string(tmpl)};
  if (!m.is_valid()) return "template error: " + m.error_message();
  return m.render(data);
}

response page(int status, std::string_view title, std::string content, const agent* who) {
  mst::data layout;
  layout.set("title", std::string(title));
  layout.set("content", std::move(content));
  if (who != nullptr && !who->cookie.empty()) {
    layout.set("agent", who->name);
    layout.set("csrf", who->csrf);
  }
  return text(status, render(detail::layout_page, layout), "text/html; charset=utf-8");
}

response error_response(int status, std::string_view heading, std::string_view message,
                        const agent* who) {
  mst::data d;
  d.set("heading", std::string(heading));
  d.set("message", std::string(message));
  return page(status, heading, render(detail::error_page, d), who);
}

// --- Small text helpers ------------------------------------------------------------------------

std::string trim(std::string_view s) {
  const auto* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// One line of at most `limit` bytes, cut at a UTF-8 character boundary, no control characters.
std::string clean_line(std::string_view s, std::size_t limit) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    out += c;
  }
  out = trim(out);
  if (out.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

// Multi-line text as typed: CRLF to LF, other control characters (but tab) dropped.
std::string clean_text(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (s[i] == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') continue;
      out += '\n';
    } else if ((u < 0x20 && s[i] != '\n' && s[i] != '\t') || u == 0x7f) {
      continue;
    } else {
      out += s[i];
    }
  }
  return trim(out);
}

std::string format_time(std::int64_t t) {
  std::tm tm{};
  const auto tt = static_cast<std::time_t>(t);
  if (gmtime_r(&tt, &tm) == nullptr) return {};
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return std::string(buf, n);
}

std::string format_age(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

// A BCP 47 tag for the lang attribute (fonts pick Simplified Chinese glyphs for "zh-CN").
std::string lang_tag(std::string_view language) {
  if (language == "zh") return "zh-CN";
  if (language.empty() || language.size() > 8) return "";
  for (const char c : language) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) return "";
  }
  return std::string(language);
}

std::string customer_label(const store::thread_row& t) {
  if (t.customer_name.empty()) return t.customer_address;
  return t.customer_name + " <" + t.customer_address + ">";
}

std::optional<std::int64_t> parse_id(std::string_view s) {
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc{} || p != s.data() + s.size() || id <= 0) return std::nullopt;
  return id;
}

std::string lower_ascii(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// --- Agent replies -----------------------------------------------------------------------------

// "Re: <subject> [#ticket]": our tag replaced (never stacked), "Re:" not doubled.
std::string reply_subject(std::string_view original, std::string_view ticket) {
  std::string subject(original);
  for (auto pos = subject.find("[#"); pos != std::string::npos; pos = subject.find("[#", pos)) {
    const auto end = subject.find(']', pos);
    if (end == std::string::npos) break;
    subject.erase(pos, end - pos + 1);
  }
  subject = trim(subject);
  const auto l = lower_ascii(subject);
  const bool already = l.starts_with("re:") || l.starts_with("re :") ||
                       subject.starts_with("回复:") || subject.starts_with("回复：") ||
                       subject.starts_with("答复:") || subject.starts_with("答复：");
  std::string out = subject.empty() ? "Re:" : already ? subject : "Re: " + subject;
  return out + " [#" + std::string(ticket) + "]";
}

std::string message_id_domain(const settings& s) {
  if (!s.message_id_domain.empty()) return s.message_id_domain;
  const auto at = s.from.address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : s.from.address.substr(at + 1);
}

// --- Authentication ----------------------------------------------------------------------------

std::optional<agent> authenticate(const request& req, const context& ctx, const std::string& key) {
  const auto authorization = req.header("Authorization");
  if (authorization.size() > 7 && detail::iequals(authorization.substr(0, 7), "Bearer ")) {
    if (detail::token_matches(trim(authorization.substr(7)), ctx.token, ctx.secret)) {
      return agent{"api", "", ""};
    }
    return std::nullopt;
  }
  const auto cookie = detail::cookie_value(req.header("Cookie"), session_cookie);
  if (cookie.empty()) return std::nullopt;
  auto name = detail::check_session(key, cookie, ctx.now, ctx.config.session_lifetime.count());
  if (!name) return std::nullopt;
  return agent{*name, cookie, detail::csrf_token(key, cookie)};
}

response login_form(int status, std::string_view error) {
  mst::data d;
  if (!error.empty()) d.set("error", std::string(error));
  return page(status, "Sign in", render(detail::login_page, d), nullptr);
}

response do_login(const request& req, const context& ctx, const std::string& key) {
  const auto form = detail::parse_form(req.body);
  const auto token = form.contains("token") ? form.at("token") : std::string();
  if (!detail::token_matches(trim(token), ctx.token, ctx.secret)) {
    return login_form(401, "That token is not valid.");
  }
  auto name = clean_line(form.contains("name") ? form.at("name") : "", max_name);
  if (name.empty()) name = "agent";
  const auto cookie = detail::make_session(key, name, ctx.now);
  auto r = redirect("/");
  // HttpOnly: page scripts (there are none) could not read it; SameSite=Strict: no other site
  // can make the browser send it (RFC 6265bis §8.8), on top of the CSRF tokens.
  r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=" + cookie +
                                           "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                           std::to_string(ctx.config.session_lifetime.count()));
  return r;
}

// --- Pages -------------------------------------------------------------------------------------

struct filter {
  std::string_view value;
  std::string_view label;
};
constexpr filter filters[] = {{"queue", "Escalated + open"},
                              {"escalated", "Escalated"},
                              {"open", "Open"},
                              {"auto_replied", "Auto-replied"},
                              {"resolved", "Resolved"},
                              {"suppressed", "Suppressed"},
                              {"all", "All"}};

response list_threads(const request&, const std::map<std::string, std::string>& query, context& ctx,
                      const agent& who) {
  std::string status = query.contains("status") ? query.at("status") : "queue";
  std::vector<store::thread_row> rows;
  if (status == "queue") {
    rows = ctx.db.threads(store::thread_status::escalated, list_limit);
    auto open = ctx.db.threads(store::thread_status::open, list_limit);
    rows.insert(rows.end(), open.begin(), open.end());
  } else if (status == "all") {
    rows = ctx.db.threads(std::nullopt, list_limit);
  } else if (auto s = store::thread_status_from(status)) {
    rows = ctx.db.threads(*s, list_limit);
  } else {
    return error_response(400, "Unknown filter", "There is no such thread status.", &who);
  }
  // Most urgent first, then escalated before open, then the oldest waiting first.
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    const bool ae = a.status == store::thread_status::escalated;
    const bool be = b.status == store::thread_status::escalated;
    if (ae != be) return ae;
    return a.created_at < b.created_at;
  });

  mst::list threads;
  for (const auto& t : rows) {
    mst::object o;
    o["id"] = std::to_string(t.id);
    o["ticket"] = t.ticket;
    o["age"] = format_age(ctx.now - t.created_at);
    o["created"] = format_time(t.created_at);
    o["priority"] = std::to_string(t.priority);
    o["priority_class"] = std::string(t.priority > 0 ? "high" : "normal");
    o["status"] = std::string(store::to_string(t.status));
    o["category"] = t.category;
    o["customer"] = customer_label(t);
    o["subject"] = t.subject.empty() ? std::string("(no subject)") : t.subject;
    o["lang"] = lang_tag(t.language);
    o["assignee"] = t.assignee;
    threads.emplace_back(o);
  }
  mst::list filter_list;
  std::string heading = "Threads";
  for (const auto& f : filters) {
    mst::object o;
    o["value"] = std::string(f.value);
    o["label"] = std::string(f.label);
    o["current"] = mst::data(f.value == status);
    if (f.value == status) heading = "Threads · " + std::string(f.label);
    filter_list.emplace_back(o);
  }
  mst::data d;
  d.set("heading", heading);
  d.set("filters", filter_list);
  d.set("threads", threads);
  d.set("empty", mst::data(rows.empty()));
  return page(200, "Threads", render(detail::list_page, d), &who);
}

std::string_view flash_text(std::string_view done) {
  if (done == "assign") return "Assignee saved.";
  if (done == "note") return "Note added.";
  if (done == "resolve") return "Thread resolved.";
  if (done == "reopen") return "Thread reopened.";
  if (done == "reply") return "Reply queued; it will be sent with the next outbox run.";
  return {};
}

response show_thread(std::int64_t id, const std::map<std::string, std::string>& query, context& ctx,
                     const agent& who, int status = 200, std::string_view error = {}) {
  const auto t = ctx.db.thread(id);
  if (!t) return error_response(404, "Not found", "There is no such thread.", &who);
  mst::data d;
  d.set("id", std::to_string(t->id));
  d.set("ticket", t->ticket);
  d.set("subject", t->subject.empty() ? std::string("(no subject)") : t->subject);
  d.set("lang", lang_tag(t->language));
  d.set("status", std::string(store::to_string(t->status)));
  d.set("customer", customer_label(*t));
  d.set("customer_address", t->customer_address);
  d.set("category", t->category);
  d.set("priority", std::to_string(t->priority));
  d.set("assignee", t->assignee.empty() ? std::string("—") : t->assignee);
  d.set("assign_value", t->assignee.empty() ? who.name : t->assignee);
  d.set("age", format_age(ctx.now - t->created_at));
  d.set("created", format_time(t->created_at));
  d.set("csrf", who.csrf);
  d.set("reply_subject", reply_subject(t->subject, t->ticket));
  d.set("reply_disabled", mst::data(t->customer_address.empty()));
  d.set("can_resolve", mst::data(t->status != store::thread_status::resolved));
  d.set("can_reopen", mst::data(t->status == store::thread_status::resolved ||
                                t->status == store::thread_status::suppressed ||
                                t->status == store::thread_status::auto_replied));
  if (query.contains("done")) {
    const auto f = flash_text(query.at("done"));
    if (!f.empty()) d.set("flash", std::string(f));
  }
  if (!error.empty()) d.set("error", std::string(error));

  mst::list messages;
  for (const auto& m : ctx.db.messages(id)) {
    mst::object o;
    const bool in = m.direction == "in";
    o["direction"] = std::string(in ? "in" : "out");
    if (in) {
      o["who"] = m.from_address.empty() ? std::string("(unknown sender)") : m.from_address;
    } else if (m.decision == "agent_reply") {
      o["who"] = "Agent reply (" + m.reason + ")";
    } else {
      o["who"] = "supportd → customer";
    }
    o["when"] = format_time(m.created_at);
    o["decision"] = m.decision.empty() ? std::string("undecided") : m.decision;
    if (!m.reason.empty() && m.decision != "agent_reply") o["reason"] = m.reason;
    std::string meta;
    if (!m.category.empty()) meta += "category " + m.category;
    if (in && m.confidence > 0) {
      std::ostringstream c;
      c.precision(2);
      c << std::fixed << m.confidence;
      meta += (meta.empty() ? "" : " · ") + std::string("confidence ") + c.str();
    }
    if (!m.language.empty()) meta += (meta.empty() ? "" : " · ") + m.language;
    if (!m.keywords.empty()) meta += (meta.empty() ? "" : " · ") + ("keywords: " + m.keywords);
    if (!meta.empty()) o["meta"] = meta;
    o["lang"] = lang_tag(m.language);
    o["body"] = m.body.empty() ? std::string("(no text)") : m.body;
    messages.emplace_back(o);
  }
  d.set("messages", messages);
  mst::list notes;
  for (const auto& n : ctx.db.notes(id)) {
    mst::object o;
    o["author"] = n.author;
    o["when"] = format_time(n.created_at);
    o["text"] = n.text;
    notes.emplace_back(o);
  }
  d.set("has_notes", mst::data(!notes.empty()));
  d.set("notes", notes);
  return page(status, t->ticket, render(detail::thread_page, d), &who);
}

// --- Actions -----------------------------------------------------------------------------------

response thread_action(std::int64_t id, std::string_view action, const request& req, context& ctx,
                       const agent& who) {
  const auto form = detail::parse_form(req.body);
  // Cookie sessions must prove the form came from our page (the token is only in it).
  if (!who.cookie.empty()) {
    const auto it = form.find("csrf");
    if (it == form.end() || !detail::same(it->second, who.csrf)) {
      return error_response(403, "Forbidden",
                            "The form has expired or did not come from this page. Reload the "
                            "page and try again.",
                            &who);
    }
  }
  const auto t = ctx.db.thread(id);
  if (!t) return error_response(404, "Not found", "There is no such thread.", &who);
  const auto field = [&](const char* name) {
    const auto it = form.find(name);
    return it == form.end() ? std::string() : it->second;
  };
  const auto done = "/threads/" + std::to_string(id) + "?done=" + std::string(action);

  if (action == "assign") {
    ctx.db.assign(id, clean_line(field("assignee"), max_name));
    return redirect(done);
  }
  if (action == "note") {
    const auto note = clean_text(field("text"));
    if (note.empty()) return show_thread(id, {}, ctx, who, 400, "A note needs some text.");
    if (note.size() > max_note) return show_thread(id, {}, ctx, who, 400, "The note is too long.");
    ctx.db.add_note(id, who.name, note);
    return redirect(done);
  }
  if (action == "resolve") {
    ctx.db.set_status(id, store::thread_status::resolved);
    return redirect(done);
  }
  if (action == "reopen") {
    ctx.db.set_status(id, store::thread_status::open);
    return redirect(done);
  }
  if (action == "reply") {
    const auto body = clean_text(field("body"));
    if (body.empty()) return show_thread(id, {}, ctx, who, 400, "The reply is empty.");
    if (body.size() > max_reply)
      return show_thread(id, {}, ctx, who, 400, "The reply is too long.");
    if (t->customer_address.empty() || ctx.config.from.address.empty()) {
      return show_thread(id, {}, ctx, who, 400,
                         "This thread has no customer address (or no reply address is "
                         "configured): nowhere to send a reply.");
    }
    // Thread on the customer's last message (RFC 5322 §3.6.4).
    std::string parent;
    for (const auto& m : ctx.db.messages(id)) {
      if (m.direction == "in" && !m.message_id.empty()) parent = m.message_id;
    }
    reply::outgoing_message msg;
    msg.from = ctx.config.from;
    msg.to.push_back({t->customer_name, t->customer_address});
    msg.subject = reply_subject(t->subject, t->ticket);
    msg.message_id = "agent." + detail::to_hex(random_bytes(12)) + "." + std::to_string(ctx.now) +
                     "@" + message_id_domain(ctx.config);
    msg.in_reply_to = parent;
    msg.date = reply::format_date(ctx.now);
    // No Auto-Submitted (RFC 3834 §5): a person wrote this, so the customer's own responders
    // may answer it as they would any mail.
    msg.body_text = body;

    store::outbox_row ob;
    ob.thread_id = id;
    ob.message_id = msg.message_id;
    ob.envelope_from =
        ctx.config.envelope_from.empty() ? ctx.config.from.address : ctx.config.envelope_from;
    ob.recipients = {t->customer_address};
    ob.data = reply::compose(msg);
    ob.next_attempt_at = ctx.now;

    store::message_row sent;
    sent.thread_id = id;
    sent.direction = "out";
    sent.message_id = msg.message_id;
    sent.from_address = ctx.config.from.address;
    sent.subject = msg.subject;
    sent.decision = "agent_reply";
    sent.reason = "written by " + who.name;
    sent.category = t->category;
    sent.language = t->language;
    sent.body = body;
    sent.created_at = ctx.now;
    ctx.db.queue_agent_reply(ob, sent);
    return redirect(done);
  }
  return error_response(404, "Not found", "There is no such action.", &who);
}

// --- Metrics -----------------------------------------------------------------------------------

response metrics_text(context& ctx) {
  const auto counts = ctx.db.counts();
  detail::exposition out;
  out.family("supportd_messages_total", "Inbound messages by decision and category.", "counter");
  for (const auto& t : counts.inbound) {
    out.sample("supportd_messages_total", {{"decision", t.decision}, {"category", t.category}},
               static_cast<double>(t.count));
  }
  out.family("supportd_suppressions_total", "Suppressed inbound messages by guard rule.",
             "counter");
  for (const auto& [reason, n] : counts.suppressions) {
    out.sample("supportd_suppressions_total", {{"reason", reason}}, static_cast<double>(n));
  }
  const auto outbox = [&](const char* state) {
    const auto it = counts.outbox.find(state);
    return it == counts.outbox.end() ? 0.0 : static_cast<double>(it->second);
  };
  out.family("supportd_outbox_depth", "Replies waiting in the outbox for SMTP.", "gauge");
  out.sample("supportd_outbox_depth", outbox("queued"));
  out.family("supportd_sent_total", "Replies the SMTP server accepted.", "counter");
  out.sample("supportd_sent_total", outbox("sent"));
  out.family("supportd_send_failed_total", "Replies given up after their last SMTP attempt.",
             "counter");
  out.sample("supportd_send_failed_total", outbox("failed"));
  out.family("supportd_threads", "Threads by status.", "gauge");
  for (const auto status : {store::thread_status::open, store::thread_status::auto_replied,
                            store::thread_status::escalated, store::thread_status::suppressed,
                            store::thread_status::resolved}) {
    const auto name = std::string(store::to_string(status));
    const auto it = counts.threads.find(name);
    out.sample("supportd_threads", {{"status", name}},
               it == counts.threads.end() ? 0.0 : static_cast<double>(it->second));
  }
  if (ctx.pushed != nullptr) out.append(ctx.pushed->render());
  return text(200, out.text(), "text/plain; version=0.0.4; charset=utf-8");
}

response route(const request& req, context& ctx) {
  const auto q = req.target.find('?');
  const std::string path = req.target.substr(0, q);
  const auto query = q == std::string::npos
                         ? std::map<std::string, std::string>{}
                         : detail::parse_form(std::string_view(req.target).substr(q + 1));
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";

  if (path == "/healthz") return get ? text(200, "ok\n") : text(405, "method not allowed\n");
  if (path == "/static/app.css" && get) {
    auto r = text(200, std::string(detail::stylesheet), "text/css; charset=utf-8");
    for (auto& [n, v] : r.headers) {
      if (n == "Cache-Control") v = "private, max-age=3600";
    }
    return r;
  }
  const auto key = detail::session_key(ctx.token, ctx.secret);
  if (path == "/login") {
    if (get) return login_form(200, "");
    if (post) return do_login(req, ctx, key);
    return text(405, "method not allowed\n");
  }

  const auto who = authenticate(req, ctx, key);
  if (!who) {
    if (get && path != "/metrics") return redirect("/login");
    auto r = text(401, "authentication required\n");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"supportd\"");  // RFC 6750 §3
    return r;
  }

  if (path == "/metrics" && get) return metrics_text(ctx);
  if (path == "/" && get) return list_threads(req, query, ctx, *who);
  if (path == "/logout" && post) {
    const auto form = detail::parse_form(req.body);
    const auto it = form.find("csrf");
    if (!who->cookie.empty() && (it == form.end() || !detail::same(it->second, who->csrf))) {
      return error_response(403, "Forbidden", "The form has expired.", &*who);
    }
    auto r = redirect("/login");
    r.headers.emplace_back("Set-Cookie", std::string(session_cookie) +
                                             "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    return r;
  }
  constexpr std::string_view prefix = "/threads/";
  if (path.starts_with(prefix)) {
    std::string_view rest = std::string_view(path).substr(prefix.size());
    const auto slash = rest.find('/');
    const auto id = parse_id(rest.substr(0, slash));
    if (!id) return error_response(404, "Not found", "There is no such thread.", &*who);
    if (slash == std::string_view::npos) {
      if (get) return show_thread(*id, query, ctx, *who);
    } else if (post) {
      return thread_action(*id, rest.substr(slash + 1), req, ctx, *who);
    }
    return error_response(405, "Method not allowed", "Use the page's forms.", &*who);
  }
  return error_response(404, "Not found", "There is no such page.", &*who);
}

}  // namespace

response handle(const request& req, context& ctx) {
  try {
    return route(req, ctx);
  } catch (const std::exception& e) {
    // The detail goes to the page only as escaped text; the store error names the operation.
    return error_response(500, "Something went wrong", e.what(), nullptr);
  } catch (...) {
    return text(500, "internal error\n");
  }
}

std::expected<std::string, std::string> read_token_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected("cannot read token file " + file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  auto token = trim(ss.str());
  if (token.empty()) return std::unexpected("token file " + file.string() + " is empty");
  if (token.find_first_of(" \t\r\n") != std::string::npos) {
    return std::unexpected("token file " + file.string() + " holds more than one word");
  }
  return token;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // OpenSSL's CSPRNG failed (no entropy source): refuse rather than use a weak key.
    throw std::runtime_error("random_bytes: RAND_bytes failed");
  }
  return out;
}

}  // namespace supportd::web
