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

  /// Calls on_match(pattern_id, begin, end) for every occurrence, in order of `end`,
  /// longest first among matches that end at the same byte.
  template <class F>
  void scan(std::string_view text, F&& on_match) const {
    std::uint32_t state = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      state = delta_[state * classes_ + byte_class_[static_cast<unsigned char>(text[i])]];
      for (std::uint32_t s = output_node_[state]; s != 0; s = nodes_[s].dict_link) {
        const std::uint32_t id = nodes_[s].pattern;
        on_match(id, i + 1 - lengths_[id], i + 1);
      }
    }
  }

 private:
  struct edge {
    unsigned char byte;
    std::uint32_t target;
  };
  struct node {
    std::vector<edge> edges;  // trie edges, only while building
    std::uint32_t fail = 0;
    std::uint32_t pattern = no_pattern;  // pattern ending exactly here
    std::uint32_t dict_link = 0;         // nearest proper suffix node that ends a pattern
  };

  // A full DFA (one table lookup per byte, no failure-link walks) over byte classes: bytes
  // that occur in no pattern share class 0, which keeps the table small.
  std::vector<node> nodes_{1};
  std::array<std::uint16_t, 256> byte_class_{};
  std::size_t classes_ = 1;
  std::vector<std::uint32_t> delta_;        // [state * classes_ + class] → next state
  std::vector<std::uint32_t> output_node_;  // first node reporting a match in this state, 0 = none
  std::vector<std::size_t> lengths_;
};

}  // namespace supportd::classifier::detail
