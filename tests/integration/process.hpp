#pragma once
// Running the supportd binary from tests: without a shell, stdout and stderr captured.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace supportd::test {

struct run_result {
  int exit_code = -1;
  std::string out;
};

/// A child process whose stdout+stderr go to a file; killed in the destructor if still running.
class child {
 public:
  child(const std::vector<std::string>& args, const std::string& log_file) {
    std::vector<std::string> text = args;
    std::vector<char*> argv;
    for (auto& a : text) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn");
  }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }
  /// Waits for exit; returns the exit code (-signal when killed by a signal).
  int wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  /// True if the child exited within `ms` milliseconds; fills `code`.
  bool wait_for(int ms, int& code) {
    for (int waited = 0; waited < ms; waited += 20) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return true;
      }
      usleep(20'000);
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
};

/// Runs a command to completion, capturing its output through a temp file.
inline run_result run(const std::vector<std::string>& args, const std::string& log_file) {
  child c(args, log_file);
  run_result r;
  r.exit_code = c.wait();
  FILE* f = std::fopen(log_file.c_str(), "rb");
  if (f) {
    char buf[8192];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) r.out.append(buf, n);
    std::fclose(f);
  }
  return r;
}

}  // namespace supportd::test
