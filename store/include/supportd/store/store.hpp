#pragma once
// The thread log and message ledger (SQLite, WAL, versioned schema).
//
// Every inbound message is a ledger row keyed by (mailbox, uidvalidity, uid) that moves through
//   seen → decided → (reply queued → sent) → flagged
// so that a restart resumes each message where it stopped. Replies wait in an outbox table until
// the SMTP server accepted them. All methods throw store_error on database failure; callers catch
// at the component boundary.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::store {

struct store_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class thread_status { open, auto_replied, escalated, suppressed, resolved };
[[nodiscard]] std::string_view to_string(thread_status s);
[[nodiscard]] std::optional<thread_status> thread_status_from(std::string_view s);

/// Where an inbound message is in its life.
enum class inbound_state { seen, decided, flagged, quarantined };
[[nodiscard]] std::string_view to_string(inbound_state s);

enum class outbox_state { queued, sent, failed };
[[nodiscard]] std::string_view to_string(outbox_state s);

struct inbound_key {
  std::string mailbox;
  std::int64_t uidvalidity = 0;
  std::int64_t uid = 0;
  auto operator<=>(const inbound_key&) const = default;
};

/// Prefix of every ticket: a ticket is this prefix and the thread id padded to 6 digits
/// ("OK-000042", written "[#OK-000042]" in subjects). Stored, so old tickets stay valid.
inline constexpr std::string_view ticket_prefix = "OK-";

struct thread_row {
  std::int64_t id = 0;
  std::string ticket;  // "[#ticket]" tag value, unique
  std::string customer_address;
  std::string customer_name;
  std::string subject;
  std::string category;
  std::string language;
  thread_status status = thread_status::open;
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t updated_at = 0;
  std::string assignee;  // agent the thread is assigned to ("" = nobody)
  int priority = 0;      // higher is more urgent; 0 is normal
};

/// An agent's internal note on a thread (never sent to the customer).
struct note_row {
  std::int64_t id = 0;
  std::int64_t thread_id = 0;
  std::string author;
  std::string text;
  std::int64_t created_at = 0;
};

/// Number of inbound messages with one decision and category (for /metrics).
struct message_tally {
  std::string decision;
  std::string category;
  std::int64_t count = 0;
};

/// A message of a thread, in or out.
struct message_row {
  std::int64_t id = 0;
  std::int64_t thread_id = 0;    // 0 when not in a thread (e.g. suppressed machine mail)
  std::string direction;         // "in" or "out"
  std::string message_id;        // without angle brackets
  std::string from_address;
  std::string subject;
  std::string decision;          // "auto_reply", "escalate", "suppress", "quarantine", "agent_reply"
  std::string reason;            // why (guard rule, classifier, thread rule, error)
  std::string category;
  double confidence = 0;
  std::string language;
  std::string keywords;          // comma-separated matched keywords
  std::string body;              // decoded text (what an agent reads)
  std::int64_t created_at = 0;
  // Inbound only:
  std::optional<inbound_key> key;
  std::optional<inbound_state> state;
  int attempts = 0;              // processing attempts (poison-message counter)
};

struct outbox_row {
  std::int64_t id = 0;
  std::int64_t inbound_id = 0;     // message_row id of the message answered (0 for agent replies)
  std::int64_t thread_id = 0;
  std::string message_id;          // of the reply; unique, derived from the inbound Message-ID
  std::string envelope_from;       // "" for the null reverse-path <>
  std::vector<std::string> recipients;
  std::string data;                // the full RFC 5322 message, CRLF
  outbox_state state = outbox_state::queued;
  int attempts = 0;
  std::int64_t next_attempt_at = 0;
  std::string last_error;
};

class store {
 public:
  /// Opens (creating or migrating) the database. Throws store_error.
  explicit store(const std::filesystem::path& path);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// A BEGIN IMMEDIATE transaction; rolls back unless commit() is called.
  class transaction {
   public:
    explicit transaction(store& s);
    ~transaction();
    void commit();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

   private:
    store& s_;
    bool done_ = false;
  };

  [[nodiscard]] int schema_version() const;

  // --- Mailbox sync state (RFC 3501 §2.3.1.1: a UID means something only with its UIDVALIDITY).
  [[nodiscard]] std::optional<std::int64_t> mailbox_uidvalidity(std::string_view mailbox);
  void set_mailbox_uidvalidity(std::string_view mailbox, std::int64_t uidvalidity);
  /// Highest UID recorded as seen for this mailbox and UIDVALIDITY (0 if none).
  [[nodiscard]] std::int64_t last_seen_uid(std::string_view mailbox, std::int64_t uidvalidity);

  // --- Inbound ledger.
  /// Inserts a `seen` row if the key is new; returns true if it was new.
  bool note_seen(const inbound_key& key);
  /// Inbound rows of this mailbox/validity still in state `seen`, lowest UID first.
  [[nodiscard]] std::vector<inbound_key> pending_inbound(std::string_view mailbox,
                                                         std::int64_t uidvalidity,
                                                         std::size_t limit);
  [[nodiscard]] std::optional<message_row> inbound(const inbound_key& key);
  /// Counts one more failed processing attempt; returns the new count.
  int note_attempt_failed(const inbound_key& key, std::string_view reason);
  /// Fills in the inbound row (from the parsed message and the decision) and moves it to
  /// `decided` (or `quarantined` when row.state says so). row.key must be set.
  std::int64_t record_inbound(const message_row& row);
  /// Inbound rows whose handling is finished (no reply pending) but not yet flagged in IMAP.
  [[nodiscard]] std::vector<message_row> unflagged(std::string_view mailbox,
                                                   std::int64_t uidvalidity, std::size_t limit);
  void mark_flagged(const inbound_key& key);

  // --- Messages and threads.
  /// Thread of any stored message (in or out) with this Message-ID.
  [[nodiscard]] std::optional<thread_row> thread_by_message_id(std::string_view message_id);
  [[nodiscard]] std::optional<thread_row> thread_by_ticket(std::string_view ticket);
  [[nodiscard]] std::optional<thread_row> thread(std::int64_t id);
  /// Whether an inbound message with this Message-ID was already decided (any mailbox).
  [[nodiscard]] bool inbound_message_id_decided(std::string_view message_id);
  /// Creates a thread; assigns id and ticket. Returns the stored row.
  thread_row create_thread(const thread_row& row);
  void set_thread_status(std::int64_t id, thread_status status);
  void set_thread_category(std::int64_t id, std::string_view category, std::string_view language);
  [[nodiscard]] std::vector<thread_row> list_threads(std::optional<thread_status> status,
                                                     std::size_t limit = 1000);
  [[nodiscard]] std::vector<message_row> thread_messages(std::int64_t thread_id);
  /// Every stored message (in or out) with this Message-ID, oldest first (what `why` explains).
  [[nodiscard]] std::vector<message_row> messages_by_message_id(std::string_view message_id);
  /// Replies queued for an inbound message, with their send attempts.
  [[nodiscard]] std::vector<outbox_row> outbox_for_inbound(std::int64_t inbound_id);
  /// Whether `address` wrote in, or was written to, in this thread.
  [[nodiscard]] bool is_participant(std::int64_t thread_id, std::string_view address);
  /// Records an outgoing message (our reply) in a thread.
  std::int64_t record_outbound(const message_row& row);

  // --- Agents (the web page).
  /// Assigns the thread to an agent ("" unassigns). Throws store_error for an unknown thread.
  void set_thread_assignee(std::int64_t id, std::string_view assignee);
  void set_thread_priority(std::int64_t id, int priority);
  /// Adds an internal note to a thread; returns its id.
  std::int64_t add_note(std::int64_t thread_id, std::string_view author, std::string_view text);
  /// Notes of a thread, oldest first.
  [[nodiscard]] std::vector<note_row> thread_notes(std::int64_t thread_id);

  // --- Counts for monitoring (each one aggregate query).
  /// Inbound messages that have a decision, by decision and category.
  [[nodiscard]] std::vector<message_tally> inbound_tallies();
  /// Suppressed inbound messages by rule: the reason up to its first ':' ("auto-submitted").
  [[nodiscard]] std::map<std::string, std::int64_t> suppression_tallies();
  /// Outbox rows by state ("queued", "sent", "failed").
  [[nodiscard]] std::map<std::string, std::int64_t> outbox_tallies();
  /// Threads by status.
  [[nodiscard]] std::map<std::string, std::int64_t> thread_tallies();

  /// Frees this connection's page cache (it refills from the OS's cache on the next query).
  void release_memory();

  // --- Outbox.
  std::int64_t queue_reply(const outbox_row& row);
  /// Queued rows due at or before `now`, oldest first. With `shards` > 1 only the rows whose id
  /// is `shard` modulo `shards`: senders working in parallel never take the same row.
  [[nodiscard]] std::vector<outbox_row> due_outbox(std::int64_t now, std::size_t limit,
                                                   std::size_t shard = 0, std::size_t shards = 1);
  [[nodiscard]] std::size_t outbox_depth();
  void mark_sent(std::int64_t outbox_id, std::int64_t now);
  /// A failed attempt: stays queued until next_attempt_at, or becomes `failed` when permanent.
  void mark_send_failed(std::int64_t outbox_id, std::string_view error, bool permanent,
                        std::int64_t next_attempt_at);
  /// Whether an inbound message still has a queued (unsent, not failed) reply.
  [[nodiscard]] bool reply_pending(std::int64_t inbound_id);

  // --- Flood limits.
  /// Auto-replies queued or sent to `address` (case-insensitive) since `since`, in `category`
  /// only when it is not empty. Agent replies and failed sends do not count.
  [[nodiscard]] std::int64_t replies_to_since(std::string_view address, std::int64_t since,
                                              std::string_view category = {});
  /// Messages the SMTP server accepted since `since` (the global send rate).
  [[nodiscard]] std::int64_t sent_since(std::int64_t since);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace supportd::store
