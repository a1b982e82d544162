#include "supportd/web/server.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "supportd/store/store.hpp"
#include "supportd/web/desk.hpp"

namespace supportd::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t body_limit = 1024 * 1024;  // forms only; the biggest is a reply
constexpr auto io_timeout = std::chrono::seconds(30);

// What every request needs; shared by the sessions so a late one never outlives it.
struct core {
  settings config;
  std::string token;
  std::string secret;
  std::shared_ptr<const metrics> pushed;
  store::store db;
  store_desk desk{db};
  std::mutex mutex;  // one request at a time uses the store connection

  core(settings c, std::string t, const std::filesystem::path& store_path,
       std::shared_ptr<const metrics> m)
      : config(std::move(c)),
        token(std::move(t)),
        secret(random_bytes(32)),
        pushed(std::move(m)),
        db(store_path) {}

  response answer(const request& req) {
    std::lock_guard lock(mutex);
    context ctx{desk,  config, pushed.get(),
                token, secret, static_cast<std::int64_t>(std::time(nullptr))};
    return handle(req, ctx);
  }
};

request to_request(const http::request<http::string_body>& in) {
  request out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  for (const auto& f : in) out.headers.emplace_back(f.name_string(), f.value());
  out.body = in.body();
  return out;
}

http::response<http::string_body> to_beast(response&& in, unsigned version, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(in.status), version};
  out.set(http::field::server, "supportd");
  for (auto& [name, value] : in.headers) out.insert(name, value);
  out.body() = std::move(in.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// The worker thread that answers requests. Owned by the server only; sessions hold it weakly, so
// it is never destroyed (joined) from its own thread.
struct worker {
  asio::thread_pool pool{1};
  ~worker() {
    pool.stop();
    pool.join();
  }
};

// One connection: read a request, answer it on the worker, write, repeat (keep-alive).
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, std::shared_ptr<core> c, std::weak_ptr<worker> w)
      : stream_(std::move(socket)), core_(std::move(c)), worker_(std::move(w)) {}

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(body_limit);
    stream_.expires_after(io_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return close();  // end of stream, timeout, or a malformed / too large request
    auto w = worker_.lock();
    if (!w) return close();  // the server is gone
    // SQLite calls block: answer off the caller's event loop, then write back on it.
    asio::post(w->pool, [self = shared_from_this(), req = parser_->release()]() mutable {
      auto res = self->core_->answer(to_request(req));
      auto out = std::make_shared<http::response<http::string_body>>(
          to_beast(std::move(res), req.version(), req.keep_alive()));
      asio::post(self->stream_.get_executor(), [self, out] { self->do_write(out); });
    });
  }

  void do_write(std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(io_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->do_read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<core> core_;
  std::weak_ptr<worker> worker_;
};

// Accepts connections until closed; kept alive by its own pending accept.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(asio::any_io_executor ex, std::shared_ptr<core> c, std::weak_ptr<worker> w)
      : executor_(ex),
        acceptor_(asio::make_strand(ex)),
        core_(std::move(c)),
        worker_(std::move(w)) {}

  tcp::acceptor& acceptor() { return acceptor_; }

  void accept() {
    acceptor_.async_accept(
        asio::make_strand(executor_),
        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) {
            std::make_shared<session>(std::move(socket), self->core_, self->worker_)->run();
          }
          if (self->acceptor_.is_open()) self->accept();
        });
  }

  void close() {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  asio::any_io_executor executor_;
  tcp::acceptor acceptor_;
  std::shared_ptr<core> core_;
  std::weak_ptr<worker> worker_;
};

}  // namespace

struct server::impl {
  std::shared_ptr<worker> work = std::make_shared<worker>();
  std::shared_ptr<listener> accept;
  std::uint16_t port = 0;
};

std::expected<std::unique_ptr<server>, std::string> server::start(
    asio::any_io_executor executor, const settings& config, const std::filesystem::path& store_path,
    std::shared_ptr<const metrics> pushed) {
  auto token = read_token_file(config.token_file);
  if (!token) return std::unexpected(token.error());
  try {
    auto i = std::make_unique<impl>();
    auto c = std::make_shared<core>(config, *token, store_path, std::move(pushed));
    i->accept = std::make_shared<listener>(executor, std::move(c), i->work);
    auto& acceptor = i->accept->acceptor();
    const tcp::endpoint endpoint{asio::ip::make_address(config.address), config.port};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    i->port = acceptor.local_endpoint().port();
    i->accept->accept();
    return std::make_unique<server>(std::move(i));
  } catch (const std::exception& e) {
    return std::unexpected("web: cannot serve on " + config.address + ":" +
                           std::to_string(config.port) + ": " + e.what());
  }
}

server::server(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

void server::stop() { impl_->accept->close(); }

std::uint16_t server::port() const { return impl_->port; }

server::~server() {
  stop();
  impl_->work.reset();  // waits for the request being answered; later ones get their socket closed
}

}  // namespace supportd::web
