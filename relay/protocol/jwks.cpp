// JWKS parsing: each JWK's members checked and its key material made into a JwsKey.
#include "relay/protocol/jwks.h"

#include "relay/core/json.h"
#include "relay/protocol/base64url.h"

namespace rt {
namespace {

// A base64url member of jwk, decoded; false with error when absent, empty or not base64url.
bool member_bytes(const json::Value& jwk, const char* name, std::string& out, std::string& error) {
    const json::Value* v = json::member(jwk, name);
    if (v && v->IsString() && base64url::decode(json::string_or(v, ""), out) && !out.empty()) return true;
    error = std::string("\"") + name + "\" is missing or not base64url";
    return false;
}

std::unique_ptr<JwsKey> ec_key(const json::Value& jwk, std::string& error) {
    std::string_view crv = json::string_or(json::member(jwk, "crv"), "");
    KeyType curve = crv == "P-256" ? KeyType::EcP256 : crv == "P-384" ? KeyType::EcP384 : KeyType::EcP521;
    if (crv != "P-256" && crv != "P-384" && crv != "P-521") {
        error = "EC curve \"" + std::string(crv) + "\" is not P-256, P-384 or P-521";
        return nullptr;
    }
    std::string x, y;
    if (!member_bytes(jwk, "x", x, error) || !member_bytes(jwk, "y", y, error)) return nullptr;
    return JwsKey::ec(curve, x, y, error);
}

std::unique_ptr<JwsKey> okp_key(const json::Value& jwk, std::string& error) {
    std::string_view crv = json::string_or(json::member(jwk, "crv"), "");
    if (crv != "Ed25519") {
        error = "OKP curve \"" + std::string(crv) + "\" is not Ed25519";
        return nullptr;
    }
    std::string x;
    return member_bytes(jwk, "x", x, error) ? JwsKey::ed25519(x, error) : nullptr;
}

// The key material of jwk by its kty.
std::unique_ptr<JwsKey> key_material(const json::Value& jwk, std::string& error) {
    std::string_view kty = json::string_or(json::member(jwk, "kty"), "");
    std::string a, b;
    if (kty == "RSA") {
        if (!member_bytes(jwk, "n", a, error) || !member_bytes(jwk, "e", b, error)) return nullptr;
        return JwsKey::rsa(a, b, error);
    }
    if (kty == "EC") return ec_key(jwk, error);
    if (kty == "OKP") return okp_key(jwk, error);
    if (kty == "oct") {
        if (!member_bytes(jwk, "k", a, error)) return nullptr;
        return JwsKey::hmac(std::move(a));
    }
    error = "kty \"" + std::string(kty) + "\" is not RSA, EC, OKP or oct";
    return nullptr;
}

// Whether jwk says it may verify signatures ("use" and "key_ops", RFC 7517 4.2 and 4.3).
bool for_verifying(const json::Value& jwk, std::string& error) {
    const json::Value* use = json::member(jwk, "use");
    if (use && json::string_or(use, "") != "sig") {
        error = "its \"use\" is not \"sig\"";
        return false;
    }
    const json::Value* ops = json::member(jwk, "key_ops");
    if (!ops) return true;
    if (ops->IsArray())
        for (const json::Value& op : ops->GetArray())
            if (json::string_or(&op, "") == "verify") return true;
    error = "its \"key_ops\" do not include \"verify\"";
    return false;
}

// The key jwk describes, with its kid and alg, or nullptr with why in error.
std::unique_ptr<JwsKey> parse_jwk(const json::Value& jwk, std::string& error) {
    if (!jwk.IsObject()) {
        error = "not a JSON object";
        return nullptr;
    }
    const json::Value* kid = json::member(jwk, "kid");
    const json::Value* alg = json::member(jwk, "alg");
    if ((kid && !kid->IsString()) || (alg && !alg->IsString())) {
        error = "\"kid\" and \"alg\" must be strings";
        return nullptr;
    }
    if (!for_verifying(jwk, error)) return nullptr;
    std::unique_ptr<JwsKey> key = key_material(jwk, error);
    if (!key) return nullptr;
    key->name(std::string(json::string_or(kid, "")), std::string(json::string_or(alg, "")));
    const JwsAlg* named = alg ? find_alg(key->alg()) : nullptr;
    if (alg && (!named || named->key_type != key->type())) {
        error = "its \"alg\" " + key->alg() + " is not one the relay verifies with such a key";
        return nullptr;
    }
    return key;
}

std::string key_name(size_t index, const json::Value& jwk) {
    std::string name = "key " + std::to_string(index);
    const json::Value* kid = json::member(jwk, "kid");
    if (kid && kid->IsString()) {
        name += " (kid ";
        json::append_string(name, json::string_or(kid, ""));
        name += ")";
    }
    return name;
}

bool private_members(const json::Value& jwk) {
    for (const char* m : {"d", "p", "q", "dp", "dq", "qi"})
        if (json::member(jwk, m)) return true;
    return false;
}

// Two keys of one type and one kid: a token naming that kid would be ambiguous.
bool kid_shared(const Jwks& set, const JwsKey& key) {
    if (key.kid().empty()) return false;
    for (const auto& k : set.keys)
        if (k->kid() == key.kid() && k->type() == key.type()) return true;
    return false;
}

}  // namespace

bool key_fits(const JwsKey& key, const JwsAlg& alg) {
    return key.type() == alg.key_type && (key.alg().empty() || same_alg(key.alg(), alg));
}

const JwsKey* Jwks::by_kid(std::string_view kid, const JwsAlg& alg) const {
    for (const auto& k : keys)
        if (k->kid() == kid && key_fits(*k, alg)) return k.get();
    return nullptr;
}

const JwsKey* Jwks::only(const JwsAlg& alg) const {
    const JwsKey* found = nullptr;
    for (const auto& k : keys) {
        if (!key_fits(*k, alg)) continue;
        if (found) return nullptr;
        found = k.get();
    }
    return found;
}

bool parse_jwks(std::string_view text, Jwks& out, std::vector<std::string>& notes, std::string& error) {
    json::Document doc;
    std::string why;
    if (!json::parse(doc, text, &why, json::Keys::Unique)) {
        error = "not JSON: " + why;
        return false;
    }
    const json::Value* keys = json::member(doc, "keys");
    if (!keys || !keys->IsArray()) {
        error = "not a JWKS: no \"keys\" array";
        return false;
    }
    for (size_t i = 0; i < keys->Size(); ++i) {
        const json::Value& jwk = (*keys)[static_cast<rapidjson::SizeType>(i)];
        std::unique_ptr<JwsKey> key = parse_jwk(jwk, why);
        if (!key) {
            notes.push_back(key_name(i, jwk) + " is left out: " + why);
            continue;
        }
        if (kid_shared(out, *key)) {
            error = "two keys of one type share the kid " + key->kid();
            return false;
        }
        if (private_members(jwk)) notes.push_back(key_name(i, jwk) + " has private key members; only its public part is used");
        out.keys.push_back(std::move(key));
    }
    if (out.keys.empty()) {
        error = "no key the relay can verify tokens with";
        return false;
    }
    return true;
}

}  // namespace rt
