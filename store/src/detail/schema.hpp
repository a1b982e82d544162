#pragma once
// The store's schema as an ordered list of migrations: migration i takes the database from
// PRAGMA user_version i to i + 1. Never edit a released migration; append a new one.

#include <span>
#include <string_view>

namespace supportd::store::detail {

/// All migrations, oldest first; the schema version the code knows is their count.
[[nodiscard]] std::span<const std::string_view> migrations();

}  // namespace supportd::store::detail
