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

  /// Calls on_match(pattern_id, begin, end) for every occurrence, in no particular order.
  ///
  /// A scan is a chain of dependent table reads, one per byte, so it is bound by their latency.
  /// A longer text is scanned as two halves at once: the second lane starts a longest pattern's
  /// length before the middle (from there its state equals the one-lane state, which never
  /// remembers more than that many bytes) and reports only what ends after the middle.
  template <class F>
  void scan(std::string_view text, F&& on_match) const {
    const std::size_t n = text.size();
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    auto report = [&](std::uint32_t code, std::size_t end) {
      for (std::uint32_t s = states_[code >> 1].output; s != 0; s = dict_link_[s]) {
        const std::uint32_t id = pattern_[s];
        on_match(id, end - lengths_[id], end);
      }
    };
    std::uint32_t a = 0;  // state codes: state << 1 | (whether the state reports a match)
    std::size_t i = 0;
    if (n >= 2 * max_length_ + 64) {
      const std::size_t mid = n / 2;
      std::uint32_t b = 0;
      std::size_t j = mid - max_length_;
      for (; i < mid; ++i, ++j) {
        a = next(a >> 1, byte_class_[bytes[i]]);
        b = next(b >> 1, byte_class_[bytes[j]]);
        if ((a & 1U) != 0) report(a, i + 1);
        if ((b & 1U) != 0 && j >= mid) report(b, j + 1);
      }
      i = j;
      a = b;
    }
    for (; i < n; ++i) {
      a = next(a >> 1, byte_class_[bytes[i]]);
      if ((a & 1U) != 0) report(a, i + 1);
    }
  }

 private:
  // The code of the state after `state` reads a byte of class `c`.
  [[nodiscard]] std::uint32_t next(std::uint32_t state, std::uint16_t c) const {
    while (state >= dense_states_) {
      // A deep state: its own trie edges, else the failure link (which is shallower).
      const state_info& info = states_[state];
      if (info.edge_count == 1) {  // most deep states: the edge is in the record itself
        if (info.first_class == c) return info.edges;
      } else {
        const edge* e = edges_.data() + info.edges;
        const edge* end = e + info.edge_count;
        for (; e != end; ++e) {
          if (e->byte_class == c) return e->target;
        }
      }
      state = info.fail;
    }
    const std::size_t at = state * classes_ + c;
    return narrow_ ? delta16_[at] : delta32_[at];
  }

  struct edge {
    std::uint16_t byte_class;
    std::uint32_t target;  // state code
  };
  // What a scan reads about a state, in one 16-byte record.
  struct state_info {
    std::uint32_t output = 0;  // first state reporting a match here, 0 = none
    std::uint32_t fail = 0;
    std::uint32_t edges = 0;         // deep states: one edge's target code, or where in edges_
    std::uint16_t first_class = 0;   // the byte class of a single edge
    std::uint16_t edge_count = 0;
  };
  struct trie_node {
    std::vector<std::pair<unsigned char, std::uint32_t>> edges;
    std::uint32_t pattern = no_pattern;
  };

  // States are numbered breadth-first. The shallow ones, where a scan spends most of its
  // time, get full DFA rows (one table lookup per byte); the deep ones keep only their trie
  // edges and a failure link. A full DFA over all states (thousands of states × ~100 byte
  // classes × 4 bytes, megabytes) missed the CPU caches on most bytes once parsing ran
  // between two classify() calls; this layout takes tens of kilobytes. Transitions hold state
  // codes (state << 1 | reports a match), 16-bit while they fit, so a byte costs one small
  // table read and no lookup of whether to report.
  static constexpr std::size_t dense_depth = 2;

  std::vector<trie_node> trie_{1};  // only while building
  std::array<std::uint16_t, 256> byte_class_{};
  std::size_t classes_ = 1;           // bytes that occur in no pattern share class 0
  std::uint32_t dense_states_ = 0;    // states [0, dense_states_) have rows in delta16_ or delta32_
  bool narrow_ = true;                  // codes fit in 16 bits: delta16_, else delta32_
  std::vector<std::uint16_t> delta16_;  // [state * classes_ + class] → next state's code
  std::vector<std::uint32_t> delta32_;
  std::vector<state_info> states_;
  std::vector<edge> edges_;
  std::vector<std::uint32_t> pattern_;    // pattern ending exactly at the state, or no_pattern
  std::vector<std::uint32_t> dict_link_;  // nearest proper suffix state that ends a pattern
  std::vector<std::size_t> lengths_;
  std::size_t max_length_ = 0;  // of the longest pattern
};

}  // namespace supportd::classifier::detail
