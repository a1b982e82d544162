#include "detail/imap_target.hpp"

#include <gtest/gtest.h>

#include "supportd/idle/idle_watcher.hpp"

namespace supportd::idle::detail {
namespace {

transport::endpoint make(std::string url, bool starttls = true) {
  transport::endpoint ep;
  ep.url = std::move(url);
  ep.starttls = starttls;
  return ep;
}

TEST(imap_target, loopback_plain) {
  auto t = make_target(make("imap://127.0.0.1:1143/INBOX"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, "1143");
  EXPECT_EQ(t->mailbox, "INBOX");
  EXPECT_EQ(t->tls, security::plain);
}

TEST(imap_target, defaults_and_decoding) {
  auto t = make_target(make("IMAPS://user%40x@mail.example.com/Support%20Queue/"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->host, "mail.example.com");
  EXPECT_EQ(t->port, "993");
  EXPECT_EQ(t->mailbox, "Support Queue");
  EXPECT_EQ(t->tls, security::implicit);

  t = make_target(make("imap://[::1]"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, "143");
  EXPECT_EQ(t->mailbox, "INBOX");
  EXPECT_EQ(t->tls, security::plain);
}

TEST(imap_target, remote_clear_text_uses_starttls) {
  auto t = make_target(make("imap://mail.example.com/INBOX"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tls, security::starttls);
  t = make_target(make("imap://mail.example.com/INBOX", false));  // allow_plaintext case
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tls, security::plain);
  t = make_target(make("imap://localhost:143/INBOX"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tls, security::plain);  // loopback never needs STARTTLS
}

TEST(imap_target, rejects_bad_urls) {
  for (const char* url :
       {"smtp://127.0.0.1:25", "127.0.0.1/INBOX", "imap:///INBOX", "imap://h:0/", "imap://h:99999/",
        "imap://h:1x/", "imap://[::1/INBOX", "imap://h/INBOX;UID=4", "imap://h/IN%0D%0ABOX",
        "imap://h/IN%zzBOX", "imap://h/IN\r\nBOX"}) {
    EXPECT_FALSE(make_target(make(url)).has_value()) << url;
  }
}

TEST(imap_target, loopback_hosts) {
  for (const char* host : {"127.0.0.1", "127.9.8.7", "::1", "[::1]", "::ffff:127.0.0.1",
                           "localhost", "LOCALHOST.", "imap.localhost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host :
       {"10.0.0.1", "::ffff:10.0.0.1", "mail.example.com", "localhost.example.com", ""}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(imap_target, quoting) {
  EXPECT_EQ(imap_quoted("plain"), "\"plain\"");
  EXPECT_EQ(imap_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(imap_quoted("pässwörd"), "\"pässwörd\"");
  EXPECT_FALSE(imap_quoted("a\rb").has_value());
  EXPECT_FALSE(imap_quoted("a\nb").has_value());
  EXPECT_FALSE(imap_quoted(std::string_view("a\0b", 3)).has_value());
}

}  // namespace
}  // namespace supportd::idle::detail
