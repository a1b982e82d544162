// Test fixture for the browser test:
//   web_e2e_server serve DIR   seeds DIR/supportd.db and DIR/token, serves the agents' page on
//                              127.0.0.1 (free port, printed as "PORT n"), stops on stdin EOF
//   web_e2e_server dump DIR    prints the threads, notes and outbox of DIR/supportd.db as JSON
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "supportd/store/store.hpp"
#include "supportd/web/server.hpp"

namespace fs = std::filesystem;
using namespace supportd;

namespace {

constexpr const char* e2e_token = "e2e-token-5f1c9a7b3d";

void seed(store::store& db) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  db.set_mailbox_uidvalidity("INBOX", 1);

  store::thread_row t;
  t.customer_address = "zhang.wei@example.cn";
  t.customer_name = "张伟";
  t.subject = "提现一直没有到账";
  t.category = "withdrawal";
  t.language = "zh";
  t.status = store::thread_status::escalated;
  t.created_at = now - 5 * 3600;
  const auto th = db.create_thread(t);
  db.set_thread_priority(th.id, 1);
  store::message_row in;
  in.key = store::inbound_key{"INBOX", 1, 1};
  in.thread_id = th.id;
  in.direction = "in";
  in.message_id = "20240501.abc@example.cn";
  in.from_address = t.customer_address;
  in.subject = t.subject;
  in.decision = "escalate";
  in.reason = "category escalates";
  in.category = "withdrawal";
  in.confidence = 0.92;
  in.language = "zh";
  in.keywords = "提现,到账";
  in.body =
      "您好，\n\n我三天前从钱包提现 500 USDT 到交易所，交易状态一直显示“处理中”，"
      "到现在还没有到账。\n订单号：W20240501-8831\n\n请尽快帮我查一下，谢谢！\n张伟";
  in.created_at = now - 5 * 3600;
  db.record_inbound(in);

  store::thread_row o;
  o.customer_address = "sam@example.com";
  o.customer_name = "Sam Lee";
  o.subject = "Card payment declined twice";
  o.category = "payment";
  o.language = "en";
  o.status = store::thread_status::open;
  o.created_at = now - 26 * 3600;
  db.create_thread(o);

  // Hostile mail: must show as text, never run.
  store::thread_row h;
  h.customer_address = "mallory@example.net";
  h.customer_name = "<b>Mallory</b>";
  h.subject = "<script>alert('pwned')</script> urgent";
  h.category = "general";
  h.language = "en";
  h.status = store::thread_status::escalated;
  h.created_at = now - 40 * 60;
  const auto ht = db.create_thread(h);
  in.key = store::inbound_key{"INBOX", 1, 2};
  in.thread_id = ht.id;
  in.message_id = "evil@example.net";
  in.from_address = h.customer_address;
  in.subject = h.subject;
  in.category = "general";
  in.language = "en";
  in.keywords = "";
  in.body = "<img src=x onerror=\"alert('xss')\"> click <a href=\"javascript:alert(1)\">here</a>";
  in.created_at = h.created_at;
  db.record_inbound(in);
}

int serve(const fs::path& dir) {
  fs::create_directories(dir);
  {
    store::store db(dir / "supportd.db");
    seed(db);
  }
  std::ofstream(dir / "token") << e2e_token << "\n";
  web::settings config;
  config.port = 0;
  config.token_file = dir / "token";
  config.from = {"OKPay 客服", "support@okpay.example"};
  boost::asio::io_context io;
  auto srv = web::server::start(io.get_executor(), config, dir / "supportd.db", nullptr);
  if (!srv) {
    std::cerr << srv.error() << "\n";
    return 1;
  }
  std::cout << "PORT " << (*srv)->port() << "\nTOKEN " << e2e_token << std::endl;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](auto, int) { io.stop(); });
  // The test closes our stdin when it is done (or dies): stop then.
  std::thread watch([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    io.stop();
  });
  watch.detach();
  io.run();
  return 0;
}

int dump(const fs::path& dir) {
  store::store db(dir / "supportd.db");
  nlohmann::json out;
  out["threads"] = nlohmann::json::array();
  for (const auto& t : db.list_threads(std::nullopt)) {
    nlohmann::json notes = nlohmann::json::array();
    for (const auto& n : db.thread_notes(t.id))
      notes.push_back({{"author", n.author}, {"text", n.text}});
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : db.thread_messages(t.id)) {
      messages.push_back({{"direction", m.direction},
                          {"decision", m.decision},
                          {"body", m.body},
                          {"message_id", m.message_id}});
    }
    out["threads"].push_back({{"id", t.id},
                              {"ticket", t.ticket},
                              {"subject", t.subject},
                              {"status", std::string(store::to_string(t.status))},
                              {"assignee", t.assignee},
                              {"notes", notes},
                              {"messages", messages}});
  }
  out["outbox"] = nlohmann::json::array();
  for (const auto& o : db.due_outbox(std::numeric_limits<std::int64_t>::max(), 100)) {
    out["outbox"].push_back({{"thread_id", o.thread_id},
                             {"message_id", o.message_id},
                             {"envelope_from", o.envelope_from},
                             {"recipients", o.recipients},
                             {"data", o.data}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: web_e2e_server serve|dump DIR\n";
    return 2;
  }
  try {
    const std::string mode = argv[1];
    if (mode == "serve") return serve(argv[2]);
    if (mode == "dump") return dump(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown mode\n";
  return 2;
}
