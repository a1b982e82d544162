#include "supportd/transport/transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "detail/curl_session.hpp"
#include "detail/endpoint_rules.hpp"
#include "detail/imap_response.hpp"

namespace supportd::transport {

using detail::outcome;

struct imap_client::impl {
  std::expected<detail::parsed_url, error> url;
  std::string mailbox = "INBOX";
  std::unique_ptr<detail::curl_session> session;
  std::int64_t search_window = 5000;
  // UIDs per INTERNALDATE command. libcurl 7.88 (Debian) allows one transfer's response lines
  // 300 KiB (see curl_session.cpp), and counts them quadratically for a custom command: each
  // untagged line ends a Curl_pp_readresp() call, which parks the rest of its read in the
  // pingpong cache and counts it again when the next call replays it. n lines of ~70-80 bytes
  // that arrive in one read count ~40·n² bytes: 2,000 failed, 100 is borderline, 50 is ~100 KB.
  std::int64_t date_window = 50;
  bool selected_once = false;  // the session has selected the mailbox (STATUS may be stale)

  // Why an operation cannot run at all (bad config), or nullopt.
  [[nodiscard]] std::optional<error> unusable() const;
  // "imap://host:port/INBOX;UIDVALIDITY=v": RFC 5092 section 6 pins the mailbox incarnation.
  [[nodiscard]] std::string mailbox_url(std::int64_t uidvalidity) const;
  // Runs a transfer on `target` with an optional custom command; maps failures. A response
  // over libcurl's limit on response lines is retried once on a new connection; if it is over
  // again, the error has `oversized_kind`.
  std::expected<void, error> run(const std::string& what, const std::string& target,
                                 const std::string& command, error_kind refused_kind,
                                 error_kind oversized_kind = error_kind::transient);
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
                                                  const std::string& command, error_kind refused_kind,
                                                  error_kind oversized_kind) {
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
        .kind = oversized_kind, .code = code,
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
    return std::unexpected(error{.kind = error_kind::permanent, .code = code,
                                 .message = where + ": no such message (expunged?)"});
  }
  if (out.code == CURLE_QUOTE_ERROR) {  // tagged NO or BAD to our custom command
    return std::unexpected(error{.kind = refused_kind, .code = code,
                                 .message = where + ": the server refused the command"});
  }
  if (out.code == CURLE_WRITE_ERROR && session->body_overflowed()) {
    return std::unexpected(error{.kind = error_kind::permanent, .code = code,
                                 .message = where + ": response larger than the 64 MiB limit"});
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

std::expected<std::string, error> imap_client::fetch(std::int64_t uid, std::int64_t uidvalidity) {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  if (uid <= 0) {
    return std::unexpected(error{.kind = error_kind::permanent, .code = 0, .message = "IMAP FETCH: invalid UID"});
  }
  // RFC 5092 "mailbox;UIDVALIDITY=v/;UID=n": libcurl runs UID FETCH n BODY[] (sets \Seen).
  // The message arrives as a literal, which libcurl does not split into response lines, so its
  // size and line lengths do not count against the response-line limit. A response over that
  // limit even on a new connection is permanent for this message: the caller quarantines it
  // rather than let it block the mailbox.
  const std::string target = impl_->mailbox_url(uidvalidity) + "/;UID=" + std::to_string(uid);
  if (auto ok = impl_->run("IMAP FETCH UID " + std::to_string(uid), target, "", error_kind::transient,
                           error_kind::permanent);
      !ok) {
    return std::unexpected(ok.error());
  }
  return impl_->session->body();
}

std::expected<std::vector<std::pair<std::int64_t, std::int64_t>>, error>
imap_client::internal_dates(std::int64_t first, std::int64_t last, std::int64_t uidvalidity) {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  if (first <= 0 || last < first) return std::vector<std::pair<std::int64_t, std::int64_t>>{};
  // A one-line response per message (no literal), which libcurl 7.88 passes through intact.
  // Small UID windows keep each response under libcurl's limit on response lines (one command
  // for a few hundred messages can fail); a window without messages costs no bytes.
  std::vector<std::pair<std::int64_t, std::int64_t>> dates;
  const std::string target = impl_->mailbox_url(uidvalidity);
  for (std::int64_t low = first; low <= last;) {
    const std::int64_t span = impl_->date_window - 1;
    const std::int64_t high = low > std::numeric_limits<std::int64_t>::max() - span ? last : std::min(last, low + span);
    const std::string range = std::to_string(low) + ":" + std::to_string(high);
    if (auto ok = impl_->run("IMAP UID FETCH " + range + " INTERNALDATE", target,
                             "UID FETCH " + range + " (INTERNALDATE)", error_kind::transient);
        !ok) {
      return std::unexpected(ok.error());
    }
    impl_->selected_once = true;
    auto found = detail::parse_internaldates(impl_->session->body());
    std::erase_if(found, [&](const auto& d) { return d.first < low || d.first > high; });
    dates.insert(dates.end(), found.begin(), found.end());
    if (high == last) break;
    low = high + 1;
  }
  return dates;
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
  std::vector<std::int64_t> sorted(uids);
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty() || sorted.front() <= 0 || bad_flags) {
    return std::unexpected(error{.kind = error_kind::config, .code = 0,
                                 .message = "IMAP STORE: invalid UID or flag list"});
  }
  // "3,5:9,12": runs of consecutive UIDs collapse to ranges, so the command stays short.
  std::string set;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] <= sorted[j] + 1) ++j;
    if (!set.empty()) set += ',';
    set += std::to_string(sorted[i]);
    if (sorted[j] != sorted[i]) set += ':' + std::to_string(sorted[j]);
    i = j + 1;
  }
  const std::string command = "UID STORE " + set + " +FLAGS.SILENT (" + std::string(flags) + ")";
  return impl_->run("IMAP UID STORE " + set, impl_->mailbox_url(uidvalidity), command,
                    error_kind::permanent);
}

std::expected<void, error> imap_client::noop() {
  if (auto bad = impl_->unusable()) return std::unexpected(*bad);
  return impl_->run("IMAP NOOP", impl_->url->base, "NOOP", error_kind::transient);
}

}  // namespace supportd::transport
