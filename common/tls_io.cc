#include "common/tls_io.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <climits>

namespace fourtuple {
namespace {

// The socket-style result of a failed SSL_read/SSL_write returning `n`.
ssize_t Failed(SSL* ssl, int n, bool reading) {
  const int saved = errno;
  const int error = SSL_get_error(ssl, n);
  ERR_clear_error();
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      if (reading) return 0;
      errno = EPIPE;
      return -1;
    case SSL_ERROR_SYSCALL:
      // n == 0 or no errno: the peer closed without close_notify.
      if (n == 0 || saved == 0) {
        if (reading) return 0;
        errno = EPIPE;
        return -1;
      }
      errno = saved;
      return -1;
    default:
      errno = EPROTO;
      return -1;
  }
}

}  // namespace

ssize_t TlsRead(SSL* ssl, char* data, size_t size) {
  ERR_clear_error();
  errno = 0;
  const int n = SSL_read(ssl, data, size > INT_MAX ? INT_MAX : static_cast<int>(size));
  return n > 0 ? n : Failed(ssl, n, /*reading=*/true);
}

ssize_t TlsWrite(SSL* ssl, const char* data, size_t size) {
  ERR_clear_error();
  errno = 0;
  const int n = SSL_write(ssl, data, size > INT_MAX ? INT_MAX : static_cast<int>(size));
  return n > 0 ? n : Failed(ssl, n, /*reading=*/false);
}

}  // namespace fourtuple
