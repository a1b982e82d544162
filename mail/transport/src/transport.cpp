#include "supportd/transport/transport.hpp"

#include <curl/curl.h>

#include <mutex>

#include "detail/endpoint_rules.hpp"

namespace supportd::transport {

std::expected<void, error> check_endpoint(const endpoint& ep) {
  auto url = detail::parse_endpoint_url(ep.url);
  if (!url) return std::unexpected(url.error());
  if (url->implicit_tls || detail::is_loopback_host(url->host)) return {};
  if (ep.starttls) return {};  // the session upgrades before LOGIN/AUTH or fails (RFC 3207)
  if (ep.allow_plaintext) return {};
  return std::unexpected(error{
      .kind = error_kind::config,
      .code = 0,
      .message = "refusing clear text to " + url->display +
                 ": use " + url->scheme + "s://, enable starttls, or set allow_plaintext"});
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace supportd::transport
