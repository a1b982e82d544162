#include "detail/aho_corasick.hpp"

#include <algorithm>
#include <deque>

namespace supportd::classifier::detail {

std::uint32_t aho_corasick::add(std::string_view pattern) {
  std::uint32_t state = 0;
  for (const char ch : pattern) {
    const auto byte = static_cast<unsigned char>(ch);
    const auto& out = nodes_[state].edges;
    const auto it =
        std::find_if(out.begin(), out.end(), [&](const edge& e) { return e.byte == byte; });
    if (it != out.end()) {
      state = it->target;
      continue;
    }
    const auto created = static_cast<std::uint32_t>(nodes_.size());
    nodes_[state].edges.push_back({byte, created});
    nodes_.emplace_back();
    state = created;
  }
  if (nodes_[state].pattern == no_pattern) {
    nodes_[state].pattern = static_cast<std::uint32_t>(lengths_.size());
    lengths_.push_back(pattern.size());
  }
  return nodes_[state].pattern;
}

void aho_corasick::build() {
  byte_class_.fill(0);
  classes_ = 1;
  for (const node& n : nodes_) {
    for (const edge& e : n.edges) {
      if (byte_class_[e.byte] == 0) byte_class_[e.byte] = static_cast<std::uint16_t>(classes_++);
    }
  }
  delta_.assign(nodes_.size() * classes_, 0);
  output_node_.assign(nodes_.size(), 0);

  // Breadth-first, so a state's failure target (always shallower) is complete before it.
  std::deque<std::uint32_t> queue;
  for (const edge& e : nodes_[0].edges) {
    delta_[byte_class_[e.byte]] = e.target;
    queue.push_back(e.target);
  }
  while (!queue.empty()) {
    const std::uint32_t s = queue.front();
    queue.pop_front();
    node& n = nodes_[s];
    const std::uint32_t f = n.fail;
    n.dict_link = nodes_[f].pattern != no_pattern ? f : nodes_[f].dict_link;
    output_node_[s] = n.pattern != no_pattern ? s : n.dict_link;
    // Missing transitions behave as the failure state's.
    std::copy_n(delta_.begin() + static_cast<std::ptrdiff_t>(f * classes_), classes_,
                delta_.begin() + static_cast<std::ptrdiff_t>(s * classes_));
    for (const edge& e : n.edges) {
      nodes_[e.target].fail = delta_[f * classes_ + byte_class_[e.byte]];
      delta_[s * classes_ + byte_class_[e.byte]] = e.target;
      queue.push_back(e.target);
    }
    n.edges.clear();
    n.edges.shrink_to_fit();
  }
  nodes_[0].edges.clear();
  nodes_[0].edges.shrink_to_fit();
}

}  // namespace supportd::classifier::detail
