// Package mcpguard protects Model Context Protocol servers built with the
// MCP Go SDK (github.com/modelcontextprotocol/go-sdk) with bearerguard.
//
// The MCP authorization specification
// (https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization)
// makes an MCP server that speaks streamable HTTP an OAuth 2.0 resource
// server: it accepts access tokens in the Authorization header
// (RFC 6750 §2.1), checks that they were issued for it (RFC 8707 resource
// indicators, the token's audience), publishes protected-resource metadata
// (RFC 9728 §2, §3) and points clients to it with resource_metadata in its
// 401 challenges (RFC 9728 §5.1).
//
// A [Guard] does all of that in front of the SDK's
// mcp.StreamableHTTPHandler, with bearerguard's answers: 400, 401 and 403
// with the RFC 6750 §3 challenge plus resource_metadata, and 503 with
// Retry-After while the issuer's keys cannot be obtained. Behind it the
// SDK sees the token as an auth.TokenInfo ([TokenInfo]), so tool handlers
// find it in req.Extra.TokenInfo and the SDK binds sessions to the token's
// subject. [RequireToolScope] and [CheckScope] check scopes per tool.
//
// [Verifier] is for servers that already use the SDK's
// auth.RequireBearerToken: it makes a validator the SDK's auth.TokenVerifier.
// The SDK then writes the answers itself, and cannot answer 503 (see
// [Verifier]); prefer a Guard.
//
// mcpguard is a module of its own so that applications that do not serve
// MCP do not get the SDK in their go.sum.
package mcpguard
