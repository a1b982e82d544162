// The shared corpora: labelled dev messages must decode cleanly; every real message must parse
// without a crash or exception (parse errors are acceptable results).
#include "supportd/mime/message.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace supportd::mime {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view fffd = "\xEF\xBF\xBD";

fs::path corpus_dir(const char* sub) { return fs::path(SUPPORTD_SHARED_DIR) / "corpus" / sub; }

TEST(mime_corpus, DevMessagesDecodeCleanly) {
  const fs::path dir = corpus_dir("dev");
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared corpus not found at " << dir << " (clone without ../shared)";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".eml") files.push_back(e.path());
  }
  ASSERT_FALSE(files.empty());
  std::size_t without_subject = 0;
  for (const auto& f : files) {
    const std::string raw = test::read_file(f);
    auto r = parse_message(raw);
    ASSERT_TRUE(r.has_value()) << f << ": " << r.error().detail;
    EXPECT_EQ(r->subject.find(fffd), std::string::npos) << f << ": " << r->subject;
    EXPECT_EQ(r->body_text.find(fffd), std::string::npos) << f;
    if (r->subject.empty()) {
      ++without_subject;
      EXPECT_FALSE(r->has_header("Subject")) << f << " has a Subject that decoded to nothing";
    }
  }
  EXPECT_LE(without_subject, 1U);
}

TEST(mime_corpus, RealMessagesNeverCrash) {
  const fs::path dir = corpus_dir("real");
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared corpus not found at " << dir << " (clone without ../shared)";
  const auto start = std::chrono::steady_clock::now();
  std::size_t parsed = 0;
  std::size_t errors = 0;
  std::size_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory()) {
      if (it->path().filename() == "_meta") it.disable_recursion_pending();
      continue;
    }
    const auto ext = it->path().extension();
    if (!it->is_regular_file() || ext == ".md" || ext == ".tsv" || ext == ".json") continue;
    const std::string raw = test::read_file(it->path());
    bytes += raw.size();
    auto r = parse_message(raw);
    if (r) {
      ++parsed;
    } else {
      ++errors;
      EXPECT_NE(r.error().code, parse_errc::internal) << it->path() << ": " << r.error().detail;
    }
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ corpus/real ] " << parsed << " parsed, " << errors << " parse errors, " << bytes / (1024 * 1024)
            << " MB in " << ms << " ms\n";
  EXPECT_GT(parsed, 10000U);
}

}  // namespace
}  // namespace supportd::mime
