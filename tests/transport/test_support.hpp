#pragma once
// Shared helpers for the transport integration tests.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness/mail_servers.hpp"
#include "supportd/transport/transport.hpp"

namespace supportd::transport::testing_support {

using namespace std::chrono_literals;

/// A test message under tests/data/transport/.
inline std::filesystem::path data_file(const std::string& name) {
  return std::filesystem::path(SUPPORTD_TEST_DATA) / "transport" / name;
}

/// File bytes with bare LF turned into CRLF (what the harness APPENDs).
inline std::string crlf_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out.push_back('\r');
    out.push_back(raw[i]);
  }
  return out;
}

/// Endpoint for the harness user with short, test-friendly bounds.
inline endpoint harness_endpoint(std::string url) {
  endpoint ep;
  ep.url = std::move(url);
  ep.user = std::string(test::mail_servers::user);
  ep.password = std::string(test::mail_servers::password);
  ep.connect_timeout = 5s;
  ep.timeout = 20s;
  return ep;
}

/// A loopback socket that accepts TCP connections (kernel backlog) but never speaks.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("silent_listener: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~silent_listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  silent_listener(const silent_listener&) = delete;
  silent_listener& operator=(const silent_listener&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace supportd::transport::testing_support
