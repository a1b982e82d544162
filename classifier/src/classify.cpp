// classify(): one automaton pass over the normalised subject and body, scores per category,
// a confidence from the winner's score and its lead.
//
// The hot path reuses thread-local buffers, so a call allocates little beyond its result.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "detail/rules_impl.hpp"
#include "detail/text.hpp"
#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

enum class field : std::uint8_t { subject, body };

struct match {
  std::uint32_t pattern;
  std::uint32_t begin;
  std::uint32_t end;
};

struct contribution {
  std::uint32_t keyword;
  field where;
  double weight;
};

// English keywords match whole words, allowing the plain inflections customers write
// ("fee" → "fees", "charge" → "charged", "lock" → "locking") but not other words that
// merely start the same ("fee" ≠ "feel").
bool ends_on_word_boundary(std::string_view text, std::size_t end) {
  if (end >= text.size() || !detail::is_word_byte(static_cast<unsigned char>(text[end])))
    return true;
  static constexpr std::array<std::string_view, 5> suffixes{"s", "es", "d", "ed", "ing"};
  for (const std::string_view suffix : suffixes) {
    const std::size_t after = end + suffix.size();
    if (text.substr(end, suffix.size()) == suffix &&
        (after >= text.size() || !detail::is_word_byte(static_cast<unsigned char>(text[after])))) {
      return true;
    }
  }
  return false;
}

// Finds keyword matches in one field. Where matches overlap, a match inside a longer one is
// dropped: "支付密码" (a PIN, password_reset) then does not also count as "支付" (payment),
// which lets operators express context with phrases instead of code.
void find_matches(const rules::impl& r, std::string_view text, std::vector<match>& out) {
  out.clear();
  r.automaton.scan(text, [&](std::uint32_t id, std::size_t begin, std::size_t end) {
    const auto& p = r.patterns[id];
    if (p.word_start && begin > 0 &&
        detail::is_word_byte(static_cast<unsigned char>(text[begin - 1])))
      return;
    if (p.word_end && !ends_on_word_boundary(text, end)) return;
    out.push_back({id, static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end)});
  });
  std::sort(out.begin(), out.end(), [](const match& a, const match& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::uint32_t covered_to = 0;
  std::size_t kept = 0;
  for (const match& m : out) {
    if (kept > 0 && m.end <= covered_to) continue;
    covered_to = m.end;
    out[kept++] = m;
  }
  out.resize(kept);
}

// "Re:"-style prefixes mark a reply, whose subject names the old topic rather than this mail's.
bool strip_reply_prefixes(std::string_view& subject) {
  static constexpr std::array<std::string_view, 9> prefixes{
      "re:", "aw:", "sv:", "fw:", "fwd:", "回复:", "答复:", "转发:", "回覆:"};
  bool reply = false;
  for (bool again = true; again;) {
    again = false;
    while (subject.starts_with(' ')) subject.remove_prefix(1);
    for (const std::string_view prefix : prefixes) {
      if (subject.starts_with(prefix)) {
        subject.remove_prefix(prefix.size());
        reply = again = true;
        break;
      }
    }
  }
  return reply;
}

void score_field(const rules::impl& r, std::vector<match>& matches, field where, double multiplier,
                 std::vector<double>& scores, std::vector<contribution>& contributions) {
  std::sort(matches.begin(), matches.end(),
            [](const match& a, const match& b) { return a.pattern < b.pattern; });
  for (std::size_t i = 0; i < matches.size();) {
    std::size_t j = i;
    while (j < matches.size() && matches[j].pattern == matches[i].pattern) ++j;
    // Repeating a word (an angry "frozen frozen frozen") adds little information.
    const auto count = static_cast<double>(
        std::min<std::int64_t>(static_cast<std::int64_t>(j - i), r.max_repeats));
    for (const std::uint32_t k : r.patterns[matches[i].pattern].keywords) {
      const auto& kw = r.keywords[k];
      const double w = kw.weight * count * multiplier;
      scores[kw.category] += w;
      contributions.push_back({k, where, w});
    }
    i = j;
  }
}

}  // namespace

classification classify(const rules& rs, std::string_view subject, std::string_view body) {
  const rules::impl& r = rs.get();
  thread_local std::string subject_text;
  thread_local std::string body_text;
  thread_local std::vector<match> matches;
  thread_local std::vector<double> scores;
  thread_local std::vector<contribution> contributions;

  // The language is counted on the way where normalisation goes character by character.
  detail::script_counts counts;
  const bool subject_counted = detail::normalize_and_count(subject, subject_text, counts);
  const bool counted = detail::normalize_and_count(body, body_text, counts) && subject_counted;
  std::string_view subject_view = subject_text;
  const bool reply = strip_reply_prefixes(subject_view);

  scores.assign(r.categories.size(), 0.0);
  contributions.clear();
  find_matches(r, subject_view, matches);
  score_field(r, matches, field::subject, reply ? r.reply_subject_weight : r.subject_weight, scores,
              contributions);
  find_matches(r, body_text, matches);
  score_field(r, matches, field::body, 1.0, scores, contributions);

  // Winner: highest score, then higher priority, then earlier in the file.
  std::size_t best = r.general;
  double best_score = 0;
  double runner_up = 0;
  for (std::size_t c = 0; c < scores.size(); ++c) {
    const double s = std::max(scores[c], 0.0);
    const bool better = s > best_score || (s == best_score && s > 0 &&
                                           r.categories[c].priority > r.categories[best].priority);
    if (better) {
      runner_up = std::max(runner_up, best_score);
      best = c;
      best_score = s;
    } else {
      runner_up = std::max(runner_up, s);
    }
  }

  classification result;
  result.language = counted ? detail::language_of(counts) : detect_language(subject, body);
  if (body_text.capacity() > 256 * 1024) body_text = {};  // a huge body's buffer is not kept
  // Strength grows with the score (0.5 at half_confidence_score); a narrow lead over the
  // runner-up halves it at worst, since two close categories mean the mail is ambiguous.
  if (best_score > 0) {
    const double strength = best_score / (best_score + r.half_confidence_score);
    const double lead = (best_score - runner_up) / best_score;
    result.confidence = strength * (0.5 + 0.5 * lead);
  }
  if (best_score <= 0 || result.confidence < r.min_confidence) {
    result.category = r.categories[r.general].id;
    result.low_confidence = true;
    result.escalate = true;
  } else {
    result.category = r.categories[best].id;
    result.escalate = r.categories[best].escalate;
  }

  // The hits of the best-scoring category are reported even when it was not sure enough,
  // so an agent sees what the classifier was leaning to.
  if (best_score > 0) {
    const auto hits = static_cast<std::size_t>(
        std::count_if(contributions.begin(), contributions.end(),
                      [&](const contribution& c) { return r.keywords[c.keyword].category == best; }));
    result.keywords.reserve(hits);
    for (const contribution& c : contributions) {
      if (r.keywords[c.keyword].category != best) continue;
      result.keywords.push_back(
          {r.keywords[c.keyword].text, c.where == field::subject ? "subject" : "body", c.weight});
    }
    // Strongest first, ties in order of discovery: a stable insertion sort (a handful of hits;
    // std::stable_sort would allocate a buffer for them).
    auto& k = result.keywords;
    for (std::size_t i = 1; i < k.size(); ++i) {
      for (std::size_t j = i; j > 0 && k[j - 1].weight < k[j].weight; --j) std::swap(k[j - 1], k[j]);
    }
  }
  return result;
}

}  // namespace supportd::classifier
