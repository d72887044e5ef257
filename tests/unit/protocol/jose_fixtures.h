// Keys and tokens for the JWT tests, made here with OpenSSL (independently of the code
// under test): key pairs generated per test run, their public JWKs, and JWS signatures
// of every algorithm (ECDSA converted from DER to JWS's r || s).
#pragma once

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jose_test {

inline std::string b64url(std::string_view in) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(alphabet[(v >> s) & 63]);
    }
    if (in.size() - i == 1) {
        uint32_t v = uint8_t(in[i]) << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
    } else if (in.size() - i == 2) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
    }
    return out;
}

inline std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

inline const EVP_MD* digest_of(std::string_view alg) {
    if (alg.size() != 5 || alg == "EdDSA") return nullptr;  // Ed25519 hashes internally
    if (alg.substr(2) == "256") return EVP_sha256();
    if (alg.substr(2) == "384") return EVP_sha384();
    if (alg.substr(2) == "512") return EVP_sha512();
    return nullptr;  // EdDSA
}

// A generated key pair of one kind: "RSA", "RSA1024", "P-256", "P-384", "P-521", "Ed25519".
class KeyPair {
public:
    explicit KeyPair(const std::string& kind) : kind_(kind) {
        if (kind == "RSA" || kind == "RSA1024")
            pkey_ = EVP_RSA_gen(kind == "RSA" ? 2048 : 1024);
        else if (kind == "Ed25519")
            pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        else
            pkey_ = EVP_EC_gen(kind.c_str());
        if (!pkey_) throw std::runtime_error("key generation failed: " + kind);
    }
    ~KeyPair() { EVP_PKEY_free(pkey_); }
    KeyPair(const KeyPair&) = delete;
    KeyPair& operator=(const KeyPair&) = delete;

    // The public JWK, with kid (omitted when empty) and extra members ("\"alg\":\"RS256\"").
    std::string jwk(const std::string& kid, const std::string& extra = "") const {
        std::string j = "{" + members();
        if (!kid.empty()) j += ",\"kid\":\"" + kid + "\"";
        if (!extra.empty()) j += "," + extra;
        return j + "}";
    }

    // The JWS signature of input with alg (raw bytes, not base64url).
    std::string sign(std::string_view alg, std::string_view input) const {
        std::string sig = openssl_sign(alg, input);
        return alg.substr(0, 2) == "ES" ? raw_ecdsa(sig) : sig;
    }

    // The signature as OpenSSL makes it (for ECDSA DER, which is not a JWS signature).
    std::string openssl_sign(std::string_view alg, std::string_view input) const {
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
        const auto* data = reinterpret_cast<const unsigned char*>(input.data());
        size_t len = 0;
        EVP_DigestSignInit(ctx.get(), nullptr, digest_of(alg), nullptr, pkey_);
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size());
        std::string sig(len, '\0');
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size());
        sig.resize(len);
        return sig;
    }

    // A DER ECDSA signature as the JWS writes it: r || s, each the curve's size.
    std::string raw_ecdsa(const std::string& der) const {
        const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
        ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
        if (!sig) throw std::runtime_error("not a DER ECDSA signature");
        std::string out(2 * coordinate_bytes(), '\0');
        auto* o = reinterpret_cast<unsigned char*>(out.data());
        BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, coordinate_bytes());
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + coordinate_bytes(), coordinate_bytes());
        ECDSA_SIG_free(sig);
        return out;
    }

    // The public key's members as JWK text (without braces).
    std::string members() const {
        if (kind_ == "Ed25519") {
            unsigned char x[32];
            size_t len = sizeof x;
            EVP_PKEY_get_raw_public_key(pkey_, x, &len);
            return R"("kty":"OKP","crv":"Ed25519","x":")" + b64url(std::string(reinterpret_cast<char*>(x), len)) +
                   "\"";
        }
        if (kind_.rfind("RSA", 0) == 0)
            return R"("kty":"RSA","n":")" + bn_param(OSSL_PKEY_PARAM_RSA_N, 0) + R"(","e":")" +
                   bn_param(OSSL_PKEY_PARAM_RSA_E, 0) + "\"";
        return R"("kty":"EC","crv":")" + kind_ + R"(","x":")" + bn_param(OSSL_PKEY_PARAM_EC_PUB_X, coordinate_bytes()) +
               R"(","y":")" + bn_param(OSSL_PKEY_PARAM_EC_PUB_Y, coordinate_bytes()) + "\"";
    }

private:
    int coordinate_bytes() const { return kind_ == "P-256" ? 32 : kind_ == "P-384" ? 48 : 66; }

    std::string bn_param(const char* name, int pad) const {
        BIGNUM* bn = nullptr;
        EVP_PKEY_get_bn_param(pkey_, name, &bn);
        std::string out(pad ? pad : BN_num_bytes(bn), '\0');
        BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
        BN_free(bn);
        return b64url(out);
    }

    std::string kind_;
    EVP_PKEY* pkey_ = nullptr;
};

// A compact JWS of header and claims (JSON texts) signed by key with alg.
inline std::string token(const KeyPair& key, std::string_view alg, std::string_view header, std::string_view claims) {
    std::string input = b64url(header) + "." + b64url(claims);
    return input + "." + b64url(key.sign(alg, input));
}

// A compact JWS signed with an HMAC of secret (md), or unsigned (md nullptr: empty signature).
inline std::string hmac_token(std::string_view header, std::string_view claims, const EVP_MD* md,
                              std::string_view secret) {
    std::string input = b64url(header) + "." + b64url(claims);
    return input + "." + (md ? b64url(hmac(md, secret, input)) : "");
}

}  // namespace jose_test
