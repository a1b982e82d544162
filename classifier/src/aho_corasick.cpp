#include "detail/aho_corasick.hpp"

#include <algorithm>
#include <deque>

namespace supportd::classifier::detail {

std::uint32_t aho_corasick::add(std::string_view pattern) {
  std::uint32_t state = 0;
  for (const char ch : pattern) {
    const auto byte = static_cast<unsigned char>(ch);
    const auto& out = trie_[state].edges;
    const auto it =
        std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == byte; });
    if (it != out.end()) {
      state = it->second;
      continue;
    }
    const auto created = static_cast<std::uint32_t>(trie_.size());
    trie_[state].edges.emplace_back(byte, created);
    trie_.emplace_back();
    state = created;
  }
  if (trie_[state].pattern == no_pattern) {
    trie_[state].pattern = static_cast<std::uint32_t>(lengths_.size());
    lengths_.push_back(pattern.size());
    max_length_ = std::max(max_length_, pattern.size());
  }
  return trie_[state].pattern;
}

void aho_corasick::build() {
  byte_class_.fill(0);
  classes_ = 1;
  for (const trie_node& n : trie_) {
    for (const auto& [byte, target] : n.edges) {
      if (byte_class_[byte] == 0) byte_class_[byte] = static_cast<std::uint16_t>(classes_++);
    }
  }

  // Number the states breadth-first: depth order, so the dense ones come first.
  const std::size_t n = trie_.size();
  std::vector<std::uint32_t> order;  // new id → trie index
  std::vector<std::uint32_t> id_of(n, 0);
  std::vector<std::size_t> depth(n, 0);
  order.reserve(n);
  order.push_back(0);
  dense_states_ = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::uint32_t t = order[k];
    id_of[t] = static_cast<std::uint32_t>(k);
    if (depth[t] <= dense_depth) dense_states_ = static_cast<std::uint32_t>(k + 1);
    for (const auto& [byte, target] : trie_[t].edges) {
      depth[target] = depth[t] + 1;
      order.push_back(target);
    }
  }

  pattern_.assign(n, no_pattern);
  dict_link_.assign(n, 0);
  states_.assign(n, state_info{});
  edges_.clear();
  // Trie edges of every state (by new id), sorted by byte class; kept for the deep states.
  std::vector<std::vector<edge>> trie_edges(n);
  for (std::size_t k = 0; k < n; ++k) {
    const trie_node& node = trie_[order[k]];
    pattern_[k] = node.pattern;
    for (const auto& [byte, target] : node.edges) trie_edges[k].push_back({byte_class_[byte], id_of[target]});
    std::sort(trie_edges[k].begin(), trie_edges[k].end(),
              [](const edge& a, const edge& b) { return a.byte_class < b.byte_class; });
  }
  for (std::size_t k = dense_states_; k < n; ++k) {
    states_[k].edge_count = static_cast<std::uint16_t>(trie_edges[k].size());  // <= 256 bytes
    if (trie_edges[k].size() == 1) continue;  // kept in the record, once targets are coded
    states_[k].edges = static_cast<std::uint32_t>(edges_.size());
    edges_.insert(edges_.end(), trie_edges[k].begin(), trie_edges[k].end());
  }

  // Failure links in breadth-first (= id) order: a state's failure target is shallower, so its
  // transitions are known when they are needed. Missing transitions of a dense state behave as
  // its failure state's. Built with plain state ids, coded below.
  std::vector<std::uint32_t> delta(static_cast<std::size_t>(dense_states_) * classes_, 0);
  auto transition = [&](std::uint32_t s, std::uint16_t c) {
    while (true) {
      if (s < dense_states_) return delta[s * classes_ + c];
      for (const edge& e : trie_edges[s]) {
        if (e.byte_class == c) return e.target;
      }
      s = states_[s].fail;
    }
  };
  for (std::uint32_t s = 0; s < n; ++s) {
    const std::uint32_t f = states_[s].fail;
    if (s != 0) {
      dict_link_[s] = pattern_[f] != no_pattern ? f : dict_link_[f];
      states_[s].output = pattern_[s] != no_pattern ? s : dict_link_[s];
    }
    if (s < dense_states_ && s != 0) {
      std::copy_n(delta.begin() + static_cast<std::ptrdiff_t>(f * classes_), classes_,
                  delta.begin() + static_cast<std::ptrdiff_t>(s * classes_));
    }
    for (const edge& e : trie_edges[s]) {
      states_[e.target].fail = s == 0 ? 0 : transition(f, e.byte_class);
      if (s < dense_states_) delta[s * classes_ + e.byte_class] = e.target;
    }
  }
  auto code = [&](std::uint32_t s) { return s << 1 | (states_[s].output != 0 ? 1U : 0U); };
  for (edge& e : edges_) e.target = code(e.target);
  for (std::size_t k = dense_states_; k < n; ++k) {
    if (trie_edges[k].size() != 1) continue;
    states_[k].first_class = trie_edges[k].front().byte_class;
    states_[k].edges = code(trie_edges[k].front().target);
  }
  narrow_ = n <= 0x7FFF;
  delta16_.clear();
  delta32_.clear();
  for (const std::uint32_t s : delta) {
    if (narrow_) {
      delta16_.push_back(static_cast<std::uint16_t>(code(s)));
    } else {
      delta32_.push_back(code(s));
    }
  }
  trie_.clear();
  trie_.shrink_to_fit();
}

std::size_t aho_corasick::table_bytes() const {
  return delta16_.size() * sizeof(std::uint16_t) + delta32_.size() * sizeof(std::uint32_t) +
         edges_.size() * sizeof(edge) +
         states_.size() * sizeof(state_info) +
         (pattern_.size() + dict_link_.size()) * sizeof(std::uint32_t);
}

}  // namespace supportd::classifier::detail
