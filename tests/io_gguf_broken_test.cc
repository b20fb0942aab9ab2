// Hand-built broken GGUF files: each must raise optiq::Error with a message
// that names the file and the problem. Built byte by byte here, without
// GgufWriter, so that the reader is checked against the layout in
// docs/gguf.md rather than against its own writer.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "test_support.h"

namespace optiq {
namespace {

namespace tt = gguf_tensor_type;

constexpr uint32_t kU8 = 0;
constexpr uint32_t kU32 = 4;
constexpr uint32_t kBool = 7;
constexpr uint32_t kString = 8;
constexpr uint32_t kArray = 9;
constexpr uint32_t kU64 = 10;

// Little-endian byte builder for GGUF pieces.
class Bytes {
 public:
  Bytes& u8(uint8_t value) {
    text_.push_back(static_cast<char>(value));
    return *this;
  }
  Bytes& u32(uint32_t value) { return little_endian(value, 4); }
  Bytes& u64(uint64_t value) { return little_endian(value, 8); }
  Bytes& i64(int64_t value) {
    return little_endian(static_cast<uint64_t>(value), 8);
  }
  Bytes& raw(std::string_view bytes) {
    text_.append(bytes);
    return *this;
  }
  // A GGUF string: u64 length, then the bytes.
  Bytes& str(std::string_view text) { return u64(text.size()).raw(text); }
  Bytes& zeros(size_t count) {
    text_.append(count, '\0');
    return *this;
  }
  Bytes& pad_to(size_t alignment) {
    return zeros((alignment - text_.size() % alignment) % alignment);
  }
  // Metadata entries.
  Bytes& kv_u32(std::string_view key, uint32_t value) {
    return str(key).u32(kU32).u32(value);
  }
  Bytes& kv_str(std::string_view key, std::string_view value) {
    return str(key).u32(kString).str(value);
  }
  // A tensor info.
  Bytes& tensor(std::string_view name, std::initializer_list<int64_t> ne,
                uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t dim : ne) i64(dim);
    return u32(type).u64(offset);
  }

  const std::string& text() const { return text_; }
  size_t size() const { return text_.size(); }

 private:
  Bytes& little_endian(uint64_t value, int count) {
    for (int i = 0; i < count; ++i) u8(static_cast<uint8_t>(value >> 8 * i));
    return *this;
  }

  std::string text_;
};

Bytes header(uint64_t tensors, uint64_t entries, uint32_t version = 3) {
  Bytes bytes;
  bytes.raw("GGUF").u32(version).u64(tensors).u64(entries);
  return bytes;
}

// A valid file: three metadata entries and two tensors, the second after a
// gap of padding, and no padding after the last tensor so that every
// shorter prefix is invalid.
std::string valid_file() {
  Bytes bytes = header(2, 3);
  bytes.kv_str("general.architecture", "llama");
  bytes.kv_u32("general.alignment", 32);
  bytes.str("tokenizer.ggml.tokens").u32(kArray).u32(kString).u64(2);
  bytes.str("a").str("bc");
  bytes.tensor("w", {5}, tt::kF32, 0);
  bytes.tensor("b", {32}, tt::kQ8_0, 32);
  bytes.pad_to(32);
  for (int i = 0; i < 20; ++i) bytes.u8(static_cast<uint8_t>(i + 1));
  bytes.zeros(12);
  for (int i = 0; i < 34; ++i) bytes.u8(static_cast<uint8_t>(100 + i));
  return bytes.text();
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream stream(path, std::ios::binary);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The optiq::Error message from opening `bytes` as a GGUF file, or "" when
// it opens. Any other exception escapes and fails the test.
std::string open_error(const std::filesystem::path& path,
                       const std::string& bytes) {
  write_bytes(path, bytes);
  try {
    GgufFile file(path);
    return "";
  } catch (const Error& error) {
    return error.what();
  }
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

struct BrokenCase {
  std::string name;
  std::string bytes;
  std::string expected;  // part of the message
};

std::vector<BrokenCase> broken_cases() {
  const std::string valid = valid_file();
  std::string bad_magic = valid;
  bad_magic[3] = 'L';

  // One tensor after an empty metadata section, data padded to 32.
  auto one_tensor = [](std::string_view name, std::initializer_list<int64_t> ne,
                       uint32_t type, uint64_t offset, size_t data_bytes) {
    Bytes bytes = header(1, 0);
    bytes.tensor(name, ne, type, offset).pad_to(32).zeros(data_bytes);
    return bytes.text();
  };
  auto one_entry = [](const Bytes& entry) {
    return header(0, 1).raw(entry.text()).text();
  };
  auto with_alignment = [](const Bytes& value) {
    Bytes bytes = header(1, 1);
    bytes.str("general.alignment").raw(value.text());
    bytes.tensor("w", {8}, tt::kF32, 0).pad_to(64).zeros(32);
    return bytes.text();
  };

  return {
      {"empty", "", "truncated file"},
      {"short_magic", "GGU", "truncated file"},
      {"bad_magic", bad_magic, "not a GGUF file"},
      {"version_0", header(0, 0, 0).text(), "invalid GGUF version 0"},
      {"version_1", header(0, 0, 1).text(), "version 1 is not supported"},
      {"version_99", header(0, 0, 99).text(), "unsupported GGUF version 99"},
      {"byte_swapped_version", header(0, 0, 0x03000000).text(), "byte-swapped"},
      {"truncated_header", valid.substr(0, 12), "truncated file"},
      {"huge_metadata_count", header(0, uint64_t{1} << 60).text(),
       "metadata count 1152921504606846976"},
      {"huge_tensor_count", header(uint64_t{1} << 60, 0).text(),
       "tensor count 1152921504606846976"},
      {"huge_key_length",
       one_entry(Bytes().u64(uint64_t{1} << 62).raw("key").u32(kU8).u8(1)),
       "has length 4611686018427387904, above the limit"},
      {"key_past_end", one_entry(Bytes().u64(1000).raw("abcdefghijklmn")),
       "key of metadata entry 0"},
      {"empty_key", one_entry(Bytes().str("").u32(kU32).u32(1)), "empty key"},
      {"unknown_value_type", one_entry(Bytes().str("k").u32(13).u32(0)),
       "key 'k': unknown value type id 13"},
      {"huge_string_value",
       one_entry(Bytes().str("k").u32(kString).u64(uint64_t{1} << 40).raw("x")),
       "value of key 'k' at offset 37 has length 1099511627776"},
      {"string_value_past_end",
       one_entry(Bytes().str("k").u32(kString).u64(100).raw("short")),
       "truncated file: value of key 'k'"},
      {"huge_array_count",
       one_entry(Bytes().str("k").u32(kArray).u32(kU8).u64(uint64_t{1} << 40)),
       "array count 1099511627776 exceeds the limit"},
      {"array_past_end",
       one_entry(Bytes().str("k").u32(kArray).u32(kU32).u64(1000).u64(0)),
       "array of 1000 u32 elements, which needs at least 4000 bytes"},
      {"string_array_past_end",
       one_entry(Bytes().str("k").u32(kArray).u32(kString).u64(1 << 20)),
       "array of 1048576 str elements"},
      {"nested_array",
       one_entry(
           Bytes().str("k").u32(kArray).u32(kArray).u64(1).u32(kU8).u64(0)),
       "key 'k': nested arrays are not supported"},
      {"unknown_array_type",
       one_entry(Bytes().str("k").u32(kArray).u32(99).u64(1).u8(0)),
       "unknown array element type id 99"},
      {"bad_bool", one_entry(Bytes().str("k").u32(kBool).u8(2)),
       "stored as byte 2; only 0 and 1 are valid"},
      {"bad_bool_in_array",
       one_entry(Bytes().str("k").u32(kArray).u32(kBool).u64(2).u8(1).u8(7)),
       "element 1 of key 'k' is a bool stored as byte 7"},
      {"duplicate_key", header(0, 2).kv_u32("k", 1).kv_str("k", "again").text(),
       "duplicate metadata key 'k'"},
      {"alignment_not_power_of_two", with_alignment(Bytes().u32(kU32).u32(48)),
       "'general.alignment' = 48 is not a power of two"},
      {"alignment_zero", with_alignment(Bytes().u32(kU32).u32(0)),
       "'general.alignment' = 0 is not a power of two"},
      {"alignment_wrong_type", with_alignment(Bytes().u32(kU64).u64(32)),
       "'general.alignment' must be u32, but is u64"},
      {"empty_tensor_name", one_tensor("", {8}, tt::kF32, 0, 32),
       "tensor 0 has an empty name"},
      {"long_tensor_name",
       one_tensor(std::string(64, 'n'), {8}, tt::kF32, 0, 32),
       "is 64 bytes long; ggml allows at most 63"},
      {"five_dims", one_tensor("w", {1, 1, 1, 1, 8}, tt::kF32, 0, 32),
       "tensor 'w' has 5 dimensions"},
      {"negative_dim", one_tensor("w", {8, -4}, tt::kF32, 0, 32),
       "ne[1] = -4 is negative"},
      {"element_count_overflow",
       one_tensor("w", {int64_t{1} << 32, int64_t{1} << 32}, tt::kF32, 0, 32),
       "tensor 'w': element count of shape [4294967296, 4294967296] exceeds"},
      {"byte_size_overflow",
       one_tensor("w", {int64_t{1} << 31, int64_t{1} << 31}, tt::kF32, 0, 32),
       "tensor 'w': f32 tensor of shape [2147483648, 2147483648] exceeds "
       "INT64_MAX bytes"},
      {"unknown_tensor_type", one_tensor("w", {8}, 77, 0, 32),
       "tensor 'w': unknown ggml tensor type id 77"},
      {"removed_tensor_type", one_tensor("w", {8}, 4, 0, 32),
       "tensor 'w': unknown ggml tensor type id 4"},
      {"row_not_block_multiple", one_tensor("w", {16}, tt::kQ4_0, 0, 32),
       "ne[0] = 16 is not a multiple of the 32-element block of q4_0"},
      {"offset_past_end", one_tensor("w", {8}, tt::kF32, 1ull << 40, 32),
       "tensor 'w' (f32 [8]): its 32 bytes at data offset 1099511627776 run "
       "past the 32-byte data section"},
      {"offset_near_uint64_max",
       one_tensor("w", {8}, tt::kF32, ~uint64_t{31}, 32),
       "run past the 32-byte data section"},
      {"data_truncated", one_tensor("w", {8}, tt::kF32, 0, 16),
       "its 32 bytes at data offset 0 run past the 16-byte data section"},
      {"misaligned_offset", one_tensor("w", {8}, tt::kF32, 16, 64),
       "tensor 'w': offset 16 is not a multiple of the alignment 32"},
      {"data_section_past_end",
       header(1, 0).tensor("w", {0}, tt::kF32, 0).text(),
       "the data section starts at offset 64"},
      {"duplicate_tensor_name",
       header(2, 0)
           .tensor("w", {8}, tt::kF32, 0)
           .tensor("w", {8}, tt::kF32, 32)
           .pad_to(32)
           .zeros(64)
           .text(),
       "duplicate tensor name 'w'"},
      {"overlapping_tensors",
       header(2, 0)
           .tensor("a", {16}, tt::kF32, 0)
           .tensor("b", {16}, tt::kF32, 32)
           .pad_to(32)
           .zeros(96)
           .text(),
       "tensors 'a' (data offset 0, 64 bytes) and 'b' (data offset 32) "
       "overlap"},
  };
}

TEST(GgufBroken, ValidBaseFileOpens) {
  testing::ScratchDir dir;
  write_bytes(dir / "valid.gguf", valid_file());
  GgufFile file(dir / "valid.gguf");
  EXPECT_EQ(file.at("tokenizer.ggml.tokens").as_string_array(),
            (std::vector<std::string>{"a", "bc"}));
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensor("w").data[0], 1);
  EXPECT_EQ(file.tensor("b").nbytes, 34u);
  EXPECT_EQ(file.tensor("b").data[33], 133);
}

TEST(GgufBroken, EachCaseRaisesNamedError) {
  testing::ScratchDir dir;
  const std::vector<BrokenCase> cases = broken_cases();
  EXPECT_GE(cases.size(), 40u);
  for (const BrokenCase& broken : cases) {
    SCOPED_TRACE(broken.name);
    const std::string file_name = broken.name + ".gguf";
    const std::string message = open_error(dir / file_name, broken.bytes);
    ASSERT_FALSE(message.empty()) << "the file opened without an error";
    EXPECT_TRUE(contains(message, file_name)) << message;
    EXPECT_TRUE(contains(message, broken.expected))
        << "message: " << message << "\nexpected part: " << broken.expected;
  }
}

TEST(GgufBroken, ZeroSizedTensorOpens) {
  // ggml's reader accepts dimensions of 0; such a tensor has no bytes.
  testing::ScratchDir dir;
  Bytes bytes = header(1, 0);
  bytes.tensor("empty", {32, 0}, tt::kQ4_0, 0).pad_to(32);
  write_bytes(dir / "empty.gguf", bytes.text());
  GgufFile file(dir / "empty.gguf");
  EXPECT_EQ(file.tensor("empty").nbytes, 0u);
  EXPECT_EQ(file.tensor("empty").numel(), 0);
}

TEST(GgufBroken, EveryTruncationRejected) {
  testing::ScratchDir dir;
  const std::string valid = valid_file();
  for (size_t length = 0; length < valid.size(); ++length) {
    const std::string message =
        open_error(dir / "prefix.gguf", valid.substr(0, length));
    EXPECT_FALSE(message.empty()) << "prefix of " << length << " bytes opened";
  }
  EXPECT_EQ(open_error(dir / "prefix.gguf", valid), "");
}

TEST(GgufBroken, ByteMutationsRaiseOnlyError) {
  // Every single-byte change either still opens or raises optiq::Error;
  // open_error lets any other exception fail the test, and the sanitizer
  // build catches out-of-bounds reads.
  testing::ScratchDir dir;
  const std::string valid = valid_file();
  int rejected = 0;
  for (size_t at = 0; at < valid.size(); ++at) {
    const auto original = static_cast<uint8_t>(valid[at]);
    for (uint8_t replacement :
         {uint8_t{0x00}, uint8_t{0xFF}, static_cast<uint8_t>(original ^ 0x01),
          static_cast<uint8_t>(original ^ 0x80)}) {
      if (replacement == original) continue;
      std::string mutated = valid;
      mutated[at] = static_cast<char>(replacement);
      if (!open_error(dir / "mutated.gguf", mutated).empty()) ++rejected;
    }
  }
  // Changes to the header, counts, lengths and type ids are rejected; the
  // exact count only needs to show the loop reached the checks.
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace optiq
