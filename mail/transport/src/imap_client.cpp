#include "supportd/transport/transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "detail/curl_session.hpp"
#include "detail/endpoint_rules.hpp"
#include "detail/imap_response.hpp"
#include "detail/imap_stream.hpp"

namespace supportd::transport {

using detail::outcome;

struct imap_client::impl {
  std::expected<detail::parsed_url, error> url;
  std::string mailbox = "INBOX";
  endpoint ep;  // for the fetcher's own connection
  const std::atomic<bool>* stop = nullptr;
  std::unique_ptr<detail::curl_session> session;
  std::unique_ptr<detail::raw_imap_session> fetcher;  // bodies, in batches (fetch_many)
  std::int64_t search_window = 5000;
  bool selected_once = false;  // the session has selected the mailbox (STATUS may be stale)

  // Why an operation cannot run at all (bad config), or nullopt.
  [[nodiscard]] std::optional<error> unusable() const;
  // "imap://host:port/INBOX;UIDVALIDITY=v": RFC 5092 section 6 pins the mailbox incarnation.
  [[nodiscard]] std::string mailbox_url(std::int64_t uidvalidity) const;
  // Runs a transfer on `target` with an optional custom command; maps failures. A response
  // over libcurl's limit on response lines is retried once on a new connection.
  std::expected<void, error> run(const std::string& what, const std::string& target,
                                 const std::string& command, error_kind refused_kind);
  // fetch_many on the fetcher's connection as it is (no retry).
  std::expected<std::vector<fetched_message>, error> fetch_batch(std::span<const std::int64_t> uids,
                                                                 std::int64_t uidvalidity);
};

namespace {

// Debian's libcurl 7.88 counts every byte its IMAP response reader (lib/pingpong.c) reads
// against the 300 KiB limit for HTTP response headers (curl_session.cpp tells why), and fails
// the transfer with this text and CURLE_RECV_ERROR.
bool over_response_line_limit(const outcome& out) {
  return out.code == CURLE_RECV_ERROR && out.detail.find("Too large response headers") != std::string::npos;
}

}  // namespace

std::optional<error> imap_client::impl::unusable() const {
  if (!url) return url.error();
  if (url->proto != detail::protocol::imap) {
    return error{.kind = error_kind::config, .code = 0,
                 .message = "IMAP client given a non-IMAP URL " + url->display};
  }
  if (!session || session->handle() == nullptr) {
    return error{.kind = error_kind::transient, .code = static_cast<int>(CURLE_FAILED_INIT),
                 .message = "could not create a libcurl handle"};
  }
  return std::nullopt;
}

std::string imap_client::impl::mailbox_url(std::int64_t uidvalidity) const {
  char* escaped = curl_easy_escape(session->handle(), mailbox.data(), static_cast<int>(mailbox.size()));
  std::string out = url->base + (escaped != nullptr ? escaped : "INBOX");
  curl_free(escaped);
  if (uidvalidity > 0) out += ";UIDVALIDITY=" + std::to_string(uidvalidity);
  return out;
}

std::expected<void, error> imap_client::impl::run(const std::string& what, const std::string& target,
                                                  const std::string& command, error_kind refused_kind) {
  CURL* h = session->handle();
  curl_easy_setopt(h, CURLOPT_URL, target.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, command.empty() ? nullptr : command.c_str());
  outcome out = session->perform();
  if (over_response_line_limit(out) && !session->stop_requested()) {
    // The failed transfer closed the connection (imap_done), so this runs on a new one: it
    // carries no untagged updates queued for the old session and starts with a small TCP
    // window. Every command we send is idempotent (FETCH, SEARCH, STATUS, NOOP, +FLAGS).
    out = session->perform();
  }
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, nullptr);
  if (out.code == CURLE_OK) return {};
  const std::string where = what + " on " + url->display;
  const int code = static_cast<int>(out.code);
  if (over_response_line_limit(out)) {
    return std::unexpected(error{
        .kind = error_kind::transient, .code = code,
        .message = where + ": the server's response lines passed libcurl's 300 KiB limit, also on a "
                           "new connection (" + out.detail + ")"});
  }
  // libcurl 7.88 reports a failed SELECT as CURLE_LOGIN_DENIED; only its text tells them apart.
  if (out.code == CURLE_LOGIN_DENIED && out.detail.find("Select") != std::string::npos) {
    return std::unexpected(error{
        .kind = error_kind::transient, .code = code,
        .message = where + ": mailbox '" + mailbox + "' does not exist or cannot be selected"});
  }
  if (out.code == CURLE_REMOTE_FILE_NOT_FOUND) {
    if (out.detail.find("UIDVALIDITY") != std::string::npos) {
      return std::unexpected(error{
          .kind = error_kind::transient, .code = code,
          .message = where + ": UIDVALIDITY of '" + mailbox +
                     "' changed (mailbox recreated); re-read the status and resynchronise"});
    }
  }
  if (out.code == CURLE_QUOTE_ERROR) {  // tagged NO or BAD to our custom command
    return std::unexpected(error{.kind = refused_kind, .code = code,
                                 .message = where + ": the server refused the command"});
  }
  return std::unexpected(detail::classify_common(where, out, session->stop_requested()));
}

imap_client::imap_client(endpoint ep, const std::atomic<bool>* stop) : impl_(std::make_unique<impl>()) {
  global_init();
  impl_->url = detail::parse_endpoint_url(ep.url);
  if (!impl_->url) return;
  impl_->mailbox = impl_->url->mailbox;
  if (auto ok = check_endpoint(ep); !ok) {
    impl_->url = std::unexpected(ok.error());  // every operation reports the refusal
    return;
  }
  impl_->session = std::make_unique<detail::curl_session>(ep, *impl_->url, stop);
  impl_->ep = std::move(ep);
  impl_->stop = stop;
}

imap_client::~imap_client() = default;

const std::string& imap_client::mailbox() const { return impl_->mailbox; }

void imap_client::set_search_window(std::int64_t uids) { impl_->search_window = std::max<std::int64_t>(uids, 1); }

std::expected<mailbox_status, error> imap_client::status() {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  // RFC 3501 6.3.10: STATUS must not be used to check the *selected* mailbox for new mail, and
  // Dovecot answers it from the session's stale view. Once curl has the mailbox selected, a NOOP
  // on it first lets the server report new messages (RFC 3501 6.1.2), so UIDNEXT is current.
  if (impl_->selected_once) {
    if (auto ok = impl_->run("IMAP NOOP", impl_->mailbox_url(0), "NOOP", error_kind::transient); !ok)
      return std::unexpected(ok.error());
  }
  // STATUS needs no SELECT; curl sends it as is on a URL without a mailbox.
  const std::string command = "STATUS " + detail::imap_quote(impl_->mailbox) + " (UIDVALIDITY UIDNEXT MESSAGES)";
  if (auto ok = impl_->run("IMAP STATUS " + impl_->mailbox, impl_->url->base, command, error_kind::transient);
      !ok) {
    if (ok.error().code == static_cast<int>(CURLE_QUOTE_ERROR)) {
      ok.error().message += " (mailbox '" + impl_->mailbox + "' missing?)";
    }
    return std::unexpected(ok.error());
  }
  auto parsed = detail::parse_status(impl_->session->body());
  if (!parsed) {
    return std::unexpected(error{.kind = error_kind::transient, .code = 0,
                                 .message = "IMAP STATUS on " + impl_->url->display +
                                            ": no UIDVALIDITY/UIDNEXT/MESSAGES in the reply"});
  }
  return *parsed;
}

std::expected<std::vector<std::int64_t>, error> imap_client::uids_after(std::int64_t after,
                                                                         std::int64_t uidvalidity) {
  auto st = status();
  if (!st) return std::unexpected(st.error());
  if (uidvalidity > 0 && st->uidvalidity != uidvalidity) {
    return std::unexpected(error{
        .kind = error_kind::transient, .code = static_cast<int>(CURLE_REMOTE_FILE_NOT_FOUND),
        .message = "IMAP on " + impl_->url->display + ": UIDVALIDITY of '" + impl_->mailbox + "' is now " +
                   std::to_string(st->uidvalidity) + ", expected " + std::to_string(uidvalidity) +
                   "; re-read the status and resynchronise"});
  }
  std::vector<std::int64_t> uids;
  const std::int64_t top = st->uidnext - 1;  // RFC 3501 2.3.1.1: every existing UID < UIDNEXT
  const std::string target = impl_->mailbox_url(uidvalidity);
  // Bounded windows keep each "* SEARCH" line short: libcurl 7.88 truncates long lines silently.
  // Explicit upper bounds also avoid "n:*" matching the highest UID when it is below n.
  for (std::int64_t low = std::max<std::int64_t>(after, 0) + 1; low <= top;) {
    const std::int64_t span = impl_->search_window - 1;
    const std::int64_t high = low > std::numeric_limits<std::int64_t>::max() - span ? top : std::min(top, low + span);
    const std::string range = std::to_string(low) + ":" + std::to_string(high);
    if (auto ok = impl_->run("IMAP UID SEARCH " + range, target, "UID SEARCH UID " + range, error_kind::transient);
        !ok) {
      return std::unexpected(ok.error());
    }
    impl_->selected_once = true;
    auto found = detail::parse_search(impl_->session->body(), low, high);
    uids.insert(uids.end(), found.begin(), found.end());
    if (high == top) break;
    low = high + 1;
  }
  return uids;
}

namespace {

// Bytes of message bodies one UID FETCH may bring, and one fetch_many call: they bound the
// memory a batch of big messages takes (one message over them still comes, on its own).
constexpr std::int64_t fetch_chunk_bytes = 16LL * 1024 * 1024;
constexpr std::int64_t fetch_call_bytes = 64LL * 1024 * 1024;

}  // namespace

std::expected<std::vector<fetched_message>, error> imap_client::impl::fetch_batch(
    std::span<const std::int64_t> uids, std::int64_t uidvalidity) {
  const std::string where = "IMAP on " + url->display;
  auto transient = [&](std::string message) {
    return std::unexpected(error{.kind = error_kind::transient, .code = 0, .message = where + ": " + message});
  };
  auto& imap = *fetcher;
  // EXAMINE (read-only) on every batch: it brings the session's view up to date with the mail
  // the main session found, and reports UIDVALIDITY (RFC 3501 6.3.2).
  std::optional<std::int64_t> validity;
  auto examined = imap.command("EXAMINE " + detail::imap_quote(mailbox), [&](detail::imap_response_unit& r) {
    if (auto v = detail::response_code_number(r, "UIDVALIDITY")) validity = v;
  });
  if (!examined) return std::unexpected(examined.error());
  if (*examined != "OK") return transient("mailbox '" + mailbox + "' does not exist or cannot be selected");
  if (uidvalidity > 0 && validity && *validity != uidvalidity) {
    return transient("UIDVALIDITY of '" + mailbox + "' changed (mailbox recreated); re-read the status and resynchronise");
  }

  // Sizes and arrival times first: messages over the limit are never read, and each body
  // command asks for at most fetch_chunk_bytes.
  std::vector<std::int64_t> wanted(uids.begin(), uids.end());
  std::map<std::int64_t, detail::fetch_items> meta;
  auto listed = imap.command("UID FETCH " + detail::uid_set(wanted) + " (UID RFC822.SIZE INTERNALDATE)",
                             [&](detail::imap_response_unit& r) {
                               auto items = detail::parse_fetch(r);
                               if (items && items->size) meta[items->uid] = std::move(*items);
                             });
  if (!listed) return std::unexpected(listed.error());
  // NO: some messages could not be read (RFC 2180 4.1.3); those missing fail below, one by one.
  if (*listed == "BAD") return transient("the server refused UID FETCH");

  std::map<std::int64_t, std::string> bodies;
  std::vector<std::int64_t> chunk;
  std::int64_t chunk_bytes = 0;
  auto fetch_chunk = [&]() -> std::expected<void, error> {
    if (chunk.empty()) return {};
    auto got = imap.command("UID FETCH " + detail::uid_set(chunk) + " (UID BODY.PEEK[])", [&](detail::imap_response_unit& r) {
      auto items = detail::parse_fetch(r);
      if (items && items->body) bodies[items->uid] = std::move(*items->body);
    });
    chunk.clear();
    chunk_bytes = 0;
    if (!got) return std::unexpected(got.error());
    if (*got == "BAD") return transient("the server refused UID FETCH");
    return {};
  };
  std::int64_t call_bytes = 0;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const auto uid = wanted[i];
    auto m = meta.find(uid);
    if (m == meta.end() || *m->second.size > static_cast<std::int64_t>(detail::curl_session::max_body)) continue;
    if (call_bytes > 0 && call_bytes + *m->second.size > fetch_call_bytes) {
      wanted.resize(i);  // the rest in the caller's next call
      break;
    }
    call_bytes += *m->second.size;
    if (!chunk.empty() && chunk_bytes + *m->second.size > fetch_chunk_bytes) {
      if (auto ok = fetch_chunk(); !ok) return std::unexpected(ok.error());
    }
    chunk.push_back(uid);
    chunk_bytes += *m->second.size;
  }
  if (auto ok = fetch_chunk(); !ok) return std::unexpected(ok.error());

  std::vector<fetched_message> out;
  out.reserve(wanted.size());
  for (const auto uid : wanted) {
    fetched_message f{.uid = uid, .internal_date = 0, .raw = std::string()};
    auto m = meta.find(uid);
    auto b = bodies.find(uid);
    const std::string what = where + ": UID " + std::to_string(uid);
    if (m != meta.end()) f.internal_date = m->second.internal_date.value_or(0);
    if (m == meta.end()) {
      f.raw = std::unexpected(error{.kind = error_kind::permanent, .code = 0, .message = what + ": no such message (expunged?)"});
    } else if (*m->second.size > static_cast<std::int64_t>(detail::curl_session::max_body)) {
      f.raw = std::unexpected(error{.kind = error_kind::permanent, .code = 0,
                                    .message = what + ": " + std::to_string(*m->second.size) +
                                               " bytes, larger than the 64 MiB limit"});
    } else if (b == bodies.end()) {
      f.raw = std::unexpected(error{.kind = error_kind::permanent, .code = 0,
                                    .message = what + ": the server sent no body (or one over the 64 MiB limit)"});
    } else {
      f.raw = std::move(b->second);
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::expected<std::vector<fetched_message>, error> imap_client::fetch_many(std::span<const std::int64_t> uids,
                                                                          std::int64_t uidvalidity) {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  if (std::ranges::any_of(uids, [](std::int64_t uid) { return uid <= 0; })) {
    return std::unexpected(error{.kind = error_kind::config, .code = 0, .message = "IMAP FETCH: invalid UID"});
  }
  if (uids.empty()) return std::vector<fetched_message>{};
  if (!impl_->fetcher) impl_->fetcher = std::make_unique<detail::raw_imap_session>(impl_->ep, *impl_->url, impl_->stop);
  // A connection that sat idle since the last batch may have been dropped by the server (an
  // autologout, a restart): such a failure is retried once on a new connection. Every command
  // here is read-only.
  const bool warm = impl_->fetcher->warm();
  auto got = impl_->fetch_batch(uids, uidvalidity);
  if (!got && warm && got.error().kind == error_kind::transient && !impl_->fetcher->warm())
    got = impl_->fetch_batch(uids, uidvalidity);
  return got;
}

std::expected<std::string, error> imap_client::fetch(std::int64_t uid, std::int64_t uidvalidity) {
  auto got = fetch_many(std::span<const std::int64_t>(&uid, 1), uidvalidity);
  if (!got) return std::unexpected(got.error());
  return std::move(got->front().raw);
}

std::expected<void, error> imap_client::add_flags(std::int64_t uid, std::int64_t uidvalidity,
                                                  std::string_view flags) {
  return add_flags(std::vector<std::int64_t>{uid}, uidvalidity, flags);
}

std::expected<void, error> imap_client::add_flags(const std::vector<std::int64_t>& uids,
                                                  std::int64_t uidvalidity, std::string_view flags) {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  // Flags are atoms (RFC 3501 section 9, flag-list): refuse anything that could end the list
  // or inject a second command.
  const bool bad_flags = flags.empty() || flags.find_first_of(std::string_view("(){}\"%*]\r\n\0", 12)) !=
                                              std::string_view::npos;
  if (uids.empty() || std::ranges::any_of(uids, [](std::int64_t uid) { return uid <= 0; }) || bad_flags) {
    return std::unexpected(error{.kind = error_kind::config, .code = 0,
                                 .message = "IMAP STORE: invalid UID or flag list"});
  }
  const std::string set = detail::uid_set(uids);  // sorted, runs collapsed: "3,5:9,12"
  const std::string command = "UID STORE " + set + " +FLAGS.SILENT (" + std::string(flags) + ")";
  return impl_->run("IMAP UID STORE " + set, impl_->mailbox_url(uidvalidity), command,
                    error_kind::permanent);
}

std::expected<void, error> imap_client::noop() {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  return impl_->run("IMAP NOOP", impl_->url->base, "NOOP", error_kind::transient);
}

}  // namespace supportd::transport
