// Budget strings: parsing, conversion to bytes and rejection of bad text.
#include <gtest/gtest.h>

#include "optiq/core/error.h"
#include "optiq/plan/budget.h"

namespace optiq {
namespace {

struct ValidCase {
  const char* text;
  int64_t params;
  uint64_t bytes;  // computed by hand from the unit definitions
};

TEST(Budget, ValidForms) {
  const ValidCase cases[] = {
      {"4.0bpw", 1000, 500},
      {"4bpw", 1000, 500},
      {"4.5bpw", 7, 3},  // 3.9375 rounded down
      {"2.5bpw", 7'000'000'000, 2'187'500'000},
      {"3.2GB", 0, 3'200'000'000},
      {"0.3GB", 0, 300'000'000},
      {"304096B", 0, 304'096},
      {"1.0B", 0, 1},
      {"500KB", 0, 500'000},
      {"500kB", 0, 500'000},
      {"12MB", 0, 12'000'000},
      {"1TB", 0, 1'000'000'000'000},
      {"64KiB", 0, 65'536},
      {"700MiB", 0, 734'003'200},
      {"1.5GiB", 0, 1'610'612'736},
      {"1TiB", 0, 1'099'511'627'776},
      {"40%", 1000, 1200},  // 0.6 * 1000 params * 2 bytes
      {"12.5%", 8, 14},     // 0.875 * 8 * 2
      {"0%", 10, 20},
      {" 3.2 GB ", 0, 3'200'000'000},
      {"4.0 bpw", 16, 8},
      {".5KiB", 0, 512},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(resolve_budget_bytes(c.text, c.params), c.bytes);
  }
}

TEST(Budget, ParsedForm) {
  const BudgetSpec gib = parse_budget("1.5GiB");
  EXPECT_EQ(gib.kind, BudgetKind::kBytes);
  EXPECT_EQ(gib.number, "1.5");
  EXPECT_EQ(gib.unit, "GiB");
  EXPECT_EQ(gib.unit_bytes, uint64_t{1} << 30);
  EXPECT_EQ(gib.mantissa, 15u);
  EXPECT_EQ(gib.decimals, 1);
  EXPECT_DOUBLE_EQ(gib.value(), 1.5);
  EXPECT_EQ(describe_budget(gib), "1.5 GiB");

  const BudgetSpec bpw = parse_budget("4.25bpw");
  EXPECT_EQ(bpw.kind, BudgetKind::kBitsPerWeight);
  EXPECT_EQ(bpw.unit_bytes, 0u);
  EXPECT_DOUBLE_EQ(bpw.value(), 4.25);
  EXPECT_EQ(describe_budget(bpw), "4.25 bits per weight");

  const BudgetSpec percent = parse_budget("40%");
  EXPECT_EQ(percent.kind, BudgetKind::kReductionPercent);
  EXPECT_EQ(describe_budget(percent), "40% smaller than 16-bit weights");
}

TEST(Budget, InvalidTextRejected) {
  const char* cases[] = {
      "",
      "   ",
      "bpw",
      "4",
      "4 bpw x",
      "4.0.0bpw",
      "-4bpw",
      "+4bpw",
      "4e9B",
      "4Gb",
      "4gb",
      "4BPW",
      "4,5bpw",
      ".bpw",
      "abc",
      "0bpw",
      "0GB",
      "00.0B",
      "100%",
      "150%",
      "1234567890123456789B",
      "1.0000000001GB",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    try {
      parse_budget(text);
      ADD_FAILURE() << "expected optiq::Error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(std::string("'") + text + "'"), std::string::npos)
          << message;
      EXPECT_NE(message.find("bpw"), std::string::npos) << message;
      EXPECT_NE(message.find("GiB"), std::string::npos) << message;
      EXPECT_NE(message.find("%"), std::string::npos) << message;
    }
  }
}

TEST(Budget, ResolveErrors) {
  EXPECT_THROW(resolve_budget_bytes("4bpw", 0), Error);
  EXPECT_THROW(resolve_budget_bytes("40%", -1), Error);
  EXPECT_THROW(resolve_budget_bytes("0.001bpw", 10), Error);
  EXPECT_THROW(resolve_budget_bytes("0.0001KB", 0), Error);
  EXPECT_THROW(resolve_budget_bytes("0.5B", 0), Error);
  EXPECT_THROW(resolve_budget_bytes("20000000000TiB", 0), Error);
  // The longest accepted number, 18 digits, is converted exactly.
  EXPECT_EQ(resolve_budget_bytes("999999999999999999B", 0),
            999'999'999'999'999'999u);
  try {
    resolve_budget_bytes("4bpw", 0);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'4bpw'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace optiq
