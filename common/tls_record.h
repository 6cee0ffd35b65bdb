// TLS 1.3 records without an SSL object: once OpenSSL has finished a
// handshake, a connection that negotiated TLS 1.3 with an AEAD suite
// (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) is "detached": its SSL
// object is freed and all that stays is a TlsRecordState — the two traffic
// keys, IVs and sequence numbers, 120 bytes — and each record is sealed and
// opened here (RFC 8446 section 5.2) with the loop's one TlsRecordCipher.
// That is what makes a held TLS connection cost ~120 bytes of user memory
// instead of OpenSSL's ~15 KB (its SSL object alone is 7.6 KB in 3.0).
//
// The traffic secrets come from OpenSSL's keylog callback
// (SSL_CTX_set_keylog_callback: CaptureSecret), the keys are derived with
// HKDF-Expand-Label. Sequence numbers start where OpenSSL left them: the
// caller passes how many records OpenSSL sealed and opened with the
// application keys before the detach (session tickets).
//
// After the detach: received handshake messages (session tickets) are
// skipped, an alert ends the stream, a KeyUpdate is refused (EPROTO).
//
// Thread-compatible: one loop owns a TlsRecordCipher and its states.
#ifndef FOURTUPLE_COMMON_TLS_RECORD_H_
#define FOURTUPLE_COMMON_TLS_RECORD_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

typedef struct ssl_st SSL;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace fourtuple {

// The largest record this layer opens or seals: 2^14 bytes of plaintext,
// a content-type byte and a 16-byte tag, with the 5-byte header.
inline constexpr size_t kTlsMaxRecordBytes = 5 + (1 << 14) + 1 + 16;
// What sealing adds to the plaintext: header, content type, tag.
inline constexpr size_t kTlsRecordOverhead = 5 + 1 + 16;

struct TlsRecordState {
  uint64_t read_seq;
  uint64_t write_seq;
  // Until the detach: the raw traffic secrets ([0] read, [1] write);
  // after: the keys and IVs derived from them.
  union {
    uint8_t secrets[2][48];
    struct {
      uint8_t read_key[32];
      uint8_t write_key[32];
      uint8_t read_iv[12];
      uint8_t write_iv[12];
    } keys;
  };
  uint8_t secret_bytes[2];  // 0 until captured
  uint8_t suite;            // 0 until detached; TlsSuite
  // Until the detach: session tickets OpenSSL sealed or opened with the
  // application keys (CountTicket), each one record.
  uint8_t tickets;
};
static_assert(sizeof(TlsRecordState) == 120, "a detached TLS connection's state");

// Stores the application traffic secret that a keylog `line` carries into
// `state`, for the client or the server side of the connection; other lines
// are ignored.
void CaptureSecret(const char* line, bool is_client, TlsRecordState* state);

// An SSL_CTX_set_msg_callback hook's work: counts a NewSessionTicket that
// went by (`content_type` and `buf` as the callback got them).
void CountTicket(int content_type, const void* buf, size_t length, TlsRecordState* state);

// Whether `ssl` (its handshake done) can be detached: TLS 1.3, an AEAD suite
// above, both secrets captured. When so, derives the keys into `state` with
// the sequence numbers given; the caller then frees the SSL object.
bool Detach(const SSL* ssl, uint64_t read_seq, uint64_t write_seq, TlsRecordState* state);

class TlsRecordCipher {
 public:
  TlsRecordCipher();
  ~TlsRecordCipher();
  TlsRecordCipher(const TlsRecordCipher&) = delete;
  TlsRecordCipher& operator=(const TlsRecordCipher&) = delete;

  // Seals `size` (<= 2^14) bytes into one application-data record at `out`
  // (size + kTlsRecordOverhead bytes) and advances write_seq; the record's
  // size, or 0 when sealing failed.
  size_t Seal(TlsRecordState& state, const char* data, size_t size, char* out);

  // Reads the next application-data record from socket `fd`, only once it
  // has fully arrived (peeked first, so nothing per connection waits half
  // read), opens it and advances read_seq. Returns its plaintext length
  // with *plaintext pointing into this cipher's buffer (valid until the next
  // call); 0 at the end of the stream (EOF or an alert); -1 with errno
  // (EAGAIN: no whole record yet; EPROTO: a record that does not open, or
  // one this layer cannot follow).
  ssize_t Read(int fd, TlsRecordState& state, const char** plaintext);

 private:
  bool Crypt(const TlsRecordState& state, bool seal, uint64_t seq, const uint8_t* header, uint8_t* data,
             size_t size, uint8_t* tag);

  EVP_CIPHER_CTX* const ctx_;
  std::unique_ptr<uint8_t[]> buffer_;  // one record
};

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_TLS_RECORD_H_
