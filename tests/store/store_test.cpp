#include "supportd/store/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;
using namespace supportd::store;

namespace {

// A fresh directory per test, removed afterwards.
class store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("supportd-store-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++) + "-" + info->name());
    fs::remove_all(dir_);
    // A missing parent directory is created by the store itself.
    path_ = dir_ / "state" / "supportd.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  fs::path path_;
};

inbound_key key(std::int64_t uid, std::int64_t validity = 7, std::string mailbox = "INBOX") {
  return inbound_key{std::move(mailbox), validity, uid};
}

thread_row customer_thread(std::string address = "alice@example.com") {
  thread_row t;
  t.customer_address = std::move(address);
  t.customer_name = "Alice";
  t.subject = "Order problem";
  t.category = "orders";
  t.language = "en";
  return t;
}

message_row decided_row(const inbound_key& k, std::int64_t thread_id, std::string message_id) {
  message_row m;
  m.key = k;
  m.thread_id = thread_id;
  m.direction = "in";
  m.message_id = std::move(message_id);
  m.from_address = "alice@example.com";
  m.subject = "Order problem";
  m.decision = "auto_reply";
  m.reason = "classifier";
  m.category = "orders";
  m.confidence = 0.875;
  m.language = "en";
  m.keywords = "order,refund";
  m.body = "Where is my order?";
  return m;
}

outbox_row reply(std::string message_id, std::int64_t inbound_id = 0, std::int64_t thread_id = 0) {
  outbox_row o;
  o.inbound_id = inbound_id;
  o.thread_id = thread_id;
  o.message_id = std::move(message_id);
  o.envelope_from = "";
  o.recipients = {"alice@example.com"};
  o.data = "Subject: Re: x\r\n\r\nHello\r\n";
  return o;
}

std::vector<std::int64_t> ids(const std::vector<outbox_row>& rows) {
  std::vector<std::int64_t> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

}  // namespace

// --- Schema ---------------------------------------------------------------------------------

// What migration 3 added, removed again (to build an older database).
constexpr const char* undo_v3 =
    "DROP TABLE notes; DROP INDEX messages_decision; ALTER TABLE threads DROP COLUMN assignee; "
    "ALTER TABLE threads DROP COLUMN priority;";

TEST_F(store_test, creates_current_schema_in_wal_mode) {
  {
    store s(path_);
    EXPECT_EQ(s.schema_version(), 3);
  }
  ASSERT_TRUE(fs::exists(path_));
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 3);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  for (const char* table :
       {"mailboxes", "mailbox_uids", "threads", "messages", "outbox", "notes"}) {
    EXPECT_TRUE(db.tableExists(table)) << table;
  }
}

TEST_F(store_test, reopen_keeps_data) {
  std::string ticket;
  {
    store s(path_);
    ticket = s.create_thread(customer_thread()).ticket;
    s.set_mailbox_uidvalidity("INBOX", 7);
    s.note_seen(key(5));
  }
  store s(path_);
  EXPECT_EQ(s.schema_version(), 3);
  ASSERT_TRUE(s.thread_by_ticket(ticket));
  EXPECT_EQ(s.mailbox_uidvalidity("INBOX"), 7);
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 5);
}

TEST_F(store_test, migrates_a_version_1_database) {
  std::string ticket;
  {
    store s(path_);
    ticket = s.create_thread(customer_thread()).ticket;
  }
  {
    // Turn it back into what version 1 created.
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(std::string(undo_v3) +
            "DROP INDEX threads_customer; DROP INDEX outbox_thread; DROP INDEX outbox_sent;"
            "PRAGMA user_version = 1");
  }
  store s(path_);
  EXPECT_EQ(s.schema_version(), 3);
  EXPECT_TRUE(s.thread_by_ticket(ticket));
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'threads_customer'")
                .getInt(),
            1);
}

TEST_F(store_test, migrates_a_version_2_database) {
  std::int64_t id = 0;
  {
    store s(path_);
    id = s.create_thread(customer_thread()).id;
  }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(std::string(undo_v3) + "PRAGMA user_version = 2");
  }
  store s(path_);
  EXPECT_EQ(s.schema_version(), 3);
  auto t = s.thread(id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->assignee, "");
  EXPECT_EQ(t->priority, 0);
  EXPECT_GT(s.add_note(id, "li", "note"), 0);
}

TEST_F(store_test, refuses_newer_schema_version) {
  { store s(path_); }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  try {
    store s(path_);
    FAIL() << "a newer schema must be refused";
  } catch (const store_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(store_test, unopenable_path_is_store_error) {
  fs::create_directories(dir_);
  const auto file = dir_ / "plain-file";
  { SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); }
  EXPECT_THROW(store(file / "sub" / "x.db"), store_error);
}

TEST_F(store_test, garbage_file_is_store_error) {
  fs::create_directories(path_.parent_path());
  {
    std::ofstream out(path_, std::ios::binary);
    out << std::string(8192, 'x');
  }
  EXPECT_THROW(store{path_}, store_error);
}

// --- Mailbox state and ledger ---------------------------------------------------------------

TEST_F(store_test, ledger_moves_seen_decided_flagged) {
  store s(path_);
  const auto k = key(10);
  EXPECT_TRUE(s.note_seen(k));
  auto row = s.inbound(k);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, inbound_state::seen);
  EXPECT_EQ(row->direction, "in");
  EXPECT_EQ(s.pending_inbound("INBOX", 7, 10), std::vector<inbound_key>{k});
  EXPECT_TRUE(s.unflagged("INBOX", 7, 10).empty());
  EXPECT_FALSE(s.inbound_message_id_decided("m10@example.com"));

  const auto t = s.create_thread(customer_thread());
  const auto id = s.record_inbound(decided_row(k, t.id, "m10@example.com"));
  EXPECT_EQ(id, row->id);
  row = s.inbound(k);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, inbound_state::decided);
  EXPECT_EQ(row->thread_id, t.id);
  EXPECT_DOUBLE_EQ(row->confidence, 0.875);
  EXPECT_EQ(row->keywords, "order,refund");
  EXPECT_TRUE(s.pending_inbound("INBOX", 7, 10).empty());
  EXPECT_TRUE(s.inbound_message_id_decided("m10@example.com"));

  auto unflagged = s.unflagged("INBOX", 7, 10);
  ASSERT_EQ(unflagged.size(), 1u);
  EXPECT_EQ(unflagged[0].key, k);
  s.mark_flagged(k);
  EXPECT_EQ(s.inbound(k)->state, inbound_state::flagged);
  EXPECT_TRUE(s.unflagged("INBOX", 7, 10).empty());
  s.mark_flagged(k);  // idempotent
  EXPECT_EQ(s.inbound(k)->state, inbound_state::flagged);
  EXPECT_THROW(s.mark_flagged(key(999)), store_error);
}

TEST_F(store_test, quarantine_and_attempt_counter) {
  store s(path_);
  const auto k = key(3);
  s.note_seen(k);
  EXPECT_EQ(s.note_attempt_failed(k, "parse error"), 1);
  EXPECT_EQ(s.note_attempt_failed(k, "parse error again"), 2);
  auto row = s.inbound(k);
  EXPECT_EQ(row->attempts, 2);
  EXPECT_EQ(row->reason, "parse error again");
  EXPECT_EQ(row->state, inbound_state::seen);

  auto q = decided_row(k, 0, "");
  q.decision = "quarantine";
  q.state = inbound_state::quarantined;
  s.record_inbound(q);
  row = s.inbound(k);
  EXPECT_EQ(row->state, inbound_state::quarantined);
  EXPECT_EQ(row->thread_id, 0);
  EXPECT_EQ(row->attempts, 2);  // the poison counter survives the decision
  EXPECT_TRUE(s.unflagged("INBOX", 7, 10).empty());
  EXPECT_TRUE(s.pending_inbound("INBOX", 7, 10).empty());
  s.mark_flagged(k);  // a quarantined message stays visible as such
  EXPECT_EQ(s.inbound(k)->state, inbound_state::quarantined);

  // An attempt on an unknown key creates its seen row.
  EXPECT_EQ(s.note_attempt_failed(key(4), "crash"), 1);
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 4);
}

TEST_F(store_test, note_seen_is_idempotent_and_tracks_last_seen_uid) {
  store s(path_);
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 0);
  EXPECT_TRUE(s.note_seen(key(5)));
  EXPECT_FALSE(s.note_seen(key(5)));
  EXPECT_TRUE(s.note_seen(key(9)));
  EXPECT_TRUE(s.note_seen(key(2)));  // late arrival of a lower UID keeps the max
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 9);
  const auto pending = s.pending_inbound("INBOX", 7, 10);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].uid, 2);
  EXPECT_EQ(pending[1].uid, 5);
  EXPECT_EQ(pending[2].uid, 9);
  EXPECT_EQ(s.pending_inbound("INBOX", 7, 2).size(), 2u);
  EXPECT_EQ(s.last_seen_uid("Other", 7), 0);
}

TEST_F(store_test, uidvalidity_change_isolates_keys) {
  store s(path_);
  EXPECT_FALSE(s.mailbox_uidvalidity("INBOX"));
  s.set_mailbox_uidvalidity("INBOX", 7);
  s.note_seen(key(100, 7));
  s.record_inbound(decided_row(key(100, 7), 0, "old@example.com"));

  s.set_mailbox_uidvalidity("INBOX", 8);
  EXPECT_EQ(s.mailbox_uidvalidity("INBOX"), 8);
  EXPECT_EQ(s.last_seen_uid("INBOX", 8), 0);
  EXPECT_TRUE(s.unflagged("INBOX", 8, 10).empty());
  EXPECT_FALSE(s.inbound(key(100, 8)));
  EXPECT_TRUE(s.note_seen(key(100, 8)));  // same UID number, different message
  EXPECT_EQ(s.inbound(key(100, 8))->state, inbound_state::seen);
  // History of the old validity stays.
  EXPECT_EQ(s.inbound(key(100, 7))->state, inbound_state::decided);
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 100);
  // The same message found again under the new validity is recognised as already decided.
  EXPECT_TRUE(s.inbound_message_id_decided("old@example.com"));
}

// --- Threads --------------------------------------------------------------------------------

TEST_F(store_test, create_thread_assigns_ticket_and_times) {
  store s(path_);
  const auto a = s.create_thread(customer_thread());
  const auto b = s.create_thread(customer_thread("bob@example.com"));
  EXPECT_GT(a.id, 0);
  EXPECT_EQ(a.ticket, std::string(ticket_prefix) +
                          std::string(6 - std::to_string(a.id).size(), '0') + std::to_string(a.id));
  EXPECT_EQ(a.ticket.rfind("OK-", 0), 0u);
  EXPECT_EQ(a.ticket.size(), 9u);
  EXPECT_NE(a.ticket, b.ticket);
  EXPECT_GT(a.created_at, 0);
  EXPECT_EQ(a.updated_at, a.created_at);

  const auto got = s.thread(a.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ticket, a.ticket);
  EXPECT_EQ(got->customer_name, "Alice");
  EXPECT_EQ(got->status, thread_status::open);
  EXPECT_EQ(s.thread_by_ticket(b.ticket)->id, b.id);
  EXPECT_FALSE(s.thread_by_ticket("OK-999999"));
  EXPECT_FALSE(s.thread(12345));

  s.set_thread_status(a.id, thread_status::escalated);
  s.set_thread_category(a.id, "billing", "de");
  const auto changed = s.thread(a.id);
  EXPECT_EQ(changed->status, thread_status::escalated);
  EXPECT_EQ(changed->category, "billing");
  EXPECT_EQ(changed->language, "de");
  EXPECT_THROW(s.set_thread_status(12345, thread_status::resolved), store_error);
}

TEST_F(store_test, thread_lookup_by_message_id_in_and_out) {
  store s(path_);
  const auto t = s.create_thread(customer_thread());
  s.note_seen(key(1));
  const auto in_id = s.record_inbound(decided_row(key(1), t.id, "question@example.com"));

  message_row out;
  out.thread_id = t.id;
  out.direction = "out";
  out.message_id = "reply-1@support.example";
  out.from_address = "support@example.com";
  out.decision = "auto_reply";
  const auto out_id = s.record_outbound(out);
  EXPECT_GT(out_id, in_id);

  EXPECT_EQ(s.thread_by_message_id("question@example.com")->id, t.id);
  EXPECT_EQ(s.thread_by_message_id("reply-1@support.example")->id, t.id);
  EXPECT_FALSE(s.thread_by_message_id("unknown@example.com"));
  EXPECT_FALSE(s.thread_by_message_id(""));

  // A reply only in the outbox also threads.
  s.queue_reply(reply("reply-2@support.example", in_id, t.id));
  EXPECT_EQ(s.thread_by_message_id("reply-2@support.example")->id, t.id);

  // A message outside any thread (suppressed) is found by neither.
  s.note_seen(key(2));
  s.record_inbound(decided_row(key(2), 0, "bounce@example.com"));
  EXPECT_FALSE(s.thread_by_message_id("bounce@example.com"));

  const auto msgs = s.thread_messages(t.id);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].direction, "in");
  EXPECT_TRUE(msgs[0].key);
  EXPECT_EQ(msgs[1].direction, "out");
  EXPECT_FALSE(msgs[1].key);
  EXPECT_FALSE(msgs[1].state);
  EXPECT_EQ(msgs[1].message_id, "reply-1@support.example");
}

TEST_F(store_test, list_threads_by_status_newest_first) {
  store s(path_);
  std::vector<std::int64_t> open_ids;
  for (int i = 0; i < 5; ++i) {
    auto row = customer_thread();
    row.created_at = 1000 + i;
    const auto t = s.create_thread(row);
    if (i % 2 == 0) {
      open_ids.push_back(t.id);
    } else {
      s.set_thread_status(t.id, thread_status::resolved);
    }
  }
  const auto open = s.list_threads(thread_status::open);
  ASSERT_EQ(open.size(), 3u);
  EXPECT_EQ(open[0].id, open_ids[2]);  // most recently updated first
  EXPECT_EQ(open[2].id, open_ids[0]);
  EXPECT_EQ(s.list_threads(thread_status::resolved).size(), 2u);
  EXPECT_TRUE(s.list_threads(thread_status::escalated).empty());
  EXPECT_EQ(s.list_threads(std::nullopt).size(), 5u);
  EXPECT_EQ(s.list_threads(std::nullopt, 2).size(), 2u);
}

TEST_F(store_test, participants_are_case_insensitive) {
  store s(path_);
  const auto t = s.create_thread(customer_thread("Alice@Example.com"));
  EXPECT_TRUE(s.is_participant(t.id, "alice@example.com"));
  EXPECT_TRUE(s.is_participant(t.id, "ALICE@EXAMPLE.COM"));
  EXPECT_FALSE(s.is_participant(t.id, "mallory@example.com"));
  EXPECT_FALSE(s.is_participant(t.id, ""));

  auto cc = decided_row(key(1), t.id, "cc@example.com");
  cc.from_address = "Carol@example.org";
  s.note_seen(key(1));
  s.record_inbound(cc);
  EXPECT_TRUE(s.is_participant(t.id, "carol@EXAMPLE.org"));

  const auto other = s.create_thread(customer_thread("bob@example.com"));
  EXPECT_FALSE(s.is_participant(other.id, "carol@example.org"));
}

// The WAL is checkpointed into the database file in the background while the store stays open
// (no commit runs the checkpoint itself, and the WAL does not grow without bound).
TEST_F(store_test, wal_is_checkpointed_in_the_background) {
  store s(path_);
  const auto before = fs::file_size(path_);
  const std::string body(16 * 1024, 'x');
  for (int i = 1; i <= 400; ++i) {  // ~5 pages each: past the 1,000-page threshold
    const auto t = s.create_thread(customer_thread());
    auto m = decided_row(key(i), t.id, "m" + std::to_string(i) + "@example.com");
    m.body = body;
    s.note_seen(key(i));
    s.record_inbound(m);
  }
  auto grown = fs::file_size(path_);
  for (int tries = 0; tries < 100 && grown < before + 4 * 1024 * 1024; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grown = fs::file_size(path_);
  }
  EXPECT_GE(grown, before + 4 * 1024 * 1024) << "pages stayed in the WAL";
  EXPECT_EQ(s.inbound(key(400))->body, body);
}

// --- Outbox ---------------------------------------------------------------------------------

TEST_F(store_test, queue_reply_is_idempotent_per_message_id) {
  store s(path_);
  const auto a = s.queue_reply(reply("r1@support.example"));
  const auto again = s.queue_reply(reply("r1@support.example"));
  EXPECT_EQ(a, again);
  EXPECT_EQ(s.outbox_depth(), 1u);
  EXPECT_THROW(s.queue_reply(reply("")), store_error);
  auto bad = reply("r2@support.example");
  bad.recipients = {"a@example.com\r\nBcc: evil@example.com"};
  EXPECT_THROW(s.queue_reply(bad), store_error);
}

// Senders working in parallel each take a shard: together every due row, no row twice.
TEST_F(store_test, due_outbox_shards_partition_the_queue) {
  store s(path_);
  std::vector<std::int64_t> all;
  for (int i = 0; i < 7; ++i) all.push_back(s.queue_reply(reply("r" + std::to_string(i) + "@support.example")));
  std::vector<std::int64_t> seen;
  for (std::size_t shard = 0; shard < 3; ++shard) {
    const auto part = ids(s.due_outbox(100, 10, shard, 3));
    EXPECT_FALSE(part.empty()) << "shard " << shard;
    for (auto id : part) EXPECT_EQ(id % 3, static_cast<std::int64_t>(shard));
    seen.insert(seen.end(), part.begin(), part.end());
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, all);
  EXPECT_EQ(ids(s.due_outbox(100, 10, 0, 1)), all);  // one shard is the whole queue
}

TEST_F(store_test, due_outbox_order_backoff_and_permanent_failure) {
  store s(path_);
  auto r1 = reply("r1@support.example");
  r1.recipients = {"alice@example.com", "bob@example.com"};
  const auto id1 = s.queue_reply(r1);
  auto r2 = reply("r2@support.example");
  r2.next_attempt_at = 500;
  const auto id2 = s.queue_reply(r2);
  const auto id3 = s.queue_reply(reply("r3@support.example"));

  auto due = s.due_outbox(100, 10);
  EXPECT_EQ(ids(due), (std::vector<std::int64_t>{id1, id3}));
  EXPECT_EQ(due[0].recipients, r1.recipients);
  EXPECT_EQ(due[0].data, r1.data);
  EXPECT_EQ(due[0].envelope_from, "");
  EXPECT_EQ(due[0].state, outbox_state::queued);
  EXPECT_EQ(ids(s.due_outbox(500, 10)), (std::vector<std::int64_t>{id1, id2, id3}));
  EXPECT_EQ(ids(s.due_outbox(500, 1)), (std::vector<std::int64_t>{id1}));

  // Transient failure: stays queued, invisible until its next attempt.
  s.mark_send_failed(id1, "451 try later", false, 1000);
  due = s.due_outbox(999, 10);
  EXPECT_EQ(ids(due), (std::vector<std::int64_t>{id2, id3}));
  due = s.due_outbox(1000, 10);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].id, id1);
  EXPECT_EQ(due[0].attempts, 1);
  EXPECT_EQ(due[0].last_error, "451 try later");
  EXPECT_EQ(due[0].next_attempt_at, 1000);

  // Permanent failure: leaves the queue for good.
  s.mark_send_failed(id2, "550 no such user", true, 0);
  EXPECT_EQ(ids(s.due_outbox(10000, 10)), (std::vector<std::int64_t>{id1, id3}));

  s.mark_sent(id3, 1234);
  EXPECT_EQ(ids(s.due_outbox(10000, 10)), (std::vector<std::int64_t>{id1}));
  EXPECT_EQ(s.outbox_depth(), 1u);
  // A late failure report does not resurrect a sent row.
  s.mark_send_failed(id3, "timeout", false, 0);
  EXPECT_EQ(s.outbox_depth(), 1u);
  EXPECT_THROW(s.mark_sent(424242, 1), store_error);
  EXPECT_THROW(s.mark_send_failed(424242, "x", true, 0), store_error);

  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT state, sent_at FROM outbox WHERE id = ?");
  q.bind(1, id3);
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString(), "sent");
  EXPECT_EQ(q.getColumn(1).getInt64(), 1234);
}

TEST_F(store_test, reply_pending_holds_back_flagging) {
  store s(path_);
  const auto t = s.create_thread(customer_thread());
  s.note_seen(key(1));
  const auto in_id = s.record_inbound(decided_row(key(1), t.id, "q@example.com"));
  EXPECT_FALSE(s.reply_pending(in_id));

  const auto out_id = s.queue_reply(reply("re-q@support.example", in_id, t.id));
  EXPECT_TRUE(s.reply_pending(in_id));
  EXPECT_TRUE(s.unflagged("INBOX", 7, 10).empty());

  s.mark_send_failed(out_id, "451", false, 0);
  EXPECT_TRUE(s.reply_pending(in_id));
  s.mark_sent(out_id, 2000);
  EXPECT_FALSE(s.reply_pending(in_id));
  ASSERT_EQ(s.unflagged("INBOX", 7, 10).size(), 1u);

  // A permanently failed reply is no longer pending either.
  s.note_seen(key(2));
  const auto in2 = s.record_inbound(decided_row(key(2), t.id, "q2@example.com"));
  const auto out2 = s.queue_reply(reply("re-q2@support.example", in2, t.id));
  s.mark_send_failed(out2, "550", true, 0);
  EXPECT_FALSE(s.reply_pending(in2));
  EXPECT_EQ(s.unflagged("INBOX", 7, 10).size(), 2u);
}

// --- Transactions ---------------------------------------------------------------------------

TEST_F(store_test, transaction_rolls_back_unless_committed) {
  store s(path_);
  {
    store::transaction tx(s);
    s.create_thread(customer_thread());
    s.note_seen(key(1));
    s.queue_reply(reply("r@support.example"));
  }
  EXPECT_TRUE(s.list_threads(std::nullopt).empty());
  EXPECT_FALSE(s.inbound(key(1)));
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 0);
  EXPECT_EQ(s.outbox_depth(), 0u);

  {
    store::transaction tx(s);
    const auto t = s.create_thread(customer_thread());
    s.note_seen(key(1));
    const auto in_id = s.record_inbound(decided_row(key(1), t.id, "q@example.com"));
    s.queue_reply(reply("r@support.example", in_id, t.id));
    tx.commit();
  }
  EXPECT_EQ(s.list_threads(std::nullopt).size(), 1u);
  EXPECT_EQ(s.outbox_depth(), 1u);
}

TEST_F(store_test, failed_operation_inside_transaction_undoes_only_itself) {
  store s(path_);
  store::transaction tx(s);
  const auto t = s.create_thread(customer_thread());
  // Foreign key violation: thread 999 does not exist.
  EXPECT_THROW(s.record_inbound(decided_row(key(1), 999, "q@example.com")), store_error);
  EXPECT_FALSE(s.inbound(key(1)));
  EXPECT_EQ(s.last_seen_uid("INBOX", 7), 0);
  tx.commit();
  EXPECT_TRUE(s.thread(t.id));
}

TEST_F(store_test, reads_between_writes_do_not_block_transactions) {
  store s(path_);
  const auto t = s.create_thread(customer_thread());
  s.create_thread(customer_thread());
  // Reading only the first of several rows must not leave a read transaction behind.
  EXPECT_EQ(s.list_threads(std::nullopt, 1).size(), 1u);
  EXPECT_TRUE(s.thread_by_ticket(t.ticket));
  EXPECT_TRUE(s.thread(t.id));
  store::transaction tx(s);
  s.create_thread(customer_thread());
  tx.commit();
}

// --- Hostile text ---------------------------------------------------------------------------

TEST_F(store_test, sql_metacharacters_and_unicode_round_trip) {
  const std::vector<std::string> nasty = {
      "'; DROP TABLE threads; --",
      "Robert'); DELETE FROM messages; --",
      "\"double\" 'single' `back` \\ % _ ?1 :name @x $y",
      "Grüße aus Köln – 日本語のメール 🎉 Ελληνικά עברית",
  };
  store s(path_);
  std::int64_t uid = 1;
  for (const auto& text : nasty) {
    thread_row t;
    t.customer_address = text;
    t.customer_name = text;
    t.subject = text;
    t.category = text;
    t.language = text;
    const auto created = s.create_thread(t);
    const auto got = s.thread(created.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->customer_address, text);
    EXPECT_EQ(got->customer_name, text);
    EXPECT_EQ(got->subject, text);
    EXPECT_EQ(got->category, text);
    EXPECT_EQ(got->language, text);
    EXPECT_TRUE(s.is_participant(created.id, text));

    const inbound_key k{text, 11, uid++};
    EXPECT_TRUE(s.note_seen(k));
    s.set_mailbox_uidvalidity(text, 11);
    EXPECT_EQ(s.mailbox_uidvalidity(text), 11);
    message_row m;
    m.key = k;
    m.thread_id = created.id;
    m.message_id = text + "@in";
    m.from_address = text;
    m.subject = text;
    m.decision = text;
    m.reason = text;
    m.category = text;
    m.language = text;
    m.keywords = text;
    m.body = text + "\r\nsecond line";
    s.record_inbound(m);
    const auto in = s.inbound(k);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->key->mailbox, text);
    EXPECT_EQ(in->message_id, m.message_id);
    EXPECT_EQ(in->from_address, text);
    EXPECT_EQ(in->subject, text);
    EXPECT_EQ(in->decision, text);
    EXPECT_EQ(in->reason, text);
    EXPECT_EQ(in->category, text);
    EXPECT_EQ(in->language, text);
    EXPECT_EQ(in->keywords, text);
    EXPECT_EQ(in->body, m.body);
    EXPECT_EQ(s.thread_by_message_id(m.message_id)->id, created.id);
    EXPECT_EQ(s.thread_by_ticket(created.ticket)->subject, text);
    EXPECT_EQ(s.pending_inbound(text, 11, 5).size(), 0u);
    EXPECT_EQ(s.unflagged(text, 11, 5).size(), 1u);
    EXPECT_EQ(s.note_attempt_failed(k, text), 1);
    EXPECT_EQ(s.inbound(k)->reason, text);

    message_row out = m;
    out.key.reset();
    out.message_id = text + "@out";
    s.record_outbound(out);
    EXPECT_EQ(s.thread_by_message_id(out.message_id)->id, created.id);

    outbox_row o;
    o.message_id = text + "@queued";
    o.envelope_from = text;
    o.recipients = {text, text + "2"};
    o.data = text + "\r\n.\r\n";
    const auto oid = s.queue_reply(o);
    s.mark_send_failed(oid, text, false, 0);
    const auto due = s.due_outbox(0, 100);
    const auto it =
        std::find_if(due.begin(), due.end(), [&](const auto& r) { return r.id == oid; });
    ASSERT_NE(it, due.end());
    EXPECT_EQ(it->message_id, o.message_id);
    EXPECT_EQ(it->envelope_from, text);
    EXPECT_EQ(it->recipients, o.recipients);
    EXPECT_EQ(it->data, o.data);
    EXPECT_EQ(it->last_error, text);
  }
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_TRUE(db.tableExists("threads"));
  EXPECT_TRUE(db.tableExists("messages"));
  EXPECT_EQ(s.list_threads(std::nullopt).size(), nasty.size());
}

TEST_F(store_test, binary_message_data_round_trips) {
  store s(path_);
  auto o = reply("bin@support.example");
  // sizeof - 1: the whole literal, embedded NUL included, without its terminator.
  static constexpr char bytes[] = "8bit \xC3\xA9 and latin1 \xE9 and \x00 nul";
  o.data = std::string(bytes, sizeof bytes - 1);
  s.queue_reply(o);
  const auto due = s.due_outbox(0, 1);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].data, o.data);
}

// --- Concurrency ----------------------------------------------------------------------------

TEST_F(store_test, second_connection_reads_while_first_writes) {
  store writer(path_);
  const auto first = writer.create_thread(customer_thread());
  store reader(path_);
  EXPECT_EQ(reader.schema_version(), 3);
  {
    store::transaction tx(writer);
    writer.create_thread(customer_thread("bob@example.com"));
    writer.note_seen(key(1));
    // The reader is neither blocked nor sees uncommitted rows.
    EXPECT_EQ(reader.list_threads(std::nullopt).size(), 1u);
    EXPECT_TRUE(reader.thread(first.id));
    EXPECT_FALSE(reader.inbound(key(1)));
    tx.commit();
  }
  EXPECT_EQ(reader.list_threads(std::nullopt).size(), 2u);
  EXPECT_TRUE(reader.inbound(key(1)));
  // And the reader can write once the writer is done.
  reader.note_seen(key(2));
  EXPECT_EQ(writer.last_seen_uid("INBOX", 7), 2);
}

namespace supportd::store {
namespace {

TEST_F(store_test, counts_replies_for_flood_limits) {
  store s(path_);
  s.set_mailbox_uidvalidity("INBOX", 7);
  auto refund = customer_thread("Alice@Example.com");
  refund.category = "refund";
  const auto t1 = s.create_thread(refund);
  auto fees = customer_thread("alice@example.com");
  fees.category = "fees";
  const auto t2 = s.create_thread(fees);
  const auto in1 = s.record_inbound(decided_row(key(1), t1.id, "m1@x"));
  const auto in2 = s.record_inbound(decided_row(key(2), t2.id, "m2@x"));
  s.queue_reply(reply("r1@support.example", in1, t1.id));
  const auto sent = s.queue_reply(reply("r2@support.example", in2, t2.id));
  s.queue_reply(reply("agent@support.example", 0, t1.id));  // agent replies do not count

  EXPECT_EQ(s.replies_to_since("ALICE@example.com", 0), 2);
  EXPECT_EQ(s.replies_to_since("alice@example.com", 0, "refund"), 1);
  EXPECT_EQ(s.replies_to_since("alice@example.com", 0, "general"), 0);
  EXPECT_EQ(s.replies_to_since("bob@example.com", 0), 0);
  EXPECT_EQ(s.replies_to_since("alice@example.com", 4'000'000'000), 0);

  EXPECT_EQ(s.sent_since(0), 0);
  s.mark_sent(sent, 1'000);
  EXPECT_EQ(s.sent_since(900), 1);
  EXPECT_EQ(s.sent_since(1'001), 0);
}

// --- Agents and monitoring ------------------------------------------------------------------

TEST_F(store_test, assigns_prioritises_and_notes_threads) {
  store s(path_);
  const auto t = s.create_thread(customer_thread());
  s.set_thread_assignee(t.id, "王小明");
  s.set_thread_priority(t.id, 2);
  auto got = s.thread(t.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->assignee, "王小明");
  EXPECT_EQ(got->priority, 2);
  EXPECT_EQ(s.list_threads(std::nullopt).at(0).assignee, "王小明");
  EXPECT_THROW(s.set_thread_assignee(t.id + 100, "x"), store_error);
  EXPECT_THROW(s.set_thread_priority(t.id + 100, 1), store_error);

  EXPECT_TRUE(s.thread_notes(t.id).empty());
  const auto n1 = s.add_note(t.id, "li", "called the customer");
  const auto n2 = s.add_note(t.id, "wang", "退款已处理");
  const auto notes = s.thread_notes(t.id);
  ASSERT_EQ(notes.size(), 2U);
  EXPECT_EQ(notes[0].id, n1);
  EXPECT_EQ(notes[0].author, "li");
  EXPECT_EQ(notes[1].id, n2);
  EXPECT_EQ(notes[1].text, "退款已处理");
  EXPECT_GT(notes[1].created_at, 0);
  EXPECT_THROW(s.add_note(t.id + 100, "li", "x"), store_error);
}

TEST_F(store_test, tallies_decisions_suppressions_outbox_and_threads) {
  store s(path_);
  s.set_mailbox_uidvalidity("INBOX", 7);
  const auto t = s.create_thread(customer_thread());
  auto a = decided_row(key(1), t.id, "a@x");
  auto b = decided_row(key(2), t.id, "b@x");
  auto c = decided_row(key(3), 0, "c@x");
  c.decision = "suppress";
  c.reason = "auto-submitted: auto-replied";
  c.category = "";
  auto d = decided_row(key(4), 0, "d@x");
  d.decision = "suppress";
  d.reason = "auto-submitted: auto-generated";
  d.category = "";
  auto e = decided_row(key(5), 0, "e@x");
  e.decision = "suppress";
  e.reason = "mailing list";
  e.category = "";
  const auto in_a = s.record_inbound(a);
  s.record_inbound(b);
  s.record_inbound(c);
  s.record_inbound(d);
  s.record_inbound(e);
  s.note_seen(key(6));  // undecided: not counted

  auto tallies = s.inbound_tallies();
  std::sort(tallies.begin(), tallies.end(),
            [](const auto& x, const auto& y) { return x.decision < y.decision; });
  ASSERT_EQ(tallies.size(), 2U);
  EXPECT_EQ(tallies[0].decision, "auto_reply");
  EXPECT_EQ(tallies[0].category, "orders");
  EXPECT_EQ(tallies[0].count, 2);
  EXPECT_EQ(tallies[1].decision, "suppress");
  EXPECT_EQ(tallies[1].count, 3);

  const auto reasons = s.suppression_tallies();
  EXPECT_EQ(reasons.size(), 2U);
  EXPECT_EQ(reasons.at("auto-submitted"), 2);
  EXPECT_EQ(reasons.at("mailing list"), 1);

  const auto r1 = s.queue_reply(reply("r1@support.example", in_a, t.id));
  const auto r2 = s.queue_reply(reply("r2@support.example", 0, t.id));
  s.queue_reply(reply("r3@support.example", 0, t.id));
  s.mark_sent(r1, 10);
  s.mark_send_failed(r2, "550 no such user", true, 0);
  const auto outbox = s.outbox_tallies();
  EXPECT_EQ(outbox.at("queued"), 1);
  EXPECT_EQ(outbox.at("sent"), 1);
  EXPECT_EQ(outbox.at("failed"), 1);

  s.create_thread(customer_thread("bob@example.com"));
  s.set_thread_status(t.id, thread_status::escalated);
  const auto threads = s.thread_tallies();
  EXPECT_EQ(threads.at("escalated"), 1);
  EXPECT_EQ(threads.at("open"), 1);
}

}  // namespace
}  // namespace supportd::store
