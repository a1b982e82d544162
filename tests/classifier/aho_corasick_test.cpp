// The automaton against a brute-force search: every occurrence (texts long enough for the
// two-lane scan included).
#include "detail/aho_corasick.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace supportd::classifier::detail {
namespace {

using hit = std::tuple<std::size_t, std::size_t, std::uint32_t>;  // end, -length, id

TEST(classifier_aho_corasick, SameAsBruteForce) {
  std::mt19937 rng(3);
  const std::string alphabet = "ab\xE4\xB8\xAD ";
  for (int round = 0; round < 300; ++round) {
    aho_corasick ac;
    std::vector<std::string> patterns;
    const std::size_t count = 1 + rng() % 40;
    for (std::size_t k = 0; k < count; ++k) {
      std::string p;
      const std::size_t len = 1 + rng() % 6;
      for (std::size_t j = 0; j < len; ++j) p.push_back(alphabet[rng() % alphabet.size()]);
      const std::uint32_t id = ac.add(p);
      if (id == patterns.size()) patterns.push_back(p);
      ASSERT_EQ(patterns[id], p);
    }
    ac.build();
    std::string text;
    const std::size_t len = rng() % 400;
    for (std::size_t j = 0; j < len; ++j) text.push_back(alphabet[rng() % alphabet.size()]);

    std::vector<hit> expected;
    for (std::size_t end = 1; end <= text.size(); ++end) {
      std::vector<hit> here;
      for (std::uint32_t id = 0; id < patterns.size(); ++id) {
        const std::string& p = patterns[id];
        if (p.size() <= end && text.compare(end - p.size(), p.size(), p) == 0) {
          here.emplace_back(end, p.size(), id);
        }
      }
      std::sort(here.begin(), here.end(), [](const hit& a, const hit& b) { return std::get<1>(a) > std::get<1>(b); });
      expected.insert(expected.end(), here.begin(), here.end());
    }
    std::vector<hit> actual;
    ac.scan(text, [&](std::uint32_t id, std::size_t begin, std::size_t end) {
      actual.emplace_back(end, end - begin, id);
    });
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    ASSERT_EQ(expected, actual) << "round " << round;
  }
}

}  // namespace
}  // namespace supportd::classifier::detail
