#pragma once
// One reused libcurl easy handle with the options every supportd transfer needs: bounded in
// time, abortable, TLS as the endpoint demands. Reuse keeps the connection (and so the IMAP
// login and selected mailbox, or the SMTP EHLO) across operations.

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

#include "detail/endpoint_rules.hpp"
#include "supportd/transport/transport.hpp"

namespace supportd::transport::detail {

/// What one curl_easy_perform produced, before mapping to our error kinds.
struct outcome {
  CURLcode code = CURLE_OK;
  long response_code = 0;  // last SMTP reply code (0 for IMAP or no reply)
  std::string detail;      // curl's error buffer: server text, never our password
};

class curl_session {
 public:
  /// Largest response body kept; more fails the transfer (CURLE_WRITE_ERROR). Also the limit
  /// on one fetched message (raw_imap_session).
  static constexpr std::size_t max_body = 64U * 1024U * 1024U;

  curl_session(const endpoint& ep, const parsed_url& url, const std::atomic<bool>* stop);
  ~curl_session();
  curl_session(const curl_session&) = delete;
  curl_session& operator=(const curl_session&) = delete;

  /// The easy handle for per-transfer options (URL, custom request, upload).
  [[nodiscard]] CURL* handle() const { return handle_; }
  /// Runs one transfer; the response body lands in body().
  outcome perform();
  /// Bytes the server sent to the write callback in the last transfer.
  [[nodiscard]] const std::string& body() const { return body_; }
  /// True when the caller's stop flag is set.
  [[nodiscard]] bool stop_requested() const;

 private:
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* self);
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

  CURL* handle_ = nullptr;
  const std::atomic<bool>* stop_ = nullptr;
  std::string body_;
  std::string user_;
  std::string password_;
  std::string ca_file_;
  std::array<char, CURL_ERROR_SIZE> errbuf_{};
};

/// Maps a failed transfer to an error for the log: what + curl's reason + server detail.
[[nodiscard]] std::string describe(std::string_view what, const outcome& out);

/// Kinds shared by IMAP and SMTP: abort, auth, TLS/config problems, else transient.
[[nodiscard]] error classify_common(std::string_view what, const outcome& out, bool stopped);

}  // namespace supportd::transport::detail
