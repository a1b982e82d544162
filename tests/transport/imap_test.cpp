#include "supportd/transport/transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include "harness/mail_servers.hpp"
#include "test_support.hpp"

namespace supportd::transport {
namespace {

using namespace testing_support;
using clock_type = std::chrono::steady_clock;

class imap : public ::testing::Test {
 protected:
  test::mail_servers servers_;

  std::vector<std::filesystem::path> three_files() const {
    return {data_file("plain.eml"), data_file("dots.eml"), data_file("utf8.eml")};
  }

  // How many IMAP logins Dovecot has logged so far (to prove session reuse).
  int login_count() const {
    std::ifstream log(servers_.dir() / "dovecot" / "dovecot.log");
    int count = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find("imap-login: Info: Login:") != std::string::npos) ++count;
    }
    return count;
  }
};

TEST_F(imap, status_reports_uidvalidity_uidnext_and_count) {
  imap_client client(harness_endpoint(servers_.imap_url()));
  EXPECT_EQ(client.mailbox(), "INBOX");
  const auto empty = client.status();
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_GT(empty->uidvalidity, 0);
  EXPECT_EQ(empty->uidnext, 1);
  EXPECT_EQ(empty->messages, 0);

  servers_.append(three_files());
  const auto full = client.status();
  ASSERT_TRUE(full.has_value()) << full.error().message;
  EXPECT_EQ(full->uidvalidity, empty->uidvalidity);
  EXPECT_EQ(full->uidnext, 4);
  EXPECT_EQ(full->messages, 3);
}

TEST_F(imap, uids_after_lists_only_newer_messages) {
  const auto appended = servers_.append(three_files());
  ASSERT_EQ(appended.size(), 3U);
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;

  const auto all = client.uids_after(0, st->uidvalidity);
  ASSERT_TRUE(all.has_value()) << all.error().message;
  EXPECT_EQ(*all, appended);

  const auto newer = client.uids_after(appended[1], st->uidvalidity);
  ASSERT_TRUE(newer.has_value()) << newer.error().message;
  EXPECT_EQ(*newer, std::vector<std::int64_t>{appended[2]});

  // "UID SEARCH UID n:*" would answer the last UID again; we must not.
  const auto none = client.uids_after(appended.back(), st->uidvalidity);
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_TRUE(none->empty());
  const auto beyond = client.uids_after(appended.back() + 100, st->uidvalidity);
  ASSERT_TRUE(beyond.has_value());
  EXPECT_TRUE(beyond->empty());
}

TEST_F(imap, mail_arriving_while_the_mailbox_is_selected_is_seen) {
  // Regression: STATUS on the selected mailbox is answered from Dovecot's stale session view.
  const auto first = servers_.append({data_file("plain.eml")});
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  const auto before = client.uids_after(0, st->uidvalidity);
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ(*before, first);
  ASSERT_TRUE(client.fetch(first[0], st->uidvalidity).has_value());

  const auto later = servers_.append({data_file("dots.eml")});
  const auto after = client.uids_after(first[0], st->uidvalidity);
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(*after, later);
}

TEST_F(imap, internal_dates_are_arrival_times) {
  const auto before = std::time(nullptr);
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  const auto dates = client.internal_dates(uids.front(), uids.back(), st->uidvalidity);
  ASSERT_TRUE(dates.has_value()) << dates.error().message;
  ASSERT_EQ(dates->size(), 3U);
  for (const auto& [uid, when] : *dates) {
    EXPECT_NEAR(static_cast<double>(when), static_cast<double>(before), 60.0) << uid;
  }
}

TEST_F(imap, uids_after_spans_several_search_windows) {
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 10; ++i) {
    for (const auto& f : three_files()) files.push_back(f);
  }
  const auto appended = servers_.append(files);
  ASSERT_EQ(appended.size(), 30U);
  imap_client client(harness_endpoint(servers_.imap_url()));
  client.set_search_window(7);
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  const auto all = client.uids_after(0, st->uidvalidity);
  ASSERT_TRUE(all.has_value()) << all.error().message;
  EXPECT_EQ(*all, appended);
  const auto tail = client.uids_after(appended[11], st->uidvalidity);
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(*tail, std::vector<std::int64_t>(appended.begin() + 12, appended.end()));
}

TEST_F(imap, fetch_returns_the_exact_bytes) {
  auto files = three_files();
  files.push_back(data_file("long_header.eml"));  // a 20 KB line, above curl's default buffer
  const auto uids = servers_.append(files);
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto raw = client.fetch(uids[i], st->uidvalidity);
    ASSERT_TRUE(raw.has_value()) << raw.error().message;
    EXPECT_EQ(*raw, crlf_bytes(files[i])) << files[i];
  }
}

// Messages over 300 KiB on a connection that already carried large transfers: TCP has grown
// the receive window, so the read that brings in the "* n FETCH ... {size}" line also brings a
// large part of the literal. Debian's libcurl 7.88 counted that whole read against its 300 KiB
// limit on response lines ("Too large response headers: 524288 > 307200" with a 512 KiB
// buffer), whatever the message's line lengths. Every fetch must succeed on one login.
TEST_F(imap, large_messages_fetch_on_a_warm_connection) {
  const auto dir = servers_.dir() / "large";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& subject, std::size_t lines) {
    std::ofstream out(dir / name, std::ios::binary);
    out << "From: a@b.example\r\nTo: c@d.example\r\nSubject: " << subject << "\r\nMessage-ID: <" << name
        << "@x.example>\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i) out << std::string(70, 'y') << "\r\n";
    return dir / name;
  };
  std::vector<std::filesystem::path> files{write("warm.eml", "warm", 3'000)};  // ~216 KB
  for (int i = 0; i < 12; ++i) files.push_back(write("big" + std::to_string(i) + ".eml", "big", 14'000));  // 1 MB
  files.push_back(write("long_line.eml", std::string(300'000, 'x'), 28'000));  // one 300,000-byte line
  const auto uids = servers_.append(files);
  ASSERT_EQ(uids.size(), files.size());
  const int logins_before = login_count();
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto raw = client.fetch(uids[i], st->uidvalidity);
    ASSERT_TRUE(raw.has_value()) << files[i].filename() << ": " << raw.error().message;
    EXPECT_EQ(*raw, crlf_bytes(files[i])) << files[i].filename();
  }
  EXPECT_EQ(login_count() - logins_before, 1) << "a fetch needed a new connection";
}

// INTERNALDATE of a thousand messages. libcurl 7.88 (Debian) counts a custom command's
// untagged lines quadratically against its 300 KiB limit: one command for 100 messages failed
// every time, and the poller's backlog rule then got no arrival times at all.
TEST_F(imap, internal_dates_of_a_thousand_messages) {
  const auto dir = servers_.dir() / "many";
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 1'000; ++i) {
    files.push_back(dir / (std::to_string(i) + ".eml"));
    std::ofstream(files.back(), std::ios::binary) << "Subject: " << i << "\r\n\r\nx\r\n";
  }
  const auto uids = servers_.append(files);
  ASSERT_EQ(uids.size(), files.size());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  const auto dates = client.internal_dates(uids.front(), uids.back(), st->uidvalidity);
  ASSERT_TRUE(dates.has_value()) << dates.error().message;
  ASSERT_EQ(dates->size(), uids.size());
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (std::size_t i = 0; i < uids.size(); ++i) {
    EXPECT_EQ((*dates)[i].first, uids[i]);
    EXPECT_LE(std::abs((*dates)[i].second - now), 600) << uids[i];
  }
}

TEST_F(imap, one_login_serves_many_operations) {
  const auto uids = servers_.append(three_files());
  const int before = login_count();
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(client.uids_after(0, st->uidvalidity).has_value());
  for (const auto uid : uids) ASSERT_TRUE(client.fetch(uid, st->uidvalidity).has_value());
  ASSERT_TRUE(client.add_flags(uids[0], st->uidvalidity, "\\Answered").has_value());
  ASSERT_TRUE(client.noop().has_value());
  ASSERT_TRUE(client.status().has_value());
  EXPECT_EQ(login_count() - before, 1);
}

TEST_F(imap, add_flags_sets_answered) {
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(servers_.flags(uids[1]).find("\\Answered"), std::string::npos);
  const auto stored = client.add_flags(uids[1], st->uidvalidity, "\\Answered $SupportdReplied");
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  const std::string flags = servers_.flags(uids[1]);
  EXPECT_NE(flags.find("\\Answered"), std::string::npos) << flags;
  EXPECT_NE(flags.find("$SupportdReplied"), std::string::npos) << flags;
  EXPECT_EQ(servers_.flags(uids[0]).find("\\Answered"), std::string::npos);

  const auto injected = client.add_flags(uids[1], st->uidvalidity, "\\Seen)\r\nA1 LOGOUT");
  ASSERT_FALSE(injected.has_value());
  EXPECT_EQ(injected.error().kind, error_kind::config);
}

TEST_F(imap, changed_uidvalidity_is_transient) {
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(client.fetch(uids[0], st->uidvalidity).has_value());  // mailbox now selected
  const auto fetched = client.fetch(uids[0], st->uidvalidity + 1);
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().kind, error_kind::transient);
  EXPECT_NE(fetched.error().message.find("UIDVALIDITY"), std::string::npos) << fetched.error().message;
  const auto listed = client.uids_after(0, st->uidvalidity + 1);
  ASSERT_FALSE(listed.has_value());
  EXPECT_EQ(listed.error().kind, error_kind::transient);
  EXPECT_NE(listed.error().message.find("UIDVALIDITY"), std::string::npos);
  // The client recovers on the right value.
  EXPECT_TRUE(client.fetch(uids[0], st->uidvalidity).has_value());
}

TEST_F(imap, missing_uid_is_permanent) {
  servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  const auto fetched = client.fetch(999, st->uidvalidity);
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().kind, error_kind::permanent) << fetched.error().message;
}

TEST_F(imap, missing_mailbox_is_transient_with_a_clear_message) {
  imap_client client(harness_endpoint(servers_.imap_url("NoSuchFolder")));
  const auto st = client.status();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::transient);
  EXPECT_NE(st.error().message.find("NoSuchFolder"), std::string::npos) << st.error().message;
  const auto fetched = client.fetch(1, 0);
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().kind, error_kind::transient);
  EXPECT_NE(fetched.error().message.find("NoSuchFolder"), std::string::npos) << fetched.error().message;
}

TEST_F(imap, wrong_password_is_auth_and_not_logged) {
  auto ep = harness_endpoint(servers_.imap_url());
  ep.password = "not-the-password-42";
  imap_client client(ep);
  const auto st = client.status();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::auth);
  EXPECT_EQ(st.error().message.find("not-the-password-42"), std::string::npos);
}

TEST_F(imap, stopped_server_is_transient_and_the_client_recovers) {
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  servers_.stop_imap();
  const auto started = clock_type::now();
  const auto down = client.fetch(uids[0], st->uidvalidity);
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().kind, error_kind::transient) << down.error().message;
  EXPECT_LT(clock_type::now() - started, 10s);
  EXPECT_FALSE(client.noop().has_value());
  servers_.start_imap();
  const auto again = client.fetch(uids[0], st->uidvalidity);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, crlf_bytes(data_file("plain.eml")));
}

TEST_F(imap, implicit_tls_with_verification_rules) {
  if (servers_.imaps_port() == 0) GTEST_SKIP() << "openssl unavailable: no IMAPS listener";
  auto ep = harness_endpoint(servers_.imaps_url());
  ep.insecure_skip_verify = true;
  imap_client trusting(ep);
  const auto st = trusting.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_EQ(st->uidnext, 1);

  ep.insecure_skip_verify = false;  // self-signed: verification must fail, and not as transient
  imap_client verifying(ep);
  const auto refused = verifying.status();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, error_kind::config) << refused.error().message;
}

TEST(imap_abort, stop_flag_set_before_the_call) {
  test::mail_servers servers;
  std::atomic<bool> stop{true};
  imap_client client(harness_endpoint(servers.imap_url()), &stop);
  const auto st = client.status();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::aborted);
}

TEST(imap_abort, stop_flag_interrupts_a_hanging_transfer) {
  silent_listener silent;  // accepts, never greets: the transfer would wait for the timeout
  std::atomic<bool> stop{false};
  auto ep = harness_endpoint("imap://127.0.0.1:" + std::to_string(silent.port()) + "/INBOX");
  ep.timeout = 60s;
  imap_client client(ep, &stop);
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop = true;
  });
  const auto started = clock_type::now();
  const auto st = client.status();
  stopper.join();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::aborted) << st.error().message;
  EXPECT_LT(clock_type::now() - started, 5s);
}

TEST(imap_timeout, silent_server_times_out_as_transient) {
  silent_listener silent;
  auto ep = harness_endpoint("imap://127.0.0.1:" + std::to_string(silent.port()) + "/INBOX");
  ep.timeout = 2s;
  imap_client client(ep);
  const auto started = clock_type::now();
  const auto st = client.status();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::transient) << st.error().message;
  EXPECT_LT(clock_type::now() - started, 8s);
}

// A response over libcurl's 300 KiB limit on response lines that a new connection does not
// repeat (untagged updates queued for the old session) is retried once, transparently.
TEST(imap_scripted, response_over_the_line_limit_is_retried_on_a_new_connection) {
  scripted_imap server(1, 400'000);
  imap_client client(harness_endpoint(server.url()));
  const auto raw = client.fetch(1, 7);
  ASSERT_TRUE(raw.has_value()) << raw.error().message;
  EXPECT_EQ(*raw, scripted_imap::body);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.fetches(), 2);
}

// Over the limit again on the new connection: a fetch fails as permanent (the poller then
// quarantines the message after max_attempts instead of stopping at it every cycle), with a
// reason an agent can read, after exactly one retry.
TEST(imap_scripted, response_over_the_line_limit_twice_is_permanent_for_a_fetch) {
  scripted_imap server(1'000, 400'000);
  imap_client client(harness_endpoint(server.url()));
  const auto raw = client.fetch(1, 7);
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().kind, error_kind::permanent) << raw.error().message;
  EXPECT_EQ(raw.error().code, 56);  // CURLE_RECV_ERROR
  EXPECT_NE(raw.error().message.find("300 KiB"), std::string::npos) << raw.error().message;
  EXPECT_NE(raw.error().message.find("Too large response headers"), std::string::npos) << raw.error().message;
  EXPECT_EQ(server.fetches(), 2);
  // The client recovers for the next operation (a new connection each time here).
  EXPECT_FALSE(client.fetch(1, 7).has_value());
  EXPECT_EQ(server.fetches(), 4);
}

}  // namespace
}  // namespace supportd::transport
