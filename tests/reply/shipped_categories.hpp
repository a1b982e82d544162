#pragma once
// The taxonomy's category ids (../shared/taxonomy.md), as the shipped templates cover them.

#include <string>
#include <vector>

namespace supportd::test {

inline const std::vector<std::string> shipped_categories{"account_compromised",
                                                         "password_reset",
                                                         "account_frozen",
                                                         "payment_failed",
                                                         "withdrawal_delay",
                                                         "deposit_issue",
                                                         "refund",
                                                         "registration",
                                                         "fees",
                                                         "transaction_history",
                                                         "complaint",
                                                         "support_followup",
                                                         "general"};

}  // namespace supportd::test
