#pragma once
// What the agents' page may do with the store: a narrow interface, so the handler is tested
// over a real store or a fake, and the web server uses its own store connection.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supportd/store/store.hpp"

namespace supportd::web {

/// Store-derived counts for /metrics.
struct desk_counts {
  std::vector<store::message_tally> inbound;         // by decision and category
  std::map<std::string, std::int64_t> suppressions;  // by rule
  std::map<std::string, std::int64_t> outbox;        // by state
  std::map<std::string, std::int64_t> threads;       // by status
};

class desk {
 public:
  virtual ~desk() = default;
  /// Threads in one status (all when nullopt), most recently updated first.
  [[nodiscard]] virtual std::vector<store::thread_row> threads(
      std::optional<store::thread_status> status, std::size_t limit) = 0;
  [[nodiscard]] virtual std::optional<store::thread_row> thread(std::int64_t id) = 0;
  [[nodiscard]] virtual std::vector<store::message_row> messages(std::int64_t thread_id) = 0;
  [[nodiscard]] virtual std::vector<store::note_row> notes(std::int64_t thread_id) = 0;
  virtual void assign(std::int64_t thread_id, std::string_view assignee) = 0;
  virtual void add_note(std::int64_t thread_id, std::string_view author, std::string_view text) = 0;
  virtual void set_status(std::int64_t thread_id, store::thread_status status) = 0;
  /// Queues an agent's reply and records it in the thread, atomically.
  virtual void queue_agent_reply(const store::outbox_row& reply,
                                 const store::message_row& sent) = 0;
  [[nodiscard]] virtual desk_counts counts() = 0;
};

/// The desk over a store connection (not owned; used from one thread at a time).
class store_desk final : public desk {
 public:
  explicit store_desk(store::store& db) : db_(db) {}
  std::vector<store::thread_row> threads(std::optional<store::thread_status> status,
                                         std::size_t limit) override;
  std::optional<store::thread_row> thread(std::int64_t id) override;
  std::vector<store::message_row> messages(std::int64_t thread_id) override;
  std::vector<store::note_row> notes(std::int64_t thread_id) override;
  void assign(std::int64_t thread_id, std::string_view assignee) override;
  void add_note(std::int64_t thread_id, std::string_view author, std::string_view text) override;
  void set_status(std::int64_t thread_id, store::thread_status status) override;
  void queue_agent_reply(const store::outbox_row& reply, const store::message_row& sent) override;
  desk_counts counts() override;

 private:
  store::store& db_;
};

}  // namespace supportd::web
