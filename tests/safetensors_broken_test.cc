// Hand-built broken safetensors files: each must be rejected with an
// optiq::Error whose message names the problem, and none may crash (these
// tests also run under AddressSanitizer and UndefinedBehaviorSanitizer).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "optiq/core/error.h"
#include "optiq/io/safetensors.h"
#include "test_support.h"

namespace optiq {
namespace {

// Builds a file from a header string and `data_bytes` zero bytes of data.
std::string make_file(const std::string& header, size_t data_bytes, int64_t declared_length = -1) {
  uint64_t length = declared_length < 0 ? header.size() : static_cast<uint64_t>(declared_length);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
  bytes += header;
  bytes += std::string(data_bytes, '\0');
  return bytes;
}

std::string error_for(const std::string& bytes) {
  testing::ScratchDir dir;
  std::filesystem::path path = dir / "broken.safetensors";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  try {
    SafetensorsFile file(path);
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("broken.safetensors"), std::string::npos) << message;
    return message;
  }
  return "accepted";
}

struct BrokenCase {
  const char* name;
  std::string bytes;
  const char* expected;
};

TEST(SafetensorsBroken, EveryCaseIsRejectedWithItsReason) {
  const std::string good_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<BrokenCase> cases = {
      {"empty file", "", "too short"},
      {"short header length", std::string(5, '\0'), "too short"},
      {"header past end", make_file("{}", 0, 4096), "runs past the end"},
      {"header over cap", make_file("{}", 0, int64_t{1} << 40), "exceeds the"},
      {"not JSON", make_file("{\"a\":", 0), "invalid safetensors header JSON"},
      {"not an object", make_file("[1,2]", 0), "not a JSON object"},
      {"unknown dtype",
       make_file(R"({"a":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}})", 2),
       "unknown dtype 'F8_E9'"},
      {"negative dim",
       make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "invalid dimension -2"},
      {"size mismatch",
       make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 12"},
      {"offsets past data",
       make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
       "run past the 8-byte data section"},
      {"reversed offsets",
       make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
       "reversed"},
      {"overlap",
       make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 12),
       "overlap"},
      {"duplicate name", make_file("{" + good_entry + "," + good_entry + "}", 8),
       "duplicate tensor name 'a'"},
      {"missing offsets", make_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8),
       "missing 'data_offsets'"},
      {"shape overflow",
       make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "overflows 64 bits"},
      {"metadata not strings", make_file(R"({"__metadata__":{"k":1}})", 0),
       "metadata value of 'k' is not a string"},
      {"offsets not integers",
       make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}})", 8),
       "must be two non-negative integers"},
  };
  for (const BrokenCase& c : cases) {
    std::string message = error_for(c.bytes);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << c.name << ": got '" << message << "'";
  }
}

TEST(SafetensorsBroken, EveryTruncationOfAValidFileIsRejected) {
  std::string valid = make_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}})",
      16);
  ASSERT_EQ(error_for(valid), "accepted");
  for (size_t length = 0; length < valid.size(); ++length) {
    std::string message = error_for(valid.substr(0, length));
    EXPECT_NE(message, "accepted") << "prefix of " << length << " bytes";
  }
}

TEST(SafetensorsBroken, CliReportsTheFileAndExitsNonZero) {
  testing::ScratchDir dir;
  std::string bytes = make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  std::ofstream(dir / "bad.safetensors", std::ios::binary).write(bytes.data(), bytes.size());
  auto result = testing::run_optiq("inspect " + (dir / "bad.safetensors").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("bad.safetensors: tensor 'a'"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty());
}

}  // namespace
}  // namespace optiq
