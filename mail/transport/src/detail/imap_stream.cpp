#include "detail/imap_stream.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <utility>

#include "detail/imap_response.hpp"

namespace supportd::transport::detail {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'a' && x <= 'z' ? x - 32 : x) == (y >= 'a' && y <= 'z' ? y - 32 : y);
         });
}

std::optional<std::int64_t> number(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The literal size of a line ending in "{n}" or "{n+}", else nullopt.
std::optional<std::size_t> literal_marker(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  auto n = number(digits);
  if (!n) return std::nullopt;
  return static_cast<std::size_t>(*n);
}

// Walks the parenthesised item list of a FETCH response: names, then values that are atoms,
// numbers, NIL, quoted strings, literals (by their "{n}" markers, in order) or lists.
class item_scanner {
 public:
  // Scans response.text from offset `from`.
  item_scanner(const imap_response_unit& response, std::size_t from)
      : text_(response.text), response_(response), pos_(from) {}

  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  [[nodiscard]] bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  [[nodiscard]] bool done() const { return pos_ >= text_.size(); }
  void advance() { ++pos_; }

  // An item name: an atom that may carry a "[section]" (spaces allowed inside) and "<n>".
  std::string_view name() {
    const std::size_t start = pos_;
    int depth = 0;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '[') ++depth;
      if (c == ']') --depth;
      if (depth <= 0 && (c == ' ' || c == ')' || c == '(')) break;
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  struct value {
    enum class kind { atom, string, literal, list, nil } type = kind::atom;
    std::string_view atom;
    std::optional<std::string> bytes;  // string or literal contents (nullopt: dropped literal)
  };

  std::optional<value> next_value() {
    skip_spaces();
    if (done()) return std::nullopt;
    value v;
    const char c = text_[pos_];
    if (c == '(') {
      v.type = value::kind::list;
      int depth = 0;
      while (pos_ < text_.size()) {
        const char d = text_[pos_];
        if (d == '"') {
          if (!quoted()) return std::nullopt;
          continue;
        }
        if (d == '{' && literal_here()) {
          take_literal();
          continue;
        }
        ++pos_;
        if (d == '(') ++depth;
        if (d == ')' && --depth == 0) return v;
      }
      return std::nullopt;
    }
    if (c == '"') {
      v.type = value::kind::string;
      auto s = quoted();
      if (!s) return std::nullopt;
      v.bytes = std::move(s);
      return v;
    }
    if (c == '{') {
      if (!literal_here()) return std::nullopt;
      v.type = value::kind::literal;
      auto l = take_literal();
      if (!l) return std::nullopt;
      v.bytes = std::move(*l);
      return v;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != ')' && text_[pos_] != '(') ++pos_;
    v.atom = text_.substr(start, pos_ - start);
    if (iequals(v.atom, "NIL")) v.type = value::kind::nil;
    return v;
  }

 private:
  // Reads a quoted string at pos_ (RFC 3501 quoted: \" and \\ are the only escapes).
  std::optional<std::string> quoted() {
    std::string out;
    for (++pos_; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c == '\\' && pos_ + 1 < text_.size()) {
        out.push_back(text_[++pos_]);
      } else if (c == '"') {
        ++pos_;
        return out;
      } else {
        out.push_back(c);
      }
    }
    return std::nullopt;
  }
  // A literal marker "{n}" that ended a line: the reader kept the literal aside.
  [[nodiscard]] bool literal_here() const {
    const auto close = text_.find('}', pos_);
    return close != std::string_view::npos && next_literal_ < response_.literal_at.size() &&
           response_.literal_at[next_literal_] == close + 1;
  }
  std::optional<std::optional<std::string>> take_literal() {
    pos_ = response_.literal_at[next_literal_];
    return response_.literals[next_literal_++];
  }

  std::string_view text_;
  const imap_response_unit& response_;
  std::size_t pos_ = 0;
  std::size_t next_literal_ = 0;
};

}  // namespace

response_reader::response_reader(std::size_t max_literal, std::size_t max_line)
    : max_literal_(max_literal), max_line_(max_line) {}

void response_reader::feed(std::string_view bytes) {
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<imap_response_unit> response_reader::next() {
  while (error_.empty()) {
    if (in_literal_) {
      const std::size_t take = std::min(literal_left_, buffer_.size() - pos_);
      if (!dropping_) current_.literals.back()->append(buffer_, pos_, take);
      pos_ += take;
      literal_left_ -= take;
      if (literal_left_ > 0) return std::nullopt;
      in_literal_ = false;
      continue;
    }
    const auto eol = buffer_.find('\n', pos_);
    if (eol == std::string::npos) {
      if (buffer_.size() - pos_ > max_line_) error_ = "a response line longer than " + std::to_string(max_line_) + " bytes";
      return std::nullopt;
    }
    std::string_view line(buffer_.data() + pos_, eol - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = eol + 1;
    current_.text.append(line);
    if (current_.text.size() > max_line_) {
      error_ = "a response longer than " + std::to_string(max_line_) + " bytes outside its literals";
      return std::nullopt;
    }
    if (auto n = literal_marker(line)) {
      in_literal_ = true;
      literal_left_ = *n;
      dropping_ = *n > max_literal_;
      current_.literal_at.push_back(current_.text.size());
      if (dropping_) {
        current_.literals.emplace_back(std::nullopt);
      } else {
        current_.literals.emplace_back(std::string());
        current_.literals.back()->reserve(*n);
      }
      continue;
    }
    return std::exchange(current_, {});
  }
  return std::nullopt;
}

std::optional<fetch_items> parse_fetch(const imap_response_unit& response) {
  // "* 12 FETCH (...)"
  std::string_view text = response.text;
  if (!text.starts_with("* ")) return std::nullopt;
  text.remove_prefix(2);
  const auto space = text.find(' ');
  if (space == std::string_view::npos || !number(text.substr(0, space))) return std::nullopt;
  text.remove_prefix(space + 1);
  if (text.size() < 6 || !iequals(text.substr(0, 5), "FETCH")) return std::nullopt;
  text.remove_prefix(5);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty() || text.front() != '(') return std::nullopt;
  text.remove_prefix(1);

  fetch_items items;
  item_scanner scan(response, response.text.size() - text.size());
  while (true) {
    scan.skip_spaces();
    if (scan.done() || scan.at(')')) break;
    const std::string_view name = scan.name();
    if (name.empty()) return std::nullopt;
    auto value = scan.next_value();
    if (!value) return std::nullopt;
    using kind = item_scanner::value::kind;
    if (iequals(name, "UID") && value->type == kind::atom) {
      items.uid = number(value->atom).value_or(0);
    } else if (iequals(name, "RFC822.SIZE") && value->type == kind::atom) {
      items.size = number(value->atom);
    } else if (iequals(name, "INTERNALDATE") && value->type == kind::string && value->bytes) {
      items.internal_date = parse_imap_date_time(*value->bytes);
    } else if (iequals(name, "BODY[]")) {
      items.has_body = true;
      if (value->type == kind::string || value->type == kind::literal) items.body = std::move(value->bytes);
    }
  }
  if (items.uid <= 0) return std::nullopt;
  return items;
}

std::string_view tagged_status(const imap_response_unit& response, std::string_view tag) {
  std::string_view text = response.text;
  if (!text.starts_with(tag) || text.size() <= tag.size() || text[tag.size()] != ' ') return {};
  text.remove_prefix(tag.size() + 1);
  for (std::string_view word : {"OK", "NO", "BAD"}) {
    if (text.size() >= word.size() && iequals(text.substr(0, word.size()), word) &&
        (text.size() == word.size() || text[word.size()] == ' '))
      return word;
  }
  return {};
}

std::optional<std::int64_t> response_code_number(const imap_response_unit& response, std::string_view name) {
  std::string_view text = response.text;
  if (!text.starts_with("* ")) return std::nullopt;
  const auto open = text.find('[');
  if (open == std::string_view::npos) return std::nullopt;
  text.remove_prefix(open + 1);
  if (text.size() <= name.size() || !iequals(text.substr(0, name.size()), name) || text[name.size()] != ' ')
    return std::nullopt;
  text.remove_prefix(name.size() + 1);
  const auto close = text.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  return number(text.substr(0, close));
}

std::string uid_set(std::vector<std::int64_t> uids) {
  std::sort(uids.begin(), uids.end());
  std::string set;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] <= uids[j] + 1) ++j;
    if (!set.empty()) set += ',';
    set += std::to_string(uids[i]);
    if (uids[j] != uids[i]) set += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return set;
}

// --- raw_imap_session ------------------------------------------------------------------------

raw_imap_session::raw_imap_session(const endpoint& ep, const parsed_url& url, const std::atomic<bool>* stop)
    : endpoint_(ep), url_(url), stop_(stop) {}

raw_imap_session::~raw_imap_session() = default;

void raw_imap_session::close() {
  session_.reset();  // curl_easy_cleanup closes the connection
  reader_ = response_reader(curl_session::max_body);
  commands_ = 0;
}

error raw_imap_session::failure(std::string message) const {
  if (stop_ != nullptr && stop_->load())
    return error{.kind = error_kind::aborted, .code = 0, .message = "IMAP on " + url_.display + ": stopped"};
  return error{.kind = error_kind::transient, .code = 0, .message = "IMAP on " + url_.display + ": " + message};
}

std::expected<void, error> raw_imap_session::connect() {
  session_ = std::make_unique<curl_session>(endpoint_, url_, stop_);
  CURL* h = session_->handle();
  if (h == nullptr) {
    session_.reset();
    return std::unexpected(failure("could not create a libcurl handle"));
  }
  // libcurl runs the greeting, CAPABILITY, STARTTLS or TLS, and the login, then stops.
  curl_easy_setopt(h, CURLOPT_URL, url_.base.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  outcome out = session_->perform();
  if (out.code != CURLE_OK) {
    session_.reset();
    return std::unexpected(classify_common("IMAP login on " + url_.display, out, stop_ != nullptr && stop_->load()));
  }
  return {};
}

std::expected<void, error> raw_imap_session::wait_readable() {
  curl_socket_t fd = CURL_SOCKET_BAD;
  curl_easy_getinfo(session_->handle(), CURLINFO_ACTIVESOCKET, &fd);
  if (fd == CURL_SOCKET_BAD) return std::unexpected(failure("the connection is closed"));
  // Silence for the endpoint's timeout is a dead server; the stop flag is checked 4 times a second.
  const auto deadline = std::chrono::steady_clock::now() + endpoint_.timeout;
  while (true) {
    if (stop_ != nullptr && stop_->load()) return std::unexpected(failure("stopped"));
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, 250);
    if (ready > 0) return {};
    if (ready < 0 && errno != EINTR) return std::unexpected(failure("poll failed"));
    if (std::chrono::steady_clock::now() >= deadline)
      return std::unexpected(failure("no response within " + std::to_string(endpoint_.timeout.count()) + " s"));
  }
}

std::expected<void, error> raw_imap_session::send_all(std::string_view bytes) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  curl_easy_getinfo(session_->handle(), CURLINFO_ACTIVESOCKET, &fd);
  while (!bytes.empty()) {
    std::size_t sent = 0;
    const CURLcode rc = curl_easy_send(session_->handle(), bytes.data(), bytes.size(), &sent);
    if (rc == CURLE_AGAIN) {
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      ::poll(&p, 1, 250);
      if (stop_ != nullptr && stop_->load()) return std::unexpected(failure("stopped"));
      continue;
    }
    if (rc != CURLE_OK) return std::unexpected(failure(std::string("send failed: ") + curl_easy_strerror(rc)));
    bytes.remove_prefix(sent);
  }
  return {};
}

std::expected<std::string, error> raw_imap_session::command(
    std::string_view text, const std::function<void(imap_response_unit&)>& on_response) {
  if (!session_) {
    if (auto ok = connect(); !ok) return std::unexpected(ok.error());
  }
  auto fail = [&](error e) -> std::expected<std::string, error> {
    close();  // the stream is out of step or gone: never reuse it
    return std::unexpected(std::move(e));
  };
  std::string tag = "S";  // appended, not "S" + ...: GCC 12 -O3 warns falsely (-Wrestrict, PR 105329)
  tag += std::to_string(++commands_);
  std::string line;
  line.reserve(tag.size() + text.size() + 3);
  line.append(tag).append(" ").append(text).append("\r\n");
  if (auto ok = send_all(line); !ok) return fail(ok.error());
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    while (auto response = reader_.next()) {
      if (auto status = tagged_status(*response, tag); !status.empty()) return std::string(status);
      if (response->text.starts_with("* BYE")) return fail(failure("the server closed the session: " + response->text));
      on_response(*response);
    }
    if (!reader_.error().empty()) return fail(failure(reader_.error()));
    std::size_t got = 0;
    const CURLcode rc = curl_easy_recv(session_->handle(), buffer.data(), buffer.size(), &got);
    if (rc == CURLE_AGAIN) {
      if (auto ok = wait_readable(); !ok) return fail(ok.error());
      continue;
    }
    if (rc != CURLE_OK) return fail(failure(std::string("receive failed: ") + curl_easy_strerror(rc)));
    if (got == 0) return fail(failure("the server closed the connection"));
    reader_.feed(std::string_view(buffer.data(), got));
  }
}

}  // namespace supportd::transport::detail
