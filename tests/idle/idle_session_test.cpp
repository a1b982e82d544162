#include "detail/idle_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supportd/idle/idle_watcher.hpp"

namespace supportd::idle::detail {
namespace {

// Renders actions as short strings: "send:w1 LOGIN ...", "start_tls", "idling", "new_mail",
// "fail:<kind>:<text>".
std::vector<std::string> render(const std::vector<action>& actions) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    switch (a.what) {
      case action::kind::send: {
        std::string text = a.text;
        EXPECT_TRUE(text.ends_with("\r\n")) << text;
        if (text.ends_with("\r\n")) text.resize(text.size() - 2);
        out.push_back("send:" + text);
        break;
      }
      case action::kind::start_tls:
        out.emplace_back("start_tls");
        break;
      case action::kind::idling:
        out.emplace_back("idling");
        break;
      case action::kind::new_mail:
        out.emplace_back("new_mail");
        break;
      case action::kind::fail: {
        const char* kind = "";
        switch (a.failure) {
          case failure_kind::transient:
            kind = "transient";
            break;
          case failure_kind::auth:
            kind = "auth";
            break;
          case failure_kind::protocol:
            kind = "protocol";
            break;
          case failure_kind::config:
            kind = "config";
            break;
          case failure_kind::unsupported:
            kind = "unsupported";
            break;
        }
        out.push_back(std::string("fail:") + kind);
        break;
      }
    }
  }
  return out;
}

using lines = std::vector<std::string>;

// Feeds one server line (without CRLF) and renders what the session wants done.
lines server(idle_session& s, const std::string& line) {
  auto r = parse_response_line(line);
  EXPECT_TRUE(r.has_value()) << line;
  if (!r) return {};
  return render(s.on_response(*r));
}

session_settings settings() {
  return session_settings{
      .user = "support@okpay-wallet.example", .password = "test", .mailbox = "INBOX"};
}

// Drives a session to the idling phase with a Dovecot-like dialogue.
idle_session idling_session() {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] ready");
  server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in");
  server(s, "* 3 EXISTS");
  server(s, "w2 OK [READ-ONLY] done");
  server(s, "+ idling");
  EXPECT_EQ(s.current_phase(), idle_session::phase::idling);
  return s;
}

TEST(idle_session, happy_path_to_idle) {
  idle_session s(settings());
  EXPECT_TRUE(s.awaiting_response());
  EXPECT_EQ(server(s, "* OK [CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN] Dovecot ready."),
            (lines{"send:w1 LOGIN \"support@okpay-wallet.example\" \"test\""}));
  EXPECT_EQ(server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in"),
            (lines{"send:w2 EXAMINE \"INBOX\""}));
  EXPECT_EQ(server(s, "* FLAGS (\\Seen)"), lines{});
  EXPECT_EQ(server(s, "* 3 EXISTS"), lines{});  // the baseline, not new mail
  EXPECT_EQ(server(s, "* 0 RECENT"), lines{});
  EXPECT_EQ(server(s, "w2 OK [READ-ONLY] Examine completed"), (lines{"send:w3 IDLE"}));
  EXPECT_EQ(server(s, "+ idling"), (lines{"idling"}));
  EXPECT_FALSE(s.awaiting_response());
  EXPECT_EQ(s.exists(), 3U);
}

TEST(idle_session, exists_growth_is_new_mail) {
  auto s = idling_session();
  EXPECT_EQ(server(s, "* 4 EXISTS"), (lines{"new_mail"}));
  EXPECT_EQ(server(s, "* 1 RECENT"), lines{});
  EXPECT_EQ(server(s, "* 4 EXISTS"), lines{});  // repeated size: nothing new
  EXPECT_EQ(server(s, "* 2 EXPUNGE"), lines{});
  EXPECT_EQ(server(s, "* 3 EXISTS"), lines{});  // after the expunge, 3 is the old size
  EXPECT_EQ(server(s, "* 1 EXPUNGE"), lines{});
  EXPECT_EQ(server(s, "* 3 EXISTS"), (lines{"new_mail"}));  // one out, one in
  EXPECT_EQ(server(s, "* 2 FETCH (FLAGS (\\Seen))"), lines{});
  EXPECT_EQ(server(s, "* OK Still here"), lines{});
}

TEST(idle_session, renew_sends_done_then_idle_again) {
  auto s = idling_session();
  EXPECT_EQ(render(s.renew_idle()), (lines{"send:DONE"}));
  EXPECT_TRUE(s.awaiting_response());
  EXPECT_EQ(render(s.renew_idle()), lines{});               // not idling: nothing to renew
  EXPECT_EQ(server(s, "* 5 EXISTS"), (lines{"new_mail"}));  // mail between DONE and OK counts
  EXPECT_EQ(server(s, "w3 OK Idle completed"), (lines{"send:w4 IDLE"}));
  EXPECT_EQ(server(s, "+ idling"), (lines{"idling"}));
}

TEST(idle_session, greeting_without_capabilities_asks_for_them) {
  idle_session s(settings());
  EXPECT_EQ(server(s, "* OK ready"), (lines{"send:w1 CAPABILITY"}));
  EXPECT_EQ(server(s, "* CAPABILITY IMAP4rev1 IDLE"), lines{});
  EXPECT_EQ(server(s, "w1 OK done"),
            (lines{"send:w2 LOGIN \"support@okpay-wallet.example\" \"test\""}));
  // No capability list with the LOGIN OK: ask again, they may differ after login.
  EXPECT_EQ(server(s, "w2 OK Logged in"), (lines{"send:w3 CAPABILITY"}));
  EXPECT_EQ(server(s, "* CAPABILITY IMAP4rev1 IDLE"), lines{});
  EXPECT_EQ(server(s, "w3 OK done"), (lines{"send:w4 EXAMINE \"INBOX\""}));
}

TEST(idle_session, idle_only_after_login_is_accepted) {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready");
  EXPECT_EQ(server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"),
            (lines{"send:w2 EXAMINE \"INBOX\""}));
}

TEST(idle_session, no_idle_is_unsupported) {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready");
  EXPECT_EQ(server(s, "w1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in"),
            (lines{"fail:unsupported"}));
  EXPECT_EQ(s.current_phase(), idle_session::phase::failed);
  EXPECT_EQ(server(s, "* 9 EXISTS"), lines{});  // failed sessions ignore everything
}

TEST(idle_session, refused_idle_is_unsupported) {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
  server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in");
  server(s, "w2 OK done");
  EXPECT_EQ(server(s, "w3 BAD unknown command"), (lines{"fail:unsupported"}));
}

TEST(idle_session, login_refused_is_auth) {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
  EXPECT_EQ(server(s, "w1 NO [AUTHENTICATIONFAILED] Authentication failed."), (lines{"fail:auth"}));
}

TEST(idle_session, credentials_are_quoted_and_cr_lf_refused) {
  auto with = [](std::string user, std::string password) {
    idle_session s(session_settings{.user = std::move(user), .password = std::move(password)});
    return server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
  };
  EXPECT_EQ(with("a\"b", "p\\w \"x\""), (lines{"send:w1 LOGIN \"a\\\"b\" \"p\\\\w \\\"x\\\"\""}));
  EXPECT_EQ(with("user", "pa\r\nw2 DELETE INBOX"), (lines{"fail:config"}));
  EXPECT_EQ(with("us\ner", "pw"), (lines{"fail:config"}));
  EXPECT_EQ(with("", "pw"), (lines{"fail:config"}));
}

TEST(idle_session, mailbox_is_quoted) {
  idle_session s(session_settings{.user = "u", .password = "p", .mailbox = "Support \"VIP\""});
  server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
  EXPECT_EQ(server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE] in"),
            (lines{"send:w2 EXAMINE \"Support \\\"VIP\\\"\""}));
}

TEST(idle_session, logindisabled_is_config) {
  idle_session s(settings());
  EXPECT_EQ(server(s, "* OK [CAPABILITY IMAP4rev1 IDLE LOGINDISABLED] ready"),
            (lines{"fail:config"}));
}

TEST(idle_session, preauth_skips_login) {
  idle_session s(settings());
  EXPECT_EQ(server(s, "* PREAUTH [CAPABILITY IMAP4rev1 IDLE] welcome"),
            (lines{"send:w1 EXAMINE \"INBOX\""}));
}

TEST(idle_session, starttls_upgrades_then_asks_capabilities_again) {
  auto st = settings();
  st.starttls = true;
  idle_session s(st);
  EXPECT_EQ(server(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"),
            (lines{"send:w1 STARTTLS"}));
  EXPECT_EQ(server(s, "w1 OK Begin TLS negotiation now."), (lines{"start_tls"}));
  EXPECT_EQ(s.current_phase(), idle_session::phase::tls_handshake);
  EXPECT_EQ(render(s.on_tls_ready()), (lines{"send:w2 CAPABILITY"}));
  EXPECT_EQ(server(s, "* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN"), lines{});
  EXPECT_EQ(server(s, "w2 OK done"),
            (lines{"send:w3 LOGIN \"support@okpay-wallet.example\" \"test\""}));
}

TEST(idle_session, starttls_missing_or_refused_never_falls_back) {
  auto st = settings();
  st.starttls = true;
  {
    idle_session s(st);
    EXPECT_EQ(server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready"), (lines{"fail:config"}));
  }
  {
    idle_session s(st);
    server(s, "* OK [CAPABILITY IMAP4rev1 IDLE STARTTLS] ready");
    EXPECT_EQ(server(s, "w1 NO not now"), (lines{"fail:config"}));
  }
  {
    idle_session s(st);
    EXPECT_EQ(server(s, "* PREAUTH [CAPABILITY IMAP4rev1 IDLE STARTTLS] hi"),
              (lines{"fail:config"}));
  }
}

TEST(idle_session, bye_anywhere_is_transient) {
  idle_session greeting(settings());
  EXPECT_EQ(server(greeting, "* BYE too many connections"), (lines{"fail:transient"}));
  auto s = idling_session();
  EXPECT_EQ(server(s, "* BYE Server shutting down."), (lines{"fail:transient"}));
}

TEST(idle_session, examine_refused_is_transient) {
  idle_session s(settings());
  server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
  server(s, "w1 OK [CAPABILITY IMAP4rev1 IDLE] in");
  EXPECT_EQ(server(s, "w2 NO Mailbox doesn't exist: Support"), (lines{"fail:transient"}));
}

TEST(idle_session, protocol_violations) {
  {
    idle_session s(settings());
    EXPECT_EQ(server(s, "w1 OK early"), (lines{"fail:protocol"}));
  }
  {
    idle_session s(settings());
    EXPECT_EQ(server(s, "+ what"), (lines{"fail:protocol"}));
  }
  {
    idle_session s(settings());
    server(s, "* OK [CAPABILITY IMAP4rev1 IDLE] ready");
    EXPECT_EQ(server(s, "w7 OK wrong tag"), (lines{"fail:protocol"}));
  }
  {
    idle_session s(settings());
    EXPECT_EQ(server(s, "* NO go away"), (lines{"fail:protocol"}));
  }
  {
    idle_session s(settings());
    EXPECT_EQ(render(s.on_tls_ready()), (lines{"fail:protocol"}));
  }
}

TEST(idle_session, server_ending_idle_by_itself_restarts_it) {
  auto s = idling_session();
  EXPECT_EQ(server(s, "w3 OK IDLE terminated"), (lines{"send:w4 IDLE"}));
}

}  // namespace
}  // namespace supportd::idle::detail
