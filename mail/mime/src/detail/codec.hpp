#pragma once
// Content-Transfer-Encoding and RFC 2047 word decoders.

#include <string>
#include <string_view>

namespace supportd::mime::detail {

/// Base64 (RFC 2045 §6.8) that tolerates line breaks and concatenated padded chunks;
/// `invalid` is set when bytes outside the alphabet or a dangling sextet were met.
std::string base64_decode(std::string_view in, bool& invalid);

/// Quoted-printable body (RFC 2045 §6.7), soft line breaks removed; exactly as mimetic's
/// QP::Decoder decodes it.
std::string qp_decode(std::string_view in);

/// RFC 2047 §4.2 "Q" encoding ('_' is space); false when an '=' escape is malformed.
bool q_decode(std::string_view in, std::string& out);

}  // namespace supportd::mime::detail
