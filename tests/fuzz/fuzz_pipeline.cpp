// libFuzzer target over the offline decision path: parse → guard → classify → redact → render →
// compose. Run it with scripts/fuzz.sh (seed corpus, dictionary, saved regressions).
// Build: cmake -S . -B build-fuzz -DSUPPORTD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-16
// Run:   scripts/fuzz.sh [SECONDS]

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "supportd/daemon/pipeline.hpp"
#include "supportd/daemon/redact.hpp"
#include "supportd/reply/compose.hpp"

namespace {

using namespace supportd;

struct fixture {
  daemon::settings settings;
  std::shared_ptr<const daemon::runtime> rt;
  daemon::guard_settings guard;

  fixture() {
    settings.rules_path = SUPPORTD_SOURCE_DIR "/config/categories.toml";
    settings.templates_dir = SUPPORTD_SOURCE_DIR "/templates";
    settings.reply.from = {"OKPay Support", "support@okpay-wallet.example"};
    settings.reply.addresses = {"support@okpay-wallet.example"};
    settings.reply.message_id_domain = "okpay-wallet.example";
    auto loaded = daemon::load_runtime(settings);
    if (!loaded) std::abort();
    rt = *loaded;
    guard = daemon::make_guard_settings(settings.reply);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fixture f;
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  mime::parse_limits limits;
  limits.max_message_bytes = 1024 * 1024;
  auto ev = daemon::evaluate(raw, *f.rt, f.guard, limits);
  if (!ev.parsed) return 0;
  const auto& msg = *ev.parsed;
  // The same steps as pipeline::process after parsing, minus the store: secrets are redacted
  // before the subject reaches the reply, a subject-less reply gets the category's name.
  const auto subject = daemon::redact_sensitive(msg.subject);
  (void)daemon::redact_sensitive(msg.body_text);
  (void)daemon::ticket_in_subject(msg.subject);
  reply::reply_vars vars{msg.from ? msg.from->name : "", subject.text, "OK-000001",
                         ev.cls.category, "", ev.cls.language, "support@okpay-wallet.example"};
  vars.category_name = f.rt->rules->display_name(ev.cls.category, ev.cls.language);
  auto rendered = f.rt->templates->render(ev.cls.category, ev.cls.language, vars);
  if (!rendered) std::abort();  // shipped templates always render
  reply::outgoing_message out;
  out.from = f.settings.reply.from;
  const bool use_reply_to = msg.reply_to && !msg.reply_to->address.empty();
  if (use_reply_to) out.to.push_back(*msg.reply_to);
  else if (msg.from) out.to.push_back(*msg.from);
  out.subject = daemon::reply_subject(subject.text.empty() ? vars.category_name : subject.text,
                                      "OK-000001");
  out.message_id = daemon::reply_message_id(msg.message_id, {"INBOX", 1, 1}, "okpay-wallet.example");
  out.in_reply_to = msg.message_id;
  out.references = msg.references;
  out.date = reply::format_date(1700000000);
  out.extra_headers = {{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}};
  out.body_text = rendered->body;
  std::string composed = reply::compose(out);
  // No inbound value may break a header line: every CR is part of CRLF, every LF follows CR.
  // RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: no line over 998 octets, or relays refuse the reply.
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < composed.size(); ++i) {
    if (composed[i] == '\n') {
      if (i - line_start > 999) std::abort();  // 998 octets + CR
      line_start = i + 1;
    }
    if (composed[i] == '\n' && (i == 0 || composed[i - 1] != '\r')) std::abort();
    if (composed[i] == '\r' && (i + 1 >= composed.size() || composed[i + 1] != '\n')) std::abort();
    if (composed[i] == '\0') std::abort();
  }
  return 0;
}
