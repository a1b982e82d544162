#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "supportd/mime/message.hpp"
#include "supportd/store/store.hpp"
#include "supportd/web/desk.hpp"
#include "supportd/web/handler.hpp"
#include "supportd/web/metrics.hpp"
#include "supportd/web/server.hpp"

namespace fs = std::filesystem;

namespace supportd::web {
namespace {

constexpr const char* token = "t0ken-For-Tests-0123456789";
constexpr std::int64_t now = 1'700'000'000;

// A temporary store with one escalated Chinese thread: an inbound mail and our auto-reply.
class web_test : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("supportd-web-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = std::make_unique<store::store>(dir_ / "supportd.db");
    desk_ = std::make_unique<store_desk>(*db_);
    config_.from = {"OKPay 客服", "support@okpay.example"};
    config_.message_id_domain = "okpay.example";

    store::thread_row t;
    t.customer_address = "zhang@example.cn";
    t.customer_name = "张伟";
    t.subject = "提现一直没有到账";
    t.category = "withdrawal";
    t.language = "zh";
    t.status = store::thread_status::escalated;
    t.created_at = now - 7200;
    thread_ = db_->create_thread(t);
    db_->set_mailbox_uidvalidity("INBOX", 1);
    store::message_row in;
    in.key = store::inbound_key{"INBOX", 1, 1};
    in.thread_id = thread_.id;
    in.direction = "in";
    in.message_id = "first@example.cn";
    in.from_address = "zhang@example.cn";
    in.subject = t.subject;
    in.decision = "escalate";
    in.reason = "category escalates";
    in.category = "withdrawal";
    in.confidence = 0.91;
    in.language = "zh";
    in.body = "你好，我三天前提现的 500 USDT 还没有到账，请帮忙查一下。";
    in.created_at = now - 7200;
    db_->record_inbound(in);
    in.key = store::inbound_key{"INBOX", 1, 2};
    in.message_id = "second@example.cn";
    in.body = "还是没有到账！";
    in.created_at = now - 3600;
    db_->record_inbound(in);
  }
  void TearDown() override {
    desk_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  context ctx() { return context{*desk_, config_, &pushed_, token, std::string(32, 'k'), now}; }

  response call(request req) {
    auto c = ctx();
    return handle(req, c);
  }
  response get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return call(request{"GET", std::move(target), std::move(headers), ""});
  }
  response post(std::string target, std::string body,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return call(request{"POST", std::move(target), std::move(headers), std::move(body)});
  }

  // Logs in through the form; returns the Cookie header value.
  std::string login(std::string name = "li") {
    auto r = post("/login", std::string("token=") + token + "&name=" + name);
    EXPECT_EQ(r.status, 303);
    const auto set = r.header("Set-Cookie");
    return set.substr(0, set.find(';'));
  }
  static std::string csrf_of(const std::string& html) {
    std::smatch m;
    if (std::regex_search(html, m, std::regex(R"re(name="csrf" value="([0-9a-f]+)")re"))) {
      return m[1];
    }
    return {};
  }
  std::string thread_path() const { return "/threads/" + std::to_string(thread_.id); }

  fs::path dir_;
  std::unique_ptr<store::store> db_;
  std::unique_ptr<store_desk> desk_;
  settings config_;
  metrics pushed_;
  store::thread_row thread_;
};

std::vector<std::pair<std::string, std::string>> bearer(std::string t = token) {
  return {{"Authorization", "Bearer " + t}};
}

TEST_F(web_test, healthz_needs_no_token) {
  auto r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(web_test, everything_else_requires_the_token) {
  auto list = get("/");
  EXPECT_EQ(list.status, 303);
  EXPECT_EQ(list.header("Location"), "/login");
  auto metrics_r = get("/metrics");
  EXPECT_EQ(metrics_r.status, 401);
  EXPECT_NE(metrics_r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(get("/metrics", bearer("wrong")).status, 401);
  EXPECT_EQ(get("/metrics", bearer(std::string(token) + "x")).status, 401);
  EXPECT_EQ(get(thread_path(), {{"Cookie", "supportd_session=1.6c69.abc"}}).status, 303);

  EXPECT_EQ(post(thread_path() + "/note", "text=hi").status, 401);
  EXPECT_EQ(post(thread_path() + "/resolve", "", bearer("nope")).status, 401);
  EXPECT_TRUE(db_->thread_notes(thread_.id).empty());
  EXPECT_EQ(db_->thread(thread_.id)->status, store::thread_status::escalated);

  EXPECT_EQ(get("/", bearer()).status, 200);
  EXPECT_EQ(get("/metrics", bearer()).status, 200);
}

TEST_F(web_test, login_sets_a_strict_httponly_cookie) {
  auto bad = post("/login", "token=guess&name=x");
  EXPECT_EQ(bad.status, 401);
  EXPECT_TRUE(bad.header("Set-Cookie").empty());
  EXPECT_NE(bad.body.find("not valid"), std::string::npos);

  auto r = post("/login", std::string("token=") + token + "&name=%E6%9D%8E%E5%9B%9B");
  ASSERT_EQ(r.status, 303);
  const auto set = r.header("Set-Cookie");
  EXPECT_NE(set.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set.find("Path=/"), std::string::npos);
  EXPECT_EQ(set.find(token), std::string::npos) << "the token itself never goes in the cookie";
  const auto cookie = set.substr(0, set.find(';'));
  auto page = get("/", {{"Cookie", cookie}});
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("李四"), std::string::npos);  // the agent's name in the header

  // A tampered cookie (other name, same MAC) is refused.
  auto forged = cookie;
  const auto dot = forged.find('.');
  forged.replace(dot + 1, 2, "41");
  EXPECT_EQ(get("/", {{"Cookie", forged}}).status, 303);
}

TEST_F(web_test, sessions_expire) {
  const auto cookie = login();
  auto c = ctx();
  c.now = now + 13 * 3600;
  auto r = handle(request{"GET", "/", {{"Cookie", cookie}}, ""}, c);
  EXPECT_EQ(r.status, 303);
}

TEST_F(web_test, cookie_posts_need_the_csrf_token) {
  const auto cookie = login();
  auto page = get(thread_path(), {{"Cookie", cookie}});
  ASSERT_EQ(page.status, 200);
  const auto csrf = csrf_of(page.body);
  ASSERT_FALSE(csrf.empty());

  EXPECT_EQ(post(thread_path() + "/note", "text=a", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(post(thread_path() + "/note", "text=a&csrf=0123", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(post(thread_path() + "/resolve", "", {{"Cookie", cookie}}).status, 403);
  EXPECT_TRUE(db_->thread_notes(thread_.id).empty());
  EXPECT_EQ(db_->thread(thread_.id)->status, store::thread_status::escalated);

  auto ok = post(thread_path() + "/note", "text=a&csrf=" + csrf, {{"Cookie", cookie}});
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(db_->thread_notes(thread_.id).size(), 1U);

  // The token of another session does not work for this one.
  const auto other = login("wang");
  EXPECT_EQ(post(thread_path() + "/note", "text=b&csrf=" + csrf, {{"Cookie", other}}).status, 403);
}

TEST_F(web_test, hostile_text_is_escaped_and_scripts_are_forbidden) {
  store::thread_row t;
  t.customer_address = "evil@example.com";
  t.customer_name = "\"><img src=x onerror=alert(1)>";
  t.subject = "<script>alert('x')</script>";
  t.category = "general";
  t.language = "en\" onmouseover=\"alert(1)";
  t.status = store::thread_status::open;
  const auto evil = db_->create_thread(t);
  db_->set_thread_assignee(evil.id, "<b>boss</b>");
  db_->add_note(evil.id, "<i>x</i>", "</div><script>steal()</script>");
  store::message_row in;
  in.key = store::inbound_key{"INBOX", 1, 9};
  in.thread_id = evil.id;
  in.direction = "in";
  in.message_id = "evil@example.com";
  in.from_address = "evil@example.com";
  in.decision = "escalate";
  in.reason = "<svg onload=alert(1)>";
  in.body = "<iframe src=\"javascript:alert(1)\"></iframe> & more";
  db_->record_inbound(in);

  for (const auto& target : {std::string("/"), "/threads/" + std::to_string(evil.id)}) {
    auto r = get(target, bearer());
    ASSERT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body.find("<script"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("<img"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("<svg"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("<iframe"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("<b>boss"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("onmouseover=\""), std::string::npos) << target;
    EXPECT_NE(r.body.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"), std::string::npos)
        << target;
    const auto csp = r.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("script-src"), std::string::npos) << "no script source is allowed";
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
  }
}

TEST_F(web_test, list_shows_the_queue_with_filters) {
  store::thread_row done;
  done.customer_address = "old@example.com";
  done.subject = "Resolved long ago";
  done.status = store::thread_status::resolved;
  db_->create_thread(done);

  auto r = get("/", bearer());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("提现一直没有到账"), std::string::npos);
  EXPECT_NE(r.body.find(thread_.ticket), std::string::npos);
  EXPECT_NE(r.body.find("withdrawal"), std::string::npos);
  EXPECT_NE(r.body.find("张伟 &lt;zhang@example.cn&gt;"), std::string::npos);
  EXPECT_NE(r.body.find(">2h<"), std::string::npos);  // age
  EXPECT_EQ(r.body.find("Resolved long ago"), std::string::npos);

  auto resolved = get("/?status=resolved", bearer());
  EXPECT_NE(resolved.body.find("Resolved long ago"), std::string::npos);
  EXPECT_EQ(resolved.body.find("提现一直没有到账"), std::string::npos);
  EXPECT_NE(get("/?status=all", bearer()).body.find("Resolved long ago"), std::string::npos);
  EXPECT_EQ(get("/?status=bogus", bearer()).status, 400);
}

TEST_F(web_test, thread_page_shows_the_whole_conversation) {
  auto r = get(thread_path(), bearer());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("你好，我三天前提现的 500 USDT 还没有到账，请帮忙查一下。"),
            std::string::npos);
  EXPECT_NE(r.body.find("还是没有到账！"), std::string::npos);
  EXPECT_NE(r.body.find("category escalates"), std::string::npos);
  EXPECT_NE(r.body.find("lang=\"zh-CN\""), std::string::npos);
  EXPECT_NE(r.body.find("Re: 提现一直没有到账 [#" + thread_.ticket + "]"), std::string::npos);
  EXPECT_EQ(get("/threads/999", bearer()).status, 404);
  EXPECT_EQ(get("/threads/abc", bearer()).status, 404);
  EXPECT_EQ(get("/threads/-1", bearer()).status, 404);
}

TEST_F(web_test, actions_change_the_store) {
  const auto base = thread_path();
  auto r = post(base + "/assign", "assignee=%E7%8E%8B%E8%8A%B3", bearer());
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("Location"), base + "?done=assign");
  EXPECT_EQ(db_->thread(thread_.id)->assignee, "王芳");

  EXPECT_EQ(post(base + "/note", "text=%E5%B7%B2%E8%81%94%E7%B3%BB%E8%B4%A2%E5%8A%A1%0D%0Aline+2",
                 bearer())
                .status,
            303);
  const auto notes = db_->thread_notes(thread_.id);
  ASSERT_EQ(notes.size(), 1U);
  EXPECT_EQ(notes[0].text, "已联系财务\nline 2");
  EXPECT_EQ(notes[0].author, "api");
  EXPECT_EQ(post(base + "/note", "text=+++", bearer()).status, 400);
  EXPECT_EQ(db_->thread_notes(thread_.id).size(), 1U);

  EXPECT_EQ(post(base + "/resolve", "", bearer()).status, 303);
  EXPECT_EQ(db_->thread(thread_.id)->status, store::thread_status::resolved);
  EXPECT_EQ(post(base + "/reopen", "", bearer()).status, 303);
  EXPECT_EQ(db_->thread(thread_.id)->status, store::thread_status::open);

  auto page = get(base + "?done=note", bearer());
  EXPECT_NE(page.body.find("Note added."), std::string::npos);
  EXPECT_NE(page.body.find("已联系财务"), std::string::npos);
  EXPECT_NE(page.body.find("王芳"), std::string::npos);

  EXPECT_EQ(post("/threads/999/resolve", "", bearer()).status, 404);
  EXPECT_EQ(post(base + "/explode", "", bearer()).status, 404);
  EXPECT_EQ(call(request{"DELETE", base, bearer(), ""}).status, 405);
}

TEST_F(web_test, agent_reply_goes_through_the_outbox_threaded) {
  const auto cookie = login("li");
  const auto csrf = csrf_of(get(thread_path(), {{"Cookie", cookie}}).body);
  auto r = post(thread_path() + "/reply",
                "csrf=" + csrf +
                    "&body=%E6%82%A8%E5%A5%BD%EF%BC%8C%E5%B7%B2%E5%A4%84%E7%90%86%E3%80%82%0D%0A"
                    "OKPay",
                {{"Cookie", cookie}});
  ASSERT_EQ(r.status, 303);
  EXPECT_EQ(r.header("Location"), thread_path() + "?done=reply");

  const auto due = db_->due_outbox(now, 10);
  ASSERT_EQ(due.size(), 1U);
  const auto& ob = due[0];
  EXPECT_EQ(ob.inbound_id, 0);
  EXPECT_EQ(ob.thread_id, thread_.id);
  EXPECT_EQ(ob.envelope_from, "support@okpay.example");
  EXPECT_EQ(ob.recipients, std::vector<std::string>{"zhang@example.cn"});
  EXPECT_TRUE(ob.message_id.starts_with("agent.")) << ob.message_id;
  EXPECT_TRUE(ob.message_id.ends_with("@okpay.example")) << ob.message_id;
  EXPECT_EQ(ob.data.find("Auto-Submitted"), std::string::npos) << "a person wrote it";
  EXPECT_NE(ob.data.find("\r\n"), std::string::npos);

  auto parsed = mime::parse_message(ob.data);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->subject, "Re: 提现一直没有到账 [#" + thread_.ticket + "]");
  EXPECT_EQ(parsed->message_id, ob.message_id);
  EXPECT_EQ(parsed->in_reply_to, "second@example.cn");  // the customer's last message
  EXPECT_EQ(parsed->references, std::vector<std::string>{"second@example.cn"});
  ASSERT_TRUE(parsed->from);
  EXPECT_EQ(parsed->from->address, "support@okpay.example");
  ASSERT_EQ(parsed->to.size(), 1U);
  EXPECT_EQ(parsed->to[0].address, "zhang@example.cn");
  EXPECT_NE(parsed->body_text.find("您好，已处理。\nOKPay"), std::string::npos);

  const auto messages = db_->thread_messages(thread_.id);
  ASSERT_EQ(messages.size(), 3U);
  EXPECT_EQ(messages.back().direction, "out");
  EXPECT_EQ(messages.back().decision, "agent_reply");
  EXPECT_EQ(messages.back().reason, "written by li");
  EXPECT_EQ(messages.back().message_id, ob.message_id);
  EXPECT_EQ(messages.back().body, "您好，已处理。\nOKPay");

  // A second reply gets its own Message-ID; an empty one is refused.
  EXPECT_EQ(post(thread_path() + "/reply", "body=again", bearer()).status, 303);
  const auto both = db_->due_outbox(now, 10);
  ASSERT_EQ(both.size(), 2U);
  EXPECT_NE(both[0].message_id, both[1].message_id);
  EXPECT_EQ(post(thread_path() + "/reply", "body=%20%0D%0A", bearer()).status, 400);
  EXPECT_EQ(db_->outbox_depth(), 2U);
}

// Every line of the exposition is a comment or `name{labels} value` (format 0.0.4).
void expect_valid_exposition(const std::string& text) {
  const std::regex sample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$)re");
  const std::regex comment(R"re(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)re");
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, comment)) {
      if (m[1] == "TYPE") {
        const auto name = line.substr(7, line.find(' ', 7) - 7);
        EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      }
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "bad line: " << line;
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.contains(family) && family.ends_with(suffix)) {
        family.resize(family.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_TRUE(typed.contains(family)) << "sample before its TYPE: " << line;
  }
  EXPECT_TRUE(text.ends_with("\n"));
}

TEST_F(web_test, metrics_in_prometheus_text_format) {
  store::message_row s;
  s.key = store::inbound_key{"INBOX", 1, 5};
  s.direction = "in";
  s.decision = "suppress";
  s.reason = "auto-submitted: \"auto-replied\"";
  db_->record_inbound(s);
  s.key = store::inbound_key{"INBOX", 1, 6};
  s.reason = "list\"quote\\: x";
  db_->record_inbound(s);
  EXPECT_EQ(post(thread_path() + "/reply", "body=hello", bearer()).status, 303);
  pushed_.set_fetch_lag(2.5);
  pushed_.observe_smtp_send(0.07);
  pushed_.observe_smtp_send(3);
  pushed_.count_smtp_failure(false);
  pushed_.set_last_successful_poll(now - 30);

  auto r = get("/metrics", bearer());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  expect_valid_exposition(r.body);
  const auto has = [&](const std::string& line) {
    EXPECT_NE(r.body.find("\n" + line + "\n"), std::string::npos) << line << "\n" << r.body;
  };
  has(R"(supportd_messages_total{decision="escalate",category="withdrawal"} 2)");
  has(R"(supportd_messages_total{decision="suppress",category=""} 2)");
  has(R"(supportd_suppressions_total{reason="auto-submitted"} 1)");
  has(R"(supportd_suppressions_total{reason="list\"quote\\"} 1)");
  has("supportd_outbox_depth 1");
  has("supportd_send_failed_total 0");
  has(R"(supportd_threads{status="escalated"} 1)");
  has("supportd_fetch_lag_seconds 2.5");
  has(R"(supportd_smtp_send_duration_seconds_bucket{le="0.05"} 0)");
  has(R"(supportd_smtp_send_duration_seconds_bucket{le="0.1"} 1)");
  has(R"(supportd_smtp_send_duration_seconds_bucket{le="5"} 2)");
  has(R"(supportd_smtp_send_duration_seconds_bucket{le="+Inf"} 2)");
  has("supportd_smtp_send_duration_seconds_count 2");
  has("supportd_smtp_send_duration_seconds_sum 3.07");
  has(R"(supportd_smtp_failures_total{kind="transient"} 1)");
  has("supportd_last_successful_poll_timestamp_seconds 1699999970");
}

TEST(web_token, read_token_file_trims_and_rejects_empty) {
  const auto dir = fs::temp_directory_path() / ("supportd-web-token-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ok") << "  abc123\n";
  std::ofstream(dir / "empty") << " \n";
  EXPECT_EQ(read_token_file(dir / "ok").value_or(""), "abc123");
  EXPECT_FALSE(read_token_file(dir / "empty"));
  EXPECT_FALSE(read_token_file(dir / "missing"));
  fs::remove_all(dir);
}

// The real server on a loopback port: Beast parsing and the worker thread around handle().
TEST_F(web_test, server_answers_over_http) {
  std::ofstream(dir_ / "token") << token << "\n";
  config_.token_file = dir_ / "token";
  config_.port = 0;
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  auto started = server::start(io.get_executor(), config_, dir_ / "supportd.db", nullptr);
  ASSERT_TRUE(started) << started.error();
  auto& srv = **started;
  ASSERT_NE(srv.port(), 0);
  std::thread runner([&] { io.run(); });

  const auto fetch = [&](const std::string& target, const std::string& auth) {
    asio::io_context client;
    asio::ip::tcp::socket socket(client);
    socket.connect({asio::ip::make_address("127.0.0.1"), srv.port()});
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  };
  auto health = fetch("/healthz", "");
  EXPECT_EQ(health.result_int(), 200U);
  EXPECT_EQ(health.body(), "ok\n");
  auto list = fetch("/", std::string("Bearer ") + token);
  EXPECT_EQ(list.result_int(), 200U);
  EXPECT_NE(list.body().find("提现一直没有到账"), std::string::npos);
  EXPECT_EQ(fetch("/metrics", "Bearer wrong").result_int(), 401U);

  srv.stop();
  started->reset();
  io.stop();
  runner.join();
}

TEST_F(web_test, server_refuses_a_missing_token_file) {
  config_.token_file = dir_ / "absent";
  boost::asio::io_context io;
  auto started = server::start(io.get_executor(), config_, dir_ / "supportd.db", nullptr);
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("token"), std::string::npos);
}

}  // namespace
}  // namespace supportd::web
