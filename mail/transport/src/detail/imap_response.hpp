#pragma once
// Parsers for the untagged IMAP lines libcurl hands to the write callback for custom requests.
// Pure functions over text, so they are tested with plain strings.

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "supportd/transport/transport.hpp"

namespace supportd::transport::detail {

/// Values of "* STATUS mailbox (UIDVALIDITY v UIDNEXT n MESSAGES m)" (RFC 3501 7.2.4);
/// nullopt unless all three items are present.
[[nodiscard]] std::optional<mailbox_status> parse_status(std::string_view response);

/// UIDs of "* SEARCH ..." lines (RFC 3501 7.2.5) within [low, high], ascending, no duplicates.
/// The bounds filter libcurl-era server quirks such as "n:*" always matching the highest UID.
[[nodiscard]] std::vector<std::int64_t> parse_search(std::string_view response, std::int64_t low,
                                                     std::int64_t high);

/// RFC 3501 date-time "22-Nov-2026 09:00:00 +0800" (day may be space-padded) as unix seconds.
[[nodiscard]] std::optional<std::int64_t> parse_imap_date_time(std::string_view text);

}  // namespace supportd::transport::detail
