#pragma once
// Shared helpers for the transport integration tests.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

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

/// A loopback IMAP server that speaks just enough for libcurl's CAPABILITY, LOGIN, SELECT
/// (UIDVALIDITY 7, one message) and `UID FETCH 1 BODY[]`, one connection at a time. On its
/// first `padded_connections` connections, the FETCH answer starts with `padding` bytes of
/// untagged "* OK" lines, as a server flushing many queued updates would: libcurl 7.88
/// (Debian) reads those through its response-line path, where they count against its
/// 300 KiB limit.
class scripted_imap {
 public:
  static constexpr std::string_view body = "Subject: scripted\r\n\r\nhello\r\n";

  scripted_imap(int padded_connections, std::size_t padding)
      : padded_connections_(padded_connections), padding_(padding) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("scripted_imap: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_imap() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  scripted_imap(const scripted_imap&) = delete;
  scripted_imap& operator=(const scripted_imap&) = delete;

  [[nodiscard]] std::string url() const { return "imap://127.0.0.1:" + std::to_string(port_) + "/INBOX"; }
  /// Connections accepted so far.
  [[nodiscard]] int connections() const { return connections_.load(); }
  /// UID commands (SEARCH, FETCH) received so far.
  [[nodiscard]] int uid_commands() const { return uid_commands_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      const bool padded = connections_.fetch_add(1) < padded_connections_;
      session(conn, padded);
      ::close(conn);
    }
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void session(int fd, bool padded) {
    if (!send_all(fd, "* OK scripted IMAP ready\r\n")) return;
    std::string in;
    char buf[4096];
    while (!stop_) {
      const auto eol = in.find("\r\n");
      if (eol == std::string::npos) {
        pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      const std::string line = in.substr(0, eol);
      in.erase(0, eol + 2);
      const std::string tag = line.substr(0, line.find(' '));
      std::string verb = line.size() > tag.size() ? line.substr(tag.size() + 1) : std::string();
      verb = verb.substr(0, verb.find(' '));
      for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string out;
      if (verb == "CAPABILITY") {
        out = "* CAPABILITY IMAP4rev1\r\n" + tag + " OK done\r\n";
      } else if (verb == "SELECT" || verb == "EXAMINE") {
        out = "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" + tag + " OK [READ-WRITE] done\r\n";
      } else if (verb == "STATUS") {
        out = "* STATUS INBOX (UIDVALIDITY 7 UIDNEXT 2 MESSAGES 1)\r\n" + tag + " OK done\r\n";
      } else if (verb == "UID") {
        uid_commands_.fetch_add(1);
        if (padded) {
          const std::string pad = "* OK " + std::string(1000, 'x') + "\r\n";
          for (std::size_t sent = 0; sent < padding_; sent += pad.size()) out += pad;
        }
        if (line.find("SEARCH") != std::string::npos) {
          out += "* SEARCH 1\r\n";
        } else if (line.find("RFC822.SIZE") != std::string::npos) {
          out += "* 1 FETCH (UID 1 RFC822.SIZE " + std::to_string(body.size()) +
                 " INTERNALDATE \"22-Nov-2026 09:00:00 +0000\")\r\n";
        } else {
          out += "* 1 FETCH (UID 1 BODY[] {" + std::to_string(body.size()) + "}\r\n" + std::string(body) + ")\r\n";
        }
        out += tag + " OK done\r\n";
      } else if (verb == "LOGOUT") {
        send_all(fd, "* BYE\r\n" + tag + " OK bye\r\n");
        return;
      } else {
        out = tag + " OK done\r\n";  // LOGIN, NOOP, ...
      }
      if (!send_all(fd, out)) return;
    }
  }

  int padded_connections_;
  std::size_t padding_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> uid_commands_{0};
  std::thread thread_;
};

}  // namespace supportd::transport::testing_support
