#pragma once
// The agents' page and /metrics over HTTP/1.1 (Boost.Beast). Sockets run on the caller's
// executor; each request is answered on a private worker thread with its own store connection,
// so a busy database never stalls the daemon's event loop.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "supportd/web/handler.hpp"
#include "supportd/web/metrics.hpp"

namespace supportd::web {

class server {
 public:
  /// Reads the token, opens `store_path`, binds and starts accepting on `executor`.
  /// `pushed` (may be null) is read on every /metrics request.
  static std::expected<std::unique_ptr<server>, std::string> start(
      boost::asio::any_io_executor executor, const settings& config,
      const std::filesystem::path& store_path, std::shared_ptr<const metrics> pushed);

  /// Stops accepting; open connections end after their current request.
  void stop();
  /// The bound port (useful when settings::port was 0).
  [[nodiscard]] std::uint16_t port() const;

  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  struct impl;
  explicit server(std::unique_ptr<impl> i);

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace supportd::web
