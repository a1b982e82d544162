#pragma once
// The compiled form of a rules file, shared read-only by every classify() call.

#include <cstdint>
#include <string>
#include <vector>

#include "detail/aho_corasick.hpp"
#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {

struct rules::impl {
  struct category {
    std::string id;
    std::string name_zh;
    std::string name_en;
    bool escalate = false;
    std::int64_t priority = 0;  // breaks ties between equal scores; higher wins
  };
  struct keyword {
    std::string text;  // as written, for classification::keywords
    std::uint32_t category = 0;
    double weight = 1;
  };
  // One automaton pattern (a normalised keyword) may belong to several categories.
  struct pattern {
    bool word_start = false;  // starts with an ASCII letter/digit: needs a word boundary before
    bool word_end = false;    // ends with one: needs a boundary (or a plain suffix) after
    std::vector<std::uint32_t> keywords;
  };

  std::vector<category> categories;
  std::vector<std::string> ids;  // categories[i].id, for rules::categories()
  std::vector<keyword> keywords;
  std::vector<pattern> patterns;  // indexed by automaton pattern id
  detail::aho_corasick automaton;
  std::uint32_t general = 0;  // index of "general"

  double min_confidence = 0.3;
  double subject_weight = 2.0;
  double reply_subject_weight = 0.5;
  double half_confidence_score = 3.0;
  std::int64_t max_repeats = 2;
};

}  // namespace supportd::classifier
