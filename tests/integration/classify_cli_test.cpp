// `supportd classify --json` over the labelled dev corpus in ../shared (skipped without it).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "process.hpp"

namespace supportd::test {
namespace {

namespace fs = std::filesystem;

struct label {
  std::string category;  // "-" for automated mail
  bool reply = false;
};

std::map<std::string, label> read_labels(const fs::path& tsv) {
  std::map<std::string, label> labels;
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      cols.push_back(line.substr(start, tab - start));
    cols.push_back(line.substr(start));
    if (cols.size() >= 4) labels[cols[0]] = {cols[1], cols[3] == "1"};
  }
  return labels;
}

TEST(ClassifyCli, DevCorpusAgreesWithLabels) {
  const fs::path dev = fs::path(SUPPORTD_SHARED_DIR) / "corpus" / "dev";
  if (!fs::exists(dev / "labels.tsv"))
    GTEST_SKIP() << "shared dev corpus not found at " << dev << " (clone without ../shared)";
  auto labels = read_labels(dev / "labels.tsv");
  ASSERT_EQ(labels.size(), 150u);

  std::vector<std::string> args{SUPPORTD_BINARY, "classify", "--json", "--rules",
                                std::string(SUPPORTD_SOURCE_DIR) + "/config/categories.toml"};
  for (const auto& [file, _] : labels) args.push_back((dev / file).string());
  auto r = run(args, (fs::temp_directory_path() / "supportd-classify-dev.log").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;

  int human = 0, human_right = 0, automated = 0, automated_silent = 0, wanted = 0, wanted_ok = 0;
  std::istringstream lines(r.out);
  int seen = 0;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    ++seen;
    std::string file = fs::path(j["file"].get<std::string>()).filename();
    const label& l = labels.at(file);
    if (l.category == "-") {
      ++automated;
      if (!j["reply"].get<bool>()) ++automated_silent;
      else ADD_FAILURE() << file << " is automated mail but would get a reply";
      continue;
    }
    ++human;
    if (j["category"] == l.category) ++human_right;
    else std::cout << "  disagree " << file << ": " << j["category"] << " (label " << l.category
                   << ", confidence " << j["confidence"] << ")\n";
    if (l.reply) {
      ++wanted;
      if (j["reply"].get<bool>()) ++wanted_ok;
      else std::cout << "  no reply to human mail " << file << ": " << j["reason"] << "\n";
    } else if (j["reply"].get<bool>()) {
      ADD_FAILURE() << file << " is labelled reply=0 but would get a reply";
    }
  }
  ASSERT_EQ(seen, 150);
  double accuracy = 100.0 * human_right / human;
  std::cout << "dev corpus: category agreement " << human_right << "/" << human << " = "
            << accuracy << "% of human-written mail; automated mail silent " << automated_silent
            << "/" << automated << "; human mail answered " << wanted_ok << "/" << wanted << "\n";
  EXPECT_GE(accuracy, 90.0);
  EXPECT_EQ(automated_silent, automated);
  EXPECT_EQ(wanted_ok, wanted);
}

TEST(ClassifyCli, OwnTestMessages) {
  const std::string data = std::string(SUPPORTD_TEST_DATA) + "/daemon/";
  auto r = run({SUPPORTD_BINARY, "classify", "--json", "--rules",
                std::string(SUPPORTD_SOURCE_DIR) + "/config/categories.toml",
                data + "customer_zh_gb2312.eml", data + "bounce.eml"},
               (fs::temp_directory_path() / "supportd-classify-own.log").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  auto a = nlohmann::json::parse(first);
  auto b = nlohmann::json::parse(second);
  for (const char* key : {"file", "category", "confidence", "language", "reply", "escalate",
                          "reason", "keywords"})
    EXPECT_TRUE(a.contains(key)) << key;
  EXPECT_EQ(a["category"], "payment_failed");
  EXPECT_EQ(a["language"], "zh");
  EXPECT_EQ(a["reply"], true);
  EXPECT_EQ(b["reply"], false);
  EXPECT_NE(b["reason"].get<std::string>().find("auto-submitted"), std::string::npos);
}

TEST(ClassifyCli, UnreadableFileIsAnErrorNotACrash) {
  auto r = run({SUPPORTD_BINARY, "classify", "--json", "--rules",
                std::string(SUPPORTD_SOURCE_DIR) + "/config/categories.toml", "/nonexistent.eml"},
               (fs::temp_directory_path() / "supportd-classify-missing.log").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace supportd::test
