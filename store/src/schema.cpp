#include "detail/schema.hpp"

#include <array>

namespace supportd::store::detail {

namespace {

// Version 1: the initial schema. STRICT tables so a wrong type is an error, not a silent
// coercion (SQLite >= 3.37; bookworm ships 3.40).
constexpr std::string_view v1 = R"sql(
-- Current UIDVALIDITY of each IMAP mailbox (RFC 3501 §2.3.1.1).
CREATE TABLE mailboxes (
  name        TEXT PRIMARY KEY,
  uidvalidity INTEGER NOT NULL
) STRICT;

-- Highest UID seen per (mailbox, UIDVALIDITY): a UID only means something with its validity,
-- so rows of an old validity stay for history and are never consulted again.
CREATE TABLE mailbox_uids (
  mailbox       TEXT NOT NULL,
  uidvalidity   INTEGER NOT NULL,
  last_seen_uid INTEGER NOT NULL,
  PRIMARY KEY (mailbox, uidvalidity)
) STRICT, WITHOUT ROWID;

CREATE TABLE threads (
  id               INTEGER PRIMARY KEY,
  ticket           TEXT UNIQUE,  -- assigned from id right after the insert
  customer_address TEXT NOT NULL DEFAULT '',
  customer_name    TEXT NOT NULL DEFAULT '',
  subject          TEXT NOT NULL DEFAULT '',
  category         TEXT NOT NULL DEFAULT '',
  language         TEXT NOT NULL DEFAULT '',
  status           TEXT NOT NULL CHECK (status IN
                     ('open', 'auto_replied', 'escalated', 'suppressed', 'resolved')),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX threads_status_updated ON threads (status, updated_at);
CREATE INDEX threads_updated ON threads (updated_at);

-- Messages of threads, in and out. Inbound rows are also the ledger, keyed by
-- (mailbox, uidvalidity, uid); outbound rows leave those NULL (NULLs never collide in UNIQUE).
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY,
  thread_id    INTEGER REFERENCES threads (id),
  direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  message_id   TEXT NOT NULL DEFAULT '',
  from_address TEXT NOT NULL DEFAULT '',
  subject      TEXT NOT NULL DEFAULT '',
  decision     TEXT NOT NULL DEFAULT '',
  reason       TEXT NOT NULL DEFAULT '',
  category     TEXT NOT NULL DEFAULT '',
  confidence   REAL NOT NULL DEFAULT 0,
  language     TEXT NOT NULL DEFAULT '',
  keywords     TEXT NOT NULL DEFAULT '',
  body         TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  mailbox      TEXT,
  uidvalidity  INTEGER,
  uid          INTEGER,
  state        TEXT CHECK (state IN ('seen', 'decided', 'flagged', 'quarantined')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  UNIQUE (mailbox, uidvalidity, uid),
  CHECK ((direction = 'in') = (mailbox IS NOT NULL AND uidvalidity IS NOT NULL
                               AND uid IS NOT NULL AND state IS NOT NULL))
) STRICT;
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_ledger ON messages (mailbox, uidvalidity, state, uid);
CREATE INDEX messages_thread ON messages (thread_id);

-- Replies waiting for the SMTP server to accept them.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  inbound_id      INTEGER REFERENCES messages (id),  -- NULL for agent replies
  thread_id       INTEGER REFERENCES threads (id),
  message_id      TEXT NOT NULL UNIQUE CHECK (message_id != ''),
  envelope_from   TEXT NOT NULL,  -- '' is the null reverse-path <>
  recipients      TEXT NOT NULL,  -- one address per line
  data            BLOB NOT NULL,  -- the full RFC 5322 message, bytes as given
  state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_inbound ON outbox (inbound_id);
)sql";

// Version 2: indexes for the flood limits (replies per customer address, sends per minute).
constexpr std::string_view v2 = R"sql(
CREATE INDEX threads_customer ON threads (customer_address COLLATE NOCASE);
CREATE INDEX outbox_thread ON outbox (thread_id);
CREATE INDEX outbox_sent ON outbox (state, sent_at);
)sql";

// Version 3: the agents' page: assignee and priority of a thread, internal notes.
constexpr std::string_view v3 = R"sql(
ALTER TABLE threads ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE threads ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE TABLE notes (
  id         INTEGER PRIMARY KEY,
  thread_id  INTEGER NOT NULL REFERENCES threads (id),
  author     TEXT NOT NULL DEFAULT '',
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_thread ON notes (thread_id);
-- /metrics counts messages by decision and category without reading every row.
CREATE INDEX messages_decision ON messages (direction, decision, category);
)sql";

constexpr std::array<std::string_view, 3> all = {v1, v2, v3};

}  // namespace

std::span<const std::string_view> migrations() { return all; }

}  // namespace supportd::store::detail
