// relay/inspector/admin_auth: the admin token, or a JWT of the admin role; nothing else.
#include <gtest/gtest.h>

#include "relay/hub/auth.h"
#include "relay/inspector/admin_auth.h"
#include "relay/protocol/jwt.h"

using namespace rt;
using namespace rt::inspector;

namespace {

constexpr const char* kSecret = "unit-test-secret-unit-test-secret";
constexpr int64_t kNow = 1'700'000'000;

std::string jwt(const char* role) {
    return sign_hs256(std::string("{\"role\":\"") + role + "\",\"exp\":" + std::to_string(kNow + 60) + "}", kSecret);
}

}  // namespace

TEST(AdminAuth, TokenAndRole) {
    Config cfg;
    cfg.jwt_secret = kSecret;
    cfg.admin_token = "0123456789abcdef0123";
    cfg.admin_role = "service_role";
    Auth auth(cfg.jwt_secret);
    AdminAuth admin(cfg, auth);
    EXPECT_TRUE(admin.enabled());
    EXPECT_TRUE(admin.admits("Bearer 0123456789abcdef0123", kNow));
    EXPECT_FALSE(admin.admits("Bearer 0123456789abcdef012", kNow));
    EXPECT_FALSE(admin.admits("0123456789abcdef0123", kNow)) << "not a bearer";
    EXPECT_FALSE(admin.admits("", kNow));
    EXPECT_TRUE(admin.admits("Bearer " + jwt("service_role"), kNow));
    EXPECT_FALSE(admin.admits("Bearer " + jwt("anon"), kNow));
    EXPECT_FALSE(admin.admits("Bearer " + jwt("service_role"), kNow + 3600)) << "expired";
}

TEST(AdminAuth, NothingConfiguredAdmitsNobody) {
    Config cfg;
    cfg.jwt_secret = kSecret;
    Auth auth(cfg.jwt_secret);
    AdminAuth admin(cfg, auth);
    EXPECT_FALSE(admin.enabled());
    EXPECT_FALSE(admin.admits("Bearer ", kNow));
    EXPECT_FALSE(admin.admits("Bearer " + jwt("service_role"), kNow));
}
