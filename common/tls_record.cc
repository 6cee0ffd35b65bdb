#include "common/tls_record.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace fourtuple {
namespace {

enum TlsSuite : uint8_t { kNone = 0, kAes128Gcm = 1, kAes256Gcm = 2, kChaCha20Poly1305 = 3 };

constexpr uint8_t kApplicationData = 23;
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kAlert = 21;
constexpr uint8_t kNewSessionTicket = 4;
constexpr size_t kTagBytes = 16;
constexpr size_t kIvBytes = 12;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// HKDF-Expand-Label(secret, label, "", length) for length <= the hash size:
// one HMAC block (RFC 8446 section 7.1).
bool ExpandLabel(const EVP_MD* md, const uint8_t* secret, size_t secret_bytes, const char* label,
                 uint8_t* out, size_t length) {
  uint8_t info[64];
  const size_t label_bytes = 6 + std::strlen(label);
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(length >> 8);
  info[n++] = static_cast<uint8_t>(length);
  info[n++] = static_cast<uint8_t>(label_bytes);
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label, label_bytes - 6);
  n += label_bytes - 6;
  info[n++] = 0;  // empty context
  info[n++] = 1;  // block counter T(1)
  uint8_t block[EVP_MAX_MD_SIZE];
  unsigned block_bytes = 0;
  if (HMAC(md, secret, static_cast<int>(secret_bytes), info, n, block, &block_bytes) == nullptr ||
      block_bytes < length) {
    return false;
  }
  std::memcpy(out, block, length);
  return true;
}

const EVP_CIPHER* CipherOf(uint8_t suite) {
  switch (suite) {
    case kAes128Gcm:
      return EVP_aes_128_gcm();
    case kAes256Gcm:
      return EVP_aes_256_gcm();
    case kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
    default:
      return nullptr;
  }
}

}  // namespace

void CaptureSecret(const char* line, bool is_client, TlsRecordState* state) {
  // "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>"
  constexpr char kClient[] = "CLIENT_TRAFFIC_SECRET_0 ";
  constexpr char kServer[] = "SERVER_TRAFFIC_SECRET_0 ";
  int which;  // 0 read, 1 write
  if (std::strncmp(line, kClient, sizeof kClient - 1) == 0) {
    which = is_client ? 1 : 0;
  } else if (std::strncmp(line, kServer, sizeof kServer - 1) == 0) {
    which = is_client ? 0 : 1;
  } else {
    return;
  }
  const char* hex = std::strrchr(line, ' ');
  if (hex == nullptr) return;
  ++hex;
  const size_t digits = std::strlen(hex);
  if (digits % 2 != 0 || digits / 2 > sizeof state->secrets[0]) return;
  for (size_t i = 0; i < digits / 2; ++i) {
    const int high = HexValue(hex[2 * i]), low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return;
    state->secrets[which][i] = static_cast<uint8_t>(high << 4 | low);
  }
  state->secret_bytes[which] = static_cast<uint8_t>(digits / 2);
}

void CountTicket(int content_type, const void* buf, size_t length, TlsRecordState* state) {
  if (content_type == SSL3_RT_HANDSHAKE && length > 0 &&
      static_cast<const uint8_t*>(buf)[0] == kNewSessionTicket && state->tickets < UINT8_MAX) {
    ++state->tickets;
  }
}

bool Detach(const SSL* ssl, uint64_t read_seq, uint64_t write_seq, TlsRecordState* state) {
  if (SSL_version(ssl) != TLS1_3_VERSION || state->secret_bytes[0] == 0 || state->secret_bytes[1] == 0) {
    return false;
  }
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher == nullptr) return false;
  uint8_t suite;
  switch (SSL_CIPHER_get_protocol_id(cipher)) {
    case 0x1301:
      suite = kAes128Gcm;
      break;
    case 0x1302:
      suite = kAes256Gcm;
      break;
    case 0x1303:
      suite = kChaCha20Poly1305;
      break;
    default:
      return false;
  }
  const EVP_MD* md = suite == kAes256Gcm ? EVP_sha384() : EVP_sha256();
  const size_t key_bytes = suite == kAes128Gcm ? 16 : 32;
  if (state->secret_bytes[0] != EVP_MD_get_size(md) || state->secret_bytes[1] != EVP_MD_get_size(md))
    return false;
  uint8_t secrets[2][48];
  std::memcpy(secrets, state->secrets, sizeof secrets);
  TlsRecordState derived{};
  const bool ok =
      ExpandLabel(md, secrets[0], state->secret_bytes[0], "key", derived.keys.read_key, key_bytes) &&
      ExpandLabel(md, secrets[1], state->secret_bytes[1], "key", derived.keys.write_key, key_bytes) &&
      ExpandLabel(md, secrets[0], state->secret_bytes[0], "iv", derived.keys.read_iv, kIvBytes) &&
      ExpandLabel(md, secrets[1], state->secret_bytes[1], "iv", derived.keys.write_iv, kIvBytes);
  OPENSSL_cleanse(secrets, sizeof secrets);
  if (!ok) return false;
  derived.read_seq = read_seq;
  derived.write_seq = write_seq;
  derived.suite = suite;
  *state = derived;
  return true;
}

TlsRecordCipher::TlsRecordCipher() : ctx_(EVP_CIPHER_CTX_new()), buffer_(new uint8_t[kTlsMaxRecordBytes]) {}

TlsRecordCipher::~TlsRecordCipher() { EVP_CIPHER_CTX_free(ctx_); }

bool TlsRecordCipher::Crypt(const TlsRecordState& state, bool seal, uint64_t seq, const uint8_t* header,
                            uint8_t* data, size_t size, uint8_t* tag) {
  uint8_t nonce[kIvBytes];
  std::memcpy(nonce, seal ? state.keys.write_iv : state.keys.read_iv, kIvBytes);
  for (int i = 0; i < 8; ++i) nonce[kIvBytes - 1 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
  const uint8_t* key = seal ? state.keys.write_key : state.keys.read_key;
  int n = 0;
  if (EVP_CipherInit_ex(ctx_, CipherOf(state.suite), nullptr, nullptr, nullptr, seal ? 1 : 0) != 1 ||
      EVP_CipherInit_ex(ctx_, nullptr, nullptr, key, nonce, -1) != 1 ||
      EVP_CipherUpdate(ctx_, nullptr, &n, header, 5) != 1 ||
      EVP_CipherUpdate(ctx_, data, &n, data, static_cast<int>(size)) != 1) {
    return false;
  }
  if (seal) {
    return EVP_CipherFinal_ex(ctx_, data + n, &n) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTagBytes, tag) == 1;
  }
  return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) == 1 &&
         EVP_CipherFinal_ex(ctx_, data + n, &n) == 1;
}

size_t TlsRecordCipher::Seal(TlsRecordState& state, const char* data, size_t size, char* out) {
  if (size > (1u << 14)) return 0;
  uint8_t* record = reinterpret_cast<uint8_t*>(out);
  const size_t inner = size + 1;
  const size_t length = inner + kTagBytes;
  record[0] = kApplicationData;
  record[1] = 3;
  record[2] = 3;
  record[3] = static_cast<uint8_t>(length >> 8);
  record[4] = static_cast<uint8_t>(length);
  std::memcpy(record + 5, data, size);
  record[5 + size] = kApplicationData;
  if (!Crypt(state, true, state.write_seq, record, record + 5, inner, record + 5 + inner)) return 0;
  ++state.write_seq;
  return 5 + length;
}

ssize_t TlsRecordCipher::Read(int fd, TlsRecordState& state, const char** plaintext) {
  uint8_t* record = buffer_.get();
  for (;;) {
    ssize_t got = recv(fd, record, 5, MSG_PEEK);
    if (got <= 0) return got;  // EOF, or errno (EAGAIN)
    if (got < 5) {
      errno = EAGAIN;
      return -1;
    }
    const size_t length = size_t{record[3]} << 8 | record[4];
    if (length < kTagBytes + 1 || 5 + length > kTlsMaxRecordBytes) {
      errno = EPROTO;
      return -1;
    }
    got = recv(fd, record, 5 + length, MSG_PEEK);
    if (got < 0) return -1;
    if (static_cast<size_t>(got) < 5 + length) {
      // The rest is on its way: its arrival is a new edge.
      errno = EAGAIN;
      return -1;
    }
    got = recv(fd, record, 5 + length, 0);
    if (got != static_cast<ssize_t>(5 + length)) {
      errno = EPROTO;
      return -1;
    }
    if (record[0] != kApplicationData) {  // after the handshake every record is sealed
      errno = EPROTO;
      return -1;
    }
    const size_t sealed = length - kTagBytes;
    if (!Crypt(state, false, state.read_seq, record, record + 5, sealed, record + 5 + sealed)) {
      errno = EPROTO;
      return -1;
    }
    ++state.read_seq;
    size_t inner = sealed;
    while (inner > 0 && record[5 + inner - 1] == 0) --inner;  // padding
    if (inner == 0) {
      errno = EPROTO;
      return -1;
    }
    const uint8_t type = record[5 + inner - 1];
    const size_t content = inner - 1;
    if (type == kApplicationData) {
      if (content == 0) continue;  // an empty record is allowed
      *plaintext = reinterpret_cast<const char*>(record + 5);
      return static_cast<ssize_t>(content);
    }
    if (type == kAlert) return 0;  // close_notify or an error alert: the stream ends
    if (type == kHandshake && content >= 4 && record[5] == kNewSessionTicket) continue;  // not kept
    errno = EPROTO;  // KeyUpdate, or anything else this layer does not follow
    return -1;
  }
}

}  // namespace fourtuple
