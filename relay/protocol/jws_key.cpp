// JWS keys through OpenSSL 3's EVP interface: keys built from their public components
// with EVP_PKEY_fromdata (and checked with EVP_PKEY_public_check), signatures checked
// with EVP_DigestVerify, HMACs compared in constant time.
#include "relay/protocol/jws_key.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

namespace rt {
namespace {

const JwsAlg kAlgs[] = {
    {"HS256", KeyType::Oct, EVP_sha256, 0},     {"HS384", KeyType::Oct, EVP_sha384, 0},
    {"HS512", KeyType::Oct, EVP_sha512, 0},     {"RS256", KeyType::Rsa, EVP_sha256, 0},
    {"RS384", KeyType::Rsa, EVP_sha384, 0},     {"RS512", KeyType::Rsa, EVP_sha512, 0},
    {"ES256", KeyType::EcP256, EVP_sha256, 32}, {"ES384", KeyType::EcP384, EVP_sha384, 48},
    {"ES512", KeyType::EcP521, EVP_sha512, 66}, {"EdDSA", KeyType::Ed25519, nullptr, 0},
    {"Ed25519", KeyType::Ed25519, nullptr, 0},
};

constexpr int kMinRsaBits = 2048;  // RFC 7518 3.3: smaller keys MUST NOT be used

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
    void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bignum = std::unique_ptr<BIGNUM, BnFree>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

Bignum bignum(std::string_view big_endian) {
    return Bignum(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

// The key params describe, or nullptr; error says why OpenSSL refused it.
EVP_PKEY* from_params(const char* type, const OSSL_PARAM* params, std::string& error) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) != 1) {
        error = std::string("OpenSSL refused the ") + type + " key";
        ERR_clear_error();
        return nullptr;
    }
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        error = std::string("the ") + type + " public key does not pass OpenSSL's checks";
        ERR_clear_error();
        EVP_PKEY_free(pkey);
        return nullptr;
    }
    return pkey;
}

// JWS writes an ECDSA signature as r || s; OpenSSL verifies its DER encoding.
bool ecdsa_der(std::string_view raw, size_t coordinate_bytes, std::string& der) {
    if (raw.size() != 2 * coordinate_bytes) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(bytes(raw), static_cast<int>(coordinate_bytes), nullptr);
    BIGNUM* s = BN_bin2bn(bytes(raw) + coordinate_bytes, static_cast<int>(coordinate_bytes), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    return true;
}

std::string sha256(std::string_view data) {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(md), len);
}

std::string public_der(EVP_PKEY* pkey) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    std::string out = len > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)) : "";
    OPENSSL_free(der);
    return out;
}

}  // namespace

const JwsAlg* find_alg(std::string_view name) {
    for (const JwsAlg& a : kAlgs)
        if (name == a.name) return &a;
    return nullptr;
}

bool same_alg(std::string_view key_alg, const JwsAlg& alg) {
    if (alg.key_type == KeyType::Ed25519) return key_alg == "EdDSA" || key_alg == "Ed25519";
    return key_alg == alg.name;
}

std::unique_ptr<JwsKey> JwsKey::hmac(std::string secret) {
    if (secret.empty()) return nullptr;
    std::unique_ptr<JwsKey> key(new JwsKey(KeyType::Oct, secret));
    key->secret_ = std::move(secret);
    return key;
}

std::unique_ptr<JwsKey> JwsKey::rsa(std::string_view n, std::string_view e, std::string& error) {
    Bignum bn_n = bignum(n), bn_e = bignum(e);
    if (bn_n && BN_num_bits(bn_n.get()) < kMinRsaBits) {
        error = "an RSA key of " + std::to_string(BN_num_bits(bn_n.get())) + " bits (at least " +
                std::to_string(kMinRsaBits) + " are needed)";
        return nullptr;
    }
    std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
        error = "out of memory";
        return nullptr;
    }
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
    EVP_PKEY* pkey = params ? from_params("RSA", params.get(), error) : nullptr;
    return pkey ? with_pkey(KeyType::Rsa, pkey) : nullptr;
}

std::unique_ptr<JwsKey> JwsKey::ec(KeyType curve, std::string_view x, std::string_view y, std::string& error) {
    const char* group = curve == KeyType::EcP256 ? "P-256" : curve == KeyType::EcP384 ? "P-384" : "P-521";
    size_t size = curve == KeyType::EcP256 ? 32 : curve == KeyType::EcP384 ? 48 : 66;
    if (x.size() != size || y.size() != size) {
        error = std::string("the coordinates of a ") + group + " key are " + std::to_string(size) + " bytes each";
        return nullptr;
    }
    std::string point = "\x04" + std::string(x) + std::string(y);  // uncompressed (SEC 1)
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* pkey = from_params("EC", params, error);
    return pkey ? with_pkey(curve, pkey) : nullptr;
}

std::unique_ptr<JwsKey> JwsKey::ed25519(std::string_view x, std::string& error) {
    EVP_PKEY* pkey = x.size() == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(x), x.size())
                                    : nullptr;
    if (!pkey) {
        error = "an Ed25519 public key is 32 bytes";
        ERR_clear_error();
        return nullptr;
    }
    return with_pkey(KeyType::Ed25519, pkey);
}

JwsKey::JwsKey(KeyType type, std::string_view material) : type_(type), material_(sha256(material)) { name("", ""); }

std::unique_ptr<JwsKey> JwsKey::with_pkey(KeyType type, EVP_PKEY* pkey) {
    std::unique_ptr<JwsKey> key(new JwsKey(type, public_der(pkey)));
    key->pkey_ = pkey;
    return key;
}

JwsKey::~JwsKey() { EVP_PKEY_free(pkey_); }

void JwsKey::name(std::string kid, std::string alg) {
    kid_ = std::move(kid);
    alg_ = std::move(alg);
    id_ = kid_ + '\0' + alg_ + '\0' + material_;
}

bool JwsKey::verify(const JwsAlg& alg, std::string_view signing_input, std::string_view signature) const {
    if (alg.key_type != type_) return false;
    return type_ == KeyType::Oct ? verify_hmac(alg, signing_input, signature)
                                 : verify_pkey(alg, signing_input, signature);
}

bool JwsKey::verify_hmac(const JwsAlg& alg, std::string_view input, std::string_view signature) const {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(alg.digest(), secret_.data(), static_cast<int>(secret_.size()), bytes(input), input.size(), mac, &len))
        return false;
    return len == signature.size() && CRYPTO_memcmp(mac, signature.data(), len) == 0;
}

bool JwsKey::verify_pkey(const JwsAlg& alg, std::string_view input, std::string_view signature) const {
    std::string der;
    if (alg.coordinate_bytes) {
        if (!ecdsa_der(signature, alg.coordinate_bytes, der)) return false;
        signature = der;
    }
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, alg.digest ? alg.digest() : nullptr, nullptr, pkey_) == 1 &&
              EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(input), input.size()) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

}  // namespace rt
