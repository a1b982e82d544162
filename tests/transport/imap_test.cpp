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

TEST_F(imap, fetch_many_gives_bytes_and_arrival_times_in_the_order_asked) {
  const auto before = std::time(nullptr);
  const auto files = three_files();
  const auto uids = servers_.append(files);
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  const std::vector<std::int64_t> asked{uids[2], uids[0], uids[1]};
  const auto got = client.fetch_many(asked, st->uidvalidity);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 3U);
  const std::size_t file_of[] = {2, 0, 1};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*got)[i].uid, asked[i]);
    ASSERT_TRUE((*got)[i].raw.has_value()) << (*got)[i].raw.error().message;
    EXPECT_EQ(*(*got)[i].raw, crlf_bytes(files[file_of[i]]));
    EXPECT_NEAR(static_cast<double>((*got)[i].internal_date), static_cast<double>(before), 60.0);
  }
}

// A message that is gone fails on its own; the others of the batch still come.
TEST_F(imap, fetch_many_fails_a_missing_message_alone) {
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  const std::vector<std::int64_t> asked{uids[0], 999, uids[2]};
  const auto got = client.fetch_many(asked, st->uidvalidity);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 3U);
  EXPECT_TRUE((*got)[0].raw.has_value());
  ASSERT_FALSE((*got)[1].raw.has_value());
  EXPECT_EQ((*got)[1].raw.error().kind, error_kind::permanent);
  EXPECT_NE((*got)[1].raw.error().message.find("UID 999"), std::string::npos) << (*got)[1].raw.error().message;
  EXPECT_TRUE((*got)[2].raw.has_value());
}

// BODY.PEEK[]: fetching does not mark mail \Seen, so mail the daemon has not decided on yet
// still looks new to a person reading the mailbox.
TEST_F(imap, fetch_many_leaves_messages_unseen) {
  const auto uids = servers_.append(three_files());
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(client.fetch_many(uids, st->uidvalidity).has_value());
  for (const auto uid : uids) EXPECT_EQ(servers_.flags(uid).find("\\Seen"), std::string::npos) << uid;
  ASSERT_TRUE(client.add_flags(uids[0], st->uidvalidity, "\\Seen").has_value());  // the check can see it
  EXPECT_NE(servers_.flags(uids[0]).find("\\Seen"), std::string::npos);
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
  // One login for STATUS, one for the bodies: no fetch needed a new connection.
  EXPECT_EQ(login_count() - logins_before, 2) << "a fetch needed a new connection";
}

// A thousand messages in one call, each with its bytes and arrival time (one UID FETCH for the
// sizes and dates, then bodies in commands of at most 16 MiB).
TEST_F(imap, fetch_many_of_a_thousand_messages) {
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
  const auto got = client.fetch_many(uids, st->uidvalidity);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), uids.size());
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (std::size_t i = 0; i < uids.size(); ++i) {
    ASSERT_TRUE((*got)[i].raw.has_value()) << uids[i];
    EXPECT_EQ(*(*got)[i].raw, "Subject: " + std::to_string(i) + "\r\n\r\nx\r\n");
    EXPECT_LE(std::abs((*got)[i].internal_date - now), 600) << uids[i];
  }
}

// Messages adding up to more than one call's 64 MiB: the first ones come, the caller asks again.
TEST_F(imap, fetch_many_returns_a_prefix_when_the_batch_is_too_big_for_memory) {
  const auto dir = servers_.dir() / "huge";
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 3; ++i) {
    files.push_back(dir / (std::to_string(i) + ".eml"));
    std::ofstream out(files.back(), std::ios::binary);
    out << "Subject: " << i << "\r\n\r\n";
    const std::string line = std::string(998, static_cast<char>('a' + i)) + "\r\n";
    for (int k = 0; k < 25'000; ++k) out << line;  // 25 MB
  }
  const auto uids = servers_.append(files);
  imap_client client(harness_endpoint(servers_.imap_url()));
  const auto st = client.status();
  ASSERT_TRUE(st.has_value());
  const auto first = client.fetch_many(uids, st->uidvalidity);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_EQ(first->size(), 2U);  // 50 MB; a third would pass 64 MiB
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(*(*first)[i].raw, crlf_bytes(files[i]));
  const auto rest = client.fetch_many(std::span(uids).subspan(2), st->uidvalidity);
  ASSERT_TRUE(rest.has_value()) << rest.error().message;
  ASSERT_EQ(rest->size(), 1U);
  EXPECT_EQ(*(*rest)[0].raw, crlf_bytes(files[2]));
}

// Two logins in all: one session for status, search and flags, one for message bodies.
TEST_F(imap, two_logins_serve_many_operations) {
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
  ASSERT_TRUE(client.fetch_many(uids, st->uidvalidity).has_value());
  EXPECT_EQ(login_count() - before, 2);
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
  const auto uids = client.uids_after(0, 7);
  ASSERT_TRUE(uids.has_value()) << uids.error().message;
  EXPECT_EQ(*uids, std::vector<std::int64_t>{1});
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.uid_commands(), 2);
}

// Over the limit again on the new connection: an error that says why, after exactly one retry.
TEST(imap_scripted, response_over_the_line_limit_twice_fails_with_the_reason) {
  scripted_imap server(1'000, 400'000);
  imap_client client(harness_endpoint(server.url()));
  const auto uids = client.uids_after(0, 7);
  ASSERT_FALSE(uids.has_value());
  EXPECT_EQ(uids.error().kind, error_kind::transient) << uids.error().message;
  EXPECT_EQ(uids.error().code, 56);  // CURLE_RECV_ERROR
  EXPECT_NE(uids.error().message.find("300 KiB"), std::string::npos) << uids.error().message;
  EXPECT_NE(uids.error().message.find("Too large response headers"), std::string::npos) << uids.error().message;
  EXPECT_EQ(server.uid_commands(), 2);
}

// Message bodies do not go through libcurl's response reader at all, so that limit does not
// apply to them: 400 KB of untagged lines before a FETCH response are read on one connection.
TEST(imap_scripted, fetch_many_is_not_bound_by_the_line_limit) {
  scripted_imap server(1'000, 400'000);
  imap_client client(harness_endpoint(server.url()));
  const auto got = client.fetch_many(std::vector<std::int64_t>{1}, 7);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1U);
  ASSERT_TRUE(got->front().raw.has_value()) << got->front().raw.error().message;
  EXPECT_EQ(*got->front().raw, scripted_imap::body);
  EXPECT_EQ(got->front().internal_date, 1795338000);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace supportd::transport
