#include "agent/worker/echo_exchange.h"

#include <string>

#include "agent/worker/worker_protocol.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

TEST(EchoExchangeTest, FixedSendsInPlaceAndMatchesAnyRangeOfTheReply) {
  EchoExchange exchange = EchoExchange::Fixed("PING\r\n", "+PONG\r\n");
  EXPECT_TRUE(exchange.fixed());
  EXPECT_EQ(exchange.send_bytes(), 6u);
  EXPECT_EQ(exchange.expect_bytes(), 7u);
  const EchoId id{1, 2, 3};
  char scratch[8] = {};
  EXPECT_EQ(std::string(exchange.SendData(id, 2, 4, scratch), 4), "NG\r\n");
  EXPECT_EQ(scratch[0], '\0');  // nothing generated
  EXPECT_TRUE(exchange.ReplyMatches(id, 0, "+PONG\r\n", 7));
  EXPECT_TRUE(exchange.ReplyMatches(id, 0, "+P", 2));
  EXPECT_TRUE(exchange.ReplyMatches(id, 2, "ONG", 3));
  EXPECT_TRUE(exchange.ReplyMatches(id, 6, "\n", 1));
  EXPECT_FALSE(exchange.ReplyMatches(id, 2, "ONX", 3));
  EXPECT_FALSE(exchange.ReplyMatches(id, 0, "-ERR\r\n", 6));
  // The same bytes for every connection and round.
  EXPECT_TRUE(exchange.ReplyMatches(EchoId{9, 99, 999}, 0, "+PONG\r\n", 7));
}

TEST(EchoExchangeTest, UniquePayloadIsTheIdPayloadBothWays) {
  EchoExchange exchange = EchoExchange::UniquePayload(40);
  EXPECT_FALSE(exchange.fixed());
  EXPECT_EQ(exchange.send_bytes(), 40u);
  EXPECT_EQ(exchange.expect_bytes(), 40u);
  const EchoId id{1, 2, 3};
  std::string payload(40, '\0');
  FillEchoPayload(id, 0, 40, payload.data());
  char scratch[40];
  EXPECT_EQ(std::string(exchange.SendData(id, 10, 30, scratch), 30), payload.substr(10));
  EXPECT_TRUE(exchange.ReplyMatches(id, 5, payload.data() + 5, 20));
  EXPECT_FALSE(exchange.ReplyMatches(EchoId{1, 2, 4}, 0, payload.data(), 40));
}

TEST(EchoExchangeTest, ReplyOwedAfterATimeout) {
  // An echo server owes back what it got.
  EchoExchange echo = EchoExchange::UniquePayload(40);
  EXPECT_EQ(echo.ReplyOwed(40, 10), 30);
  EXPECT_EQ(echo.ReplyOwed(25, 0), 25);
  // A fixed request owes the whole reply once it was sent whole, and cannot
  // be accounted for when it was not.
  EchoExchange fixed = EchoExchange::Fixed("PING\r\n", "+PONG\r\n");
  EXPECT_EQ(fixed.ReplyOwed(6, 0), 7);
  EXPECT_EQ(fixed.ReplyOwed(6, 3), 4);
  EXPECT_EQ(fixed.ReplyOwed(5, 0), -1);
}

TEST(EchoExchangeTest, OfAssignmentPicksTheMode) {
  v1::Assignment a;
  a.set_payload_bytes(32);
  absl::StatusOr<EchoExchange> exchange = EchoExchangeOf(a);
  ASSERT_TRUE(exchange.ok()) << exchange.status();
  EXPECT_FALSE(exchange->fixed());
  EXPECT_EQ(exchange->send_bytes(), 32u);

  a.set_payload_bytes(0);
  a.set_echo_send(std::string("\0\1", 2));
  a.set_echo_expect("ok");
  exchange = EchoExchangeOf(a);
  ASSERT_TRUE(exchange.ok()) << exchange.status();
  EXPECT_TRUE(exchange->fixed());
  EXPECT_EQ(exchange->send_bytes(), 2u);
  EXPECT_EQ(exchange->expect_bytes(), 2u);

  a.set_echo_expect(std::string(kMaxSendExpectBytes + 1, 'x'));
  EXPECT_EQ(EchoExchangeOf(a).status().message(),
            "assignment.echo_expect: 4097 bytes is outside 1..4096 bytes");
}

}  // namespace
}  // namespace fourtuple::agent
