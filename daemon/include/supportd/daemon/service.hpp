#pragma once
// The long-running service: a Boost.Asio io_context owns signals and the poll timer; each
// cycle runs on one worker thread (libcurl's blocking handles stay off the event loop).

#include <memory>

#include "supportd/daemon/config.hpp"
#include "supportd/daemon/pipeline.hpp"

namespace supportd::daemon {

/// Runs the daemon until SIGTERM/SIGINT (or one cycle with `once`). Returns the exit code.
/// SIGHUP reloads rules and templates, keeping the old ones if the new ones are invalid.
int run_service(const settings& s, std::shared_ptr<const runtime> rt, bool once);

}  // namespace supportd::daemon
