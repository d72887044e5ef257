// The JWS signature algorithms the relay verifies (RFC 7518, RFC 8037) and a key that
// verifies them: an HMAC secret or a public key (RSA, EC, Ed25519) made into an OpenSSL
// EVP_PKEY once, when the key is loaded, so no token pays for parsing a key. Pure logic.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_st EVP_MD;

namespace rt {

// A key's type, as a JWK's "kty" (and, for EC and OKP, "crv") names it.
enum class KeyType { Oct, Rsa, EcP256, EcP384, EcP521, Ed25519 };

// One JWS "alg" the relay accepts. "none" and everything else has none.
struct JwsAlg {
    const char* name;
    KeyType key_type;
    const EVP_MD* (*digest)();  // nullptr for EdDSA, which hashes internally
    size_t coordinate_bytes;    // ECDSA: r and s each, big-endian (JWS writes r || s)
};
// HS256/384/512, RS256/384/512, ES256/384/512, EdDSA (also spelled Ed25519, RFC 9864).
const JwsAlg* find_alg(std::string_view name);

// JWK "alg" names that fit one of a token's: EdDSA and Ed25519 are the same algorithm.
bool same_alg(std::string_view key_alg, const JwsAlg& alg);

class JwsKey {
public:
    // The key of --jwt-secret or of an "oct" JWK; refused (nullptr) when empty.
    static std::unique_ptr<JwsKey> hmac(std::string secret);
    // Public keys from their JWK members, already base64url-decoded; nullptr with the
    // reason in error when OpenSSL refuses them (not a point of the curve, an RSA key of
    // under 2048 bits, coordinates of the wrong length).
    static std::unique_ptr<JwsKey> rsa(std::string_view n, std::string_view e, std::string& error);
    static std::unique_ptr<JwsKey> ec(KeyType curve, std::string_view x, std::string_view y, std::string& error);
    static std::unique_ptr<JwsKey> ed25519(std::string_view x, std::string& error);
    ~JwsKey();

    JwsKey(const JwsKey&) = delete;
    JwsKey& operator=(const JwsKey&) = delete;

    KeyType type() const { return type_; }
    // Whether signature is alg's signature of signing_input by this key (alg of its type).
    bool verify(const JwsAlg& alg, std::string_view signing_input, std::string_view signature) const;

    // What a JWK says about its use, kept to match tokens against (empty: it does not say).
    void name(std::string kid, std::string alg);
    const std::string& kid() const { return kid_; }
    const std::string& alg() const { return alg_; }
    // The key's identity across reloads of a JWKS: its kid, alg and key material (a
    // digest of it). Equal ids verify the same tokens.
    const std::string& id() const { return id_; }

private:
    JwsKey(KeyType type, std::string_view material);
    bool verify_hmac(const JwsAlg& alg, std::string_view input, std::string_view signature) const;
    bool verify_pkey(const JwsAlg& alg, std::string_view input, std::string_view signature) const;
    static std::unique_ptr<JwsKey> with_pkey(KeyType type, EVP_PKEY* pkey);

    KeyType type_;
    std::string secret_;        // Oct
    EVP_PKEY* pkey_ = nullptr;  // the others
    std::string material_;      // SHA-256 of the secret or of the public key's DER
    std::string kid_, alg_, id_;
};

}  // namespace rt
