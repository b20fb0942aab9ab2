#include "optiq/tokenizer/hf_byte_level.h"

#include <array>

#include "optiq/tokenizer/hf_utf8.h"

namespace optiq {
namespace {

// Highest stand-in code point: 0xFF + 68 = U+0143.
constexpr uint32_t kMaxStandIn = 0x143;

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, kMaxStandIn + 1> code_point_to_byte;

  ByteLevelTables() {
    code_point_to_byte.fill(-1);
    uint32_t next_extra = 0x100;
    for (uint32_t byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= 0x21 && byte <= 0x7E) ||
                             (byte >= 0xA1 && byte <= 0xAC) ||
                             (byte >= 0xAE && byte <= 0xFF);
      const uint32_t code_point = printable ? byte : next_extra++;
      utf8::append(byte_to_text[byte], code_point);
      code_point_to_byte[code_point] = static_cast<int16_t>(byte);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables instance;
  return instance;
}

}  // namespace

void byte_level_encode(std::string_view bytes, std::string& out) {
  const ByteLevelTables& t = tables();
  for (char c : bytes) out += t.byte_to_text[static_cast<uint8_t>(c)];
}

bool byte_level_decode(std::string_view text, std::string& out) {
  const ByteLevelTables& t = tables();
  const size_t old_size = out.size();
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    const uint32_t code_point = utf8::decode(text, pos, length);
    if (code_point > kMaxStandIn || t.code_point_to_byte[code_point] < 0) {
      out.resize(old_size);
      return false;
    }
    out.push_back(static_cast<char>(t.code_point_to_byte[code_point]));
    pos += length;
  }
  return true;
}

}  // namespace optiq
