#include "coordinator/report_command.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "coordinator/plan.h"
#include "coordinator/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const ReportJson& json) {
  absl::Status status = CheckReportFormat(json);
  EXPECT_FALSE(status.ok()) << json.dump();
  return std::string(status.message());
}

TEST(ReportFormatTest, EveryReportTheCoordinatorWritesPassesTheCheck) {
  RunRecord record;
  EXPECT_TRUE(CheckReportFormat(BuildReport(record).json).ok());
  EXPECT_TRUE(CheckReportFormat(RefusedReport(Plan{}, PreflightResult{})).ok());
  EXPECT_TRUE(CheckReportFormat(RefusedStartReport(Plan{}, {"agent a refused"})).ok());
  EXPECT_EQ(BuildReport(record).json["format"], "fourtuple-report");
  EXPECT_EQ(BuildReport(record).json["format_version"], 1);
}

TEST(ReportFormatTest, OtherJsonIsRefusedSayingWhy) {
  EXPECT_THAT(ErrorOf(ReportJson::array()), HasSubstr("not an object: not a fourtuple report"));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"outcome": "pass"})")),
              HasSubstr("has no \"format\" field: not a fourtuple report"));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": "other", "format_version": 1})")),
              HasSubstr("not \"fourtuple-report\""));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": 3, "format_version": 1})")),
              HasSubstr("not a fourtuple report"));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": "fourtuple-report"})")),
              HasSubstr("no \"format_version\""));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": "fourtuple-report", "format_version": "1"})")),
              HasSubstr("no \"format_version\""));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": "fourtuple-report", "format_version": 0})")),
              HasSubstr("no \"format_version\""));
  EXPECT_THAT(ErrorOf(ReportJson::parse(R"({"format": "fourtuple-report", "format_version": 2})")),
              HasSubstr("is format version 2, newer than this coordinator reads (1)"));
}

class LoadReportFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/load_report_" + name;
    std::FILE* file = std::fopen(path.c_str(), "w");
    EXPECT_NE(file, nullptr);
    std::fputs(text.c_str(), file);
    std::fclose(file);
    return path;
  }
};

TEST_F(LoadReportFileTest, ReadsAReportAndNamesTheFileInEveryError) {
  const std::string good = Write("good.json", R"({"format": "fourtuple-report", "format_version": 1})");
  absl::StatusOr<ReportJson> loaded = LoadReportFile(good);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)["format_version"], 1);

  const std::string garbage = Write("garbage.json", "{\"format\": ");
  EXPECT_THAT(LoadReportFile(garbage).status().message(), HasSubstr(garbage + " is not JSON"));
  const std::string plain = Write("plain.json", "[1, 2]");
  EXPECT_THAT(LoadReportFile(plain).status().message(), HasSubstr(plain + " holds an array"));
  const std::string missing = ::testing::TempDir() + "/load_report_missing.json";
  EXPECT_THAT(LoadReportFile(missing).status().message(), HasSubstr(missing));
  EXPECT_FALSE(LoadReportFile("/dev/null").ok());
}

}  // namespace
}  // namespace fourtuple::coordinator
