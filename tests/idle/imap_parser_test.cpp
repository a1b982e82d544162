#include "detail/imap_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supportd/idle/idle_watcher.hpp"

namespace supportd::idle::detail {
namespace {

// Feeds `chunks` one by one and collects every response; fails the test on a parse error.
std::vector<response> parse_all(const std::vector<std::string>& chunks) {
  response_parser parser;
  std::vector<response> out;
  for (const auto& chunk : chunks) {
    parser.feed(chunk);
    for (;;) {
      auto next = parser.next();
      EXPECT_TRUE(next.has_value()) << (next ? "" : next.error().message);
      if (!next || !*next) break;
      out.push_back(**next);
    }
  }
  return out;
}

// A compact, comparable rendering of a response.
std::string describe(const response& r) {
  std::string s;
  switch (r.kind) {
    case response_kind::untagged:
      s = "*";
      break;
    case response_kind::tagged:
      s = "T:" + r.tag;
      break;
    case response_kind::continuation:
      s = "+";
      break;
  }
  if (r.number) s += " #" + std::to_string(*r.number);
  s += " " + r.keyword;
  if (r.capabilities) {
    s += " caps=";
    for (const auto& c : *r.capabilities) s += c + ",";
  }
  s += " |" + r.text;
  return s;
}

std::vector<std::string> describe_all(const std::vector<response>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(describe(r));
  return out;
}

// A whole IDLE session as Dovecot would send it, with literals holding lines that look like
// responses (they must be skipped, not parsed).
const std::string transcript =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    "AUTH=PLAIN] Dovecot ready.\r\n"
    "w1 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE] Logged in\r\n"
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* 3 EXISTS\r\n"
    "* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1717400000] UIDs valid\r\n"
    "w2 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).\r\n"
    "+ idling\r\n"
    "* 1 FETCH (FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {28}\r\n"
    "Subject: * 99 EXISTS {3}\r\n\r\n"
    ")\r\n"
    "* LIST () \"/\" {5}\r\nINBOX\r\n"
    "* 4 EXISTS\r\n"
    "* 1 RECENT\r\n"
    "* OK Still here\r\n"
    "w3 OK Idle completed (0.001 + 12.000 secs).\r\n"
    "* BYE Server shutting down.\r\n";

const std::vector<std::string> expected_transcript = {
    "* OK caps=IMAP4REV1,SASL-IR,LOGIN-REFERRALS,ID,ENABLE,IDLE,LITERAL+,STARTTLS,AUTH=PLAIN, "
    "|Dovecot ready.",
    "T:w1 OK caps=IMAP4REV1,IDLE,UIDPLUS,MOVE, |Logged in",
    "* FLAGS |(\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
    "* #3 EXISTS |",
    "* #0 RECENT |",
    "* OK |UIDs valid",
    "T:w2 OK |Examine completed (0.001 + 0.000 secs).",
    "+  |idling",
    "* #1 FETCH |(FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {28})",
    "* LIST |() \"/\" {5}",
    "* #4 EXISTS |",
    "* #1 RECENT |",
    "* OK |Still here",
    "T:w3 OK |Idle completed (0.001 + 12.000 secs).",
    "* BYE |Server shutting down.",
};

TEST(response_parser, whole_transcript) {
  EXPECT_EQ(describe_all(parse_all({transcript})), expected_transcript);
}

TEST(response_parser, split_at_every_position) {
  for (std::size_t cut = 0; cut <= transcript.size(); ++cut) {
    const auto got = describe_all(parse_all({transcript.substr(0, cut), transcript.substr(cut)}));
    ASSERT_EQ(got, expected_transcript) << "split at " << cut;
  }
}

TEST(response_parser, split_at_every_pair_of_positions) {
  // Three chunks: the literal and its marker land in different reads in every combination.
  const std::string part = transcript.substr(transcript.find("+ idling"), 140);
  const auto want = describe_all(parse_all({part}));
  for (std::size_t a = 0; a <= part.size(); ++a) {
    for (std::size_t b = a; b <= part.size(); ++b) {
      ASSERT_EQ(describe_all(parse_all({part.substr(0, a), part.substr(a, b - a), part.substr(b)})),
                want)
          << a << "," << b;
    }
  }
}

TEST(response_parser, one_byte_at_a_time) {
  std::vector<std::string> bytes;
  for (const char c : transcript) bytes.emplace_back(1, c);
  EXPECT_EQ(describe_all(parse_all(bytes)), expected_transcript);
}

TEST(response_parser, literal_contents_never_become_responses) {
  const auto got =
      parse_all({"* 2 FETCH (BODY[] {24}\r\n* 7 EXISTS\r\n+ idling\r\nxx)\r\n* 3 EXISTS\r\n"});
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].keyword, "FETCH");
  EXPECT_EQ(got[1].keyword, "EXISTS");
  EXPECT_EQ(got[1].number, 3U);
}

TEST(response_parser, several_literals_in_one_response) {
  const auto got =
      parse_all({"* 1 FETCH (A {3}\r\nabc B {0}\r\n C {4}\r\n\r\n\r\n)\r\n* 2 EXISTS\r\n"});
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].text, "(A {3} B {0} C {4})");
  EXPECT_EQ(got[1].number, 2U);
}

TEST(response_parser, literal_plus_and_literal8_markers) {
  const auto got = parse_all(
      {"* 1 FETCH (BINARY[] ~{4}\r\nab\r\n)\r\n* 1 FETCH (X {2+}\r\nab)\r\n* 5 EXISTS\r\n"});
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[2].number, 5U);
}

TEST(response_parser, braces_in_status_text_are_not_literals) {
  // resp-text is free text (RFC 3501 section 9): "{5}" there announces nothing.
  const auto got =
      parse_all({"* OK see {5}\r\n* 2 EXISTS\r\nw1 NO quota {12}\r\n+ go on {3}\r\n* BYE "
                 "{99999999999999999999999}\r\n"});
  ASSERT_EQ(got.size(), 5U);
  EXPECT_EQ(got[0].text, "see {5}");
  EXPECT_EQ(got[1].number, 2U);
  EXPECT_EQ(got[2].cond, condition::no);
  EXPECT_EQ(got[3].kind, response_kind::continuation);
  EXPECT_EQ(got[4].cond, condition::bye);
}

TEST(response_parser, huge_literal_is_skipped_without_buffering) {
  response_parser parser;
  parser.feed("* 1 FETCH (BODY[] {1000000}\r\n");
  const std::string chunk(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    parser.feed(chunk);
    auto next = parser.next();
    ASSERT_TRUE(next.has_value());
    ASSERT_FALSE(next->has_value());
    ASSERT_LT(parser.pending_bytes(), 100U);
  }
  parser.feed(")\r\n");
  auto next = parser.next();
  ASSERT_TRUE(next && *next);
  EXPECT_EQ((*next)->keyword, "FETCH");
}

TEST(response_parser, bare_lf_is_tolerated_and_blank_lines_skipped) {
  const auto got = parse_all({"* OK hi\n\r\n* 1 EXISTS\n"});
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[1].number, 1U);
}

TEST(response_parser, case_insensitive_keywords) {
  const auto got =
      parse_all({"* ok [capability imap4rev1 idle] hi\r\nw1 ok done\r\n* 4 exists\r\n"});
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].cond, condition::ok);
  EXPECT_EQ(got[0].capabilities, (std::vector<std::string>{"IMAP4REV1", "IDLE"}));
  EXPECT_EQ(got[1].cond, condition::ok);
  EXPECT_EQ(got[2].keyword, "EXISTS");
}

TEST(response_parser, capability_data_response) {
  const auto got = parse_all({"* CAPABILITY IMAP4rev1 IDLE  STARTTLS LOGINDISABLED\r\n"});
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].capabilities,
            (std::vector<std::string>{"IMAP4REV1", "IDLE", "STARTTLS", "LOGINDISABLED"}));
}

TEST(response_parser, overlong_line_is_an_error_and_sticky) {
  response_parser parser(100);
  parser.feed(std::string(101, 'a'));
  EXPECT_FALSE(parser.next().has_value());
  parser.feed("\r\n* 1 EXISTS\r\n");
  EXPECT_FALSE(parser.next().has_value());
}

TEST(response_parser, garbage_is_an_error) {
  for (const char* bad : {"w1 MAYBE\r\n", "w1\r\n", "(w1 OK\r\n", "* 12\r\n", "* \r\n",
                          "* 99999999999999999999999 EXISTS\r\n",
                          "* 1 FETCH (BODY[] {99999999999999999999999}\r\n"}) {
    response_parser parser;
    parser.feed(bad);
    EXPECT_FALSE(parser.next().has_value()) << bad;
  }
}

TEST(response_parser, may_contain_literals_only_in_data_responses) {
  EXPECT_TRUE(may_contain_literals("* 1 FETCH (BODY[] {3}"));
  EXPECT_TRUE(may_contain_literals("* LIST () \"/\" {5}"));
  EXPECT_FALSE(may_contain_literals("* OK {5}"));
  EXPECT_FALSE(may_contain_literals("* bye {5}"));
  EXPECT_FALSE(may_contain_literals("a1 NO {5}"));
  EXPECT_FALSE(may_contain_literals("+ {5}"));
}

}  // namespace
}  // namespace supportd::idle::detail
