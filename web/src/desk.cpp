#include "supportd/web/desk.hpp"

namespace supportd::web {

std::vector<store::thread_row> store_desk::threads(std::optional<store::thread_status> status,
                                                   std::size_t limit) {
  return db_.list_threads(status, limit);
}

std::optional<store::thread_row> store_desk::thread(std::int64_t id) { return db_.thread(id); }

std::vector<store::message_row> store_desk::messages(std::int64_t thread_id) {
  return db_.thread_messages(thread_id);
}

std::vector<store::note_row> store_desk::notes(std::int64_t thread_id) {
  return db_.thread_notes(thread_id);
}

void store_desk::assign(std::int64_t thread_id, std::string_view assignee) {
  db_.set_thread_assignee(thread_id, assignee);
}

void store_desk::add_note(std::int64_t thread_id, std::string_view author, std::string_view text) {
  db_.add_note(thread_id, author, text);
}

void store_desk::set_status(std::int64_t thread_id, store::thread_status status) {
  db_.set_thread_status(thread_id, status);
}

void store_desk::queue_agent_reply(const store::outbox_row& reply, const store::message_row& sent) {
  // One transaction: the thread shows the reply exactly when the outbox holds it.
  store::store::transaction tx(db_);
  db_.queue_reply(reply);
  db_.record_outbound(sent);
  tx.commit();
}

desk_counts store_desk::counts() {
  return {db_.inbound_tallies(), db_.suppression_tallies(), db_.outbox_tallies(),
          db_.thread_tallies()};
}

}  // namespace supportd::web
