#include "coordinator/tls_preflight.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

v1::HostFacts Host(const std::string& boot_id, uint32_t cores) {
  v1::HostFacts facts;
  facts.set_boot_id(boot_id);
  facts.set_cores(cores);
  return facts;
}

TEST(TlsPreflightTest, MemoryCountsBothSidesOnlyWhenTheTargetSharesTheHost) {
  Plan plan;
  EXPECT_EQ(TlsBytesPerConnection(plan, true), 0);
  plan.tls = TlsPlan{};
  EXPECT_EQ(TlsBytesPerConnection(plan, false), kTlsDetachedBytesPerConnection);
  EXPECT_EQ(TlsBytesPerConnection(plan, true), 2 * kTlsDetachedBytesPerConnection);
  // TLS 1.2 keeps OpenSSL's objects on both sides.
  plan.tls->max_version = "1.2";
  EXPECT_EQ(TlsBytesPerConnection(plan, false), kTlsAgentSslBytesPerConnection);
  EXPECT_EQ(TlsBytesPerConnection(plan, true),
            kTlsAgentSslBytesPerConnection + kTlsTargetSslBytesPerConnection);
}

TEST(TlsPreflightTest, WarnsWhenTheRateIsFarAboveWhatTheCoresHandshake) {
  const v1::HostFacts a = Host("boot-a", 2), a_again = Host("boot-a", 2), b = Host("boot-b", 2);
  Plan plan;
  plan.tls = TlsPlan{};
  plan.connect_rate = 4 * kTlsRateWarningFactor * kTlsHandshakesPerCoreSecond + 1;  // over 4 cores' worth
  // Two agents on one host: its 2 cores once.
  std::optional<std::string> warning = TlsRateWarning(plan, {&a, &a_again});
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, HasSubstr("2 cores"));
  EXPECT_THAT(*warning, HasSubstr("lower connect_rate"));
  // Two hosts: 4 cores, and the rate is still above twice their capacity.
  EXPECT_TRUE(TlsRateWarning(plan, {&a, &b}).has_value());
  plan.connect_rate = kTlsHandshakesPerCoreSecond;
  EXPECT_FALSE(TlsRateWarning(plan, {&a, &b}).has_value());
  plan.connect_rate = 0;  // as fast as possible: nothing to compare
  EXPECT_FALSE(TlsRateWarning(plan, {&a}).has_value());
  plan.tls.reset();
  plan.connect_rate = 1e9;
  EXPECT_FALSE(TlsRateWarning(plan, {&a}).has_value());
}

}  // namespace
}  // namespace fourtuple::coordinator
