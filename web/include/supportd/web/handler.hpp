#pragma once
// The agents' page as a pure function from request to response (like the request handler of
// Asio's HTTP server example): no socket, no clock, no globals; the server supplies the context.

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

#include "supportd/mime/message.hpp"
#include "supportd/web/desk.hpp"
#include "supportd/web/http.hpp"
#include "supportd/web/metrics.hpp"

namespace supportd::web {

struct settings {
  /// Listen address; loopback by default so only local users (or a reverse proxy) reach it.
  std::string address = "127.0.0.1";
  std::uint16_t port = 8025;
  /// File holding the access token (surrounding whitespace ignored).
  std::filesystem::path token_file;
  /// From: of replies written by agents (the support address).
  mime::mailbox from;
  /// SMTP envelope sender of agent replies; "" means from.address (a person's mail takes
  /// bounces, unlike an auto-reply's null reverse-path).
  std::string envelope_from;
  /// Domain of the Message-IDs of agent replies; "" means the domain of from.address.
  std::string message_id_domain;
  /// How long a browser login lasts.
  std::chrono::seconds session_lifetime = std::chrono::hours(12);
};

/// Everything one request may use besides itself.
struct context {
  desk& db;
  const settings& config;
  const metrics* pushed = nullptr;  // daemon-pushed values for /metrics; may be null
  std::string token;                // the access token
  std::string secret;               // random per process: keys sessions and CSRF tokens
  std::int64_t now = 0;             // unix seconds
};

/// Answers one request. Never throws: store errors become a 500 page.
[[nodiscard]] response handle(const request& req, context& ctx);

/// Reads and trims the token file; fails when unreadable or empty.
[[nodiscard]] std::expected<std::string, std::string> read_token_file(
    const std::filesystem::path& file);

/// `n` random bytes from the OS (for context::secret).
[[nodiscard]] std::string random_bytes(std::size_t n);

}  // namespace supportd::web
