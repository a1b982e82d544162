#include "supportd/transport/transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "detail/curl_session.hpp"
#include "detail/endpoint_rules.hpp"

namespace supportd::transport {
namespace {

struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

// An address that could break the SMTP command line it is placed in (RFC 5321 4.1.2).
bool unsafe_address(std::string_view address) {
  return address.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// RFC 5321 2.3.8 forbids bare LF; libcurl dot-stuffs but does not fix line endings.
std::string with_crlf(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 32);
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) out.push_back('\r');
    out.push_back(data[i]);
  }
  return out;
}

bool has_bare_lf(std::string_view data) {
  for (std::size_t i = data.find('\n'); i != std::string_view::npos; i = data.find('\n', i + 1)) {
    if (i == 0 || data[i - 1] != '\r') return true;
  }
  return false;
}

}  // namespace

struct smtp_client::impl {
  std::expected<detail::parsed_url, error> url;
  std::string url_text;
  std::unique_ptr<detail::curl_session> session;
  std::string_view upload;
  std::size_t offset = 0;

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* self) {
    auto* me = static_cast<impl*>(self);
    const std::size_t n = std::min(size * count, me->upload.size() - me->offset);
    std::memcpy(buffer, me->upload.data() + me->offset, n);
    me->offset += n;
    return n;
  }
};

smtp_client::smtp_client(endpoint ep, const std::atomic<bool>* stop) : impl_(std::make_unique<impl>()) {
  global_init();
  if (auto ok = check_endpoint(ep); !ok) {
    impl_->url = std::unexpected(ok.error());
    return;
  }
  impl_->url = detail::parse_endpoint_url(ep.url);
  if (!impl_->url) return;
  impl_->url_text = ep.url;
  impl_->session = std::make_unique<detail::curl_session>(ep, *impl_->url, stop);
}

smtp_client::~smtp_client() = default;

std::expected<void, error> smtp_client::send(std::string_view envelope_from,
                                             const std::vector<std::string>& recipients,
                                             std::string_view data) {
  if (!impl_->url) return std::unexpected(impl_->url.error());
  const auto& url = *impl_->url;
  if (url.proto != detail::protocol::smtp) {
    return std::unexpected(error{.kind = error_kind::config, .code = 0,
                                 .message = "SMTP client given a non-SMTP URL " + url.display});
  }
  if (!impl_->session || impl_->session->handle() == nullptr) {
    return std::unexpected(error{.kind = error_kind::transient, .code = static_cast<int>(CURLE_FAILED_INIT),
                                 .message = "could not create a libcurl handle"});
  }
  const bool bad_recipient =
      recipients.empty() || std::ranges::any_of(recipients, [](const std::string& r) {
        return r.empty() || unsafe_address(r);
      });
  if (unsafe_address(envelope_from) || bad_recipient) {
    return std::unexpected(error{.kind = error_kind::permanent, .code = 0,
                                 .message = "SMTP: missing or malformed envelope address"});
  }
  slist_ptr rcpts;
  for (const auto& r : recipients) {
    curl_slist* grown = curl_slist_append(rcpts.get(), r.c_str());
    if (grown == nullptr) {
      return std::unexpected(error{.kind = error_kind::transient, .code = static_cast<int>(CURLE_OUT_OF_MEMORY),
                                   .message = "SMTP: out of memory"});
    }
    (void)rcpts.release();
    rcpts.reset(grown);
  }
  std::string normalised;
  if (has_bare_lf(data)) {
    normalised = with_crlf(data);
    data = normalised;
  }
  // RFC 3834 section 4 / RFC 5321 4.5.5: an empty reverse path is "MAIL FROM:<>".
  const std::string from = envelope_from.empty() ? std::string("<>") : std::string(envelope_from);
  impl_->upload = data;
  impl_->offset = 0;

  CURL* h = impl_->session->handle();
  curl_easy_setopt(h, CURLOPT_URL, impl_->url_text.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &impl::on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, impl_.get());
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
  const detail::outcome out = impl_->session->perform();
  // The list and the data die with this call; the handle must not keep pointers to them.
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, nullptr);
  curl_easy_setopt(h, CURLOPT_READDATA, nullptr);
  impl_->upload = {};
  if (out.code == CURLE_OK) return {};

  const std::string where = "SMTP send via " + url.display;
  const long reply = out.response_code;
  const int reply_code = static_cast<int>(reply);
  if (out.code == CURLE_ABORTED_BY_CALLBACK || out.code == CURLE_LOGIN_DENIED) {
    auto e = detail::classify_common(where, out, impl_->session->stop_requested());
    if (e.kind == error_kind::auth && reply > 0) e.code = reply_code;
    return std::unexpected(e);
  }
  // RFC 4954 section 6: 530 authentication required, 534/535 credentials rejected.
  if (reply == 530 || reply == 534 || reply == 535) {
    return std::unexpected(error{.kind = error_kind::auth, .code = reply_code, .message = detail::describe(where, out)});
  }
  // RFC 5321 4.2.1: 4yz is transient (try later), 5yz permanent for this transaction.
  if (reply >= 400 && reply < 500) {
    return std::unexpected(
        error{.kind = error_kind::transient, .code = reply_code, .message = detail::describe(where, out)});
  }
  if (reply >= 500 && reply < 600) {
    return std::unexpected(
        error{.kind = error_kind::permanent, .code = reply_code, .message = detail::describe(where, out)});
  }
  return std::unexpected(detail::classify_common(where, out, impl_->session->stop_requested()));
}

}  // namespace supportd::transport
