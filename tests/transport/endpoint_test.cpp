#include "supportd/transport/transport.hpp"

#include <gtest/gtest.h>

#include "detail/endpoint_rules.hpp"
#include "detail/imap_response.hpp"
#include "detail/imap_stream.hpp"

namespace supportd::transport {
namespace {

endpoint make(std::string url) {
  endpoint ep;
  ep.url = std::move(url);
  ep.user = "support@okpay-wallet.example";
  ep.password = "s3cret-pass";
  return ep;
}

TEST(check_endpoint, loopback_clear_text_is_allowed) {
  for (const char* url : {"imap://127.0.0.1:1143/INBOX", "imap://localhost/INBOX", "smtp://[::1]:2525",
                          "smtp://127.8.9.10", "imap://LOCALHOST."}) {
    auto ep = make(url);
    ep.starttls = false;
    EXPECT_TRUE(check_endpoint(ep).has_value()) << url;
  }
}

TEST(check_endpoint, remote_clear_text_needs_starttls_or_opt_in) {
  auto ep = make("imap://mail.example.com/INBOX");
  ep.starttls = true;
  EXPECT_TRUE(check_endpoint(ep).has_value());
  ep.starttls = false;
  const auto refused = check_endpoint(ep);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, error_kind::config);
  EXPECT_NE(refused.error().message.find("mail.example.com"), std::string::npos);
  ep.allow_plaintext = true;
  EXPECT_TRUE(check_endpoint(ep).has_value());

  auto smtp = make("smtp://10.0.0.5:587");
  smtp.starttls = false;
  EXPECT_FALSE(check_endpoint(smtp).has_value());
}

TEST(check_endpoint, implicit_tls_is_always_allowed) {
  for (const char* url : {"imaps://imap.example.com/INBOX", "smtps://smtp.example.com:465"}) {
    auto ep = make(url);
    ep.starttls = false;
    EXPECT_TRUE(check_endpoint(ep).has_value()) << url;
  }
}

TEST(check_endpoint, rejects_other_schemes_and_garbage) {
  for (const char* url : {"http://127.0.0.1/", "pop3://127.0.0.1/", "not a url", "", "imap://"}) {
    const auto result = check_endpoint(make(url));
    ASSERT_FALSE(result.has_value()) << url;
    EXPECT_EQ(result.error().kind, error_kind::config) << url;
  }
}

TEST(check_endpoint, password_in_url_is_refused_and_not_echoed) {
  const auto result = check_endpoint(make("imaps://support:hunter2@imap.example.com/INBOX"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, error_kind::config);
  EXPECT_EQ(result.error().message.find("hunter2"), std::string::npos);
}

TEST(endpoint_rules, loopback_hosts) {
  using detail::is_loopback_host;
  for (const char* host : {"127.0.0.1", "127.255.0.9", "localhost", "LocalHost", "::1", "[::1]",
                           "::ffff:127.0.0.1", "foo.localhost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"", "128.0.0.1", "10.0.0.1", "::2", "localhost.example.com", "127.0.0.1.nip.io",
                           "::ffff:10.0.0.1", "0.0.0.0"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(endpoint_rules, starttls_only_off_loopback) {
  endpoint ep;
  auto remote = detail::parse_endpoint_url("smtp://smtp.example.com:587");
  auto local = detail::parse_endpoint_url("smtp://127.0.0.1:2525");
  auto tls = detail::parse_endpoint_url("smtps://smtp.example.com");
  ASSERT_TRUE(remote && local && tls);
  EXPECT_TRUE(detail::needs_starttls(*remote, ep));
  EXPECT_FALSE(detail::needs_starttls(*local, ep));
  EXPECT_FALSE(detail::needs_starttls(*tls, ep));
  ep.starttls = false;
  EXPECT_FALSE(detail::needs_starttls(*remote, ep));
}

TEST(endpoint_rules, mailbox_from_path) {
  auto a = detail::parse_endpoint_url("imap://127.0.0.1:143/Support%20Queue");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->mailbox, "Support Queue");
  EXPECT_EQ(a->base, "imap://127.0.0.1:143/");
  auto b = detail::parse_endpoint_url("imap://127.0.0.1/");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->mailbox, "INBOX");
  EXPECT_FALSE(detail::parse_endpoint_url("imap://127.0.0.1/INBOX;UID=4").has_value());
  EXPECT_FALSE(detail::parse_endpoint_url("imap://127.0.0.1/IN%0D%0ABOX").has_value());
  EXPECT_EQ(detail::imap_quote(R"(a "b" \c)"), R"("a \"b\" \\c")");
}

TEST(imap_client, refused_endpoint_fails_every_call_without_network) {
  auto ep = make("imap://mail.example.com/Support");
  ep.starttls = false;
  imap_client client(ep);
  EXPECT_EQ(client.mailbox(), "Support");
  const auto st = client.status();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().kind, error_kind::config);
  EXPECT_EQ(client.fetch(1, 1).error().kind, error_kind::config);
  EXPECT_EQ(client.noop().error().kind, error_kind::config);
}

TEST(imap_client, mailbox_name_is_decoded) {
  imap_client client(make("imap://127.0.0.1:1/Support%20Queue"));
  EXPECT_EQ(client.mailbox(), "Support Queue");
}

TEST(smtp_client, refused_endpoint_fails_without_network) {
  auto ep = make("smtp://smtp.example.com:25");
  ep.starttls = false;
  smtp_client client(ep);
  const auto sent = client.send("", {"a@example.com"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::config);
}

TEST(imap_response, status_line) {
  const auto st = detail::parse_status("* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1795315073)\r\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->messages, 2);
  EXPECT_EQ(st->uidnext, 3);
  EXPECT_EQ(st->uidvalidity, 1795315073);
  const auto quoted = detail::parse_status("* STATUS \"My (box)\" (UIDVALIDITY 7 UIDNEXT 1 MESSAGES 0)");
  ASSERT_TRUE(quoted.has_value());
  EXPECT_EQ(quoted->uidvalidity, 7);
  EXPECT_FALSE(detail::parse_status("* STATUS INBOX (MESSAGES 2)\r\n").has_value());
  EXPECT_FALSE(detail::parse_status("* OK nothing here\r\n").has_value());
  EXPECT_FALSE(detail::parse_status("").has_value());
}

TEST(imap_response, search_lines_are_filtered_to_the_window) {
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(detail::parse_search("* SEARCH 3 1 2\r\n", 1, 100), (V{1, 2, 3}));
  // "UID SEARCH UID 10:*" answers the highest UID (3) even though it is below 10.
  EXPECT_EQ(detail::parse_search("* SEARCH 3\r\n", 10, 20), V{});
  EXPECT_EQ(detail::parse_search("* SEARCH\r\n", 1, 5), V{});
  EXPECT_EQ(detail::parse_search("* SEARCH 5 x 6\r\n* SEARCH 6 7\r\n", 1, 6), (V{5, 6}));
  EXPECT_EQ(detail::parse_search("garbage", 1, 6), V{});
}

}  // namespace
}  // namespace supportd::transport

namespace supportd::transport {
namespace {

TEST(imap_response, date_time_is_unix_seconds) {
  EXPECT_EQ(detail::parse_imap_date_time("22-Nov-2026 09:00:00 +0000"), 1795338000);
  EXPECT_EQ(detail::parse_imap_date_time(" 2-Jan-2027 08:30:00 +0800"), 1798849800);
  EXPECT_FALSE(detail::parse_imap_date_time("32-Foo-2026 09:00:00 +0000"));
  EXPECT_EQ(detail::parse_imap_date_time("01-Jan-1970 00:00:00 +0000"), 0);
}

// Everything a server sends for one batch, then the same bytes fed in every possible split:
// the responses must come out the same whatever the reads.
TEST(imap_stream, responses_and_literals_come_whole_in_any_split) {
  const std::string body1 = "Subject: a\r\n\r\nhello {5}\r\nS2 OK fake\r\n";  // looks like protocol
  const std::string body2 = "x";
  const std::string stream = "* 2 EXISTS\r\n* 1 FETCH (UID 7 BODY[] {" + std::to_string(body1.size()) + "}\r\n" +
                             body1 + ")\r\n* 2 FETCH (BODY[] {1+}\r\n" + body2 +
                             " UID 9 FLAGS (\\Seen))\r\nS2 OK done\r\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    detail::response_reader reader(1024);
    std::vector<detail::imap_response_unit> got;
    reader.feed(std::string_view(stream).substr(0, split));
    while (auto r = reader.next()) got.push_back(std::move(*r));
    reader.feed(std::string_view(stream).substr(split));
    while (auto r = reader.next()) got.push_back(std::move(*r));
    ASSERT_EQ(got.size(), 4U) << "split at " << split;
    EXPECT_TRUE(reader.error().empty());
    EXPECT_EQ(got[0].text, "* 2 EXISTS");
    const auto first = detail::parse_fetch(got[1]);
    ASSERT_TRUE(first.has_value()) << got[1].text;
    EXPECT_EQ(first->uid, 7);
    ASSERT_TRUE(first->body.has_value());
    EXPECT_EQ(*first->body, body1);
    const auto second = detail::parse_fetch(got[2]);
    ASSERT_TRUE(second.has_value()) << got[2].text;
    EXPECT_EQ(second->uid, 9);
    EXPECT_EQ(second->body, body2);
    EXPECT_EQ(detail::tagged_status(got[3], "S2"), "OK");
    EXPECT_EQ(detail::tagged_status(got[3], "S1"), "");
  }
}

TEST(imap_stream, literal_over_the_limit_is_dropped_and_the_stream_stays_in_step) {
  detail::response_reader reader(4);
  reader.feed("* 1 FETCH (UID 3 BODY[] {10}\r\n0123456789)\r\n* 2 FETCH (UID 4 BODY[] {2}\r\nab)\r\nT OK x\r\n");
  auto big = reader.next();
  ASSERT_TRUE(big.has_value());
  auto items = detail::parse_fetch(*big);
  ASSERT_TRUE(items.has_value());
  EXPECT_EQ(items->uid, 3);
  EXPECT_TRUE(items->has_body);
  EXPECT_FALSE(items->body.has_value());
  auto small = reader.next();
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(detail::parse_fetch(*small)->body, "ab");
  auto done = reader.next();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(detail::tagged_status(*done, "T"), "OK");
}

TEST(imap_stream, an_endless_line_is_an_error_not_unbounded_memory) {
  detail::response_reader reader(1024, 100);
  reader.feed(std::string(101, 'x'));
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_FALSE(reader.error().empty());
}

TEST(imap_stream, fetch_items_in_any_order_with_quoted_nil_and_unknown_items) {
  auto parse = [](std::string text) {
    detail::imap_response_unit r;
    r.text = std::move(text);
    return detail::parse_fetch(r);
  };
  const auto meta = parse("* 5 FETCH (RFC822.SIZE 1234 FLAGS (\\Seen $Junk) INTERNALDATE \"22-Nov-2026 09:00:00 +0000\" UID 42)");
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->uid, 42);
  EXPECT_EQ(meta->size, 1234);
  EXPECT_EQ(meta->internal_date, 1795338000);
  EXPECT_FALSE(meta->has_body);
  const auto quoted = parse(R"(* 1 fetch (uid 8 body[] "a \"q\" \\ b"))");
  ASSERT_TRUE(quoted.has_value());
  EXPECT_EQ(quoted->body, R"(a "q" \ b)");
  const auto nil = parse("* 1 FETCH (UID 8 BODY[] NIL)");
  ASSERT_TRUE(nil.has_value());
  EXPECT_TRUE(nil->has_body);
  EXPECT_FALSE(nil->body.has_value());
  // Not FETCH responses, or without a UID (an unsolicited flag update).
  EXPECT_FALSE(parse("* 3 EXISTS").has_value());
  EXPECT_FALSE(parse("* 3 FETCH (FLAGS (\\Seen))").has_value());
  EXPECT_FALSE(parse("* FETCH (UID 1)").has_value());
  EXPECT_FALSE(parse("* 1 FETCH (UID 1 BODY[] \"unterminated)").has_value());
  // A "{n}" the reader did not take as a literal is not one.
  EXPECT_FALSE(parse("* 1 FETCH (UID 1 BODY[] {5})").has_value());
}

TEST(imap_stream, response_codes_and_uid_sets) {
  detail::imap_response_unit r;
  r.text = "* OK [UIDVALIDITY 1795339896] UIDs valid";
  EXPECT_EQ(detail::response_code_number(r, "UIDVALIDITY"), 1795339896);
  EXPECT_FALSE(detail::response_code_number(r, "UIDNEXT").has_value());
  r.text = "S1 OK [UIDVALIDITY 5] tagged, not untagged";
  EXPECT_FALSE(detail::response_code_number(r, "UIDVALIDITY").has_value());
  EXPECT_EQ(detail::uid_set({9, 3, 5, 6, 7, 12, 4}), "3:7,9,12");
  EXPECT_EQ(detail::uid_set({1}), "1");
}

}  // namespace
}  // namespace supportd::transport
