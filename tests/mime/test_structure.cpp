// parse_structure(), parse_content_type() and qp_decode() against mimetic itself: each replaces
// mimetic's per-byte or copying code with faster code that must give exactly mimetic's results, so random and hostile inputs are
// run through both and every part, header field and body is compared.
#include "detail/structure.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <mimetic/codec/code.h>
#include <mimetic/codec/qp.h>
#include <mimetic/mimeentity.h>
#include <mimetic/parser/itparser.h>

#include "detail/codec.hpp"

namespace supportd::mime {
namespace {

// mimetic's reference parse uses its forward-iterator parser, as parse_message did before.
using forward_bytes = detail::byte_iterator;

bool is_content_type(std::string_view name) {
  return name.size() == 12 && std::equal(name.begin(), name.end(), "content-type",
                                         [](char a, char b) { return (a | 0x20) == b; });
}

// `index` null: a tree mimetic built, whose parser turned each entity's first Content-Type into
// a ContentType, which its field writes anew. Else the port's tree, whose fields keep their
// text; the parsed Content-Type is in `index`.
std::string describe(const mimetic::MimeEntity& e, const detail::part_index* index) {
  std::string out = "{";
  bool first_content_type = true;
  for (const mimetic::Field& f : e.header()) {
    const std::string name(f.name().data(), f.name().size());
    std::string value = f.value();
    if (index != nullptr && first_content_type && is_content_type(name)) {
      const mimetic::ContentType* ct = index->content_type(e);
      value = ct != nullptr ? detail::content_type_text(*ct) : "(not in the index)";
    }
    if (is_content_type(name)) first_content_type = false;
    out += name + ": " + value + "\n";
  }
  out += "|body=";
  if (index != nullptr) {
    out += index->body(e);
  } else {
    out += e.body();
  }
  for (const mimetic::MimeEntity* child : e.body().parts()) out += describe(*child, index);
  return out + "}";
}

std::string with_mimetic(const std::string& text) {
  const mimetic::MimeEntity e(forward_bytes(text.data()), forward_bytes(text.data() + text.size()));
  return describe(e, nullptr);
}

std::string with_spans(const std::string& text) {
  mimetic::MimeEntity e;
  detail::part_index index;
  detail::parse_structure(text, e, index);
  return describe(e, &index);
}

// Random messages built from the pieces that steer mimetic's parser: boundaries (open, closing,
// of an outer level, inside longer lines), nested types, CR/LF mixes, blank and malformed
// header lines, and lines around its 4096-byte block.
std::string random_message(std::mt19937& rng) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  static const std::vector<std::string> nl = {"\n", "\n", "\n", "\r\n", "\r", "\n\r"};
  static const std::vector<std::string> types = {
      "multipart/mixed; boundary=\"b1\"", "multipart/alternative; boundary=b2",
      "multipart/mixed; boundary=\"b1\"", "message/rfc822", "text/plain; charset=utf-8",
      "text/html", "multipart/mixed; boundary=\"\""};
  std::string out;
  const std::size_t pieces = 1 + pick(40);
  for (std::size_t i = 0; i < pieces; ++i) {
    switch (pick(16)) {
      case 0: out += "Content-Type: " + types[pick(types.size())]; break;
      case 1: out += "--b1"; break;
      case 2: out += "--b1--"; break;
      case 3: out += "--b2"; break;
      case 4: out += "--b2--"; break;
      case 5: out += "--b1 trailing"; break;
      case 6: out += std::string(4000 + pick(200), 'x'); break;
      case 7: out += std::string(pick(9000), 'y') + "--b1"; break;
      case 8: out += "Subject: hello"; break;
      case 9: out += " folded"; break;
      case 10: out += "Bad Header no colon"; break;
      case 11: out += ": starts with colon"; break;
      case 12: out += ""; break;
      case 13: out += "body text -- with dashes"; break;
      case 14: out += "--"; break;
      default: out += "Content-Transfer-Encoding: base64"; break;
    }
    out += nl[pick(nl.size())];
  }
  if (pick(4) == 0 && !out.empty()) out.pop_back();  // no newline at the end
  return out;
}

// What a parser makes of a message, or what it threw.
template <typename Parser>
std::string outcome(Parser parse, const std::string& text) {
  try {
    return parse(text);
  } catch (const std::exception& e) {
    return std::string("throws ") + e.what();
  }
}

TEST(mime_structure, SameAsMimeticOnRandomMessages) {
  std::mt19937 rng(20261122);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = random_message(rng);
    const std::string expected = outcome(with_mimetic, text);
    const std::string actual = outcome(with_spans, text);
    ASSERT_EQ(expected, actual) << "message " << i << ":\n" << text;
  }
}

TEST(mime_structure, SameAsMimeticWithNulBytes) {
  // mimetic hands header text on as C strings: a NUL cuts a value (and what folds onto it).
  std::mt19937 rng(20261123);
  for (int i = 0; i < 2000; ++i) {
    std::string text = random_message(rng);
    for (int k = 0; k < 3 && !text.empty(); ++k) text.insert(rng() % text.size(), 1, '\0');
    const std::string expected = outcome(with_mimetic, text);
    const std::string actual = outcome(with_spans, text);
    ASSERT_EQ(expected, actual) << "message " << i;
  }
  const std::string text = "Content-Type: multipart/mixed; boundary=b\n\n--b\nX-A: a\0b\n folded\n\nbody\n--b--\n";
  EXPECT_EQ(with_mimetic(text), with_spans(text));
}

TEST(mime_structure, SameAsMimeticAroundTheBlockSize) {
  // Boundary lines that start just before, at and after mimetic's 4096-byte block edge.
  for (std::size_t filler = 4070; filler < 4110; ++filler) {
    for (std::size_t line = 1; line < 4; ++line) {
      std::string text = "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\n";
      for (std::size_t k = 0; k < line; ++k) text += std::string(filler / line, 'z') + "\n";
      text += "--b1\n\nsecond\n--b1--\nepilogue\n";
      ASSERT_EQ(with_mimetic(text), with_spans(text)) << filler << " " << line;
    }
  }
}

// Random header text: fields, folds, blank and bad lines, lines starting with ':', 8-bit bytes,
// CR/LF variants, and texts that end inside the header.
std::string random_header(std::mt19937& rng) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  static const std::vector<std::string> nl = {"\n", "\n", "\n", "\r\n", "\r", "\n\r"};
  static const std::vector<std::string> pieces = {
      "Subject: hello", "From: A <a@b>", "X-Empty:", "X-Blank: ", " folded", "\tfolded tab", "  ",
      ": ignored line", "Bad Header", "Name : spaced", "Na\xC3\xA9me: x", "\xE4\xB8\xAD", "",
      "Content-Type: text/plain; charset=utf-8", "content-transfer-encoding: base64",
      "Content-Disposition: attachment", "X\x01Y: ctl", "Key:value", "K:  two  spaces  "};
  std::string out;
  const std::size_t n = pick(14);
  for (std::size_t i = 0; i < n; ++i) out += pieces[pick(pieces.size())] + nl[pick(nl.size())];
  if (pick(3) == 0) out += "\nbody line\n--x\n";
  if (pick(5) == 0 && !out.empty()) out.pop_back();
  return out;
}

TEST(mime_structure, HeaderSplitSameAsMimetic) {
  std::mt19937 rng(99);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = random_header(rng);
    const mimetic::MimeEntity e(forward_bytes(text.data()), forward_bytes(text.data() + text.size()));
    std::string expected;
    for (const mimetic::Field& f : e.header()) {
      expected += std::string(f.name().data(), f.name().size()) + ": " + f.value() + "\n";
    }
    if (e.body().parts().empty()) expected += "|body=" + std::string(e.body());

    const detail::top_header h = detail::split_top_header(text);
    std::string actual;
    bool first_content_type = true;
    for (const auto& f : h.fields) {
      // mimetic's parser turned its first Content-Type into a ContentType, which it writes anew.
      if (first_content_type && is_content_type(f.name)) {
        first_content_type = false;
        actual += f.name + ": " + mimetic::ContentType(f.value).str() + "\n";
      } else {
        actual += f.name + ": " + f.value + "\n";
      }
    }
    // No multipart here: mimetic's body is what the header left, from where it stopped.
    if (e.body().parts().empty()) actual += "|body=" + h.body_prefix + text.substr(h.body);
    ASSERT_EQ(expected, actual) << "text " << i << ":\n" << text;
  }
}

TEST(mime_structure, MimeHeaderOnlySameStructure) {
  // parse_structure_after_header() against mimetic's parse of the whole LF-only text.
  std::mt19937 rng(7);
  int checked = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string text;
    for (const char c : random_message(rng)) text.push_back(c == '\r' ? '\n' : c);  // LF only
    std::string expected;
    try {
      expected = with_mimetic(text);
    } catch (const std::exception& e) {
      expected = std::string("throws ") + e.what();
    }
    std::string actual;
    const detail::top_header h = detail::split_top_header(text);
    mimetic::MimeEntity e;
    detail::part_index index;
    try {
      detail::parse_structure_after_header(text, h, e, index);
      // The top-level header as the split gave it, the rest as mimetic parsed it.
      actual = "{";
      bool first_content_type = true;
      for (const auto& f : h.fields) {
        const bool converted = first_content_type && is_content_type(f.name);
        if (converted) first_content_type = false;
        actual += f.name + ": " + (converted ? detail::content_type_text(*index.content_type(e)) : f.value) + "\n";
      }
      actual += "|body=" + std::string(index.body(e));
      for (const mimetic::MimeEntity* child : e.body().parts()) actual += describe(*child, &index);
      actual += "}";
    } catch (const std::exception& ex) {
      actual = std::string("throws ") + ex.what();
    }
    ASSERT_EQ(expected, actual) << "message " << i << ":\n" << text;
    ++checked;
  }
  EXPECT_EQ(checked, 1000);
}

TEST(mime_structure, HeaderEndedByABadLine) {
  // A line that cannot be a field ends the header without a blank line; it starts the body.
  const std::string text = "Content-Type:text/plain\n\xC3\xA9t\xC3\xA9\n";
  const detail::top_header h = detail::split_top_header(text);
  ASSERT_EQ(h.fields.size(), 1U);
  EXPECT_EQ(h.body, 24U);
  mimetic::MimeEntity e;
  detail::part_index index;
  detail::parse_structure_after_header(text, h, e, index);
  EXPECT_EQ(index.body(e), "\xC3\xA9t\xC3\xA9\n");
  ASSERT_NE(index.content_type(e), nullptr);
  EXPECT_EQ(index.content_type(e)->subtype(), "plain");
  EXPECT_EQ(with_mimetic(text), with_spans(text));
}

std::string describe(const mimetic::ContentType& ct) {
  std::string out = "type=[" + ct.type() + "] subtype=[" + ct.subtype() + "]";
  for (const mimetic::FieldParam& p : ct.paramList()) out += " [" + p.name() + "]=[" + p.value() + "]";
  return out + " str=" + ct.str();
}

// The port's parse and text of `value`, described as mimetic's own would be.
std::string describe_port(const std::string& value) {
  const mimetic::ContentType ct = detail::parse_content_type(value);
  std::string out = "type=[" + ct.type() + "] subtype=[" + ct.subtype() + "]";
  for (const mimetic::FieldParam& p : ct.paramList()) out += " [" + p.name() + "]=[" + p.value() + "]";
  return out + " str=" + detail::content_type_text(ct);
}

TEST(mime_structure, ContentTypeSameAsMimetic) {
  const std::vector<std::string> fixed = {
      "", ";", "/", "text", "text/", "/plain", "text/plain", "TEXT/Plain ", " text/plain",
      "text/plain/extra", "text/plain;", "text/plain; ", "text/plain;;", ";charset=utf-8",
      "text/plain; charset=utf-8", "text/plain;charset=\"utf-8\"", "text/plain; charset = \" x \" ",
      "multipart/mixed; boundary=\"a;b\"; x=1", "multipart/mixed; boundary=\"\"", "text/plain; novalue",
      "text/plain; =v; n=; \t n2 \t=\tv2\t", "text/plain; a=\"", "text/plain; a==b=c", "a/b;c;d;"};
  for (const std::string& value : fixed) {
    EXPECT_EQ(describe(mimetic::ContentType(value)), describe_port(value)) << value;
  }
  std::mt19937 rng(2231);
  const std::string alphabet = "tx/;= \t\"a-B\xC3";
  for (int i = 0; i < 20000; ++i) {
    std::string value;
    const std::size_t n = rng() % 20;
    for (std::size_t k = 0; k < n; ++k) value.push_back(alphabet[rng() % alphabet.size()]);
    ASSERT_EQ(describe(mimetic::ContentType(value)), describe_port(value)) << value;
  }
}

std::string qp_with_mimetic(const std::string& in) {
  std::string out;
  mimetic::QP::Decoder decoder;
  mimetic::decode(in.begin(), in.end(), decoder, std::back_inserter(out));
  return out;
}

TEST(mime_structure, QuotedPrintableSameAsMimetic) {
  std::mt19937 rng(7);
  const std::string alphabet = "aZ =\t\r\n4Fg\x01\xE4=";
  for (int i = 0; i < 20000; ++i) {
    std::string in;
    const std::size_t n = rng() % 24;
    for (std::size_t k = 0; k < n; ++k) in.push_back(alphabet[rng() % alphabet.size()]);
    ASSERT_EQ(qp_with_mimetic(in), detail::qp_decode(in)) << "input: " << in;
  }
  const std::string sample = "caf=C3=A9 =E4=BD=A0=E5=A5=BD=\nsoft  \nhard\n=3D=\n";
  EXPECT_EQ(qp_with_mimetic(sample), detail::qp_decode(sample));
}

}  // namespace
}  // namespace supportd::mime
