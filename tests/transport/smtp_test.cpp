#include "supportd/transport/transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "harness/mail_servers.hpp"
#include "test_support.hpp"

namespace supportd::transport {
namespace {

using namespace testing_support;
using clock_type = std::chrono::steady_clock;

class smtp : public ::testing::Test {
 protected:
  test::mail_servers servers_;

  endpoint anonymous() const {
    auto ep = harness_endpoint(servers_.smtp_url());
    ep.user.clear();
    ep.password.clear();
    return ep;
  }
};

TEST_F(smtp, message_arrives_with_envelope_and_data_intact) {
  smtp_client client(harness_endpoint(servers_.smtp_url()));
  const std::string data = crlf_bytes(data_file("dots.eml"));  // dot-stuffing round trip
  const auto sent = client.send("bounces@okpay-wallet.example",
                                {"bob@customer.example", "cc@customer.example"}, data);
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  const auto got = servers_.received_messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].mail_from, "bounces@okpay-wallet.example");
  EXPECT_EQ(got[0].rcpt_tos, (std::vector<std::string>{"bob@customer.example", "cc@customer.example"}));
  EXPECT_EQ(got[0].data, data);
  EXPECT_EQ(got[0].auth_user, test::mail_servers::user);
}

TEST_F(smtp, eight_bit_text_survives) {
  smtp_client client(anonymous());
  const std::string data = crlf_bytes(data_file("utf8.eml"));
  const auto sent = client.send("a@okpay-wallet.example", {"zoe@customer.example"}, data);
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  const auto got = servers_.received_messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].data, data);
  EXPECT_TRUE(got[0].auth_user.empty());
}

TEST_F(smtp, empty_envelope_sender_is_null_reverse_path) {
  smtp_client client(anonymous());
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, crlf_bytes(data_file("plain.eml"))).has_value());
  const auto got = servers_.received_messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].mail_from, "<>");
}

TEST_F(smtp, bare_lf_is_sent_as_crlf) {
  smtp_client client(anonymous());
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, "Subject: lf\n\nline\n").has_value());
  const auto got = servers_.received_messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].data, "Subject: lf\r\n\r\nline\r\n");
}

TEST_F(smtp, one_connection_serves_several_messages) {
  smtp_client client(anonymous());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("", {"alice@customer.example"}, crlf_bytes(data_file("plain.eml"))).has_value());
  }
  const auto got = servers_.received_messages();
  ASSERT_EQ(got.size(), 3U);
  const auto peer = [](const std::filesystem::path& eml) {
    auto json = eml;
    json.replace_extension(".json");
    std::ifstream in(json);
    return nlohmann::json::parse(in).at("peer").get<std::string>();
  };
  EXPECT_EQ(peer(got[0].file), peer(got[1].file));
  EXPECT_EQ(peer(got[1].file), peer(got[2].file));
}

TEST_F(smtp, rejected_recipient_is_permanent_with_the_code) {
  smtp_client client(anonymous());
  const auto sent = client.send("", {"reject550@customer.example"}, crlf_bytes(data_file("plain.eml")));
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::permanent) << sent.error().message;
  EXPECT_EQ(sent.error().code, 550);
  EXPECT_TRUE(servers_.received_messages().empty());
  // The same client still delivers afterwards.
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, crlf_bytes(data_file("plain.eml"))).has_value());
  EXPECT_EQ(servers_.received_messages().size(), 1U);
}

TEST_F(smtp, rejected_sender_is_permanent) {
  servers_.set_smtp_reject("550 mail");
  smtp_client client(anonymous());
  const auto sent = client.send("x@okpay-wallet.example", {"alice@customer.example"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::permanent);
  EXPECT_EQ(sent.error().code, 550);
}

TEST_F(smtp, temporary_failure_after_data_is_transient) {
  servers_.set_smtp_reject("451");
  smtp_client client(anonymous());
  const std::string data = crlf_bytes(data_file("plain.eml"));
  const auto sent = client.send("", {"alice@customer.example"}, data);
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::transient) << sent.error().message;
  EXPECT_EQ(sent.error().code, 451);
  servers_.clear_smtp_reject();
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, data).has_value());
  EXPECT_EQ(servers_.received_messages().size(), 1U);
}

TEST_F(smtp, temporary_recipient_failure_is_transient) {
  smtp_client client(anonymous());
  const auto sent = client.send("", {"reject451@customer.example"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::transient);
  EXPECT_EQ(sent.error().code, 451);
}

TEST_F(smtp, stopped_server_is_transient_in_bounded_time) {
  smtp_client client(anonymous());
  const std::string data = crlf_bytes(data_file("plain.eml"));
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, data).has_value());
  servers_.stop_smtp();
  const auto started = clock_type::now();
  const auto sent = client.send("", {"alice@customer.example"}, data);
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::transient) << sent.error().message;
  EXPECT_LT(clock_type::now() - started, 10s);
  servers_.start_smtp();
  ASSERT_TRUE(client.send("", {"alice@customer.example"}, data).has_value());
  EXPECT_EQ(servers_.received_messages().size(), 2U);
}

TEST_F(smtp, wrong_password_is_auth_and_not_logged) {
  auto ep = harness_endpoint(servers_.smtp_url());
  ep.password = "wrong-password-77";
  smtp_client client(ep);
  const auto sent = client.send("", {"alice@customer.example"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::auth) << sent.error().message;
  EXPECT_EQ(sent.error().message.find("wrong-password-77"), std::string::npos);
  EXPECT_TRUE(servers_.received_messages().empty());
}

TEST_F(smtp, malformed_envelope_is_refused_before_sending) {
  smtp_client client(anonymous());
  EXPECT_EQ(client.send("", {}, "x\r\n").error().kind, error_kind::permanent);
  EXPECT_EQ(client.send("", {"a@b.example\r\nRCPT TO:<c@d.example>"}, "x\r\n").error().kind,
            error_kind::permanent);
  EXPECT_EQ(client.send("a@b\r\n", {"c@d.example"}, "x\r\n").error().kind, error_kind::permanent);
  EXPECT_TRUE(servers_.received_messages().empty());
}

TEST_F(smtp, over_long_line_is_refused_permanently) {
  // RFC 5321 4.5.3.1.6: 1000 octets per line at most; the sink enforces it like real MTAs.
  smtp_client client(anonymous());
  const auto sent = client.send("", {"zoe@customer.example"}, crlf_bytes(data_file("long_header.eml")));
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::permanent) << sent.error().message;
  EXPECT_EQ(sent.error().code / 100, 5);
}

TEST_F(smtp, stop_flag_aborts) {
  std::atomic<bool> stop{true};
  smtp_client client(anonymous(), &stop);
  const auto sent = client.send("", {"alice@customer.example"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().kind, error_kind::aborted);
  EXPECT_TRUE(servers_.received_messages().empty());
}

}  // namespace
}  // namespace supportd::transport
