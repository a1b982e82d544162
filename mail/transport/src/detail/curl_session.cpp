#include "detail/curl_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace supportd::transport::detail {
namespace {

// The receive buffer, and so the most one read from the socket can return. Two limits of
// Debian's libcurl 7.88 bound it from both sides:
//  - response lines (pingpong) longer than half the buffer are silently truncated, so it must
//    hold the longest line we parse (a "* SEARCH" line of one UID window, ~55 KB);
//  - Debian's backport of the CVE-2023-38039 fix (7.88.1-10+deb12u2) kept a hunk upstream
//    dropped before release (curl PR #11590): Curl_pp_readresp() (lib/pingpong.c) passes every
//    chunk it reads to Curl_bump_headersize() (lib/http.c), which fails the transfer with
//    "Too large response headers" (CURLE_RECV_ERROR) once one transfer's reads pass 300 KiB
//    (MAX_HTTP_RESP_HEADER_SIZE), and at once for a single read that large. With 512 KiB,
//    messages over 300 KiB failed to fetch once TCP had grown the receive window (bodies now
//    come over raw_imap_session, which reads past libcurl's pingpong). 256 KiB keeps one read,
//    plus the few KB of greeting, CAPABILITY, LOGIN and SELECT a transfer on a new connection
//    adds, under that limit.
constexpr long buffer_size = 256L * 1024L;
// The default 118 s would drop the logged-in session between two polls a few minutes apart.
constexpr long max_connection_age_s = 600L;
// Below 1 byte/s for this long counts as a stalled connection.
constexpr std::chrono::seconds max_stall{60};

long seconds(std::chrono::seconds s) { return static_cast<long>(std::max<std::int64_t>(s.count(), 1)); }

}  // namespace

curl_session::curl_session(const endpoint& ep, const parsed_url& url, const std::atomic<bool>* stop)
    : handle_(curl_easy_init()), stop_(stop), user_(ep.user), password_(ep.password), ca_file_(ep.ca_file) {
  if (handle_ == nullptr) return;
  CURL* h = handle_;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf_.data());
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, buffer_size);
  curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, max_connection_age_s);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, seconds(ep.connect_timeout));
  curl_easy_setopt(h, CURLOPT_TIMEOUT, seconds(ep.timeout));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, seconds(std::min(ep.timeout, max_stall)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &curl_session::on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &curl_session::on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
  // Only the protocols we speak, also across redirects (none exist for mail, but be strict).
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps");
  if (!user_.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, user_.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password_.c_str());
  }
  // RFC 8314: implicit TLS via the scheme, else STARTTLS is mandatory off loopback.
  curl_easy_setopt(h, CURLOPT_USE_SSL, needs_starttls(url, ep) ? static_cast<long>(CURLUSESSL_ALL)
                                                               : static_cast<long>(CURLUSESSL_NONE));
  if (!ca_file_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file_.c_str());
  if (ep.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

curl_session::~curl_session() {
  if (handle_ != nullptr) curl_easy_cleanup(handle_);
  // Do not leave the secret in freed memory longer than needed.
  std::fill(password_.begin(), password_.end(), '\0');
}

bool curl_session::stop_requested() const { return stop_ != nullptr && stop_->load(); }

outcome curl_session::perform() {
  outcome out;
  body_.clear();
  errbuf_[0] = '\0';
  if (handle_ == nullptr) {
    out.code = CURLE_FAILED_INIT;
    return out;
  }
  if (stop_requested()) {
    out.code = CURLE_ABORTED_BY_CALLBACK;
    return out;
  }
  out.code = curl_easy_perform(handle_);
  curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &out.response_code);
  out.detail = errbuf_.data();
  return out;
}

std::size_t curl_session::on_write(char* data, std::size_t size, std::size_t count, void* self) {
  auto* session = static_cast<curl_session*>(self);
  const std::size_t bytes = size * count;
  if (session->body_.size() + bytes > max_body) return 0;  // CURLE_WRITE_ERROR
  session->body_.append(data, bytes);
  return bytes;
}

int curl_session::on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  // Called at least once a second even while waiting, so a stop takes effect within ~1 s.
  return static_cast<curl_session*>(self)->stop_requested() ? 1 : 0;
}

std::string describe(std::string_view what, const outcome& out) {
  std::string text(what);
  text += ": ";
  const std::string reason = curl_easy_strerror(out.code);
  text += reason;
  if (!out.detail.empty() && out.detail != reason) {
    text += " (" + out.detail + ")";
  }
  return text;
}

error classify_common(std::string_view what, const outcome& out, bool stopped) {
  const int code = static_cast<int>(out.code);
  if (out.code == CURLE_ABORTED_BY_CALLBACK && stopped) {
    return error{.kind = error_kind::aborted, .code = code, .message = std::string(what) + ": stopped"};
  }
  switch (out.code) {
    case CURLE_LOGIN_DENIED:
      return error{.kind = error_kind::auth, .code = code, .message = describe(what, out)};
    case CURLE_USE_SSL_FAILED:  // the server refused STARTTLS: never fall back to clear text
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
      return error{.kind = error_kind::config, .code = code, .message = describe(what, out)};
    default:
      // Connection refused/reset, DNS, timeouts, TLS handshake hiccups: retry later.
      return error{.kind = error_kind::transient, .code = code, .message = describe(what, out)};
  }
}

}  // namespace supportd::transport::detail
