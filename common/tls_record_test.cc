#include "common/tls_record.h"

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

// Two real OpenSSL endpoints over a socketpair, handshaken, then detached:
// what one side seals the other opens, in both directions, with the
// sequence numbers OpenSSL left (the server's session ticket included).
class TlsRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ft-tls-record-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string command = "cd " + dir_ +
                                " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                                "-keyout key.pem -out cert.pem -subj /CN=t -days 1 >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
    server_ctx_ = SSL_CTX_new(TLS_server_method());
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_EQ(SSL_CTX_use_certificate_file(server_ctx_, (dir_ + "/cert.pem").c_str(), SSL_FILETYPE_PEM), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(server_ctx_, (dir_ + "/key.pem").c_str(), SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_num_tickets(server_ctx_, 1);
    for (SSL_CTX* ctx : {server_ctx_, client_ctx_}) {
      SSL_CTX_set_keylog_callback(ctx, [](const SSL* ssl, const char* line) {
        CaptureSecret(line, SSL_is_server(const_cast<SSL*>(ssl)) == 0, State(ssl));
      });
      SSL_CTX_set_msg_callback(ctx, [](int, int, int type, const void* buf, size_t length, SSL* ssl, void*) {
        CountTicket(type, buf, length, State(ssl));
      });
    }
  }
  void TearDown() override {
    SSL_CTX_free(server_ctx_);
    SSL_CTX_free(client_ctx_);
    if (fds_[0] >= 0) close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
    std::system(("rm -rf " + dir_).c_str());
  }
  static TlsRecordState* State(const SSL* ssl) { return static_cast<TlsRecordState*>(SSL_get_app_data(ssl)); }

  // Handshakes (with `suites` offered) and detaches both ends.
  void Connect(const char* suites) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    SSL* client = SSL_new(client_ctx_);
    SSL* server = SSL_new(server_ctx_);
    ASSERT_EQ(SSL_set_ciphersuites(client, suites), 1);
    SSL_set_fd(client, fds_[0]);
    SSL_set_fd(server, fds_[1]);
    SSL_set_app_data(client, &client_state_);
    SSL_set_app_data(server, &server_state_);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    int done = 0;
    for (int i = 0; i < 50 && done != 3; ++i) {
      if (!(done & 1) && SSL_do_handshake(client) == 1) done |= 1;
      if (!(done & 2) && SSL_do_handshake(server) == 1) done |= 2;
    }
    ASSERT_EQ(done, 3);
    // The client has not read the ticket: it is opened after the detach.
    EXPECT_EQ(server_state_.tickets, 1);
    EXPECT_EQ(client_state_.tickets, 0);
    ASSERT_TRUE(Detach(server, 0, server_state_.tickets, &server_state_));
    ASSERT_TRUE(Detach(client, client_state_.tickets, 0, &client_state_));
    for (SSL* ssl : {client, server}) {
      SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      SSL_free(ssl);
    }
  }

  // Seals `text` on one side and opens it on the other.
  std::string RoundTrip(TlsRecordState& from, int from_fd, TlsRecordState& to, int to_fd,
                        const std::string& text) {
    char record[kTlsMaxRecordBytes];
    const size_t size = cipher_.Seal(from, text.data(), text.size(), record);
    EXPECT_EQ(size, text.size() + kTlsRecordOverhead);
    EXPECT_EQ(write(from_fd, record, size), static_cast<ssize_t>(size));
    const char* plaintext = nullptr;
    const ssize_t n = cipher_.Read(to_fd, to, &plaintext);
    return n > 0 ? std::string(plaintext, static_cast<size_t>(n)) : "error " + std::to_string(n);
  }

  std::string dir_;
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  int fds_[2] = {-1, -1};
  TlsRecordState client_state_{};
  TlsRecordState server_state_{};
  TlsRecordCipher cipher_;
};

TEST_F(TlsRecordTest, DetachedEndsTalkInEverySuite) {
  for (const char* suite :
       {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
    SCOPED_TRACE(suite);
    client_state_ = {};
    server_state_ = {};
    if (fds_[0] >= 0) close(fds_[0]), close(fds_[1]);
    Connect(suite);
    // The ticket sealed before the detach is skipped, then the request opens.
    EXPECT_EQ(RoundTrip(client_state_, fds_[0], server_state_, fds_[1], "request"), "request");
    EXPECT_EQ(RoundTrip(server_state_, fds_[1], client_state_, fds_[0], "request"), "request");
    EXPECT_EQ(RoundTrip(client_state_, fds_[0], server_state_, fds_[1], std::string(4096, 'x')),
              std::string(4096, 'x'));
  }
}

TEST_F(TlsRecordTest, HalfARecordWaitsAndATamperedOneFails) {
  Connect("TLS_AES_128_GCM_SHA256");
  char record[kTlsMaxRecordBytes];
  const size_t size = cipher_.Seal(client_state_, "hello", 5, record);
  ASSERT_EQ(write(fds_[0], record, 10), 10);
  const char* plaintext = nullptr;
  errno = 0;
  EXPECT_EQ(cipher_.Read(fds_[1], server_state_, &plaintext), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(write(fds_[0], record + 10, size - 10), static_cast<ssize_t>(size - 10));
  ASSERT_EQ(cipher_.Read(fds_[1], server_state_, &plaintext), 5);
  EXPECT_EQ(std::string(plaintext, 5), "hello");

  const size_t again = cipher_.Seal(client_state_, "hello", 5, record);
  record[again - 1] ^= 1;  // the tag
  ASSERT_EQ(write(fds_[0], record, again), static_cast<ssize_t>(again));
  errno = 0;
  EXPECT_EQ(cipher_.Read(fds_[1], server_state_, &plaintext), -1);
  EXPECT_EQ(errno, EPROTO);
}

TEST_F(TlsRecordTest, TheEndOfTheStreamReadsAsZero) {
  Connect("TLS_AES_128_GCM_SHA256");
  // The client takes the ticket in first (a Unix socket closed with unread
  // bytes resets its peer instead).
  const char* plaintext = nullptr;
  errno = 0;
  EXPECT_EQ(cipher_.Read(fds_[0], client_state_, &plaintext), -1);
  EXPECT_EQ(errno, EAGAIN);
  close(fds_[0]);
  fds_[0] = -1;
  EXPECT_EQ(cipher_.Read(fds_[1], server_state_, &plaintext), 0);
}

}  // namespace
}  // namespace fourtuple
