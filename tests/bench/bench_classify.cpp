// Classify throughput: parse → guard → classify (daemon::evaluate, no network) over the dev
// corpus, repeated, on one thread. Prints messages/s and ns/message for the whole stage and for
// parsing and classifying alone, by wall clock and by thread CPU time (the CPU figure is the
// one that holds on a loaded machine).
//
//   bench_classify [--seconds S] [--passes N] [--corpus DIR] [--all-files] [--dump]
//
// --dump prints one line per message (every decoded field, hashed) instead of timing: diffing
// two dumps over a large corpus shows that a speed-up changed no result. --all-files takes every
// file under --corpus (as test_corpus does for ../shared/corpus/real), not only *.eml.
// --passes fixes the work; --full-only skips the per-stage runs. For a stable profile:
//   valgrind --tool=callgrind --toggle-collect='*measure*' bench_classify --passes 2 --full-only
// The last lines are "figure<TAB>name<TAB>value<TAB>unit<TAB>target" for scripts/bench.sh.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "supportd/classifier/classifier.hpp"
#include "supportd/daemon/pipeline.hpp"
#include "supportd/mime/message.hpp"

namespace fs = std::filesystem;
using namespace supportd;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The dev corpus when present (../shared), else the repository's own test messages.
std::vector<std::string> load_corpus(const fs::path& dir, bool all_files, std::string& from,
                                     std::vector<fs::path>& files) {
  auto is_message = [&](const fs::path& p) {
    const auto ext = p.extension();
    if (!all_files) return ext == ".eml";
    return ext != ".md" && ext != ".tsv" && ext != ".json";
  };
  auto collect = [&](const fs::path& root, bool recursive) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return;
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
           ++it) {
        if (it->is_directory() && it->path().filename() == "_meta") it.disable_recursion_pending();
        if (it->is_regular_file() && is_message(it->path())) files.push_back(it->path());
      }
    } else {
      for (const auto& e : fs::directory_iterator(root, ec))
        if (e.is_regular_file() && e.path().extension() == ".eml") files.push_back(e.path());
    }
  };
  if (!dir.empty()) {
    collect(dir, true);
    from = dir.string();
  } else {
    const fs::path dev = fs::path(SUPPORTD_SHARED_DIR) / "corpus" / "dev";
    collect(dev, false);
    from = dev.string();
    if (files.empty()) {
      collect(SUPPORTD_TEST_DATA, true);
      from = std::string(SUPPORTD_TEST_DATA) + " (../shared/corpus/dev absent)";
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(read_file(f));
  return out;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct timing {
  std::size_t messages = 0;
  double wall = 0;
  double cpu = 0;
  [[nodiscard]] double rate_wall() const { return static_cast<double>(messages) / wall; }
  [[nodiscard]] double rate_cpu() const { return static_cast<double>(messages) / cpu; }
  [[nodiscard]] double ns_cpu() const { return cpu * 1e9 / static_cast<double>(messages); }
  [[nodiscard]] double ns_wall() const { return wall * 1e9 / static_cast<double>(messages); }
};

// Runs `one(i)` over the corpus pass after pass: a fixed number of passes, or until `seconds`.
timing measure(std::size_t corpus_size, int passes, double seconds,
               const std::function<void(std::size_t)>& one) {
  timing t;
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  for (int pass = 0;; ++pass) {
    if (passes > 0 && pass >= passes) break;
    if (passes <= 0) {
      const std::chrono::duration<double> so_far = std::chrono::steady_clock::now() - start;
      if (so_far.count() >= seconds && pass > 0) break;
    }
    for (std::size_t i = 0; i < corpus_size; ++i) one(i);
    t.messages += corpus_size;
  }
  t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.cpu = thread_cpu_seconds() - cpu0;
  return t;
}

std::size_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }

// Everything evaluate() decides and every field parse_message() fills, one line per message.
void dump(const std::vector<std::string>& corpus, const std::vector<fs::path>& names,
          const daemon::runtime& rt, const daemon::guard_settings& guard,
          const mime::parse_limits& limits) {
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const auto ev = daemon::evaluate(corpus[i], rt, guard, limits);
    std::ostream& o = std::cout;
    o << names[i].filename().string() << '\t';
    if (!ev.parsed) {
      o << "error " << static_cast<int>(ev.parsed.error().code) << ' ' << ev.parsed.error().detail
        << '\n';
      continue;
    }
    const auto& m = *ev.parsed;
    std::string headers;
    for (const auto& h : m.headers) headers += h.name + ": " + h.value + "\n";
    auto box = [](const std::optional<mime::mailbox>& b) {
      return b ? b->name + " <" + b->address + ">" : std::string("-");
    };
    std::string to;
    for (const auto& b : m.to) to += b.name + " <" + b.address + ">,";
    to += ";";
    for (const auto& b : m.cc) to += b.name + " <" + b.address + ">,";
    std::string refs;
    for (const auto& r : m.references) refs += r + " ";
    std::string defects;
    for (const auto& d : m.defects) defects += d + "|";
    std::string kws;
    for (const auto& k : ev.cls.keywords) kws += k.keyword + "/" + k.where + ",";
    o << m.subject << '\t' << box(m.from) << '\t' << box(m.reply_to) << '\t' << to << '\t'
      << m.message_id << '\t' << m.in_reply_to << '\t' << refs << '\t'
      << (m.return_path ? *m.return_path : "-") << '\t' << m.content_type << '\t'
      << m.body_charset << '\t' << hash_of(headers) << '\t' << hash_of(m.body_text) << '\t'
      << hash_of(m.new_text) << '\t' << defects << '\t' << ev.guard.may_reply << ' '
      << ev.guard.rule << '\t' << ev.cls.category << ' ' << ev.cls.confidence << ' '
      << ev.cls.language << ' ' << ev.cls.escalate << ' ' << kws << '\n';
  }
}

void print(const char* what, const timing& t) {
  std::printf("%-28s %9zu msgs  %8.0f msg/s cpu  %8.0f ns/msg cpu  | %8.0f msg/s wall  %8.0f ns/msg wall\n",
              what, t.messages, t.rate_cpu(), t.ns_cpu(), t.rate_wall(), t.ns_wall());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int passes = 0;
  bool dump_only = false;
  bool full_only = false;
  bool all_files = false;
  fs::path corpus_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--passes" && i + 1 < argc) {
      passes = std::atoi(argv[++i]);
    } else if (a == "--full-only") {
      full_only = true;
    } else if (a == "--dump") {
      dump_only = true;
    } else if (a == "--all-files") {
      all_files = true;
    } else if (a == "--corpus" && i + 1 < argc) {
      corpus_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S] [--passes N] [--corpus DIR] [--all-files] [--dump] [--full-only]\n",
                   argv[0]);
      return 2;
    }
  }

  std::string from;
  std::vector<fs::path> names;
  const std::vector<std::string> corpus = load_corpus(corpus_dir, all_files, from, names);
  if (corpus.empty()) {
    std::fprintf(stderr, "no .eml files found\n");
    return 1;
  }
  std::size_t bytes = 0;
  for (const auto& m : corpus) bytes += m.size();

  daemon::settings s;
  s.reply.from = {"OKPay Support", "support@okpay-wallet.example"};
  s.reply.addresses = {"support@okpay-wallet.example"};
  s.reply.message_id_domain = "okpay-wallet.example";
  s.rules_path = fs::path(SUPPORTD_SOURCE_DIR) / "config" / "categories.toml";
  s.templates_dir = fs::path(SUPPORTD_SOURCE_DIR) / "templates";
  auto rt = daemon::load_runtime(s);
  if (!rt) {
    std::fprintf(stderr, "rules/templates: %s\n", rt.error().front().c_str());
    return 1;
  }
  const daemon::guard_settings guard = daemon::make_guard_settings(s.reply);
  const mime::parse_limits limits{};
  if (dump_only) {
    dump(corpus, names, **rt, guard, limits);
    return 0;
  }

  std::printf("corpus: %zu messages, %zu bytes (avg %zu), from %s\n", corpus.size(), bytes,
              bytes / corpus.size(), from.c_str());

  // Warm-up: the first call builds ICU data, iconv descriptors and the T→S table.
  std::size_t replied = 0;
  for (const auto& raw : corpus) {
    const auto ev = daemon::evaluate(raw, **rt, guard, limits);
    if (ev.parsed && ev.guard.may_reply) ++replied;
  }
  std::printf("warm-up: %zu of %zu pass the guard\n", replied, corpus.size());

  std::vector<mime::parsed_message> parsed;
  for (const auto& raw : corpus) {
    auto p = mime::parse_message(raw, limits);
    if (p) parsed.push_back(std::move(*p));
  }

  std::size_t sink = 0;
  const timing full = measure(corpus.size(), passes, seconds, [&](std::size_t i) {
    const auto ev = daemon::evaluate(corpus[i], **rt, guard, limits);
    sink += ev.cls.category.size();
  });
  if (full_only) {
    print("parse+guard+classify", full);
    std::printf("(checksum %zu)\n", sink);
    return 0;
  }
  const timing parse = measure(corpus.size(), passes, seconds / 2, [&](std::size_t i) {
    const auto p = mime::parse_message(corpus[i], limits);
    sink += p ? p->body_text.size() : 0;
  });
  const timing classify = measure(parsed.size(), passes, seconds / 2, [&](std::size_t i) {
    const auto& m = parsed[i];
    const auto c = classifier::classify(*(*rt)->rules, m.subject,
                                        m.new_text.empty() ? m.body_text : m.new_text);
    sink += c.category.size();
  });
  const timing guard_only = measure(parsed.size(), passes, seconds / 4, [&](std::size_t i) {
    if (daemon::should_auto_reply(parsed[i], guard).may_reply) ++sink;
  });

  print("parse+guard+classify", full);
  print("  parse_message", parse);
  print("  should_auto_reply", guard_only);
  print("  classify", classify);
  std::printf("(checksum %zu)\n", sink);

  std::printf("figure\tclassify throughput (1 core, CPU time)\t%.0f\tmsg/s\t>= 50000\n",
              full.rate_cpu());
  std::printf("figure\tclassify per message (CPU time)\t%.0f\tns\t<= 20000\n", full.ns_cpu());
  std::printf("figure\tclassify throughput (wall clock)\t%.0f\tmsg/s\t>= 50000\n", full.rate_wall());
  std::printf("figure\t  of which parse_message\t%.0f\tns\t\n", parse.ns_cpu());
  std::printf("figure\t  of which classify\t%.0f\tns\t\n", classify.ns_cpu());
  return 0;
}
