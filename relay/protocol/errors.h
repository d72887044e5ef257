// Every message a client can be refused with, or told in a system message, worded as
// Supabase Realtime words it (clients and people match on these texts): join refusals,
// token problems, limits, and the Postgres Changes status lines. One place, so a change
// of wording is one edit and the tests quote the same constants.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rt::errors {

// Tokens (the upgrade, joins, access_token pushes, the REST API).
inline constexpr const char* kJwtMissing = "API key is missing";
inline constexpr const char* kJwtMalformed = "The token provided is not a valid JWT";
inline constexpr const char* kJwtBadSignature = "Failed to validate JWT signature";
inline constexpr const char* kJwtMissingClaims = "Fields `role` and `exp` are required in JWT";
inline constexpr const char* kJwtExpired = "Token has expired";
// "Token has expired N seconds ago", as channels are told when they close.
inline std::string token_expired(int64_t seconds_ago) {
    return std::string(kJwtExpired) + " " + std::to_string(seconds_ago) + " seconds ago";
}
inline constexpr const char* kJwtNoSigner =
    "Failed to generate JWT signer, check your JWT secret or JWKS configuration";
// The same for a token whose header names a kid (quoted_kid: the kid as a JSON string).
inline std::string jwt_no_signer_for(const std::string& quoted_kid) {
    return "Failed to generate JWT signer for key ID (kid) " + quoted_kid +
           ", check your JWT secret or JWKS configuration";
}
// Our own (Supabase does not check nbf), worded like the expiry.
inline std::string token_not_yet_valid(int64_t seconds_ahead) {
    return "Token is not valid yet: its nbf is " + std::to_string(seconds_ahead) + " seconds in the future";
}
// A join refused for its token: Supabase's code before the message.
inline constexpr const char* kInvalidJwtPrefix = "InvalidJWTToken: ";
inline constexpr const char* kMalformedJwtPrefix = "MalformedJWT: ";
inline constexpr const char* kJwtSignatureErrorPrefix = "JwtSignatureError: ";
inline constexpr const char* kJwtSignerErrorPrefix = "JwtSignerError: ";

// Joins.
inline constexpr const char* kUnmatchedTopic = "unmatched topic";
inline constexpr const char* kTopicNameRequired = "TopicNameRequired: You must provide a topic name";
inline constexpr const char* kJoinRateLimit = "ClientJoinRateLimitReached: Too many joins per second";
inline constexpr const char* kChannelLimit = "ChannelRateLimitReached: Too many channels";
inline constexpr const char* kNoDatabaseForPolicies =
    "UnableToConnectToProject: Realtime was unable to connect to the project database";
inline constexpr const char* kNoDatabase = "Postgres Changes are not available: this relay has no database (--db)";

// Private channels (Realtime Authorization): join refusals, then what a channel is shut
// down with when a new access_token no longer lets it read. <name>: the sub-topic.
inline constexpr const char* kNoReadPrefix = "You do not have permissions to read from this Channel topic: ";
inline constexpr const char* kReadRevokedPrefix = "You no longer have permission to read from this Channel topic: ";
inline std::string unauthorized(std::string_view name) {
    return "Unauthorized: " + std::string(kNoReadPrefix) + std::string(name);
}
inline constexpr const char* kPrivateOnly = "PrivateOnly: This project only allows private channels";
inline constexpr const char* kMissingPartition =
    "MissingPartition: Realtime was unable to find the expected messages partition";
inline constexpr const char* kUnableToSetPolicies = "Realtime was unable to connect to the project database";
inline constexpr const char* kQueryCancelledRetry = "Query was cancelled, please try again";
inline constexpr const char* kReplayPublic = "UnableToReplayMessages: Replay is not allowed for public channels";
inline constexpr const char* kReplayParams = "UnableToReplayMessages: Replay params are not valid";
inline constexpr const char* kReplayFailed = "UnableToReplayMessages: Realtime was unable to replay messages";

// Limits and the connection.
inline constexpr const char* kMessageRateLimit = "Too many messages per second";
inline constexpr const char* kTooManyConnections = "Too many connected users";
inline constexpr const char* kShuttingDown = "Server is shutting down";
inline constexpr const char* kRestarting = "RealtimeRestarting: Realtime is restarting, please standby";

// Messages of a joined channel.
inline constexpr const char* kBroadcastShape =
    "broadcast needs a payload {\"type\":\"broadcast\",\"event\":\"...\",\"payload\":{...}}";
inline constexpr const char* kPresenceTrackShape = "Presence track payload must be a map";
// The response of an acknowledged broadcast over --max-payload-bytes (Supabase replies
// with the atom, which Phoenix writes as a JSON string).
inline constexpr const char* kPayloadTooLarge = "payload_size_exceeded";
inline constexpr const char* kTrackTooLarge = "Track message size exceeded";
inline constexpr const char* kPresenceEvent = "presence event must be \"track\" or \"untrack\"";
inline std::string unknown_event(const std::string& event) { return "unknown event \"" + event + "\""; }

// The REST API (Supabase's texts).
inline constexpr const char* kHttpRateExceeded = "You have exceeded your rate limit";
inline constexpr const char* kHttpBatchTooLarge = "Too many messages to broadcast, please reduce the batch size";
inline constexpr const char* kHttpPayloadTooLarge = "Payload size exceeds tenant limit";
inline constexpr const char* kUnsupportedMediaType =
    "Unsupported Media Type. Use application/json or application/octet-stream";

// System messages (extension "system" or "postgres_changes").
inline constexpr const char* kSubscribedToPostgres = "Subscribed to PostgreSQL";
inline constexpr const char* kReplicationReady = "Replication connection established";
inline constexpr const char* kReplicationUnavailable =
    "Replication is not available: this relay has no database (--db)";
inline constexpr const char* kSubscriptionCountMismatch = "subscription count mismatch";
inline constexpr const char* kSubscriptionLost =
    "Subscription to PostgreSQL lost while this node was cut off from the cluster; rejoining";
// A resumed (or resuming too late) client: what it missed, since when (ISO 8601 UTC).
inline std::string resume_window_passed(int window_s, const std::string& since) {
    return "Changes were missed: the connection was away longer than the resume window (" + std::to_string(window_s) +
           " s); fetch what changed since " + since;
}
inline std::string resume_overflowed(const std::string& since) {
    return "Changes were missed: more changed while the connection was away than the server keeps; fetch what "
           "changed since " + since;
}
// Changes kept for it were decided with its old token's claims: they are not delivered.
inline std::string resume_claims_changed(const std::string& since) {
    return "Changes were missed: the token's claims changed while the connection was away, so the changes kept "
           "under the old ones are not delivered; fetch what changed since " + since;
}
// Its old token expired while it was parked: nothing decided after that was kept.
inline std::string resume_token_expired(const std::string& since) {
    return "Changes were missed: the token expired while the connection was away, so the changes after that were "
           "not kept; fetch what changed since " + since;
}
// Its subscriptions were parked on a node that died: what that node kept for them died with it.
inline std::string resume_node_died(const std::string& since) {
    return "Changes were missed: the server that kept the changes while the connection was away stopped; fetch "
           "what changed since " + since;
}
// Its subscriptions moved here from a node that still runs, which did not hand over in time
// (or at all) what it kept for them.
inline std::string resume_not_handed_over(const std::string& since) {
    return "Changes were missed: the changes kept while the connection was away did not come from the server that "
           "kept them; fetch what changed since " + since;
}
inline constexpr const char* kDatabaseUnreachable = "Postgres Changes are unavailable: the database cannot be reached";
// A join (or check) whose statement ran past --db-statement-timeout-ms.
inline std::string database_timeout(int timeout_ms) {
    return "QueryCanceled: the database did not answer in time (statement timeout of " + std::to_string(timeout_ms) +
           " ms); please try again";
}

// Row level security's general path (the slot holder's checks): a change that could not
// be checked is not delivered, and its candidates are told once.
inline std::string check_timeout(int timeout_ms) {
    return "Row level security check timed out (" + std::to_string(timeout_ms) +
           " ms): changes are not delivered to this subscription until a check succeeds";
}
inline constexpr const char* kCheckUnreachable =
    "Row level security could not be checked: the database cannot be reached; changes are not delivered to this "
    "subscription until a check succeeds";
inline std::string check_failed(const std::string& why) {
    return "Row level security check failed: " + why + "; changes are not delivered to this subscription until a "
           "check succeeds";
}

// A refreshed token (access_token) whose claims the subscriptions could not take: the
// binding ends rather than go on with the old token's claims.
inline std::string claims_refused(const std::string& why) {
    return "Unable to subscribe to changes with the new access token: " + why;
}
inline std::string claims_not_updated(const std::string& why) {
    return "Unable to apply the new access token to this subscription (" + why + "); please rejoin the channel";
}

}  // namespace rt::errors
