#include "supportd/store/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "detail/schema.hpp"

namespace supportd::store {

// ---------------------------------------------------------------------------------------------
// Enum names: the exact strings stored in the database (CHECK constraints in the schema).

std::string_view to_string(thread_status s) {
  switch (s) {
    case thread_status::open:
      return "open";
    case thread_status::auto_replied:
      return "auto_replied";
    case thread_status::escalated:
      return "escalated";
    case thread_status::suppressed:
      return "suppressed";
    case thread_status::resolved:
      return "resolved";
  }
  return "open";
}

std::optional<thread_status> thread_status_from(std::string_view s) {
  for (auto status : {thread_status::open, thread_status::auto_replied, thread_status::escalated,
                      thread_status::suppressed, thread_status::resolved}) {
    if (to_string(status) == s) return status;
  }
  return std::nullopt;
}

std::string_view to_string(inbound_state s) {
  switch (s) {
    case inbound_state::seen:
      return "seen";
    case inbound_state::decided:
      return "decided";
    case inbound_state::flagged:
      return "flagged";
    case inbound_state::quarantined:
      return "quarantined";
  }
  return "seen";
}

std::string_view to_string(outbox_state s) {
  switch (s) {
    case outbox_state::queued:
      return "queued";
    case outbox_state::sent:
      return "sent";
    case outbox_state::failed:
      return "failed";
  }
  return "queued";
}

namespace {

std::optional<inbound_state> inbound_state_from(std::string_view s) {
  for (auto state : {inbound_state::seen, inbound_state::decided, inbound_state::flagged,
                     inbound_state::quarantined}) {
    if (to_string(state) == s) return state;
  }
  return std::nullopt;
}

std::optional<outbox_state> outbox_state_from(std::string_view s) {
  for (auto state : {outbox_state::queued, outbox_state::sent, outbox_state::failed}) {
    if (to_string(state) == s) return state;
  }
  return std::nullopt;
}

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string format_ticket(std::int64_t id) {
  auto digits = std::to_string(id);
  if (digits.size() < 6) digits.insert(0, 6 - digits.size(), '0');
  return std::string(ticket_prefix) + digits;
}

std::int64_t sql_limit(std::size_t limit) {
  return static_cast<std::int64_t>(std::min<std::size_t>(
      limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

// Recipients are stored one per line: an address can never contain CR or LF (that would be
// header injection), so the separator is unambiguous.
std::string join_recipients(const std::vector<std::string>& recipients) {
  std::string out;
  for (const auto& r : recipients) {
    if (r.empty() || r.find_first_of("\r\n") != std::string::npos) {
      throw store_error("queue_reply: invalid recipient address (empty or contains CR/LF)");
    }
    if (!out.empty()) out += '\n';
    out += r;
  }
  return out;
}

std::vector<std::string> split_recipients(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

// SQL of every statement, each prepared once and cached by its address.
namespace sql {
constexpr const char* user_version = "PRAGMA user_version";
// BEGIN IMMEDIATE takes the write lock up front, so the busy timeout applies there instead of
// failing later when a read transaction would have to be upgraded.
constexpr const char* begin = "BEGIN IMMEDIATE";
constexpr const char* commit = "COMMIT";
constexpr const char* savepoint = "SAVEPOINT supportd_op";
constexpr const char* release = "RELEASE supportd_op";

constexpr const char* get_uidvalidity = "SELECT uidvalidity FROM mailboxes WHERE name = ?1";
constexpr const char* set_uidvalidity =
    "INSERT INTO mailboxes (name, uidvalidity) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET uidvalidity = excluded.uidvalidity";
constexpr const char* get_last_seen =
    "SELECT last_seen_uid FROM mailbox_uids WHERE mailbox = ?1 AND uidvalidity = ?2";
constexpr const char* bump_last_seen =
    "INSERT INTO mailbox_uids (mailbox, uidvalidity, last_seen_uid) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (mailbox, uidvalidity) DO UPDATE "
    "SET last_seen_uid = max(last_seen_uid, excluded.last_seen_uid)";

constexpr const char* insert_seen =
    "INSERT INTO messages (direction, created_at, mailbox, uidvalidity, uid, state) "
    "VALUES ('in', ?4, ?1, ?2, ?3, 'seen') "
    "ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING";
constexpr const char* pending_inbound =
    "SELECT uid FROM messages WHERE mailbox = ?1 AND uidvalidity = ?2 AND state = 'seen' "
    "ORDER BY uid LIMIT ?3";

#define SUPPORTD_MESSAGE_COLUMNS                                                          \
  "m.id, m.thread_id, m.direction, m.message_id, m.from_address, m.subject, m.decision, " \
  "m.reason, m.category, m.confidence, m.language, m.keywords, m.body, m.created_at, "    \
  "m.mailbox, m.uidvalidity, m.uid, m.state, m.attempts "

constexpr const char* inbound_by_key =
    "SELECT " SUPPORTD_MESSAGE_COLUMNS
    "FROM messages m WHERE m.mailbox = ?1 AND m.uidvalidity = ?2 AND m.uid = ?3";
constexpr const char* attempt_failed =
    "INSERT INTO messages (direction, created_at, mailbox, uidvalidity, uid, state, attempts, "
    "reason) VALUES ('in', ?4, ?1, ?2, ?3, 'seen', 1, ?5) "
    "ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE "
    "SET attempts = attempts + 1, reason = excluded.reason "
    "RETURNING attempts";
constexpr const char* record_inbound =
    "INSERT INTO messages (thread_id, direction, message_id, from_address, subject, decision, "
    "reason, category, confidence, language, keywords, body, created_at, mailbox, uidvalidity, "
    "uid, state) VALUES (?1, 'in', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
    "?16) "
    "ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE SET "
    "thread_id = excluded.thread_id, message_id = excluded.message_id, "
    "from_address = excluded.from_address, subject = excluded.subject, "
    "decision = excluded.decision, reason = excluded.reason, category = excluded.category, "
    "confidence = excluded.confidence, language = excluded.language, "
    "keywords = excluded.keywords, body = excluded.body, state = excluded.state, "
    "created_at = CASE WHEN ?17 THEN excluded.created_at ELSE created_at END "
    "RETURNING id";
// Finished (decided) and no reply still queued: the reply must be accepted by SMTP before the
// message is flagged, so a crash in between resends rather than loses the reply.
constexpr const char* unflagged =
    "SELECT " SUPPORTD_MESSAGE_COLUMNS
    "FROM messages m WHERE m.mailbox = ?1 AND m.uidvalidity = ?2 AND m.state = 'decided' "
    "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbound_id = m.id AND o.state = 'queued') "
    "ORDER BY m.uid LIMIT ?3";
constexpr const char* mark_flagged =
    "UPDATE messages SET state = 'flagged' "
    "WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3 AND state = 'decided'";
constexpr const char* inbound_exists =
    "SELECT 1 FROM messages WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3";

#define SUPPORTD_THREAD_COLUMNS                                                              \
  "t.id, t.ticket, t.customer_address, t.customer_name, t.subject, t.category, t.language, " \
  "t.status, t.created_at, t.updated_at, t.assignee, t.priority "

constexpr const char* thread_by_message_id =
    "SELECT " SUPPORTD_THREAD_COLUMNS
    "FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.message_id = ?1 "
    "ORDER BY m.id LIMIT 1";
constexpr const char* thread_by_outbox_message_id =
    "SELECT " SUPPORTD_THREAD_COLUMNS
    "FROM outbox o JOIN threads t ON t.id = o.thread_id WHERE o.message_id = ?1";
constexpr const char* thread_by_ticket =
    "SELECT " SUPPORTD_THREAD_COLUMNS "FROM threads t WHERE t.ticket = ?1";
constexpr const char* thread_by_id =
    "SELECT " SUPPORTD_THREAD_COLUMNS "FROM threads t WHERE t.id = ?1";
constexpr const char* message_id_decided =
    "SELECT EXISTS (SELECT 1 FROM messages WHERE message_id = ?1 AND direction = 'in' "
    "AND state IN ('decided', 'flagged', 'quarantined'))";
constexpr const char* insert_thread =
    "INSERT INTO threads (customer_address, customer_name, subject, category, language, status, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* set_ticket = "UPDATE threads SET ticket = ?2 WHERE id = ?1";
constexpr const char* set_status =
    "UPDATE threads SET status = ?2, updated_at = max(updated_at, ?3) WHERE id = ?1";
constexpr const char* set_category =
    "UPDATE threads SET category = ?2, language = ?3, updated_at = max(updated_at, ?4) "
    "WHERE id = ?1";
constexpr const char* touch_thread =
    "UPDATE threads SET updated_at = max(updated_at, ?2) WHERE id = ?1";
constexpr const char* list_all = "SELECT " SUPPORTD_THREAD_COLUMNS
                                 "FROM threads t ORDER BY t.updated_at DESC, t.id DESC LIMIT ?1";
constexpr const char* list_by_status =
    "SELECT " SUPPORTD_THREAD_COLUMNS
    "FROM threads t WHERE t.status = ?1 ORDER BY t.updated_at DESC, t.id DESC LIMIT ?2";
constexpr const char* thread_messages =
    "SELECT " SUPPORTD_MESSAGE_COLUMNS "FROM messages m WHERE m.thread_id = ?1 ORDER BY m.id";
constexpr const char* messages_by_message_id =
    "SELECT " SUPPORTD_MESSAGE_COLUMNS "FROM messages m WHERE m.message_id = ?1 ORDER BY m.id";
constexpr const char* outbox_for_inbound =
    "SELECT id, inbound_id, thread_id, message_id, envelope_from, recipients, data, state, "
    "attempts, next_attempt_at, last_error FROM outbox WHERE inbound_id = ?1 ORDER BY id";
// ASCII case-insensitive (NOCASE): domains are case-insensitive and real mailboxes treat
// local parts the same way.
constexpr const char* is_participant =
    "SELECT EXISTS (SELECT 1 FROM threads WHERE id = ?1 AND customer_address = ?2 COLLATE NOCASE) "
    "OR EXISTS (SELECT 1 FROM messages WHERE thread_id = ?1 AND direction = 'in' "
    "AND from_address = ?2 COLLATE NOCASE)";
constexpr const char* record_outbound =
    "INSERT INTO messages (thread_id, direction, message_id, from_address, subject, decision, "
    "reason, category, confidence, language, keywords, body, created_at) "
    "VALUES (?1, 'out', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

constexpr const char* set_assignee =
    "UPDATE threads SET assignee = ?2, updated_at = max(updated_at, ?3) WHERE id = ?1";
// Priority is not activity: updated_at (the follow-up clock) stays as it is.
constexpr const char* set_priority = "UPDATE threads SET priority = ?2 WHERE id = ?1";
constexpr const char* thread_exists = "SELECT 1 FROM threads WHERE id = ?1";
constexpr const char* insert_note =
    "INSERT INTO notes (thread_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* thread_notes =
    "SELECT id, thread_id, author, text, created_at FROM notes WHERE thread_id = ?1 ORDER BY id";
constexpr const char* inbound_tallies =
    "SELECT decision, category, count(*) FROM messages WHERE direction = 'in' AND decision != '' "
    "GROUP BY decision, category";
// The rule is the reason's text before its first ':' ("auto-submitted: auto-replied"), which
// keeps the label set small whatever detail follows.
constexpr const char* suppression_tallies =
    "SELECT CASE WHEN instr(reason, ':') > 0 THEN substr(reason, 1, instr(reason, ':') - 1) "
    "ELSE reason END AS rule, count(*) FROM messages "
    "WHERE direction = 'in' AND decision = 'suppress' GROUP BY rule";
constexpr const char* outbox_tallies = "SELECT state, count(*) FROM outbox GROUP BY state";
constexpr const char* thread_tallies = "SELECT status, count(*) FROM threads GROUP BY status";

#undef SUPPORTD_MESSAGE_COLUMNS
#undef SUPPORTD_THREAD_COLUMNS

constexpr const char* insert_outbox =
    "INSERT INTO outbox (inbound_id, thread_id, message_id, envelope_from, recipients, data, "
    "state, attempts, next_attempt_at, last_error, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?7, '', ?8) "
    "ON CONFLICT (message_id) DO NOTHING";
constexpr const char* outbox_id_by_message_id = "SELECT id FROM outbox WHERE message_id = ?1";
constexpr const char* due_outbox =
    "SELECT id, inbound_id, thread_id, message_id, envelope_from, recipients, data, state, "
    "attempts, next_attempt_at, last_error FROM outbox "
    "WHERE state = 'queued' AND next_attempt_at <= ?1 AND (?3 <= 1 OR id % ?3 = ?4) "
    "ORDER BY id LIMIT ?2";
constexpr const char* outbox_depth = "SELECT count(*) FROM outbox WHERE state = 'queued'";
constexpr const char* mark_sent = "UPDATE outbox SET state = 'sent', sent_at = ?2 WHERE id = ?1";
constexpr const char* mark_send_failed =
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, "
    "state = CASE WHEN ?3 THEN 'failed' ELSE 'queued' END, next_attempt_at = ?4 "
    "WHERE id = ?1 AND state = 'queued'";
constexpr const char* outbox_exists = "SELECT 1 FROM outbox WHERE id = ?1";
constexpr const char* reply_pending =
    "SELECT EXISTS (SELECT 1 FROM outbox WHERE inbound_id = ?1 AND state = 'queued')";
// Auto-replies (not agent replies) queued or sent to an address since a time, optionally in one
// category; failed ones never reached the customer and do not count.
constexpr const char* replies_to_since =
    "SELECT count(*) FROM threads t JOIN outbox o ON o.thread_id = t.id "
    "WHERE t.customer_address = ?1 COLLATE NOCASE AND o.inbound_id IS NOT NULL "
    "AND o.state != 'failed' AND o.created_at >= ?2 AND (?3 = '' OR t.category = ?3)";
constexpr const char* sent_since =
    "SELECT count(*) FROM outbox WHERE state = 'sent' AND sent_at >= ?1";
}  // namespace sql

// A cached statement in use: reset (and bindings released) when the scope ends, so no stepped
// SELECT keeps a read transaction open and a later BEGIN IMMEDIATE never fails on it.
class use {
 public:
  explicit use(SQLite::Statement& s) : s_(s) {}
  ~use() {
    s_.tryReset();
    try {
      s_.clearBindings();  // releases copies of large bodies between uses
    } catch (...) {
    }
  }
  use(const use&) = delete;
  use& operator=(const use&) = delete;

  SQLite::Statement* operator->() { return &s_; }
  SQLite::Statement& operator*() { return s_; }

  void text(int i, std::string_view v) { s_.bind(i, std::string(v)); }
  void integer(int i, std::int64_t v) { s_.bind(i, v); }
  // 0 is "none" in the API and NULL in the database (foreign keys, optional ids).
  void id_or_null(int i, std::int64_t v) {
    if (v == 0) {
      s_.bind(i);
    } else {
      s_.bind(i, v);
    }
  }

 private:
  SQLite::Statement& s_;
};

std::string column_text(const SQLite::Statement& s, int i) {
  auto c = s.getColumn(i);
  if (c.isNull()) return {};
  return c.getString();
}

std::int64_t column_id(const SQLite::Statement& s, int i) {
  auto c = s.getColumn(i);
  return c.isNull() ? 0 : c.getInt64();
}

thread_row read_thread(const SQLite::Statement& s) {
  thread_row t;
  t.id = s.getColumn(0).getInt64();
  t.ticket = column_text(s, 1);
  t.customer_address = column_text(s, 2);
  t.customer_name = column_text(s, 3);
  t.subject = column_text(s, 4);
  t.category = column_text(s, 5);
  t.language = column_text(s, 6);
  auto status = column_text(s, 7);
  auto parsed = thread_status_from(status);
  if (!parsed)
    throw store_error("thread " + std::to_string(t.id) + " has unknown status '" + status + "'");
  t.status = *parsed;
  t.created_at = s.getColumn(8).getInt64();
  t.updated_at = s.getColumn(9).getInt64();
  t.assignee = column_text(s, 10);
  t.priority = s.getColumn(11).getInt();
  return t;
}

message_row read_message(const SQLite::Statement& s) {
  message_row m;
  m.id = s.getColumn(0).getInt64();
  m.thread_id = column_id(s, 1);
  m.direction = column_text(s, 2);
  m.message_id = column_text(s, 3);
  m.from_address = column_text(s, 4);
  m.subject = column_text(s, 5);
  m.decision = column_text(s, 6);
  m.reason = column_text(s, 7);
  m.category = column_text(s, 8);
  m.confidence = s.getColumn(9).getDouble();
  m.language = column_text(s, 10);
  m.keywords = column_text(s, 11);
  m.body = column_text(s, 12);
  m.created_at = s.getColumn(13).getInt64();
  if (!s.isColumnNull(14)) {
    m.key = inbound_key{column_text(s, 14), s.getColumn(15).getInt64(), s.getColumn(16).getInt64()};
  }
  if (!s.isColumnNull(17)) {
    auto state = column_text(s, 17);
    m.state = inbound_state_from(state);
    if (!m.state)
      throw store_error("message " + std::to_string(m.id) + " has unknown state '" + state + "'");
  }
  m.attempts = s.getColumn(18).getInt();
  return m;
}

outbox_row read_outbox(const SQLite::Statement& s) {
  outbox_row o;
  o.id = s.getColumn(0).getInt64();
  o.inbound_id = column_id(s, 1);
  o.thread_id = column_id(s, 2);
  o.message_id = column_text(s, 3);
  o.envelope_from = column_text(s, 4);
  o.recipients = split_recipients(column_text(s, 5));
  o.data = column_text(s, 6);
  auto state = column_text(s, 7);
  auto parsed = outbox_state_from(state);
  if (!parsed)
    throw store_error("outbox row " + std::to_string(o.id) + " has unknown state '" + state + "'");
  o.state = *parsed;
  o.attempts = s.getColumn(8).getInt();
  o.next_attempt_at = s.getColumn(9).getInt64();
  o.last_error = column_text(s, 10);
  return o;
}

// Runs `f`, turning SQLiteCpp's exceptions into store_error naming the operation.
template <class F>
decltype(auto) guarded(const char* op, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const SQLite::Exception& e) {
    throw store_error(std::string("store: ") + op + ": " + e.what());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

// Checkpoints the WAL on a thread and connection of its own, so no commit waits for one.
// SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages and
// fsyncs the database file there (p99 of an insert: ~23 ms against ~0.3 ms otherwise); the
// WAL hook only asks this thread instead (https://sqlite.org/c3ref/wal_hook.html).
class checkpointer {
 public:
  explicit checkpointer(std::filesystem::path path) : path_(std::move(path)) {}
  ~checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  void request() {
    std::lock_guard lock(mutex_);
    pending_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    wake_.notify_one();
  }

 private:
  void run() {
    std::unique_ptr<SQLite::Database> db;
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || pending_; });
      if (stop_) return;  // the last connection to close checkpoints anyway
      pending_ = false;
      lock.unlock();
      try {
        if (!db) {
          db = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE);
          // A connection sees the WAL only once it has read the database.
          db->exec("SELECT count(*) FROM sqlite_master");
        }
        // PASSIVE: copies what no reader still needs, never blocks writers or readers.
        sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
      } catch (const std::exception&) {
        db.reset();  // tried again at the next request; commits keep working meanwhile
      }
      lock.lock();
    }
  }

  std::filesystem::path path_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

struct store::impl {
  // Declared first so it is destroyed last, after every cached statement and the checkpointer
  // (whose connection must close first, so that this one checkpoints the rest when it closes).
  SQLite::Database db;
  int version = 0;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements;
  checkpointer checkpoints;

  explicit impl(const std::filesystem::path& path)
      : db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE), checkpoints(path) {
    // Replaces the automatic checkpoint (same threshold, 1,000 pages): see checkpointer. Should
    // the thread fall behind (a reader holding an old snapshot), the commit that finds 20,000
    // pages (~80 MB) checkpoints itself, so the WAL stays bounded.
    sqlite3_wal_hook(
        db.getHandle(),
        [](void* self, sqlite3* handle, const char* name, int pages) -> int {
          if (pages >= 20000)
            sqlite3_wal_checkpoint_v2(handle, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
          else if (pages >= 1000)
            static_cast<impl*>(self)->checkpoints.request();
          return SQLITE_OK;
        },
        this);
    // Several connections write (the poller, its SMTP senders, the agents' page). SQLite's own
    // busy timeout sleeps 1, 2, 5, 10… ms between tries; a sender recording "sent" must not
    // sleep that long after the SMTP server's OK, so waiting writers retry every 100 µs (5 s).
    sqlite3_busy_handler(
        db.getHandle(),
        [](void*, int tries) -> int {
          if (tries >= 50000) return 0;
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          return 1;
        },
        nullptr);
  }

  // The cached statement for this SQL (prepared on first use).
  use stmt(const char* query) {
    auto& slot = statements[query];
    if (!slot) slot = std::make_unique<SQLite::Statement>(db, query);
    return use(*slot);
  }

  bool in_transaction() const { return sqlite3_get_autocommit(db.getHandle()) == 0; }

  void bump_last_seen(const inbound_key& key) {
    auto s = stmt(sql::bump_last_seen);
    s.text(1, key.mailbox);
    s.integer(2, key.uidvalidity);
    s.integer(3, key.uid);
    s->exec();
  }

  void touch_thread(std::int64_t thread_id, std::int64_t at) {
    if (thread_id == 0) return;
    auto s = stmt(sql::touch_thread);
    s.integer(1, thread_id);
    s.integer(2, at);
    s->exec();
  }
};

namespace {

// Makes a multi-statement operation atomic: its own BEGIN IMMEDIATE, or a savepoint inside the
// caller's store::transaction (so a failure undoes only this operation).
class write_scope {
 public:
  explicit write_scope(store::impl& i) : impl_(i), db_(i.db), nested_(i.in_transaction()) {
    impl_.stmt(nested_ ? sql::savepoint : sql::begin)->exec();
  }
  ~write_scope() {
    if (done_) return;
    if (nested_) {
      db_.tryExec("ROLLBACK TO supportd_op");
      db_.tryExec("RELEASE supportd_op");
    } else {
      db_.tryExec("ROLLBACK");
    }
  }
  write_scope(const write_scope&) = delete;
  write_scope& operator=(const write_scope&) = delete;

  void commit() {
    impl_.stmt(nested_ ? sql::release : sql::commit)->exec();
    done_ = true;
  }

 private:
  store::impl& impl_;
  SQLite::Database& db_;
  bool nested_;
  bool done_ = false;
};

int read_user_version(SQLite::Database& db) {
  SQLite::Statement s(db, sql::user_version);
  s.executeStep();
  return s.getColumn(0).getInt();
}

std::string newer_schema_message(const std::filesystem::path& path, int found, int known) {
  return "store: database " + path.string() + " has schema version " + std::to_string(found) +
         " but this supportd only knows versions up to " + std::to_string(known) +
         " (written by a newer release?); refusing to open it";
}

}  // namespace

store::store(const std::filesystem::path& path) {
  try {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  } catch (const std::filesystem::filesystem_error& e) {
    throw store_error("store: cannot create directory for " + path.string() + ": " + e.what());
  }
  guarded("open", [&] {
    impl_ = std::make_unique<impl>(path);
    auto& db = impl_->db;
    db.exec("PRAGMA foreign_keys = ON");
    {
      // WAL: readers never block the writer and vice versa (admin tools can read live).
      auto mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
      (void)mode;  // "memory" for in-memory databases; nothing to enforce there.
    }
    // NORMAL is durable in WAL mode against a crash of the process; only a power loss or OS
    // crash can lose the last commits, never corrupt the file. Losing a commit only makes the
    // pipeline redo a message (its UID watermark rolls back with it), so at worst a reply is
    // sent twice; FULL would add an fsync to every commit for that.
    db.exec("PRAGMA synchronous = NORMAL");
    // A bigger page cache (default 2 MiB) keeps the indexes of a large thread log in memory.
    // 4 MB of page cache: lookups are indexed, so a bigger cache only raises resident memory.
    db.exec("PRAGMA cache_size = -4096");

    const auto migrations = detail::migrations();
    const int known = static_cast<int>(migrations.size());
    int version = read_user_version(db);
    if (version > known) throw store_error(newer_schema_message(path, version, known));
    if (version < known) {
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      version = read_user_version(db);  // another process may have migrated meanwhile
      if (version > known) throw store_error(newer_schema_message(path, version, known));
      for (auto i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
        db.exec(std::string(migrations[i]));
      }
      db.exec("PRAGMA user_version = " + std::to_string(known));
      tx.commit();
      version = known;
    }
    impl_->version = version;
  });
}

store::~store() = default;

store::transaction::transaction(store& s) : s_(s) {
  guarded("begin transaction", [&] { s_.impl_->stmt(sql::begin)->exec(); });
}

store::transaction::~transaction() {
  if (!done_) s_.impl_->db.tryExec("ROLLBACK");
}

void store::transaction::commit() {
  guarded("commit", [&] { s_.impl_->stmt(sql::commit)->exec(); });
  done_ = true;
}

int store::schema_version() const { return impl_->version; }

// --- Mailbox sync state -----------------------------------------------------------------------

std::optional<std::int64_t> store::mailbox_uidvalidity(std::string_view mailbox) {
  return guarded("mailbox_uidvalidity", [&]() -> std::optional<std::int64_t> {
    auto s = impl_->stmt(sql::get_uidvalidity);
    s.text(1, mailbox);
    if (!s->executeStep()) return std::nullopt;
    return s->getColumn(0).getInt64();
  });
}

void store::set_mailbox_uidvalidity(std::string_view mailbox, std::int64_t uidvalidity) {
  guarded("set_mailbox_uidvalidity", [&] {
    auto s = impl_->stmt(sql::set_uidvalidity);
    s.text(1, mailbox);
    s.integer(2, uidvalidity);
    s->exec();
  });
}

std::int64_t store::last_seen_uid(std::string_view mailbox, std::int64_t uidvalidity) {
  return guarded("last_seen_uid", [&]() -> std::int64_t {
    auto s = impl_->stmt(sql::get_last_seen);
    s.text(1, mailbox);
    s.integer(2, uidvalidity);
    return s->executeStep() ? s->getColumn(0).getInt64() : 0;
  });
}

// --- Inbound ledger ---------------------------------------------------------------------------

bool store::note_seen(const inbound_key& key) {
  return guarded("note_seen", [&] {
    write_scope w(*impl_);
    bool inserted = false;
    {
      auto s = impl_->stmt(sql::insert_seen);
      s.text(1, key.mailbox);
      s.integer(2, key.uidvalidity);
      s.integer(3, key.uid);
      s.integer(4, now_seconds());
      inserted = s->exec() == 1;
    }
    impl_->bump_last_seen(key);
    w.commit();
    return inserted;
  });
}

std::vector<inbound_key> store::pending_inbound(std::string_view mailbox, std::int64_t uidvalidity,
                                                std::size_t limit) {
  return guarded("pending_inbound", [&] {
    std::vector<inbound_key> out;
    auto s = impl_->stmt(sql::pending_inbound);
    s.text(1, mailbox);
    s.integer(2, uidvalidity);
    s.integer(3, sql_limit(limit));
    while (s->executeStep()) {
      out.push_back(inbound_key{std::string(mailbox), uidvalidity, s->getColumn(0).getInt64()});
    }
    return out;
  });
}

std::optional<message_row> store::inbound(const inbound_key& key) {
  return guarded("inbound", [&]() -> std::optional<message_row> {
    auto s = impl_->stmt(sql::inbound_by_key);
    s.text(1, key.mailbox);
    s.integer(2, key.uidvalidity);
    s.integer(3, key.uid);
    if (!s->executeStep()) return std::nullopt;
    return read_message(*s);
  });
}

int store::note_attempt_failed(const inbound_key& key, std::string_view reason) {
  return guarded("note_attempt_failed", [&] {
    write_scope w(*impl_);
    int attempts = 0;
    {
      auto s = impl_->stmt(sql::attempt_failed);
      s.text(1, key.mailbox);
      s.integer(2, key.uidvalidity);
      s.integer(3, key.uid);
      s.integer(4, now_seconds());
      s.text(5, reason);
      if (!s->executeStep()) throw store_error("store: note_attempt_failed: no row returned");
      attempts = s->getColumn(0).getInt();
    }
    impl_->bump_last_seen(key);
    w.commit();
    return attempts;
  });
}

std::int64_t store::record_inbound(const message_row& row) {
  if (!row.key) throw store_error("store: record_inbound: row.key must be set");
  return guarded("record_inbound", [&] {
    const auto& key = *row.key;
    const auto created = row.created_at != 0 ? row.created_at : now_seconds();
    const auto state = row.state == inbound_state::quarantined ? inbound_state::quarantined
                                                               : inbound_state::decided;
    write_scope w(*impl_);
    std::int64_t id = 0;
    {
      auto s = impl_->stmt(sql::record_inbound);
      s.id_or_null(1, row.thread_id);
      s.text(2, row.message_id);
      s.text(3, row.from_address);
      s.text(4, row.subject);
      s.text(5, row.decision);
      s.text(6, row.reason);
      s.text(7, row.category);
      s->bind(8, row.confidence);
      s.text(9, row.language);
      s.text(10, row.keywords);
      s.text(11, row.body);
      s.integer(12, created);
      s.text(13, key.mailbox);
      s.integer(14, key.uidvalidity);
      s.integer(15, key.uid);
      s.text(16, to_string(state));
      // Keep the first-seen time of an existing row unless the caller gave one.
      s.integer(17, row.created_at != 0 ? 1 : 0);
      if (!s->executeStep()) throw store_error("store: record_inbound: no row returned");
      id = s->getColumn(0).getInt64();
    }
    impl_->bump_last_seen(key);
    impl_->touch_thread(row.thread_id, created);
    w.commit();
    return id;
  });
}

std::vector<message_row> store::unflagged(std::string_view mailbox, std::int64_t uidvalidity,
                                          std::size_t limit) {
  return guarded("unflagged", [&] {
    std::vector<message_row> out;
    auto s = impl_->stmt(sql::unflagged);
    s.text(1, mailbox);
    s.integer(2, uidvalidity);
    s.integer(3, sql_limit(limit));
    while (s->executeStep()) out.push_back(read_message(*s));
    return out;
  });
}

void store::mark_flagged(const inbound_key& key) {
  guarded("mark_flagged", [&] {
    {
      auto s = impl_->stmt(sql::mark_flagged);
      s.text(1, key.mailbox);
      s.integer(2, key.uidvalidity);
      s.integer(3, key.uid);
      if (s->exec() == 1) return;
    }
    // Already flagged (or seen/quarantined) rows are left as they are; a missing row is a bug.
    auto s = impl_->stmt(sql::inbound_exists);
    s.text(1, key.mailbox);
    s.integer(2, key.uidvalidity);
    s.integer(3, key.uid);
    if (!s->executeStep()) {
      throw store_error("store: mark_flagged: no inbound message " + key.mailbox + " uidvalidity " +
                        std::to_string(key.uidvalidity) + " uid " + std::to_string(key.uid));
    }
  });
}

// --- Messages and threads ---------------------------------------------------------------------

std::optional<thread_row> store::thread_by_message_id(std::string_view message_id) {
  if (message_id.empty()) return std::nullopt;  // messages without a Message-ID never match
  return guarded("thread_by_message_id", [&]() -> std::optional<thread_row> {
    {
      auto s = impl_->stmt(sql::thread_by_message_id);
      s.text(1, message_id);
      if (s->executeStep()) return read_thread(*s);
    }
    // A queued reply is also recorded as an outbound message in the same transaction by the
    // pipeline; the outbox is consulted too so a reply queued alone still threads.
    auto s = impl_->stmt(sql::thread_by_outbox_message_id);
    s.text(1, message_id);
    if (s->executeStep()) return read_thread(*s);
    return std::nullopt;
  });
}

std::optional<thread_row> store::thread_by_ticket(std::string_view ticket) {
  return guarded("thread_by_ticket", [&]() -> std::optional<thread_row> {
    auto s = impl_->stmt(sql::thread_by_ticket);
    s.text(1, ticket);
    if (!s->executeStep()) return std::nullopt;
    return read_thread(*s);
  });
}

std::optional<thread_row> store::thread(std::int64_t id) {
  return guarded("thread", [&]() -> std::optional<thread_row> {
    auto s = impl_->stmt(sql::thread_by_id);
    s.integer(1, id);
    if (!s->executeStep()) return std::nullopt;
    return read_thread(*s);
  });
}

bool store::inbound_message_id_decided(std::string_view message_id) {
  if (message_id.empty()) return false;
  return guarded("inbound_message_id_decided", [&] {
    auto s = impl_->stmt(sql::message_id_decided);
    s.text(1, message_id);
    s->executeStep();
    return s->getColumn(0).getInt() != 0;
  });
}

thread_row store::create_thread(const thread_row& row) {
  return guarded("create_thread", [&] {
    thread_row t = row;
    t.created_at = row.created_at != 0 ? row.created_at : now_seconds();
    t.updated_at = row.updated_at != 0 ? row.updated_at : t.created_at;
    write_scope w(*impl_);
    {
      auto s = impl_->stmt(sql::insert_thread);
      s.text(1, t.customer_address);
      s.text(2, t.customer_name);
      s.text(3, t.subject);
      s.text(4, t.category);
      s.text(5, t.language);
      s.text(6, to_string(t.status));
      s.integer(7, t.created_at);
      s.integer(8, t.updated_at);
      s->exec();
    }
    t.id = impl_->db.getLastInsertRowid();
    t.ticket = format_ticket(t.id);
    {
      auto s = impl_->stmt(sql::set_ticket);
      s.integer(1, t.id);
      s.text(2, t.ticket);
      s->exec();
    }
    w.commit();
    return t;
  });
}

namespace {
void require_changed(int changes, const char* op, const char* what, std::int64_t id) {
  if (changes == 0) {
    throw store_error(std::string("store: ") + op + ": no " + what + " with id " +
                      std::to_string(id));
  }
}
}  // namespace

void store::set_thread_status(std::int64_t id, thread_status status) {
  guarded("set_thread_status", [&] {
    auto s = impl_->stmt(sql::set_status);
    s.integer(1, id);
    s.text(2, to_string(status));
    s.integer(3, now_seconds());
    require_changed(s->exec(), "set_thread_status", "thread", id);
  });
}

void store::set_thread_category(std::int64_t id, std::string_view category,
                                std::string_view language) {
  guarded("set_thread_category", [&] {
    auto s = impl_->stmt(sql::set_category);
    s.integer(1, id);
    s.text(2, category);
    s.text(3, language);
    s.integer(4, now_seconds());
    require_changed(s->exec(), "set_thread_category", "thread", id);
  });
}

std::vector<thread_row> store::list_threads(std::optional<thread_status> status,
                                            std::size_t limit) {
  return guarded("list_threads", [&] {
    std::vector<thread_row> out;
    auto s = impl_->stmt(status ? sql::list_by_status : sql::list_all);
    if (status) {
      s.text(1, to_string(*status));
      s.integer(2, sql_limit(limit));
    } else {
      s.integer(1, sql_limit(limit));
    }
    while (s->executeStep()) out.push_back(read_thread(*s));
    return out;
  });
}

std::vector<message_row> store::thread_messages(std::int64_t thread_id) {
  return guarded("thread_messages", [&] {
    std::vector<message_row> out;
    auto s = impl_->stmt(sql::thread_messages);
    s.integer(1, thread_id);
    while (s->executeStep()) out.push_back(read_message(*s));
    return out;
  });
}

std::vector<message_row> store::messages_by_message_id(std::string_view message_id) {
  return guarded("messages_by_message_id", [&] {
    std::vector<message_row> out;
    auto s = impl_->stmt(sql::messages_by_message_id);
    s.text(1, message_id);
    while (s->executeStep()) out.push_back(read_message(*s));
    return out;
  });
}

std::vector<outbox_row> store::outbox_for_inbound(std::int64_t inbound_id) {
  return guarded("outbox_for_inbound", [&] {
    std::vector<outbox_row> out;
    auto s = impl_->stmt(sql::outbox_for_inbound);
    s.integer(1, inbound_id);
    while (s->executeStep()) out.push_back(read_outbox(*s));
    return out;
  });
}

bool store::is_participant(std::int64_t thread_id, std::string_view address) {
  if (address.empty()) return false;
  return guarded("is_participant", [&] {
    auto s = impl_->stmt(sql::is_participant);
    s.integer(1, thread_id);
    s.text(2, address);
    s->executeStep();
    return s->getColumn(0).getInt() != 0;
  });
}

std::int64_t store::record_outbound(const message_row& row) {
  return guarded("record_outbound", [&] {
    const auto created = row.created_at != 0 ? row.created_at : now_seconds();
    write_scope w(*impl_);
    {
      auto s = impl_->stmt(sql::record_outbound);
      s.id_or_null(1, row.thread_id);
      s.text(2, row.message_id);
      s.text(3, row.from_address);
      s.text(4, row.subject);
      s.text(5, row.decision);
      s.text(6, row.reason);
      s.text(7, row.category);
      s->bind(8, row.confidence);
      s.text(9, row.language);
      s.text(10, row.keywords);
      s.text(11, row.body);
      s.integer(12, created);
      s->exec();
    }
    const auto id = impl_->db.getLastInsertRowid();
    impl_->touch_thread(row.thread_id, created);
    w.commit();
    return id;
  });
}

// --- Agents -----------------------------------------------------------------------------------

void store::set_thread_assignee(std::int64_t id, std::string_view assignee) {
  guarded("set_thread_assignee", [&] {
    auto s = impl_->stmt(sql::set_assignee);
    s.integer(1, id);
    s.text(2, assignee);
    s.integer(3, now_seconds());
    require_changed(s->exec(), "set_thread_assignee", "thread", id);
  });
}

void store::set_thread_priority(std::int64_t id, int priority) {
  guarded("set_thread_priority", [&] {
    auto s = impl_->stmt(sql::set_priority);
    s.integer(1, id);
    s.integer(2, priority);
    require_changed(s->exec(), "set_thread_priority", "thread", id);
  });
}

std::int64_t store::add_note(std::int64_t thread_id, std::string_view author,
                             std::string_view text) {
  return guarded("add_note", [&] {
    {
      auto s = impl_->stmt(sql::thread_exists);
      s.integer(1, thread_id);
      require_changed(s->executeStep() ? 1 : 0, "add_note", "thread", thread_id);
    }
    auto s = impl_->stmt(sql::insert_note);
    s.integer(1, thread_id);
    s.text(2, author);
    s.text(3, text);
    s.integer(4, now_seconds());
    s->exec();
    return impl_->db.getLastInsertRowid();
  });
}

std::vector<note_row> store::thread_notes(std::int64_t thread_id) {
  return guarded("thread_notes", [&] {
    std::vector<note_row> out;
    auto s = impl_->stmt(sql::thread_notes);
    s.integer(1, thread_id);
    while (s->executeStep()) {
      out.push_back(note_row{s->getColumn(0).getInt64(), s->getColumn(1).getInt64(),
                             column_text(*s, 2), column_text(*s, 3), s->getColumn(4).getInt64()});
    }
    return out;
  });
}

namespace {
std::map<std::string, std::int64_t> tally(store::impl& i, const char* query);
}  // namespace

std::vector<message_tally> store::inbound_tallies() {
  return guarded("inbound_tallies", [&] {
    std::vector<message_tally> out;
    auto s = impl_->stmt(sql::inbound_tallies);
    while (s->executeStep()) {
      out.push_back(message_tally{column_text(*s, 0), column_text(*s, 1),
                                  s->getColumn(2).getInt64()});
    }
    return out;
  });
}

std::map<std::string, std::int64_t> store::suppression_tallies() {
  return guarded("suppression_tallies", [&] { return tally(*impl_, sql::suppression_tallies); });
}

std::map<std::string, std::int64_t> store::outbox_tallies() {
  return guarded("outbox_tallies", [&] { return tally(*impl_, sql::outbox_tallies); });
}

std::map<std::string, std::int64_t> store::thread_tallies() {
  return guarded("thread_tallies", [&] { return tally(*impl_, sql::thread_tallies); });
}

namespace {
// Rows of (text key, count) as a map.
std::map<std::string, std::int64_t> tally(store::impl& i, const char* query) {
  std::map<std::string, std::int64_t> out;
  auto s = i.stmt(query);
  while (s->executeStep()) out[column_text(*s, 0)] += s->getColumn(1).getInt64();
  return out;
}
}  // namespace

// --- Outbox -----------------------------------------------------------------------------------

std::int64_t store::queue_reply(const outbox_row& row) {
  if (row.message_id.empty()) throw store_error("store: queue_reply: message_id must not be empty");
  if (row.data.size() > static_cast<std::size_t>(INT_MAX)) {
    throw store_error("store: queue_reply: message too large");
  }
  const auto recipients = join_recipients(row.recipients);
  return guarded("queue_reply", [&] {
    {
      auto s = impl_->stmt(sql::insert_outbox);
      s.id_or_null(1, row.inbound_id);
      s.id_or_null(2, row.thread_id);
      s.text(3, row.message_id);
      s.text(4, row.envelope_from);
      s.text(5, recipients);
      s->bind(6, row.data.data(), static_cast<int>(row.data.size()));
      s.integer(7, row.next_attempt_at);
      s.integer(8, now_seconds());
      if (s->exec() == 1) return impl_->db.getLastInsertRowid();
    }
    // Same Message-ID queued before (e.g. a retry after a crash): that row is the reply.
    auto s = impl_->stmt(sql::outbox_id_by_message_id);
    s.text(1, row.message_id);
    if (!s->executeStep()) throw store_error("store: queue_reply: row vanished after conflict");
    return s->getColumn(0).getInt64();
  });
}

void store::release_memory() { sqlite3_db_release_memory(impl_->db.getHandle()); }

std::vector<outbox_row> store::due_outbox(std::int64_t now, std::size_t limit, std::size_t shard,
                                          std::size_t shards) {
  return guarded("due_outbox", [&] {
    std::vector<outbox_row> out;
    auto s = impl_->stmt(sql::due_outbox);
    s.integer(1, now);
    s.integer(2, sql_limit(limit));
    s.integer(3, static_cast<std::int64_t>(shards));
    s.integer(4, static_cast<std::int64_t>(shard));
    while (s->executeStep()) out.push_back(read_outbox(*s));
    return out;
  });
}

std::size_t store::outbox_depth() {
  return guarded("outbox_depth", [&] {
    auto s = impl_->stmt(sql::outbox_depth);
    s->executeStep();
    return static_cast<std::size_t>(s->getColumn(0).getInt64());
  });
}

void store::mark_sent(std::int64_t outbox_id, std::int64_t now) {
  guarded("mark_sent", [&] {
    auto s = impl_->stmt(sql::mark_sent);
    s.integer(1, outbox_id);
    s.integer(2, now);
    require_changed(s->exec(), "mark_sent", "outbox row", outbox_id);
  });
}

void store::mark_send_failed(std::int64_t outbox_id, std::string_view error, bool permanent,
                             std::int64_t next_attempt_at) {
  guarded("mark_send_failed", [&] {
    {
      auto s = impl_->stmt(sql::mark_send_failed);
      s.integer(1, outbox_id);
      s.text(2, error);
      s.integer(3, permanent ? 1 : 0);
      s.integer(4, next_attempt_at);
      if (s->exec() == 1) return;
    }
    // A row already sent or failed keeps its final state; only a missing row is an error.
    auto s = impl_->stmt(sql::outbox_exists);
    s.integer(1, outbox_id);
    if (!s->executeStep()) {
      throw store_error("store: mark_send_failed: no outbox row with id " +
                        std::to_string(outbox_id));
    }
  });
}

bool store::reply_pending(std::int64_t inbound_id) {
  return guarded("reply_pending", [&] {
    auto s = impl_->stmt(sql::reply_pending);
    s.integer(1, inbound_id);
    s->executeStep();
    return s->getColumn(0).getInt() != 0;
  });
}

std::int64_t store::replies_to_since(std::string_view address, std::int64_t since,
                                     std::string_view category) {
  return guarded("replies_to_since", [&] {
    auto s = impl_->stmt(sql::replies_to_since);
    s.text(1, address);
    s.integer(2, since);
    s.text(3, category);
    s->executeStep();
    return s->getColumn(0).getInt64();
  });
}

std::int64_t store::sent_since(std::int64_t since) {
  return guarded("sent_since", [&] {
    auto s = impl_->stmt(sql::sent_since);
    s.integer(1, since);
    s->executeStep();
    return s->getColumn(0).getInt64();
  });
}

}  // namespace supportd::store
