#pragma once
// Helpers shared by the mime tests: reading test messages from tests/data/mime.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace supportd::mime::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string read_data(const std::string& name) {
  return read_file(std::filesystem::path(SUPPORTD_TEST_DATA) / "mime" / name);
}

inline bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

}  // namespace supportd::mime::test
