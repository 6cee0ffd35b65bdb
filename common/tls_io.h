// Reading and writing a non-blocking connection through its OpenSSL SSL
// object with a plain socket's semantics, for event loops written against
// recv/send: > 0 bytes, 0 at the end of the stream (close_notify or EOF),
// -1 with errno set (EAGAIN whenever TLS waits for the socket, in either
// direction; EPROTO for a TLS protocol error). OpenSSL's error queue is
// left empty.
// Thread-safety: as the SSL object's (one thread at a time).
#ifndef FOURTUPLE_COMMON_TLS_IO_H_
#define FOURTUPLE_COMMON_TLS_IO_H_

#include <sys/types.h>

#include <cstddef>

typedef struct ssl_st SSL;

namespace fourtuple {

ssize_t TlsRead(SSL* ssl, char* data, size_t size);
// Needs SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER when a retry after EAGAIN may
// pass the same bytes from another buffer.
ssize_t TlsWrite(SSL* ssl, const char* data, size_t size);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_TLS_IO_H_
