// Door to Debian's OpenSSL (libssl-dev): TLS for wss://, SHA-1 for the exchange hash and the
// websocket handshake, MD5 for routing compatible with the reference system.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
