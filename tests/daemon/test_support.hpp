#pragma once
// Shared helpers of the daemon tests: reading test messages and a scratch folder.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace supportd::test {

inline std::string read_data(const std::string& name) {
  std::ifstream in(std::string(SUPPORTD_TEST_DATA) + "/daemon/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A fresh folder under the system temp dir, removed with the object.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("supportd-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace supportd::test
