#pragma once
// Byte-level Aho-Corasick automaton: finds every occurrence of many UTF-8 patterns in one
// pass over the text, so classification stays linear in text length however many
// keywords the operators list.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::classifier::detail {

class aho_corasick {
 public:
  static constexpr std::uint32_t no_pattern = UINT32_MAX;

  /// Adds a pattern (non-empty) and returns its id; an identical pattern returns the same id.
  std::uint32_t add(std::string_view pattern);
  /// Computes failure links and freezes the automaton; call once after the last add().
  void build();

  [[nodiscard]] std::size_t pattern_count() const { return lengths_.size(); }
  [[nodiscard]] std::size_t pattern_length(std::uint32_t id) const { return lengths_[id]; }
  /// Bytes the scan tables take (for tests and sizing).
  [[nodiscard]] std::size_t table_bytes() const;

  /// Calls on_match(pattern_id, begin, end) for every occurrence, in order of `end`,
  /// longest first among matches that end at the same byte.
  template <class F>
  void scan(std::string_view text, F&& on_match) const {
    std::uint32_t state = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const std::uint16_t c = byte_class_[static_cast<unsigned char>(text[i])];
      state = next(state, c);
      for (std::uint32_t s = states_[state].output; s != 0; s = dict_link_[s]) {
        const std::uint32_t id = pattern_[s];
        on_match(id, i + 1 - lengths_[id], i + 1);
      }
    }
  }

 private:
  // The state after `state` reads a byte of class `c`.
  [[nodiscard]] std::uint32_t next(std::uint32_t state, std::uint16_t c) const {
    while (state >= dense_states_) {
      // A deep state: its own trie edges, else the failure link (which is shallower).
      const state_info& info = states_[state];
      const edge* e = edges_.data() + info.edge_begin;
      const edge* end = e + info.edge_count;
      for (; e != end; ++e) {
        if (e->byte_class == c) return e->target;
      }
      state = info.fail;
    }
    return delta_[state * classes_ + c];
  }

  struct edge {
    std::uint16_t byte_class;
    std::uint32_t target;
  };
  // What a scan reads about a state, in one 16-byte record.
  struct state_info {
    std::uint32_t output = 0;  // first state reporting a match here, 0 = none
    std::uint32_t fail = 0;
    std::uint32_t edge_begin = 0;  // deep states: trie edges in edges_
    std::uint32_t edge_count = 0;
  };
  struct trie_node {
    std::vector<std::pair<unsigned char, std::uint32_t>> edges;
    std::uint32_t pattern = no_pattern;
  };

  // States are numbered breadth-first. The shallow ones, where a scan spends most of its
  // time, get full DFA rows (one table lookup per byte); the deep ones keep only their trie
  // edges and a failure link. A full DFA over all states (thousands of states × ~100 byte
  // classes × 4 bytes, megabytes) missed the CPU caches on most bytes once parsing ran
  // between two classify() calls; this layout takes tens of kilobytes.
  static constexpr std::size_t dense_depth = 2;

  std::vector<trie_node> trie_{1};  // only while building
  std::array<std::uint16_t, 256> byte_class_{};
  std::size_t classes_ = 1;           // bytes that occur in no pattern share class 0
  std::uint32_t dense_states_ = 0;    // states [0, dense_states_) have rows in delta_
  std::vector<std::uint32_t> delta_;  // [state * classes_ + class] → next state
  std::vector<state_info> states_;
  std::vector<edge> edges_;
  std::vector<std::uint32_t> pattern_;    // pattern ending exactly at the state, or no_pattern
  std::vector<std::uint32_t> dict_link_;  // nearest proper suffix state that ends a pattern
  std::vector<std::size_t> lengths_;
};

}  // namespace supportd::classifier::detail
